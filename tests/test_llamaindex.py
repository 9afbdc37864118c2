"""The LlamaIndex chat store on every store and both APIs: LlamaIndex's own chat store checks, messages back exactly as stored (tool
calls as objects or blocks, thinking, images, any role), kept in chatstate's form, an atomic replace, owners, and a chat memory across a restart."""
import asyncio, threading, pytest
from conftest import need_module, run_on
from chatstate.integrations.base import both_apis
from chatstate import *
from chatstate.formats import to_openai, to_anthropic
from chatstate.cli import described

need_module('llama_index.core', 'dev')
from llama_index.core.llms import ChatMessage
from llama_index.core.base.llms.types import TextBlock, ImageBlock, ThinkingBlock, ToolCallBlock
from llama_index.core.memory import ChatMemoryBuffer
from openai.types.chat import ChatCompletionMessageToolCall
from openai.types.chat.chat_completion_message_tool_call import Function
from chatstate.integrations.llamaindex import ChatstateChatStore, to_message

ASYNC = dict(set_messages='aset_messages', get_messages='aget_messages', add_message='async_add_message', delete_messages='adelete_messages',
             delete_message='adelete_message', delete_last_message='adelete_last_message', get_keys='aget_keys')

class Calls:
    "A chat store's calls on the API under test, each awaited"
    def __init__(self, cs, api): self.cs,self.api = cs,api
    def __getattr__(self, name):
        f = getattr(self.cs, ASYNC[name] if self.api == 'async' else name)
        async def call(*args, **kwargs):
            r = f(*args, **kwargs)
            return (await r) if self.api == 'async' else r
        return call

def run(store, body): run_on(store, lambda m: body(m, lambda **kw: Calls(ChatstateChatStore(m, **kw), store.api)))

U = lambda t: ChatMessage(role='user', content=t)

def test_llamaindex_own_checks(store):
    "What LlamaIndex's tests of its SimpleChatStore ask"
    async def body(m, open_):
        cs = open_()
        for k,t in [('user1', 'hello'), ('user1', 'world'), ('user2', 'hello'), ('user2', 'world')]: await cs.add_message(k, U(t))
        assert await cs.get_messages('user1') == [U('hello'), U('world')] == await cs.get_messages('user2')
        assert sorted(await cs.get_keys()) == ['user1', 'user2']
        await cs.add_message('user1', U('first'), idx=0)
        assert await cs.get_messages('user1') == [U('first'), U('hello'), U('world')]
        assert await cs.delete_messages('user1') == [U('first'), U('hello'), U('world')]
        assert await cs.get_messages('user1') == [] and await cs.get_messages('user2') == [U('hello'), U('world')] and await cs.get_keys() == ['user2']
        assert await cs.delete_message('user2', 0) == U('hello') and await cs.get_messages('user2') == [U('world')]
        assert await cs.delete_message('user2', -2) is None and await cs.delete_message('user2', 1) is None and await cs.get_messages('user2') == [U('world')]
        assert await cs.delete_last_message('user2') == U('world') and await cs.delete_last_message('user2') is None
        assert await cs.delete_messages('nope') is None and await cs.delete_message('nope', 0) is None and await cs.delete_last_message('nope') is None
        await cs.set_messages('user3', [U('ハロー héllo'), U('b')])
        assert await cs.get_messages('user3') == [U('ハロー héllo'), U('b')]
        await cs.add_message('user3', U('mid'), idx=1); await cs.add_message('user3', U('end'), idx=-1)
        assert [x.content for x in await cs.get_messages('user3')] == ['ハロー héllo', 'mid', 'end', 'b']
        s3 = await both_apis(m)[1].get_session('user3')
        ids = [x.id for x in await s3.messages]
        await cs.add_message('user3', U('top'), idx=0) # the others keep their ids: nothing copied
        assert [x.id for x in await s3.messages][1:] == ids and len((await s3.tree()).messages) == 5
    run(store, body)

CONV = [ChatMessage(role='system', content='Be brief.'),
        ChatMessage(role='user', blocks=[TextBlock(text='What is this, and the weather there?'), ImageBlock(url='https://example.com/belem.png')]),
        ChatMessage(role='assistant', content='', additional_kwargs={'tool_calls': [ChatCompletionMessageToolCall(id='call_1', type='function', function=Function(name='weather', arguments='{"city":"Lisbon"}'))]}),
        ChatMessage(role='tool', content='18°C', additional_kwargs={'tool_call_id': 'call_1', 'name': 'weather'}),
        ChatMessage(role='assistant', blocks=[ThinkingBlock(content='Belém tower.'), TextBlock(text='Torre de Belém; 18°C.'),
                                              ToolCallBlock(tool_call_id='call_2', tool_name='map', tool_kwargs={'place': 'Belém'})], additional_kwargs={'usage': {'tokens': 12}}),
        ChatMessage(role='tool', content='38.69,-9.21', additional_kwargs={'tool_call_id': 'call_2'}),
        ChatMessage(role='chatbot', content='Done.')]

