"""The OpenAI Agents SDK session on every store and both APIs: items come back exactly as added, limits and pops count items, a missing
session reads empty, two pops never take the same item, the stored conversation is chatstate's own form (the formats send it), and a
`Runner.run` conversation with a tool call keeps its history across runs and restarts."""
import asyncio, pytest
from conftest import need_module, run_on, Store, KINDS
from chatstate import *
from chatstate.formats import FormatError
from chatstate.cli import described

agents = need_module('agents', 'dev')
from agents import Agent, Runner, RunConfig, function_tool
from agents.items import ModelResponse
from agents.memory import Session, SessionSettings
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import ResponseOutputMessage, ResponseOutputText, ResponseFunctionToolCall, ResponseReasoningItem
from chatstate.integrations.agents import AgentsSession
from chatstate.integrations.base import both_apis

ITEMS = [{'role': 'user', 'content': [{'type': 'input_text', 'text': 'What is in this photo, and the weather there?'},
                                      {'type': 'input_image', 'image_url': 'data:image/png;base64,iVBORw0KGgo=', 'detail': 'auto'}]},
         {'type': 'reasoning', 'id': 'rs_1', 'summary': [{'type': 'summary_text', 'text': 'Paris; a tool.'}], 'encrypted_content': 'gAAAAABo=='},
         {'type': 'function_call', 'id': 'fc_1', 'call_id': 'call_1', 'name': 'weather', 'arguments': '{"city":"Paris"}', 'status': 'completed'},
         {'type': 'function_call_output', 'call_id': 'call_1', 'output': '18°C'},
         {'type': 'message', 'id': 'msg_1', 'role': 'assistant', 'status': 'completed', 'content': [{'type': 'output_text', 'text': 'The Eiffel Tower; 18°C.', 'annotations': []}]},
         {'role': 'user', 'content': 'Thanks'},
         {'type': 'message', 'id': 'msg_1', 'role': 'assistant', 'status': 'completed', 'content': [{'type': 'output_text', 'text': 'Welcome.', 'annotations': []}]}] # a repeated item id

def run(store, body): run_on(store, lambda m: body(m, both_apis(m)[1]))

def test_items_come_back_as_added(store):
    async def body(m, am):
        s = AgentsSession('c', m, owner='ana')
        assert isinstance(s, Session) # the SDK's protocol
        assert await s.get_items() == [] and await s.pop_item() is None and await s.get_items(limit=3) == [] # not made yet: empty
        await s.clear_session()
        assert await am.count() == 0 # reading made nothing
        await s.add_items(ITEMS[:4]); await s.add_items(ITEMS[4:]); await s.add_items([])
        assert await s.get_items() == ITEMS
        for n in (1, 2, 7, 50): assert await s.get_items(limit=n) == ITEMS[-n:]
        assert await s.get_items(limit=0) == [] and await s.get_items(limit=-1) == ITEMS # as the SDK's SQLite session reads them
        assert await AgentsSession('c', m, owner='ana', session_settings=SessionSettings(limit=2)).get_items() == ITEMS[-2:]
        c = await am.get_session('c')
        assert [x.role for x in await c.messages] == ['user', 'assistant', 'assistant', 'tool', 'assistant', 'user', 'assistant']
        assert (await c.to_openai())[1] == {'role': 'assistant', 'content': None, 'tool_calls': [{'id': 'call_1', 'type': 'function', 'function': {'name': 'weather', 'arguments': '{"city":"Paris"}'}}]}
        assert [t['role'] for t in (await c.to_anthropic())['messages']] == ['user', 'assistant', 'user', 'assistant', 'user', 'assistant']
        assert [(h.session_id, h.message.content) for h in await am.search('eiffel', owner='ana')] == [('c', 'The Eiffel Tower; 18°C.')]
    run(store, body)

