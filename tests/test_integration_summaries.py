"""A session's summary (`ChatSession.summarize`) read by each framework adapter in place of the messages it stands in for, when asked
(`summary=True`), on every store and both APIs; by default each framework gets back exactly what it stored."""
import asyncio, warnings, pytest
from conftest import need_module, run_on
from chatstate import *
from chatstate.integrations.base import both_apis

need_module('agents', 'dev'); need_module('llama_index.core', 'dev'); need_module('langchain_core', 'dev')
from chatstate.integrations.agents import AgentsSession
from chatstate.integrations.llamaindex import ChatstateChatStore
from chatstate.integrations.langchain import ChatstateHistory
from llama_index.core.llms import ChatMessage
from langchain_core.messages import HumanMessage, AIMessage, SystemMessage

TURNS = [('user', 'Plan 3 days in Lisbon'), ('assistant', 'Day 1: Alfama.'), ('user', 'And day 2?'), ('assistant', 'Belém.')]
SUMMARY = 'The user plans 3 days in Lisbon; day 1 is Alfama.'

async def summarized(am, sid):
    "Record the summary of the session's first two messages"
    s = await am.get_session(sid)
    await s.summarize((await s.messages)[1].id, SUMMARY)

def test_agents(store):
    async def body(m):
        am = both_apis(m)[1]
        await AgentsSession('a', m).add_items([{'role': r, 'content': c} for r,c in TURNS])
        await summarized(am, 'a')
        assert [i['content'] for i in await AgentsSession('a', m).get_items()] == [c for _,c in TURNS] # by default, what it stored
        got = await AgentsSession('a', m, summary=True).get_items()
        assert got == [{'role': 'system', 'content': SUMMARY}, {'role': 'user', 'content': 'And day 2?'}, {'role': 'assistant', 'content': 'Belém.'}]
        assert await AgentsSession('a', m, summary=True).get_items(limit=2) == got[-2:] and await AgentsSession('a', m, summary=True).get_items(limit=0) == []
    run_on(store, body)

def test_llamaindex(store):
    async def body(m):
        am = both_apis(m)[1]
        await ChatstateChatStore(m).aset_messages('l', [ChatMessage(role=r, content=c) for r,c in TURNS])
        await summarized(am, 'l')
        assert [x.content for x in await ChatstateChatStore(m).aget_messages('l')] == [c for _,c in TURNS]
        got = await ChatstateChatStore(m, summary=True).aget_messages('l')
        assert [(x.role.value, x.content) for x in got] == [('system', SUMMARY), ('user', 'And day 2?'), ('assistant', 'Belém.')]
        if store.api == 'sync': assert ChatstateChatStore(m, summary=True).get_messages('l') == got
    run_on(store, body)

def test_langchain(store):
    async def body(m):
        am = both_apis(m)[1]
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            h,hs = ChatstateHistory('c', m),ChatstateHistory('c', m, summary=True)
        await h.aadd_messages([SystemMessage('Be brief.')] + [(HumanMessage if r == 'user' else AIMessage)(c) for r,c in TURNS])
        await summarized(am, 'c') # upto 'Plan 3 days...', the second message here
        assert len(await h.aget_messages()) == 5
        assert await hs.aget_messages() == [SystemMessage('Be brief.'), SystemMessage(SUMMARY), AIMessage('Day 1: Alfama.'), HumanMessage('And day 2?'), AIMessage('Belém.')]
    run_on(store, body)
