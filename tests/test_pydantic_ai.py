"""The Pydantic AI capability on every store and both APIs: a run goes on from the session's conversation and its new messages are
stored in chatstate's form, every part kind back exactly as it was (system and user prompts, images, text, thinking, tool calls and returns,
retry prompts, usage); a session per run from the run's dependencies; a run's own history kept; across a restart; and pydantic-ai-harness's
ACP session store."""
import asyncio, pytest
from conftest import need_module, run_on
from chatstate import *
from chatstate.formats import to_openai, to_anthropic
from chatstate.cli import described
from chatstate.integrations.base import both_apis

need_module('pydantic_ai', 'dev', python=(3, 11))
from pydantic_ai import Agent, ModelRetry, ImageUrl
from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelResponse, TextPart, ThinkingPart, ToolCallPart
from pydantic_ai.models.function import FunctionModel
from pydantic_ai.usage import RequestUsage
from chatstate.integrations.pydantic_ai import StoredHistory, to_messages, from_messages

def run(store, body): run_on(store, lambda m: body(m, both_apis(m)[1]))

def scripted(seen):
    "A model that thinks and calls the tool, then (after a retry) calls it again, then answers; `seen` gets what each request sent"
    def f(messages, info):
        seen.append(messages)
        n = sum(isinstance(x, ModelResponse) for x in messages) # responses so far, this conversation
        k = n % 3
        if k == 0: return ModelResponse(parts=[ThinkingPart('Lisbon: ask.', signature='sig=='), ToolCallPart('weather', {'city': 'Lisbon'}, 'call_1')], usage=RequestUsage(input_tokens=20, output_tokens=5), model_name='scripted')
        if k == 1: return ModelResponse(parts=[ToolCallPart('weather', '{"city": "Lisboa"}', 'call_2')], model_name='scripted')
        return ModelResponse(parts=[TextPart('It is 18°C in Lisbon.')], usage=RequestUsage(input_tokens=40, output_tokens=8), model_name='scripted')
    return FunctionModel(f)

def agent_for(seen, **kw):
    a = Agent(scripted(seen), system_prompt='Be brief.', **kw)
    tries = []
    @a.tool_plain
    def weather(city:str)->str:
        "The weather in a city"
        tries.append(city)
        if len(tries) % 2 == 1: raise ModelRetry('Use the local name.')
        return f'18°C in {city}'
    return a

def plain(**kw): return Agent(FunctionModel(lambda messages, info: ModelResponse(parts=[TextPart(f'reply {len(messages)}')])), **kw)

def dumps(msgs): return ModelMessagesTypeAdapter.dump_python(list(msgs), mode='json')

async def go(agent, api, *args, **kw):
    if api == 'async': return await agent.run(*args, **kw)
    return await asyncio.to_thread(agent.run_sync, *args, **kw) # run_sync wants no running loop of its own

def test_every_part_comes_back_and_the_next_run_goes_on(store):
    async def body(m, am):
        seen = []
        s = await am.create_session('trip', owner='ana')
        agent = agent_for(seen, capabilities=[StoredHistory(m if store.api == 'sync' else am, session_id='trip', owner='ana')])
        r1 = await go(agent, store.api, ['Weather here?', ImageUrl('https://example.com/lisbon.jpg')])
        assert r1.output == 'It is 18°C in Lisbon.'
        msgs = await s.messages
        assert [x.role for x in msgs] == ['system', 'user', 'assistant', 'tool', 'assistant', 'tool', 'assistant']
        assert dumps(from_messages(msgs)) == dumps(r1.all_messages()) # every part, every field
        assert msgs[2].metadata['tool_calls'] == [{'id': 'call_1', 'type': 'function', 'function': {'name': 'weather', 'arguments': '{"city":"Lisbon"}'}}]
        assert msgs[3].metadata['tool_call_id'] == 'call_1' and 'Use the local name.' in msgs[3].content # the retry, as the tool's result
        assert [d['role'] for d in to_openai(msgs)] == ['system', 'user', 'assistant', 'tool', 'assistant', 'tool', 'assistant']
        assert [t['role'] for t in to_anthropic(msgs)['messages']] == ['user', 'assistant', 'user', 'assistant', 'user', 'assistant']
        assert [described(x) for x in msgs[1:3]] == ['[image] Weather here?', '[thinking] -> weather({"city":"Lisbon"})'] # as `chatstate show` prints them
        other = connect(store.url) if store.kind != 'memory' else None # after a restart
        again = agent_for(seen, capabilities=[StoredHistory(other or m, session_id='trip', owner='ana')] if store.api == 'sync' or other is None else
                          [StoredHistory(AsyncSessionManager(other), session_id='trip', owner='ana')])
        r2 = await go(again, store.api, 'And tomorrow?')
        n = len(r1.all_messages())
        assert dumps(seen[-3][:n]) == dumps(r1.all_messages()) # the model was sent the stored conversation first
        assert len(await s.messages) == 13 and dumps(from_messages(await s.messages)) == dumps(r2.all_messages())
        assert [p.part_kind for p in r2.all_messages()[n].parts] == ["user-prompt"] # no second system prompt
        if other is not None: other.close()
    run(store, body)

