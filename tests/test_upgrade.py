"""Stores written by earlier releases open with today's chatstate and keep every message, also when several processes open
them at once: tests/data/v1 (schema 1, made by tests/data/make_v1_stores.py) tests/data/v2 (schema 2, make_v2_stores.py)
tests/data/v3 (schema 4: owners, make_v3_stores.py)
tests/data/v4 (schema 5: times and reply states, make_v4_stores.py), tests/data/v5 (schema 7: branches, summaries, search, make_v5_stores.py)
and tests/data/v6 (SQLite schema 8: the search index fed from a queue; Redis's searchable copies; make_v6_stores.py)."""
import base64, json, multiprocessing, shutil, uuid, pytest
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from chatstate import *
import chatstate.formats # the sessions learn context
from conftest import server_url
import sys; sys.path.insert(0, str(Path(__file__).parent/'data'))
from make_v5_stores import timeless
from chatstate.postgres import SCHEMA_VERSION

DATA = Path(__file__).parent/'data'
VERSIONS = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6']
def expected(v): return json.loads((DATA/v/'expected.json').read_text())

def read_all(url):
    "Every session of the store at `url`, as `to_dict`s without their times"
    m = connect(url)
    try:
        stale = sorted((sid, x.id) for sid,x in m.stale_replies()) # the first query after an upgrade indexes old replies, in each process at once
        return {sid: timeless(m[sid].to_dict()) for sid in m.list_sessions()},stale
    finally: m.close()

def open_at_once(url, n=4):
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as ex: return list(ex.map(read_all, [url]*n))

def check(url, v):
    want = expected(v)
    left = sorted((sid, d['id']) for sid,sd in want.items() for d in sd['messages'] if d.get('pending')) # replies an earlier release left pending
    assert open_at_once(url) == [(want, left)] * 4
    m = connect(url)
    assert sorted((sid, x.id) for sid,x in m.stale_replies()) == left and left # no lease, or one long lapsed: stale, found store-wide
    if 'replies' in want: # a reply in each state, as the release that wrote them left them
        r = m.get_session('replies', owner='ana')
        assert [(x.id, x.state, x.error) for x in r.messages if x.role == 'assistant'] == [('done', 'done', None), ('stopped', 'stopped', None),
            ('failed', 'failed', 'TimeoutError: the model timed out'), ('live', 'stale', None)]
        assert all(x.created is not None and x.ended >= x.created for x in r.messages if not x.pending) and r['live'].metadata == {'state': 'meta'}
        assert r.info.reply == 'stale' and r.append_chunk('live', ' on', writer='w3').content == 'Streaming on' # taken over: its lease lapsed
    assert all(x.state == 'stale' for sid,x in m.stale_replies()) and m.stale_replies() == connect(url).stale_replies()
    assert all((x.state == 'done' or sid == 'replies') and (x.created is None or x.created > 1.7e9) for sid in want for x in m[sid].messages if not x.pending)
    s = m['chat-1']
    s.add_message('user', 'after the upgrade')
    assert s[-1].created > 1.7e9 and s[-1].state == 'done'
    hostile = next(sid for sid in want if sid.startswith('x'))
    assert m[hostile].settle('p').state == 'failed' and (hostile, 'p') not in {(sid, x.id) for sid,x in m.stale_replies()}
    assert [x.content for x in s][-2:] == ['42', 'after the upgrade'] and m['gaps'].expires_at is not None
    assert len(s) == len(list(s)) == len(want['chat-1']['messages']) + 1 # the counter moved once, by the engine
    g = m['gaps'] # its messages were deleted and truncated: an append after its last message still lands, one after another does not
    with pytest.raises(ConflictError): g.add_message('user', 'late', after=g[0].id)
    g.add_message('user', 'after the last', after=g[-1].id)
    assert [x.content for x in g][-1] == 'after the last' and len(g) == len(want['gaps']['messages']) + 1
    m.create_session('mine', owner='u1') # sessions with owners, in the upgraded store
    owned = {'own-a': 'alice', 'own-b': 'bob', 'mine': 'u1', 'replies': 'ana', 'branches': 'ana', 'queued': 'ana'}
    assert m.list_sessions(owner='u1') == ['mine'] and m.count(owner='u1') == 1 and all(i.owner == owned.get(i.session_id) for i in m.sessions())
    if 'own-a' in want:
        assert m.list_sessions(owner='alice') == ['own-a'] and m.get_session('own-a', owner='bob') is None
        a = m.get_session('own-a', owner='alice')
        a.append_chunk(a[-1].id, ' and 2'); a.finalize(a[-1].id)
        assert [x.to_dict() for x in a] == [{'role': 'user', 'content': 'Plan a trip', 'id': 'a1'}, {'role': 'assistant', 'content': 'Day 1 and 2', 'id': 'a2', 'model': 'gpt-x'}]
    if 'names' in want: assert m['names'].metadata == {'owner': 'not-a-field', 'state': 'kept'} and m.list_sessions(owner='not-a-field') == []
    if 'branches' in want: # every version, and which branch is active, as the release that wrote them left them
        b = m.get_session('branches', owner='ana')
        assert [x.id for x in b] == ['q', 'a', 'wa'] and str(b.siblings('a')) == '1 / 2' and (b.siblings('q2').index, b.siblings('q2').active) == (1, 0)
        assert b.switch('q2').id == 'b2' and b['b2'].state == 'stale' and [x.id for x in b.tail(5, before='b2')] == ['q2']
        assert [x.id for x in b.summaries()] == ['s1', 's2'] and b.summary().id == 's2' # q2's branch is active: its summary stands in
        assert b.switch('a').id == 'wa' and b.summary().id == 's1' and [x.content for x in b.context()] == ['They named a colour.', 'It is warm']
        assert b.switch('a2').id == 'a2' and [x.id for x in b] == ['q', 'a2'] and len(b.tree().messages) == 7
        assert [h.message.id for h in m.search('name', owner='ana')] == ['q2', 'q'] and m.search('pea', owner='ana') == [] # b2 streams still
    if 'own-a' in want: assert [h.message.id for h in m.search('plan', owner='alice')] == ['a1'] # what earlier releases stored is found
    if not url.startswith('redis'): assert {'r1', s[-1].id} <= {h.message.id for h in m.search('hello')} | {h.message.id for h in m.search('upgrade')}
    if 'queued' in want: # what the index took in, and what waited for it
        assert [h.message.id for h in m.search('queued', owner='ana')] == ['late'] and [h.message.id for h in m.search('name', owner='ana')] == ['q2', 'q']
    m['chat-1'].set_records({'cp/1': {'step': 1}}) # records, in a store an earlier release wrote
    assert m['chat-1'].records('cp/') == [('cp/1', {'step': 1})] and m['chat-1'][-1].content == 'after the upgrade'
    c = m['chat-1'] # a session stored by an earlier release is one branch: it branches like any other
    r = c.regenerate(c[-1].id, 'again', pending=False)
    assert (str(c.siblings(r.id)), c[-1].id, len(c)) == ('2 / 2', r.id, len(want['chat-1']['messages']) + 1)
    assert c.switch(c.siblings(r.id).messages[0].id).content == 'after the upgrade'
    m.close()

