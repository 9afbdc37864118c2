"""The LangGraph checkpointer on every store and both APIs: LangGraph's own conformance suite through its async methods and through its sync
ones; a `create_agent` conversation against a fake model, kept as chatstate messages (one each) across turns and restarts; branches for
rewritten or removed messages and for runs resumed from an earlier checkpoint; interrupts and failed tasks; subgraphs; JSON only."""
import asyncio, json, operator, sys, pytest
from typing import Annotated, TypedDict
from conftest import need_module, run_on
from chatstate import *
from chatstate.formats import to_openai
from chatstate.cli import described

need_module('langgraph', 'dev')
from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage, ToolMessage
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.graph import StateGraph, START, END, MessagesState
from langgraph.types import interrupt, Command
from chatstate.integrations.langgraph import ChatstateSaver, encode, decode
from chatstate.integrations.base import both_apis

class SyncDriven(ChatstateSaver):
    "The saver with its async methods calling its sync ones: the conformance suite then checks the sync methods"
    async def aget_tuple(self, config): return self.get_tuple(config)
    async def alist(self, config, **kw):
        for t in self.list(config, **kw): yield t
    async def aput(self, *a): return self.put(*a)
    async def aput_writes(self, *a, **kw): return self.put_writes(*a, **kw)
    async def adelete_thread(self, t): return self.delete_thread(t)
    async def acopy_thread(self, a, b): return self.copy_thread(a, b)
    async def aprune(self, ts, **kw): return self.prune(ts, **kw)

@pytest.mark.parametrize('methods', ['async', 'sync'])
def test_conformance(store, methods):
    async def body(m):
        @checkpointer_test(name='ChatstateSaver')
        async def saver(): yield (ChatstateSaver if methods == 'async' else SyncDriven)(m)
        r = await validate(saver)
        failures = {k: v.failures for k,v in r.results.items() if v.failures}
        assert r.conformance_level() == 'FULL' and not failures, failures
        assert {k for k,v in r.results.items() if v.detected} == {'put', 'put_writes', 'get_tuple', 'list', 'delete_thread', 'copy_thread', 'prune'}
    run_on(store, body)

def fake_model(replies):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    class Fake(GenericFakeChatModel):
        def bind_tools(self, tools, **kw): return self
    return Fake(messages=iter(replies))

def weather_tool():
    from langchain_core.tools import tool
    @tool
    def weather(city:str)->str:
        "The weather in a city"
        return f'Sunny in {city}'
    return weather

def invoker(graph, api):
    if api == 'async': return graph.ainvoke
    async def call(*a, **kw): return graph.invoke(*a, **kw)
    return call

def test_create_agent_conversation(store):
    if sys.version_info < (3, 11): pytest.skip('langchain (create_agent) needs Python 3.11 or newer')
    need_module('langchain', 'dev')
    from langchain.agents import create_agent
    async def body(m):
        am = both_apis(m)[1]
        replies = [AIMessage('', tool_calls=[{'name': 'weather', 'args': {'city': 'Lisbon'}, 'id': 'call_1'}]), AIMessage('Sunny, 24°C.'), AIMessage('Bye!')]
        agent = create_agent(fake_model(replies), [weather_tool()], checkpointer=ChatstateSaver(m, owner='ana', metadata={'title': 'Lisbon'}))
        ask,cfg = invoker(agent, store.api),{'configurable': {'thread_id': 'trip'}}
        await ask({'messages': [{'role': 'user', 'content': 'Weather in Lisbon?'}]}, cfg)
        out = await ask({'messages': [{'role': 'user', 'content': 'Thanks'}]}, cfg)
        want = [('user', 'Weather in Lisbon?'), ('assistant', ''), ('tool', 'Sunny in Lisbon'), ('assistant', 'Sunny, 24°C.'), ('user', 'Thanks'), ('assistant', 'Bye!')]
        assert [x.content for x in out['messages']] == [c for r,c in want]
        s = await am.get_session('trip', owner='ana')
        msgs = await s.messages
        assert [(x.role, x.content) for x in msgs] == want and (await s.info).title == 'Lisbon'
        assert [x.id for x in msgs] == [x.id for x in out['messages']] # the framework's ids, as chatstate's
        assert len((await s.tree()).messages) == 6 # each message once, whatever the number of checkpoints
        assert len(await s.records('c\x1f')) >= 8 and await s.summaries() == []
        assert to_openai(msgs)[1]['tool_calls'][0]['function'] == {'name': 'weather', 'arguments': '{"city": "Lisbon"}'}
        assert [described(x) for x in msgs[1:3]] == ['-> weather({"city": "Lisbon"})', '[result of call_1] Sunny in Lisbon']
        assert [h.message.content for h in await am.search('sunny', owner='ana')] == ['Sunny, 24°C.', 'Sunny in Lisbon']
        again = create_agent(fake_model([AIMessage('Again?')]), [weather_tool()], checkpointer=ChatstateSaver(m, owner='ana')) # after a restart
        out = await invoker(again, store.api)({'messages': [{'role': 'user', 'content': 'Hello again'}]}, cfg)
        assert [x.content for x in out['messages']] == [c for r,c in want] + ['Hello again', 'Again?']
        assert [x.content for x in await s.messages] == [c for r,c in want] + ['Hello again', 'Again?'] and len((await s.tree()).messages) == 8
        state = agent.get_state(cfg) if store.api == 'sync' else await agent.aget_state(cfg)
        assert [x.content for x in state.values['messages']][-1] == 'Again?'
        hist = [h async for h in agent.aget_state_history(cfg)] if store.api == 'async' else list(agent.get_state_history(cfg))
        assert [len(h.values.get('messages', [])) for h in hist][:3] == [8, 7, 6] and len(hist[-1].values.get('messages', [])) == 0
    run_on(store, body)