def dumps(msgs): return [x.model_dump(mode='json') for x in msgs]

def test_messages_come_back_as_stored_in_chatstate_form(store):
    async def body(m, open_):
        cs = open_(owner='ana')
        await cs.set_messages('trip', CONV[:3])
        for x in CONV[3:]: await cs.add_message('trip', x)
        assert dumps(await cs.get_messages('trip')) == dumps(CONV) # tool calls as objects come back as their JSON, as LlamaIndex persists them
        s = await both(m).get_session('trip', owner='ana')
        msgs = await s.messages
        assert [x.role for x in msgs] == ['system', 'user', 'assistant', 'tool', 'assistant', 'tool', 'assistant']
        assert [x.content for x in msgs][3:] == ['18°C', 'Torre de Belém; 18°C.', '38.69,-9.21', 'Done.']
        assert [d['role'] for d in to_openai(msgs)] == ['system', 'user', 'assistant', 'tool', 'assistant', 'tool', 'assistant']
        assert to_openai(msgs)[4]['tool_calls'][0]['function'] == {'name': 'map', 'arguments': '{"place": "Belém"}'}
        assert [t['role'] for t in to_anthropic(msgs)['messages']] == ['user', 'assistant', 'user', 'assistant', 'user', 'assistant']
        assert [described(x) for x in msgs][1:5] == ['[image] What is this, and the weather there?', '-> weather({"city":"Lisbon"})',
                                                     '[result of call_1] 18°C', '[thinking] Torre de Belém; 18°C. -> map({"place": "Belém"})']
        assert [(h.session_id, h.message.role) for h in await both(m).search('torre', owner='ana')] == [('trip', 'assistant')]
    run(store, body)

def both(m): return both_apis(m)[1]

def test_a_replace_is_whole_or_nothing_and_owners_are_kept_apart(store):
    async def body(m, open_):
        ana,bob = open_(owner='ana'),open_(owner='bob')
        await ana.set_messages('trip', [U('a'), U('b')])
        with pytest.raises(InvalidValueError): await ana.set_messages('trip', [U('c'), U('\ud800 not text')])
        assert await ana.get_messages('trip') == [U('a'), U('b')]
        assert await bob.get_messages('trip') == [] and await bob.get_keys() == [] and await bob.delete_messages('trip') is None
        with pytest.raises(SessionNotFoundError): await bob.set_messages('trip', [U('mine now')])
        with pytest.raises(SessionNotFoundError): await bob.add_message('trip', U('mine now'))
        assert await ana.get_messages('trip') == [U('a'), U('b')] and await ana.get_keys() == ['trip']
        s = await both(m).get_session('trip')
        await s.update_metadata(title='Lisbon')
        await ana.set_messages('trip', [U('new')])
        assert (await s.info).title == 'Lisbon' and (await s.info).owner == 'ana' # a replace keeps the session's details
    run(store, body)

def test_a_memory_across_a_restart_and_writers_at_once(store):
    async def body(m, open_):
        put = (lambda mem, x: mem.aput(x)) if store.api == 'async' else (lambda mem, x: asyncio.sleep(0, mem.put(x)))
        get = (lambda mem: mem.aget()) if store.api == 'async' else (lambda mem: asyncio.sleep(0, mem.get()))
        memory = ChatMemoryBuffer.from_defaults(chat_store=ChatstateChatStore(m), chat_store_key='c')
        await put(memory, U('Plan 3 days in Lisbon')); await put(memory, ChatMessage(role='assistant', content='Day 1: Alfama.'))
        other = connect(store.url) if store.kind != 'memory' else m # another worker, or the app restarted
        again = ChatMemoryBuffer.from_defaults(chat_store=ChatstateChatStore(other), chat_store_key='c')
        assert [x.content for x in await get(again)] == ['Plan 3 days in Lisbon', 'Day 1: Alfama.']
        cs = open_()
        async def writer(t):
            for i in range(10): await cs.add_message('w', U(f'{t}:{i}'))
        await asyncio.gather(*[writer(t) for t in range(6)]) # tasks at once (on the sync API, in turn)
        def write(t):
            sync = ChatstateChatStore(m)
            for i in range(10): sync.add_message('t', U(f'{t}:{i}'))
        ts = [threading.Thread(target=write, args=(t,)) for t in range(6)] # threads at once, on the sync API
        for t in ts: t.start()
        for t in ts: t.join()
        for k in ('w', 't'):
            got = [x.content for x in await cs.get_messages(k)]
            assert len(got) == 60 and all([c for c in got if c.startswith(f'{t}:')] == [f'{t}:{i}' for i in range(10)] for t in range(6)), k
        if other is not m: other.close()
    run(store, body)
