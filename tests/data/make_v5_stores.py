"""Writes the small stores in tests/data/v5/ with the chatstate release that made them (schema 7 on SQLite and PostgreSQL: branches,
each message below its parent, the active branch's end kept by the session; summaries beside the messages; a search index of the text).

Run once, on that release, with the test servers up: `python tests/data/make_v5_stores.py`. The upgrade tests open what it wrote
with today's chatstate and check every branch is still there, which one is active, its summaries, and that search finds its messages."""
import os, sys
from pathlib import Path
sys.path.insert(0, os.path.dirname(__file__))
import make_v1_stores as v1, make_v2_stores as v2, make_v4_stores as v4
from chatstate import Message

def fill(m):
    "The version-4 sessions, and one that branched, with a summary on each of two branches: a regenerated answer, an edited question with its own answer, a reply streaming on a branch not active, a message deleted in the middle"
    v4.fill(m)
    s = m.create_session('branches', owner='ana', metadata={'title': 'Versions'})
    s.add_messages([Message('user', 'Name a colour', id='q'), Message('assistant', 'Red', id='a'), Message('user', 'Why?', id='w'), Message('assistant', 'It is warm', id='wa')])
    s.regenerate('a', 'Blue', pending=False, id='a2')
    s.edit('q', 'Name a fruit', id='q2'); s.add_message('assistant', 'Apple', id='b')
    s.regenerate('b', writer='w9', id='b2'); s.append_chunk('b2', 'Pea', writer='w9')
    s.switch('a'); s.delete('w') # wa joins a
    s.summarize('a', 'They named a colour.', metadata={'model': 'm'}, id='s1')
    s.summarize('q2', 'They named a fruit.', id='s2') # on a branch that is not active
    return {sid: timeless(m[sid].to_dict()) for sid in m.list_sessions()}

def timeless(d):
    "A session's `to_dict` without its times, and its summaries' (they differ from store to store)"
    d = {k:v for k,v in d.items() if k not in ('created', 'updated', 'expires_at')}
    if 'summaries' in d: d['summaries'] = [{k:v for k,v in x.items() if k != 'created'} for x in d['summaries']]
    return d

if __name__ == '__main__':
    v1.dump_postgres = v2.dump_postgres
    v1.write(Path(__file__).parent/'v5', fill, 'v5fixture')