def chat_graph(saver, reply):
    "A graph of one node that answers with `reply(messages)`"
    g = StateGraph(MessagesState)
    g.add_node('bot', lambda st: {'messages': reply(st['messages'])})
    g.add_edge(START, 'bot')
    return g.compile(checkpointer=saver)

def test_rewritten_messages_branch_and_old_checkpoints_keep_theirs(store):
    async def body(m):
        am,sv = both_apis(m)[1],ChatstateSaver(m)
        graph = chat_graph(sv, lambda ms: [AIMessage(f'answer {len(ms)}')])
        ask,cfg = invoker(graph, store.api),{'configurable': {'thread_id': 'b'}}
        await ask({'messages': [HumanMessage('one', id='h1')]}, cfg)
        await ask({'messages': [HumanMessage('two', id='h2')]}, cfg)
        first = [h async for h in graph.aget_state_history(cfg)] if store.api == 'async' else list(graph.get_state_history(cfg))
        old = first[0] # the newest: four messages
        # an edit of the first question (the same id, new text) and the removal of the last answer
        upd = {'messages': [HumanMessage('one, edited', id='h1'), RemoveMessage(id=old.values['messages'][-1].id)]}
        if store.api == 'async': await graph.aupdate_state(cfg, upd)
        else: graph.update_state(cfg, upd)
        now = (await graph.aget_state(cfg)) if store.api == 'async' else graph.get_state(cfg)
        assert [x.content for x in now.values['messages']] == ['one, edited', 'answer 1', 'two']
        s = await am.get_session('b')
        assert [x.content for x in await s.messages] == ['one, edited', 'answer 1', 'two'] # the active branch is the graph's state
        t = await s.tree()
        assert len(t.messages) == 7 and str(await s.siblings((await s.messages)[0].id)) == '2 / 2' # the first version is kept beside it
        back = (await sv.aget_tuple(old.config)) if store.api == 'async' else sv.get_tuple(old.config)
        assert [x.content for x in back.checkpoint['channel_values']['messages']] == ['one', 'answer 1', 'two', 'answer 3']
        # a run resumed from the first turn's checkpoint forks there
        turn1 = next(h for h in first if len(h.values['messages']) == 2)
        out = await ask({'messages': [HumanMessage('three')]}, turn1.config)
        assert [x.content for x in out['messages']] == ['one', 'answer 1', 'three', 'answer 3']
        assert [x.content for x in await s.messages] == ['one', 'answer 1', 'three', 'answer 3'] and len((await s.tree()).messages) == 9
    run_on(store, body)

class Counter(TypedDict):
    messages: Annotated[list, operator.add]
    n: int
    log: Annotated[list, operator.add]