def test_pop_clear_and_separate_sessions(store):
    async def body(m, am):
        a,b = AgentsSession('a', m),AgentsSession('b', m)
        await a.add_items([{'role': 'user', 'content': 'Hello'}, {'role': 'assistant', 'content': 'Hi there!'}, {'role': 'user', 'content': 'How are you?'}])
        await b.add_items([{'role': 'user', 'content': 'Session 2'}])
        assert await a.pop_item() == {'role': 'user', 'content': 'How are you?'}
        assert [i['content'] for i in await a.get_items()] == ['Hello', 'Hi there!'] and await b.get_items() == [{'role': 'user', 'content': 'Session 2'}]
        assert [await a.pop_item(), await a.pop_item(), await a.pop_item()] == [{'role': 'assistant', 'content': 'Hi there!'}, {'role': 'user', 'content': 'Hello'}, None]
        await b.clear_session()
        assert await b.get_items() == [] and await am.contains('b') # cleared, not deleted
    run(store, body)

def test_two_pops_never_take_the_same_item(store):
    async def body(m, am):
        s = AgentsSession('c', m)
        await s.add_items([{'role': 'user', 'content': f'm{i}'} for i in range(12)])
        got = await asyncio.gather(*[AgentsSession('c', m).pop_item() for _ in range(14)])
        assert sorted(g['content'] for g in got if g) == sorted(f'm{i}' for i in range(12)) and got.count(None) == 2
        assert await s.get_items() == []
    run(store, body)

def test_a_message_of_several_items_gives_up_its_last(store):
    "A model turn stored whole by another writer (`add_responses`): a pop keeps the rest in a new version, and the old one stays beside it"
    async def body(m, am):
        c = await am.create_session('c')
        await c.add_responses(ITEMS[:3]) # the user's input, then reasoning and a function call as one message
        s = AgentsSession('c', m)
        assert await s.get_items(limit=2) == ITEMS[1:3]
        assert await s.pop_item() == ITEMS[2]
        assert await s.get_items() == ITEMS[:2]
        assert (await c.siblings((await c.messages)[-1].id)).n == 2 # nothing lost
    run(store, body)

def test_bad_items_store_nothing(store):
    async def body(m, am):
        s = AgentsSession('c', m, owner='ana')
        await s.add_items(ITEMS[:1])
        with pytest.raises(FormatError, match="which no earlier item made"): await s.add_items([{'role': 'user', 'content': 'x'}, {'type': 'function_call_output', 'call_id': 'nope', 'output': '1'}])
        with pytest.raises(FormatError, match="no 'type' and no 'role'"): await s.add_items([{'content': 'x'}])
        assert await s.get_items() == ITEMS[:1]
        await s.add_items(ITEMS[1:3]); await s.add_items(ITEMS[3:4]) # an output answering a call stored before
        assert await s.get_items() == ITEMS[:4]
        bob = AgentsSession('c', m, owner='bob') # another owner's session is absent to this one
        assert await bob.get_items() == [] and await bob.pop_item() is None
        with pytest.raises(SessionNotFoundError): await bob.add_items(ITEMS[:1])
        with pytest.raises(InvalidTypeError, match='store must be a SessionManager'): AgentsSession('c', 'sqlite:///x.db')
        with pytest.raises(InvalidValueError, match='session id'): AgentsSession('', m)
    run(store, body)

class Scripted(Model):
    "A model that gives the replies it was set, in order, and keeps what it was sent"
    def __init__(self, turns): self.turns,self.inputs = list(turns),[]
    async def get_response(self, system_instructions, input, *args, **kwargs):
        self.inputs.append(input)
        return ModelResponse(output=self.turns.pop(0), usage=Usage(), response_id=None)
    def stream_response(self, *args, **kwargs): raise NotImplementedError

def text(t, i): return ResponseOutputMessage(id=i, type='message', role='assistant', status='completed', content=[ResponseOutputText(type='output_text', text=t, annotations=[])])

