"""Writes the small stores in tests/data/v4/ with the chatstate release that made them (schema 5 on SQLite and PostgreSQL: messages
with times and reply states, replies held by a writer's lease).

Run once, on that release, with the test servers up: `python tests/data/make_v4_stores.py`. The upgrade tests open what it wrote
with today's chatstate and check every message is still there, with its state."""
import os, sys
from pathlib import Path
sys.path.insert(0, os.path.dirname(__file__))
import make_v1_stores as v1, make_v2_stores as v2, make_v3_stores as v3
from chatstate import Message, ReplyStopped

def fill(m):
    "The version-3 sessions, and a reply in each state: done, stopped, failed (its cause kept), and one left streaming by a writer"
    v3.fill(m)
    s = m.create_session('replies', owner='ana', metadata={'title': 'States'})
    s.add_messages([Message('user', 'Go', id='q1'), Message('assistant', '', id='done', pending=True)], writer='w1')
    s.append_chunk('done', 'Finished', writer='w1'); s.finalize('done', metadata={'model': 'm'}, writer='w1')
    s.add_messages([Message('user', 'Again', id='q2'), Message('assistant', '', id='stopped', pending=True)], writer='w1')
    s.append_chunk('stopped', 'Cut', writer='w1'); s.stop('stopped')
    try: s.append_chunk('stopped', ' short', writer='w1')
    except ReplyStopped: pass
    s.add_messages([Message('user', 'Once more', id='q3'), Message('assistant', '', id='failed', pending=True)], writer='w1')
    s.append_chunk('failed', 'Half', writer='w1'); s.fail('failed', 'TimeoutError: the model timed out', writer='w1')
    s.add_messages([Message('user', 'Last', id='q4'), Message('assistant', 'Streaming', id='live', pending=True, metadata={'state': 'meta'})], writer='w2')
    return {sid: {k:v for k,v in m[sid].to_dict().items() if k not in ('created', 'updated', 'expires_at')} for sid in m.list_sessions()}

if __name__ == '__main__':
    v1.dump_postgres = v2.dump_postgres
    v1.write(Path(__file__).parent/'v4', fill, 'v4fixture')
