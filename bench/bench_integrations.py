"""The framework adapters on SQLite against the frameworks' own SQLite stores, each at its default durability, in the same process:

1. OpenAI Agents SDK: a turn is `add_items` of the user's item and the model's, then `get_items(limit=20)` for the next run; `AgentsSession` on
   chatstate's SQLite store against the SDK's `SQLiteSession` (a file each).
2. LlamaIndex: a turn is two `add_message`s and a `get_messages`; `ChatstateChatStore` on SQLite against LlamaIndex's `SQLAlchemyChatStore`
   (its calls are async, on aiosqlite), both awaited.

Ratios are ours over theirs (lower is faster), medians of rounds. Run: python bench/bench_integrations.py [--turns 200] [--rounds 5]"""
import argparse, asyncio, os, sys, tempfile, time, statistics, uuid
sys.path.insert(0, os.path.dirname(__file__))
from chatstate import *

async def agents_turns(s, n):
    for i in range(n):
        await s.add_items([{'role': 'user', 'content': f'question {i} about Lisbon'}, {'type': 'message', 'id': f'msg_{i}', 'role': 'assistant', 'status': 'completed',
                           'content': [{'type': 'output_text', 'text': f'answer {i}: Alfama, Belém and Sintra', 'annotations': []}]}])
        assert len(await s.get_items(limit=20)) == min(20, 2 * (i + 1))

async def li_turns(add, get, n, key):
    from llama_index.core.llms import ChatMessage
    for i in range(n):
        await add(key, ChatMessage(role='user', content=f'question {i} about Lisbon'))
        await add(key, ChatMessage(role='assistant', content=f'answer {i}: Alfama, Belém and Sintra'))
        assert len(await get(key)) == 2 * (i + 1)

def timed(f, rounds):
    ts = []
    for _ in range(rounds):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--turns', type=int, default=200)
    p.add_argument('--rounds', type=int, default=5)
    a = p.parse_args()
    d = tempfile.mkdtemp()
    print(f'{a.turns} turns a round; medians of {a.rounds} rounds, ms; ratio = chatstate / the framework\'s own SQLite store')
    from agents import SQLiteSession
    from chatstate.integrations.agents import AgentsSession
    m = connect(f'sqlite:///{d}/chatstate.db')
    ours = timed(lambda: asyncio.run(agents_turns(AgentsSession(uuid.uuid4().hex, m), a.turns)), a.rounds)
    theirs = timed(lambda: asyncio.run(agents_turns(SQLiteSession(uuid.uuid4().hex, f'{d}/agents.db'), a.turns)), a.rounds)
    print(f'  Agents SDK   AgentsSession {ours*1e3:8.1f}   SQLiteSession {theirs*1e3:8.1f}   {ours/theirs:5.2f}x')
    from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore
    from chatstate.integrations.llamaindex import ChatstateChatStore
    cs = ChatstateChatStore(m)
    ours = timed(lambda: asyncio.run(li_turns(cs.async_add_message, cs.aget_messages, a.turns, uuid.uuid4().hex)), a.rounds)
    def theirs_run():
        async def go():
            st = SQLAlchemyChatStore(table_name='chats', async_database_uri=f'sqlite+aiosqlite:///{d}/li.db')
            await li_turns(st.add_message, st.get_messages, a.turns, uuid.uuid4().hex) # its calls are async under the sync names
        asyncio.run(go())
    theirs = timed(theirs_run, a.rounds)
    print(f'  LlamaIndex   ChatstateChatStore {ours*1e3:8.1f}   SQLAlchemyChatStore {theirs*1e3:8.1f}   {ours/theirs:5.2f}x')
    m.close()