@function_tool
def weather(city: str) -> str:
    "The weather in a city"
    return f'18°C in {city}'

def test_runner_keeps_the_conversation(store):
    async def body(m, am):
        model = Scripted([[ResponseReasoningItem(id='rs_1', type='reasoning', summary=[], encrypted_content='gAAA'),
                           ResponseFunctionToolCall(id='fc_1', type='function_call', call_id='call_1', name='weather', arguments='{"city":"Paris"}', status='completed')],
                          [text('It is 18°C in Paris.', 'msg_1')], [text('You asked about Paris.', 'msg_2')]])
        agent,cfg = Agent(name='a', model=model, tools=[weather]),RunConfig(tracing_disabled=True)
        r = await Runner.run(agent, 'Weather in Paris?', session=AgentsSession('c', m, owner='ana'), run_config=cfg)
        assert r.final_output == 'It is 18°C in Paris.'
        r = await Runner.run(agent, 'What did I ask?', session=AgentsSession('c', m, owner='ana'), run_config=cfg) # a new session object, as a new request makes
        assert r.final_output == 'You asked about Paris.'
        sent = model.inputs[-1]
        assert [i.get('type', i.get('role')) for i in sent] == ['user', 'reasoning', 'function_call', 'function_call_output', 'message', 'user']
        assert sent[3]['output'] == '18°C in Paris'
        c = await am.get_session('c', owner='ana')
        assert [(x.role, x.content) for x in await c.messages][-4:] == [('tool', '18°C in Paris'), ('assistant', 'It is 18°C in Paris.'), ('user', 'What did I ask?'), ('assistant', 'You asked about Paris.')]
        assert [d['role'] for d in await c.to_openai()] == ['user', 'assistant', 'tool', 'assistant', 'user', 'assistant']
        assert [described(x) for x in await c.messages][:5] == ['Weather in Paris?', '[reasoning]', '-> weather({"city":"Paris"})', # as `chatstate show` prints them
                                                             '[result of call_1] 18°C in Paris', 'It is 18°C in Paris.']
    run(store, body)
    if store.kind != 'memory': # another process, after a restart, reads the same history
        async def again(m, am): assert len(await AgentsSession('c', m, owner='ana').get_items()) == 7
        run(store, again)

@pytest.mark.parametrize('kind', KINDS)
def test_run_sync_each_in_a_loop_of_its_own(kind, tmp_path):
    "`Runner.run_sync` runs each call in an event loop of its own: a sync store serves them all (its async twin runs on threads, not on a driver bound to one loop)"
    st = Store(kind, tmp_path)
    try:
        m = st.open()
        model = Scripted([[text('One.', 'msg_1')], [text('Two.', 'msg_2')], [text('Three.', 'msg_3')]])
        agent,cfg = Agent(name='a', model=model),RunConfig(tracing_disabled=True)
        for q in ('a', 'b', 'c'): Runner.run_sync(agent, q, session=AgentsSession('c', m), run_config=cfg)
        assert [x.content for x in m['c']] == ['a', 'One.', 'b', 'Two.', 'c', 'Three.']
    finally: st.close()

def test_use_after_close_raises(store):
    async def body(m, am):
        s = AgentsSession('c', m)
        await s.add_items(ITEMS[:1])
        s.close()
        for call in (s.get_items(), s.add_items([]), s.add_items(ITEMS[:1]), s.pop_item(), s.clear_session()):
            with pytest.raises(RuntimeError, match='is closed'): await call
        assert await AgentsSession('c', m).get_items() == ITEMS[:1] # another session object, and the store, go on
    run(store, body)

def test_a_session_deleted_meanwhile_is_made_again(store):
    async def body(m, am):
        s = AgentsSession('c', m)
        await s.add_items(ITEMS[:1])
        await am.delete_session('c') # by another worker
        await s.add_items(ITEMS[5:6])
        assert await s.get_items() == ITEMS[5:6]
    run(store, body)
