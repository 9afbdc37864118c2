"""Writes the small stores in tests/data/v3/ with the chatstate release that made them (schema 4 on SQLite and PostgreSQL:
sessions with owners, before messages had times and reply states).

Run once, on that release, with the test servers up: `python tests/data/make_v3_stores.py`. The upgrade tests open
what it wrote with today's chatstate and check every message is still there."""
import os, sys
from pathlib import Path
sys.path.insert(0, os.path.dirname(__file__))
import make_v1_stores as v1, make_v2_stores as v2
from chatstate import Message

def fill(m):
    "The version-2 sessions, sessions of two owners, and a reply left pending by a writer that died"
    v2.fill(m)
    a = m.create_session('own-a', owner='alice', metadata={'title': "Alice's"})
    a.add_messages([Message('user', 'Plan a trip', id='a1'), Message('assistant', '', id='a2', pending=True, metadata={'model': 'gpt-x'})], after='')
    a.append_chunk('a2', 'Day 1')
    m.create_session('own-b', owner='bob').add_message('user', 'hi', id='b1', metadata={'state': 'streaming', 'owner': 'alice', 'created': 'x'})
    return {sid: {k:v for k,v in m[sid].to_dict().items() if k not in ('created', 'updated', 'expires_at')} for sid in m.list_sessions()}

if __name__ == '__main__':
    v1.dump_postgres = v2.dump_postgres
    v1.write(Path(__file__).parent/'v3', fill, 'v3fixture')