def test_interrupts_failures_and_other_channels(store):
    if store.api == 'async' and sys.version_info < (3, 11): pytest.skip("LangGraph's interrupt() in an async graph needs Python 3.11 or newer (it finds its config through the task's context)")
    async def body(m):
        sv,fails = ChatstateSaver(m),[1]
        def ask_human(st):
            ok = interrupt({'question': 'go on?', 'n': st['n']})
            return {'n': st['n'] + 1, 'log': [('asked', ok)]}
        def flaky(st):
            if fails: fails.pop(); raise ValueError('the tool is down')
            return {'n': st['n'] * 10, 'log': [{'set': {1, 2}}]}
        g = StateGraph(Counter)
        g.add_node('ask', ask_human); g.add_node('flaky', flaky)
        g.add_edge(START, 'ask'); g.add_edge('ask', 'flaky'); g.add_edge('flaky', END)
        graph = g.compile(checkpointer=sv)
        ask,cfg = invoker(graph, store.api),{'configurable': {'thread_id': 'i'}}
        out = await ask({'messages': [], 'n': 1, 'log': []}, cfg)
        assert out['__interrupt__'][0].value == {'question': 'go on?', 'n': 1}
        t = (await sv.aget_tuple(cfg)) if store.api == 'async' else sv.get_tuple(cfg)
        assert [w[1] for w in t.pending_writes] == ['__interrupt__']
        with pytest.raises(ValueError, match='the tool is down'): await ask(Command(resume='yes'), cfg)
        t = (await sv.aget_tuple(cfg)) if store.api == 'async' else sv.get_tuple(cfg)
        assert ('__error__' in [w[1] for w in t.pending_writes]) and any(isinstance(w[2], ValueError) for w in t.pending_writes)
        out = await ask(None, cfg) # retried from the checkpoint: the failed task again, the done one not
        assert (out['n'], out['log']) == (20, [('asked', 'yes'), {'set': {1, 2}}])
        s = both_apis(m)[1]._handle('i')
        raw = await s.records()
        assert all(json.loads(json.dumps(v)) == v for k,v in raw) # JSON, through and through
    run_on(store, body)

def test_subgraph_messages_stay_in_their_namespace(store):
    async def body(m):
        sub = StateGraph(MessagesState)
        sub.add_node('inner', lambda st: {'messages': [AIMessage('from the subgraph')]})
        sub.add_edge(START, 'inner')
        g = StateGraph(MessagesState)
        g.add_node('outer', sub.compile())
        g.add_edge(START, 'outer')
        graph = g.compile(checkpointer=ChatstateSaver(m))
        cfg = {'configurable': {'thread_id': 'sub'}}
        out = await invoker(graph, store.api)({'messages': [HumanMessage('hi')]}, cfg, subgraphs=False)
        assert [x.content for x in out['messages']] == ['hi', 'from the subgraph']
        s = both_apis(m)[1]._handle('sub')
        assert [x.content for x in (await s.tree()).messages] == ['hi', 'from the subgraph'] # the root's messages only, once each
    run_on(store, body)

def test_what_json_cannot_keep_is_refused_before_anything_is_stored(store):
    class Opaque: pass
    async def body(m):
        sv = ChatstateSaver(m)
        graph = chat_graph(sv, lambda ms: [AIMessage('ok', additional_kwargs={'obj': Opaque()})])
        with pytest.raises(InvalidTypeError, match='cannot keep as JSON'):
            await invoker(graph, store.api)({'messages': [HumanMessage('hi')]}, {'configurable': {'thread_id': 'o'}})
        s = both_apis(m)[1]._handle('o')
        assert [x.content for x in await s.messages] == ['hi'] # the checkpoints before it, and their messages, are there
    run_on(store, body)

def test_bad_configs_are_refused():
    sv = ChatstateSaver(InMemorySessionManager())
    with pytest.raises(InvalidValueError, match='names no thread'): sv.get_tuple({'configurable': {}})
    with pytest.raises(InvalidValueError, match='cannot hold the character'): sv.get_tuple({'configurable': {'thread_id': 't', 'checkpoint_ns': 'a\x1fb'}})
    with pytest.raises(InvalidValueError, match='names no checkpoint_id'): sv.put_writes({'configurable': {'thread_id': 't'}}, [('a', 1)], 'task')
    with pytest.raises(InvalidValueError, match="strategy must be"): sv.prune(['t'], strategy='some')
    assert sv.get_tuple({'configurable': {'thread_id': 'none'}}) is None and list(sv.list({'configurable': {'thread_id': 'none'}})) == []
