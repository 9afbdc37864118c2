"""Stores written by the schema-1 release (tests/data/v1, made by tests/data/make_v1_stores.py) open with today's chatstate
and keep every message, also when several processes open them at once."""
import base64, json, multiprocessing, shutil, uuid, pytest
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from chatstate import *
from conftest import server_url
from chatstate.postgres import SCHEMA_VERSION

V1 = Path(__file__).parent/'data'/'v1'
EXPECTED = json.loads((V1/'expected.json').read_text())

def read_all(url):
    "Every session of the store at `url`, as `to_dict`s without their times"
    m = connect(url)
    try: return {sid: {k:v for k,v in m[sid].to_dict().items() if k not in ('created', 'updated', 'expires_at')} for sid in m.list_sessions()}
    finally: m.close()

def open_at_once(url, n=4):
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as ex: return list(ex.map(read_all, [url]*n))

def check(url):
    assert open_at_once(url) == [EXPECTED] * 4
    m = connect(url)
    s = m['chat-1']
    s.add_message('user', 'after the upgrade')
    assert [x.content for x in s][-2:] == ['42', 'after the upgrade'] and m['gaps'].expires_at is not None
    assert len(s) == len(list(s)) == len(EXPECTED['chat-1']['messages']) + 1 # the counter moved once, by the engine
    m.close()

def test_sqlite_v1_file(tmp_path):
    shutil.copy(V1/'chats.db', tmp_path/'chats.db')
    check(f'sqlite:///{tmp_path}/chats.db')

def test_redis_v1_keys():
    url = server_url('redis')
    import redis
    r,prefix = redis.Redis.from_url(url),f'v1-{uuid.uuid4().hex[:8]}:'
    data,b = json.loads((V1/'redis.json').read_text()),base64.b64decode
    old = data['prefix'].encode()
    try:
        for k,o in data['keys'].items():
            key = prefix.encode() + b(k)
            if o['type'] == 'hash': r.hset(key, mapping={b(f): b(v) for f,v in o['value'].items()})
            elif o['type'] == 'zset': # the session indexes' members are session keys, which take the new prefix
                r.zadd(key, {prefix.encode() + b(f)[len(old):] if b(k).startswith(b'by_') else b(f): s for f,s in o['value']})
            else: r.set(key, b(o['value']))
            if o['pttl'] > 0: r.pexpire(key, o['pttl'])
        check(f'{url}?prefix={prefix}')
    finally:
        keys = list(r.scan_iter(match=prefix + '*'))
        if keys: r.delete(*keys)

@pytest.mark.parametrize('comment', [None, 'chatstate schema 1'], ids=['first-release', 'last-release'])
def test_postgres_v1_tables(comment):
    "Version-1 tables as the first release left them (no comment) and as the last one did (its comment), upgraded in place"
    url = server_url('postgres')
    import psycopg
    schema,data = f'v1_{uuid.uuid4().hex[:8]}',json.loads((V1/'postgres.json').read_text())
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
        try:
            for q in data['ddl']: c.execute(q.replace('{schema}', schema).replace('{prefix}', 'chatstate_'))
            for t,o in data['tables'].items():
                cols = ', '.join(o['columns'])
                for row in o['rows']: c.execute(f'INSERT INTO "{schema}".chatstate_{t}({cols}) VALUES ({", ".join(["%s"]*len(row))})', row)
            if comment: c.execute(f"""COMMENT ON TABLE "{schema}".chatstate_sessions IS '{comment}'""")
            check(f'{url}?schema={schema}')
            note = f"""SELECT obj_description('"{schema}".chatstate_sessions'::regclass, 'pg_class')"""
            assert c.execute(note).fetchone()[0] == f'chatstate schema {SCHEMA_VERSION}'
            cols = "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'chatstate_messages'"
            assert 'at' in {r[0] for r in c.execute(cols, (schema,))}
        finally: c.execute(f'DROP SCHEMA "{schema}" CASCADE')
