"""The LangChain chat history on every store and both APIs: messages back exactly as added (tool calls, usage, ids, content blocks,
artifacts, any role), kept in chatstate's form, owners apart, and `RunnableWithMessageHistory` keeping a conversation across calls and restarts."""
import asyncio, warnings, pytest
from conftest import need_module, run_on
from chatstate.integrations.base import both_apis
from chatstate import *
from chatstate.formats import to_openai, to_anthropic
from chatstate.cli import described

need_module('langchain_core', 'dev')
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage
from chatstate.integrations.langchain import ChatstateHistory, to_message, to_langchain

def history(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore') # LangChain's notice that the base class is deprecated
        return ChatstateHistory(*args, **kwargs)

def run(store, body): run_on(store, body)

async def get(h, api): return (await h.aget_messages()) if api == 'async' else h.messages
async def add(h, api, msgs): return (await h.aadd_messages(msgs)) if api == 'async' else h.add_messages(msgs)
async def clear(h, api): return (await h.aclear()) if api == 'async' else h.clear()

CONV = [SystemMessage('Be brief.'),
        HumanMessage(content=[{'type': 'text', 'text': 'What is this, and the weather there?'}, {'type': 'image_url', 'image_url': {'url': 'data:image/png;base64,iVBORw0KGgo='}}], name='ana', id='h1'),
        AIMessage('', tool_calls=[{'name': 'weather', 'args': {'city': 'Lisbon'}, 'id': 'call_1'}]),
        ToolMessage('18°C', tool_call_id='call_1', artifact={'raw': [18, 'C']}),
        AIMessage(content=[{'type': 'text', 'text': 'Torre de Belém; 18°C.'}], id='run-1', usage_metadata={'input_tokens': 20, 'output_tokens': 5, 'total_tokens': 25},
                  response_metadata={'model_name': 'gpt-x', 'finish_reason': 'tool_calls'}, tool_calls=[{'name': 'map', 'args': {'place': 'Belém'}, 'id': 'call_2'}]),
        ToolMessage('no map service', tool_call_id='call_2', status='error'),
        ChatMessage(role='critic', content='Fine.'),
        AIMessage('Done.', additional_kwargs={'refusal': None})]

def test_messages_come_back_as_added(store):
    async def body(m):
        h,api = history('trip', m, owner='ana', metadata={'title': 'Lisbon'}),store.api
        assert await get(h, api) == [] and await both(m).count() == 0 # reading made nothing
        await add(h, api, CONV[:3]); await add(h, api, CONV[3:]); await add(h, api, [])
        assert await get(h, api) == CONV
        assert await get(history('trip', m, owner='ana'), api) == CONV # another handle, as another request makes
        s = await both(m).get_session('trip', owner='ana')
        msgs = await s.messages
        assert [x.role for x in msgs] == ['system', 'user', 'assistant', 'tool', 'assistant', 'tool', 'critic', 'assistant']
        assert (await s.info).title == 'Lisbon'
        assert to_openai(msgs[:6])[4]['tool_calls'][0]['function'] == {'name': 'map', 'arguments': '{"place": "Belém"}'}
        assert [t['role'] for t in to_anthropic(msgs[:6])['messages']] == ['user', 'assistant', 'user', 'assistant', 'user']
        assert [described(x) for x in msgs[2:5]] == ['-> weather({"city": "Lisbon"})', '[result of call_1] 18°C', 'Torre de Belém; 18°C. -> map({"place": "Belém"})']
        assert [h.message.role for h in await both(m).search('torre', owner='ana')] == ['assistant']
        assert await get(history('trip', m, owner='bob'), api) == [] # another owner's session is absent
        with pytest.raises(SessionNotFoundError): await add(history('trip', m, owner='bob'), api, CONV[:1])
        await clear(h, api)
        assert await get(h, api) == [] and await both(m).contains('trip')
        await clear(history('nope', m), api) # nothing to clear
        with pytest.raises(InvalidValueError): await add(h, api, [HumanMessage('ok'), HumanMessage('\ud800 not text')])
        assert await get(h, api) == [] # a bad message in a batch stores none of it
    run(store, body)

def both(m): return both_apis(m)[1]

def test_runnable_with_message_history(store):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
    from langchain_core.runnables.history import RunnableWithMessageHistory
    async def body(m):
        model = GenericFakeChatModel(messages=iter([AIMessage('Alfama, then Belém.'), AIMessage('You asked about Lisbon.')]))
        prompt = ChatPromptTemplate.from_messages([('system', 'Be brief.'), MessagesPlaceholder('history'), ('human', '{q}')])
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            chain = RunnableWithMessageHistory(prompt | model, lambda sid: history(sid, m), input_messages_key='q', history_messages_key='history')
            cfg = {'configurable': {'session_id': 'c'}}
            ask = (lambda q: chain.ainvoke({'q': q}, config=cfg)) if store.api == 'async' else (lambda q: asyncio.sleep(0, chain.invoke({'q': q}, config=cfg)))
            assert (await ask('Plan 3 days in Lisbon')).content == 'Alfama, then Belém.'
            assert (await ask('What did I ask?')).content == 'You asked about Lisbon.'
        s = await both(m).get_session('c')
        assert [(x.role, x.content) for x in await s.messages] == [('user', 'Plan 3 days in Lisbon'), ('assistant', 'Alfama, then Belém.'),
                                                                   ('user', 'What did I ask?'), ('assistant', 'You asked about Lisbon.')]
    run(store, body)

def test_roles_and_text():
    assert to_message(ChatMessage(role='critic', content='x')).role == 'critic' and to_langchain(Message('developer', 'Be brief.')) == SystemMessage('Be brief.')
    assert to_langchain(Message('tool', '1', metadata={'tool_call_id': 'c'})) == ToolMessage('1', tool_call_id='c') # one stored otherwise, by the formats
    assert to_message(HumanMessage(content=[{'type': 'text', 'text': 'a'}, 'b', {'type': 'image_url', 'image_url': {'url': 'x'}}])).content == 'ab'
