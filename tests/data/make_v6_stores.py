"""Writes the small stores in tests/data/v6/ with the chatstate release that made them (schema 8 on SQLite: the search index takes
messages in by the batch, from a queue; schema 7 on PostgreSQL; on Redis, each message's searchable copy beside the session).

Run once, on that release, with the test servers up: `python tests/data/make_v6_stores.py`. The upgrade tests open what it wrote
with today's chatstate and check, on top of what they check of v5, that a search finds both what the index took in and what waited in its queue."""
import os, sys
from pathlib import Path
sys.path.insert(0, os.path.dirname(__file__))
import make_v1_stores as v1, make_v2_stores as v2, make_v5_stores as v5
from make_v5_stores import timeless

def fill(m):
    "The version-5 sessions; a search (SQLite takes in what its queue holds, Redis makes the copies it searches); then a message neither has seen"
    v5.fill(m)
    assert [h.message.id for h in m.search('name', owner='ana')] == ['q2', 'q']
    m.create_session('queued', owner='ana').add_message('user', 'Queued for the index', id='late')
    return {sid: timeless(m[sid].to_dict()) for sid in m.list_sessions()}

if __name__ == '__main__':
    v1.dump_postgres = v2.dump_postgres
    v1.write(Path(__file__).parent/'v6', fill, 'v6fixture')
