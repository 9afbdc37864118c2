"""The framework adapters on SQLite against each framework's own SQLite store, at the same durability: every add committed and synced
to disk (SQLite's synchronous=FULL, which survives power loss: chatstate's `?synchronous=full`, and the others' defaults).

For each: 2,000 adds of one message (or item) each, then one read of them all. LangChain: `ChatstateHistory` against langchain-community's
`SQLChatMessageHistory`; the Agents SDK: `AgentsSession` against `SQLiteSession`; LlamaIndex: `ChatstateChatStore` against
`SQLAlchemyChatStore` (its calls are async, on aiosqlite; both awaited). A file each, in the same process, taking turns; ratio =
chatstate's time over the framework's (below 1: chatstate is faster), medians of rounds.

Needs the bench extra (`pip install -e ".[dev,bench]"`). Run: python bench/bench_integrations.py [--adds 2000] [--rounds 3]"""
import argparse, asyncio, os, sys, tempfile, uuid, warnings
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import paired
from chatstate import *

def langchain(d, n, ours):
    from langchain_core.messages import HumanMessage, AIMessage
    if ours:
        from chatstate.integrations.langchain import ChatstateHistory
        m = connect(f'sqlite:///{d}/lc-ours.db?synchronous=full')
        h = ChatstateHistory(uuid.uuid4().hex, m)
    else:
        from langchain_community.chat_message_histories import SQLChatMessageHistory
        h = SQLChatMessageHistory(session_id=uuid.uuid4().hex, connection=f'sqlite:///{d}/lc-theirs.db')
    for i in range(n): h.add_message((HumanMessage if i % 2 == 0 else AIMessage)(f'message {i} about Lisbon, Alfama and Belém'))
    assert len(h.messages) == n
    if ours: m.close()

def agents(d, n, ours):
    async def go():
        if ours:
            from chatstate.integrations.agents import AgentsSession
            m = connect(f'sqlite:///{d}/ag-ours.db?synchronous=full')
            s = AgentsSession(uuid.uuid4().hex, m)
        else:
            from agents import SQLiteSession
            s = SQLiteSession(uuid.uuid4().hex, f'{d}/ag-theirs.db')
        for i in range(n): await s.add_items([{'role': 'user' if i % 2 == 0 else 'assistant', 'content': f'message {i} about Lisbon, Alfama and Belém'}])
        assert len(await s.get_items()) == n
        (m if ours else s).close()
    asyncio.run(go())

def llamaindex(d, n, ours):
    from llama_index.core.llms import ChatMessage
    async def go():
        k = uuid.uuid4().hex
        if ours:
            from chatstate.integrations.llamaindex import ChatstateChatStore
            m = connect(f'sqlite:///{d}/li-ours.db?synchronous=full')
            cs = ChatstateChatStore(m)
            add,get = cs.async_add_message,cs.aget_messages
        else:
            from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore
            cs = SQLAlchemyChatStore(table_name='chats', async_database_uri=f'sqlite+aiosqlite:///{d}/li-theirs.db')
            add,get = cs.add_message,cs.get_messages # its calls are async under the sync names
        for i in range(n): await add(k, ChatMessage(role='user' if i % 2 == 0 else 'assistant', content=f'message {i} about Lisbon, Alfama and Belém'))
        assert len(await get(k)) == n
        if ours: m.close()
    asyncio.run(go())

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--adds', type=int, default=2000)
    p.add_argument('--rounds', type=int, default=3)
    a = p.parse_args()
    warnings.simplefilter('ignore') # LangChain's notice that chat histories are deprecated
    d = tempfile.mkdtemp()
    print(f'{a.adds:,} adds of one message each, then one read of all; every add synced to disk; medians of {a.rounds} rounds, s')
    for name,f,theirs in (('LangChain', langchain, 'SQLChatMessageHistory'), ('Agents SDK', agents, 'SQLiteSession'), ('LlamaIndex', llamaindex, 'SQLAlchemyChatStore')):
        to,tt,r = paired(lambda: f(d, a.adds, True), lambda: f(d, a.adds, False), a.rounds)
        print(f'  {name:<11} chatstate {to:7.2f}   {theirs:<22} {tt:7.2f}   {r:5.2f}x  ({a.adds / to:,.0f} adds/s against {a.adds / tt:,.0f})')
