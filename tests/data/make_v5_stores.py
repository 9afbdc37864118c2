"""Writes the small stores in tests/data/v5/ with the chatstate release that made them (schema 6 on SQLite and PostgreSQL: branches,
each message below its parent, the active branch's end kept by the session).

Run once, on that release, with the test servers up: `python tests/data/make_v5_stores.py`. The upgrade tests open what it wrote
with today's chatstate and check every branch is still there, and which one is active."""
import os, sys
from pathlib import Path
sys.path.insert(0, os.path.dirname(__file__))
import make_v1_stores as v1, make_v2_stores as v2, make_v4_stores as v4
from chatstate import Message

def fill(m):
    "The version-4 sessions, and one that branched: a regenerated answer, an edited question with its own answer, a reply streaming on a branch not active, a message deleted in the middle"
    v4.fill(m)
    s = m.create_session('branches', owner='ana', metadata={'title': 'Versions'})
    s.add_messages([Message('user', 'Name a colour', id='q'), Message('assistant', 'Red', id='a'), Message('user', 'Why?', id='w'), Message('assistant', 'It is warm', id='wa')])
    s.regenerate('a', 'Blue', pending=False, id='a2')
    s.edit('q', 'Name a fruit', id='q2'); s.add_message('assistant', 'Apple', id='b')
    s.regenerate('b', writer='w9', id='b2'); s.append_chunk('b2', 'Pea', writer='w9')
    s.switch('a'); s.delete('w') # wa joins a
    return {sid: {k:v for k,v in m[sid].to_dict().items() if k not in ('created', 'updated', 'expires_at')} for sid in m.list_sessions()}

if __name__ == '__main__':
    v1.dump_postgres = v2.dump_postgres
    v1.write(Path(__file__).parent/'v5', fill, 'v5fixture')