def test_a_session_per_run_and_a_run_with_its_own_history(store):
    async def body(m, am):
        seen = []
        agent = plain(deps_type=str, capabilities=[StoredHistory(m, session_id=lambda ctx: ctx.deps, owner='ana')])
        await asyncio.gather(*[go(agent, store.api, f'Weather, {who}?', deps=who) for who in ('a', 'b', 'c')]) # runs at once, each its own session
        for who in 'abc':
            s = await am.get_session(who, owner='ana')
            assert [x.content for x in await s.messages if x.role == 'user'] == [f'Weather, {who}?']
        mine = (await go(plain(), store.api, 'Earlier')).all_messages()
        r = await go(agent, store.api, 'Go on', deps='a', message_history=mine) # a run given a history keeps it, and only what it adds is stored
        assert dumps(r.all_messages()[:len(mine)]) == dumps(mine)
        s = await am.get_session('a')
        assert [x.content for x in await s.messages if x.role == 'user'] == ['Weather, a?', 'Go on']
        assert await am.get_session('a', owner='bob') is None
        with pytest.raises(InvalidValueError, match='needs session_id'): await go(plain(capabilities=[StoredHistory(m)]), store.api, 'x')
    run(store, body)

def test_messages_stored_otherwise():
    "A conversation an app stored (or another framework) reads as the parts its roles and tool metadata say"
    got = from_messages([Message('system', 'Be brief.'), Message('user', 'Weather?'),
                         Message('assistant', '', metadata={'tool_calls': [{'id': 'c1', 'type': 'function', 'function': {'name': 'weather', 'arguments': '{"city":"Lisbon"}'}}]}),
                         Message('tool', '18°C', metadata={'tool_call_id': 'c1', 'name': 'weather'}), Message('assistant', 'It is 18°C.')])
    assert [[p.part_kind for p in x.parts] for x in got] == [['system-prompt', 'user-prompt'], ['tool-call'], ['tool-return'], ['text']]
    assert got[1].parts[0].args_as_dict() == {'city': 'Lisbon'} and got[2].parts[0].tool_call_id == 'c1'
    assert dumps(from_messages(to_messages(got))) == dumps(got)

def test_a_run_can_start_from_the_summary(store):
    async def body(m, am):
        seen = []
        agent = Agent(FunctionModel(lambda messages, info: (seen.append(messages), ModelResponse(parts=[TextPart('ok')]))[1]), system_prompt='Be brief.')
        hist = StoredHistory(m, session_id='p')
        for q in ('Plan 3 days in Lisbon', 'And day 2?'): await go(agent, store.api, q, capabilities=[hist])
        s = await am.get_session('p')
        await s.summarize((await s.messages)[2].id, 'Lisbon, 3 days.')
        await go(agent, store.api, 'Day 3?', capabilities=[StoredHistory(m, session_id='p', summary=True)])
        sent = [p for x in seen[-1] for p in x.parts]
        assert [(p.part_kind, getattr(p, 'content', None)) for p in sent][:3] == [('system-prompt', 'Be brief.'), ('system-prompt', 'Lisbon, 3 days.'), ('user-prompt', 'And day 2?')]
        assert len(await s.messages) == 7 # the whole conversation is kept: the summary only stands in for the model
    run(store, body)

def test_the_harness_acp_session_store(store):
    "pydantic-ai-harness's ACP `SessionStore`: saves after each turn add only what is new; load gives back the history, transcript and model exactly"
    need_module('acp', 'dev')
    import warnings
    from acp import schema
    with warnings.catch_warnings():
        warnings.simplefilter('ignore') # the harness marks ACP experimental
        from pydantic_ai_harness.experimental.acp import StoredSession
    from chatstate.integrations.pydantic_ai import AcpSessionStore
    def chunk(kind, text): return (schema.UserMessageChunk if kind == 'user' else schema.AgentMessageChunk)(session_update=f'{kind}_message_chunk', content=schema.TextContentBlock(type='text', text=text))
    async def body(m, am):
        seen = []
        a,acp = agent_for(seen),AcpSessionStore(m, owner='ana')
        h1 = (await a.run('Weather in Lisbon?')).all_messages()
        t1 = [chunk('user', 'Weather in Lisbon?'), chunk('agent', 'It is 18°C in Lisbon.')]
        await acp.save('z', StoredSession(messages=h1, updates=t1, model='scripted'))
        s = await am.get_session('z', owner='ana')
        n1 = await s.count()
        h2 = (await a.run('And tomorrow?', message_history=h1)).all_messages()
        t2 = t1 + [chunk('user', 'And tomorrow?'), chunk('agent', 'It is 18°C in Lisbon.')]
        before = [x.id for x in await s.messages]
        await acp.save('z', StoredSession(messages=h2, updates=t2, model='other'))
        assert [x.id for x in await s.messages][:n1] == before and await s.count() == len(to_messages(h2)) # appended, once
        back = await AcpSessionStore(m, owner='ana').load('z') # another process
        assert (back.messages, back.updates, back.model) == (h2, t2, 'other')
        assert to_openai(await s.messages)[0] == {'role': 'system', 'content': 'Be brief.'} # chatstate's form: the formats read it
        assert await AcpSessionStore(m, owner='bob').load('z') is None and await acp.load('none') is None
        await acp.save('z', StoredSession(messages=h1[:1], updates=t2[:1], model=None)) # a history that does not go on from what is stored replaces it
        back = await acp.load('z')
        assert (back.messages, back.updates, back.model) == (h1[:1], t2[:1], None) and await s.count() == len(to_messages(h1[:1]))
    run(store, body)