@pytest.mark.parametrize('v', VERSIONS)
def test_sqlite_file(tmp_path, v):
    shutil.copy(DATA/v/'chats.db', tmp_path/'chats.db')
    check(f'sqlite:///{tmp_path}/chats.db', v)

@pytest.mark.parametrize('v', VERSIONS)
def test_redis_keys(v):
    url = server_url('redis')
    import redis
    r,prefix = redis.Redis.from_url(url),f'{v}-{uuid.uuid4().hex[:8]}:'
    data,b = json.loads((DATA/v/'redis.json').read_text()),base64.b64decode
    old = data['prefix'].encode()
    try:
        for k,o in data['keys'].items():
            key = prefix.encode() + b(k)
            moved = lambda x: prefix.encode() + x[len(old):] # a key named inside a value takes the new prefix too
            def lease(x): # a lease index member: the session key's length, ':', the key, the message id
                n,rest = x.split(b':', 1)
                key = moved(rest[:int(n)])
                return b'%d:%s%s' % (len(key), key, rest[int(n):])
            if o['type'] == 'hash': r.hset(key, mapping={b(f): moved(b(v)) if b(f) == b'ok' else b(v) for f,v in o['value'].items()})
            elif o['type'] == 'zset': # the session indexes' members (the store's and each owner's) are session keys
                r.zadd(key, {moved(b(f)) if b(k).startswith((b'by_', b'o:')) else lease(b(f)) if b(k) == b'leases' else b(f): s for f,s in o['value']})
            else: r.set(key, b(o['value']))
            if o['pttl'] > 0: r.pexpire(key, o['pttl'])
        check(f'{url}?prefix={prefix}', v)
    finally:
        keys = list(r.scan_iter(match=prefix + '*'))
        if keys: r.delete(*keys)

@pytest.mark.parametrize('v,comment', [('v1', None), ('v1', 'chatstate schema 1'), ('v2', None), ('v3', None), ('v4', None), ('v5', None), ('v6', None)], ids=['v1-first-release', 'v1-last-release', 'v2', 'v3', 'v4', 'v5', 'v6'])
def test_postgres_tables(v, comment):
    "Tables as each release left them, upgraded in place: version 1 as the first release left it (no comment) and as its last did (its comment)"
    url = server_url('postgres')
    import psycopg
    schema,data = f'{v}_{uuid.uuid4().hex[:8]}',json.loads((DATA/v/'postgres.json').read_text())
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
        try:
            for q in data['ddl']: c.execute(q.replace('{schema}', schema).replace('{prefix}', 'chatstate_'))
            for t,o in data['tables'].items():
                cols = ', '.join(o['columns'])
                for row in o['rows']: c.execute(f'INSERT INTO "{schema}".chatstate_{t}({cols}) VALUES ({", ".join(["%s"]*len(row))})', row)
            S = f'"{schema}".chatstate_sessions' # the rows came with their keys: the key sequence goes on after them, as it did in the store they were dumped from
            c.execute(f"SELECT setval(pg_get_serial_sequence('{S}', 'pk'), (SELECT max(pk) FROM {S}))")
            if 'summaries' in data['tables']: c.execute(f"""SELECT setval(pg_get_serial_sequence('"{schema}".chatstate_summaries', 'k'), (SELECT max(k) FROM "{schema}".chatstate_summaries))""")
            if comment: c.execute(f"""COMMENT ON TABLE "{schema}".chatstate_sessions IS '{comment}'""")
            check(f'{url}?schema={schema}', v)
            note = f"""SELECT obj_description('"{schema}".chatstate_sessions'::regclass, 'pg_class')"""
            assert c.execute(note).fetchone()[0] == f'chatstate schema {SCHEMA_VERSION}'
            cols = "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'chatstate_messages'"
            assert 'at' in {r[0] for r in c.execute(cols, (schema,))}
        finally: c.execute(f'DROP SCHEMA "{schema}" CASCADE')
