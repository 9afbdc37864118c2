"""lisette's Chat with its history in a chatstate session, on every store and both APIs (StoredChat, AsyncStoredChat): a tool
conversation kept in chatstate's form, a streamed turn saved when it ends, a chat made after a restart sending the model the whole
conversation, and one started from the session's summary. The model is LiteLLM's mock, through lisette's `completefunc`. (lisette 0.1.37's
own AsyncChat folds its history into one user message after a tool call, whatever keeps it: the async API's conversation has no tool.)"""
import asyncio, inspect, os, pytest
from conftest import need_module, run_on
from chatstate import *

os.environ.setdefault('LITELLM_LOCAL_MODEL_COST_MAP', 'True') # LiteLLM's own table of models: no network
need_module('lisette', 'dev')
import litellm
from chatstate.integrations.lisette import StoredChat, AsyncStoredChat

pytestmark = pytest.mark.filterwarnings('ignore::UserWarning:pydantic') # LiteLLM's own types, as pydantic reads them

def fake_model(*replies, is_async=False):
    "A completion function (async, if `is_async`) whose model gives `replies` in turn: a text, or a list of tool calls"
    replies,asked = list(replies),[]
    def args(model, messages, kw):
        asked.append(messages)
        r = replies.pop(0)
        return dict(model=model, messages=messages, stream=kw.get('stream', False), mock_response=r if isinstance(r, str) else '', mock_tool_calls=None if isinstance(r, str) else r)
    def complete(model, messages, **kw): return litellm.completion(**args(model, messages, kw))
    async def acomplete(model, messages, **kw): return await litellm.acompletion(**args(model, messages, kw))
    f = acomplete if is_async else complete
    f.asked = asked
    return f

def weather(city:str)->str:
    "The weather in a city"
    return f'18°C in {city}'

CALL = [{'id': 'call_1', 'type': 'function', 'function': {'name': 'weather', 'arguments': '{"city": "Lisbon"}'}}]

async def chat_on(store, m, sid, fake, **kw):
    "A stored chat on session `sid`, on the API under test"
    if store.api == 'sync': return StoredChat(m.get_or_create(sid), 'gpt-4o-mini', completefunc=fake, **kw)
    return await AsyncStoredChat.create(await m.get_or_create(sid), 'gpt-4o-mini', completefunc=fake, **kw)

async def ask(chat, *args, **kw):
    r = chat(*args, **kw)
    return (await r) if inspect.iscoroutine(r) else r

async def messages(m, sid):
    s = m[sid]
    return (await (await s).messages) if isinstance(m, AsyncSessionManager) else s.messages

def test_a_tool_conversation_is_kept_and_picked_up_after_a_restart(store):
    async def body(m):
        tool = store.api == 'sync'
        fake = fake_model(*([CALL] if tool else []), 'It is 18°C in Lisbon.', is_async=store.api == 'async')
        chat = await chat_on(store, m, 'trip', fake, sp='Be brief.', tools=[weather])
        assert (await ask(chat, 'Weather in Lisbon?')).choices[0].message.content == 'It is 18°C in Lisbon.'
        msgs = await messages(m, 'trip')
        turn = [('assistant', ''), ('tool', '18°C in Lisbon')] if tool else []
        assert [(x.role, x.content) for x in msgs] == [('system', 'Be brief.'), ('user', 'Weather in Lisbon?'), *turn, ('assistant', 'It is 18°C in Lisbon.')]
        if tool: assert msgs[2].metadata['tool_calls'][0]['function'] == {'name': 'weather', 'arguments': '{"city": "Lisbon"}'} and msgs[3].metadata['tool_call_id'] == 'call_1'
        other = connect(store.url) if store.kind != 'memory' else None # after a restart: another process's store
        m2 = m if other is None else (other if store.api == 'sync' else AsyncSessionManager(other))
        fake2 = fake_model('You asked about Lisbon.', is_async=store.api == 'async')
        again = await chat_on(store, m2, 'trip', fake2, tools=[weather])
        assert (await ask(again, 'What did I ask?')).choices[0].message.content == 'You asked about Lisbon.'
        sent = fake2.asked[0]
        assert [x['role'] for x in sent] == ['system', 'user', *(['assistant', 'tool'] if tool else []), 'assistant', 'user'] and sent[0]['content'] == 'Be brief.'
        if tool: assert sent[2]['tool_calls'][0]['id'] == 'call_1' and sent[3]['tool_call_id'] == 'call_1'
        assert len(await messages(m, 'trip')) == (7 if tool else 5)
        if other is not None: other.close()
    run_on(store, body)

def test_a_streamed_turn_is_saved_when_it_ends(store):
    async def body(m):
        fake = fake_model('Hello there', is_async=store.api == 'async')
        chat = await chat_on(store, m, 's', fake)
        g = await ask(chat, 'Hi', stream=True)
        parts = [x async for x in g] if store.api == 'async' else list(g)
        assert parts and [(x.role, x.content) for x in await messages(m, 's')] == [('user', 'Hi'), ('assistant', 'Hello there')]
    run_on(store, body)

def test_wrong_session_types():
    with pytest.raises(InvalidTypeError, match='session must be a ChatSession'): StoredChat('trip', 'gpt-4o-mini')
    with pytest.raises(InvalidTypeError, match='session must be an AsyncChatSession'): asyncio.run(AsyncStoredChat.create(InMemorySessionManager().create_session('t'), 'gpt-4o-mini'))

def test_a_chat_can_start_from_the_summary(store):
    async def body(m):
        fake = fake_model('Day 1: Alfama.', 'Day 2: Belém.', is_async=store.api == 'async')
        chat = await chat_on(store, m, 'c', fake, sp='Be brief.')
        await ask(chat, 'Plan 3 days in Lisbon'); await ask(chat, 'And day 2?')
        s = m['c'] if store.api == 'sync' else await m['c']
        msgs = s.messages if store.api == 'sync' else await s.messages
        _ = s.summarize(msgs[2].id, 'Lisbon, 3 days.') if store.api == 'sync' else await s.summarize(msgs[2].id, 'Lisbon, 3 days.')
        fake2 = fake_model('Day 3: Sintra.', is_async=store.api == 'async')
        short = await chat_on(store, m, 'c', fake2, summary=True)
        await ask(short, 'Day 3?')
        sent = fake2.asked[0]
        assert sent[0] == {'role': 'system', 'content': 'Be brief.\n\nLisbon, 3 days.'} and [x['content'] for x in sent[1:]] == ['And day 2?', 'Day 2: Belém.', 'Day 3?']
    run_on(store, body)
