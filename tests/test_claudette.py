"""claudette's Chat with its history in a chatstate session, on every store and both APIs (StoredChat, AsyncStoredChat): a tool
conversation kept in chatstate's form, a streamed turn saved when it ends (the real Anthropic SDK against a local fake server), and a chat
made after a restart sending the model the whole conversation."""
import asyncio, pytest
from types import SimpleNamespace
from conftest import need_module, run_on
from fake_models import FakeModels
from chatstate import *

need_module('claudette', 'dev')
import anthropic
from anthropic.types import Message as ClaudeMessage
from claudette import Client, contents
from claudette.asink import AsyncClient
from chatstate.integrations.claudette import StoredChat, AsyncStoredChat

def reply(kw, content):
    return ClaudeMessage.model_validate({'id': 'msg_1', 'type': 'message', 'role': 'assistant', 'model': kw['model'], 'stop_sequence': None,
        'stop_reason': 'tool_use' if content[-1]['type'] == 'tool_use' else 'end_turn', 'content': content, 'usage': {'input_tokens': 70, 'output_tokens': 15}})

class FakeClaude:
    "An Anthropic client (sync, or `is_async`) whose model gives the replies it was set, in order"
    def __init__(self, *replies, is_async=False): self.replies,self.asked,self.is_async = list(replies),[],is_async
    @property
    def messages(self): return SimpleNamespace(create=self.acreate if self.is_async else self.create)
    def create(self, **kw):
        self.asked.append(kw)
        return reply(kw, self.replies.pop(0))
    async def acreate(self, **kw): return self.create(**kw)

def weather(city:str)->str:
    "The weather in a city"
    return f'18°C in {city}'

TOOL = [{'type': 'thinking', 'thinking': 'Lisbon: ask the tool.', 'signature': 'EqQBsig=='}, {'type': 'tool_use', 'id': 'toolu_1', 'name': 'weather', 'input': {'city': 'Lisbon'}}]
ANSWER = [{'type': 'text', 'text': 'It is 18°C in Lisbon.'}]

async def chat_on(store, m, sid, fake, **kw):
    "A stored chat on session `sid`, on the API under test"
    if store.api == 'sync': return StoredChat(m.get_or_create(sid), cli=Client('claude-haiku-4-5', cli=fake), **kw)
    return await AsyncStoredChat.create(await m.get_or_create(sid), cli=AsyncClient('claude-haiku-4-5', cli=fake), **kw)

async def ask(chat, *args, **kw):
    r = chat(*args, **kw)
    return (await r) if asyncio.iscoroutine(r) else r

def run(store, body): run_on(store, body)

async def messages(m, sid):
    s = m[sid]
    return (await (await s).messages) if isinstance(m, AsyncSessionManager) else s.messages

def test_a_tool_conversation_is_kept_and_picked_up_after_a_restart(store):
    async def body(m):
        fake = FakeClaude(TOOL, ANSWER, is_async=store.api == 'async')
        chat = await chat_on(store, m, 'trip', fake, sp='Be brief.', tools=[weather])
        await ask(chat, 'Weather in Lisbon?')
        assert contents(await ask(chat)) == 'It is 18°C in Lisbon.'
        msgs = await messages(m, 'trip')
        assert [(x.role, x.content) for x in msgs] == [('system', 'Be brief.'), ('user', 'Weather in Lisbon?'), ('assistant', ''), ('tool', '18°C in Lisbon'), ('assistant', 'It is 18°C in Lisbon.')]
        assert msgs[2].metadata['tool_calls'][0]['function'] == {'name': 'weather', 'arguments': '{"city": "Lisbon"}'} and msgs[3].metadata['tool_call_id'] == 'toolu_1'
        other = connect(store.url) if store.kind != 'memory' else None # after a restart: another process's store
        m2 = m if other is None else (other if store.api == 'sync' else AsyncSessionManager(other))
        fake2 = FakeClaude([{'type': 'text', 'text': 'You asked about Lisbon.'}], is_async=store.api == 'async')
        again = await chat_on(store, m2, 'trip', fake2, tools=[weather])
        assert contents(await ask(again, 'What did I ask?')) == 'You asked about Lisbon.'
        sent = fake2.asked[0]
        assert sent['system'] == 'Be brief.' and [b['type'] for b in sent['messages'][1]['content']] == ['thinking', 'tool_use'] # the thinking block went back whole
        assert len(await messages(m, 'trip')) == 7
        if other is not None: other.close()
    run(store, body)

class Streaming:
    "The Anthropic SDK's client against the local fake server, its `messages.stream` taking what claudette passes it (a `temperature` this SDK's stream no longer takes)"
    def __init__(self, c): self.c = c
    @property
    def messages(self): return SimpleNamespace(stream=lambda temperature=None, **kw: self.c.messages.stream(**kw), create=self.c.messages.create)

def test_a_streamed_turn_is_saved_when_it_ends(store):
    f = FakeModels()
    try:
        async def body(m):
            if store.api == 'sync':
                chat = StoredChat(m.get_or_create('s'), cli=Client('claude-x', cli=Streaming(anthropic.Anthropic(base_url=f.url, api_key='x', max_retries=0))))
                assert ''.join(chat('Hi', stream=True)) == 'Hello there'
            else:
                chat = await AsyncStoredChat.create(await m.get_or_create('s'), cli=AsyncClient('claude-x', cli=Streaming(anthropic.AsyncAnthropic(base_url=f.url, api_key='x', max_retries=0))))
                assert ''.join([x async for x in await chat('Hi', stream=True)]) == 'Hello there'
            assert [(x.role, x.content) for x in await messages(m, 's')] == [('user', 'Hi'), ('assistant', 'Hello there')]
        run(store, body)
    finally: f.close()

def test_wrong_session_types():
    with pytest.raises(InvalidTypeError, match='session must be a ChatSession'): StoredChat('trip', cli=Client('claude-x', cli=FakeClaude()))
    with pytest.raises(InvalidTypeError, match='session must be an AsyncChatSession'): asyncio.run(AsyncStoredChat.create(InMemorySessionManager().create_session('t'), cli=AsyncClient('claude-x', cli=FakeClaude(is_async=True))))

def test_a_chat_can_start_from_the_summary(store):
    async def body(m):
        fake = FakeClaude(ANSWER, ANSWER, is_async=store.api == 'async')
        chat = await chat_on(store, m, 'c', fake, sp='Be brief.')
        await ask(chat, 'Plan 3 days in Lisbon'); await ask(chat, 'And day 2?')
        s = m['c'] if store.api == 'sync' else await m['c']
        msgs = s.messages if store.api == 'sync' else await s.messages
        _ = s.summarize(msgs[2].id, 'Lisbon, 3 days.') if store.api == 'sync' else await s.summarize(msgs[2].id, 'Lisbon, 3 days.')
        fake2 = FakeClaude(ANSWER, is_async=store.api == 'async')
        short = await chat_on(store, m, 'c', fake2, summary=True)
        await ask(short, 'Day 3?')
        sent = fake2.asked[0]
        assert sent['system'] == 'Be brief.\n\nLisbon, 3 days.' and sent['messages'][0]['content'][0]['text'] == 'And day 2?' and len(sent['messages']) == 3
    run(store, body)
