"""Writes the small stores in tests/data/v2/ with the chatstate release that made them (schema 2 on SQLite and PostgreSQL,
before sessions had owners and messages had times and reply states).

Run once, on that release, with the test servers up: `python tests/data/make_v2_stores.py`. The upgrade tests open
what it wrote with today's chatstate and check every message is still there."""
import os, sys
from pathlib import Path
sys.path.insert(0, os.path.dirname(__file__))
import make_v1_stores as v1

def fill(m):
    "The version-1 sessions, and metadata that holds the names later fields take: a store must keep them as metadata"
    v1.fill(m)
    s = m.create_session('names', metadata={'owner': 'not-a-field', 'state': 'kept'})
    s.add_message('assistant', 'metadata, not fields', id='n1', metadata={'state': 'done?', 'owner': 'u9', 'created': 1.5, 'ended': 'no'})
    return {sid: {k:v for k,v in m[sid].to_dict().items() if k not in ('created', 'updated', 'expires_at')} for sid in m.list_sessions()}

def dump_postgres(m):
    "The rows, and the DDL of this release's tables (every migration step, then the comment that names the version)"
    d = v1._rows(m)
    from chatstate.postgres import _migrations, SCHEMA_VERSION
    S,M = '"{schema}"."{prefix}sessions"','"{schema}"."{prefix}messages"'
    steps = _migrations(S, M, '{prefix}')
    d['ddl'] = [q for v in range(1, SCHEMA_VERSION+1) for q in steps[v]] + [f"COMMENT ON TABLE {S} IS 'chatstate schema {SCHEMA_VERSION}'"]
    return d

if __name__ == '__main__':
    v1.dump_postgres = dump_postgres
    v1.write(Path(__file__).parent/'v2', fill, 'v2fixture')
