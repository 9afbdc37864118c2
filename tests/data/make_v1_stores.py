"""Writes the small stores in tests/data/v1/ with the chatstate release that made them (schema 1 on every store).

Run once, on that release, with the test servers up: `python tests/data/make_v1_stores.py`. The upgrade tests open
what it wrote with today's chatstate and check every message is still there."""
import base64, json, os, sys, time
from pathlib import Path
from chatstate import *

OUT = Path(__file__).parent/'v1'
HOSTILE = "x\x00y \ue000 🙂 '; DROP TABLE --"

def fill(m):
    "The same sessions in every store; returns what each holds, as `to_dict`s"
    a = m.create_session('chat-1', metadata={'title': 'First chat', 'user': 'u1'})
    a.add_message('system', 'You are terse.', id='sys')
    a.add_message('user', 'Hi', id='q1', metadata={'timestamp': '2026-11-30T10:00:00Z'})
    r = a.add_message('assistant', '', pending=True, id='r1', metadata={'model': 'gpt-x'})
    for c in ['Hel', 'lo', '!']: a.append_chunk(r.id, c)
    a.finalize(r.id, metadata={'model': 'gpt-x', 'usage': {'in': 3, 'out': 2}})
    a.add_message('assistant', '', id='tc', metadata={'tool_calls': [{'id': 'call_1', 'type': 'function', 'function': {'name': 'f', 'arguments': '{}'}}]})
    a.add_message('tool', '42', id='tr', metadata={'tool_call_id': 'call_1'})
    b = m.create_session(HOSTILE, metadata={'title': HOSTILE, 'nested': {'a': [1, 2.5, None, True]}})
    b.add_messages([Message('user', HOSTILE, id=HOSTILE, metadata={HOSTILE: HOSTILE}), Message('assistant', 'still streaming', pending=True, id='p')])
    c = m.create_session('gaps', expires_at=time.time() + 10*365*86400)
    ms = c.add_messages([Message('user', f'm{i}', id=f'm{i}') for i in range(6)])
    c.delete(ms[1].id); c.truncate_after(ms[3].id)
    m.create_session('empty')
    return {sid: {k:v for k,v in m[sid].to_dict().items() if k not in ('created', 'updated', 'expires_at')} for sid in m.list_sessions()}

def dump_redis(m, prefix):
    r,res = m.r,{}
    for k in sorted(r.scan_iter(match=prefix + '*', count=1000)):
        t,pttl = r.type(k).decode(),r.pttl(k)
        if t == 'hash': v = {base64.b64encode(f).decode(): base64.b64encode(x).decode() for f,x in r.hgetall(k).items()}
        elif t == 'zset': v = [[base64.b64encode(f).decode(), s] for f,s in r.zrange(k, 0, -1, withscores=True)]
        else: v = base64.b64encode(r.get(k)).decode()
        res[base64.b64encode(k[len(prefix):]).decode()] = dict(type=t, pttl=pttl, value=v)
    return res

def _rows(m):
    "Every row of every table the release keeps (sessions, messages, and from schema 6 summaries), with their column names"
    with m._conn() as c:
        tables = {}
        for t in ('sessions', 'messages', 'summaries'):
            if not c.execute("SELECT 1 FROM information_schema.tables WHERE table_schema=%s AND table_name=%s", (m.schema, m.prefix + t)).fetchone(): continue
            cols = [r[0] for r in c.execute("SELECT column_name FROM information_schema.columns WHERE table_schema=%s AND table_name=%s AND is_generated = 'NEVER' ORDER BY ordinal_position", (m.schema, m.prefix + t))] # a generated column is the database's to fill
            rows = c.execute(f'SELECT {", ".join(cols)} FROM "{m.schema}"."{m.prefix}{t}" ORDER BY 1, 2').fetchall()
            tables[t] = dict(columns=cols, rows=[list(r) for r in rows])
    return dict(tables=tables)

def dump_postgres(m):
    tables = _rows(m)['tables']
    from chatstate.postgres import _schema
    return dict(ddl=_schema('"{schema}"."{prefix}sessions"', '"{schema}"."{prefix}messages"', '{prefix}'), tables=tables)

def write(out, fill, tag):
    "Fill a SQLite file, a Redis prefix and a PostgreSQL schema with `fill`, and write them (and what they hold) to `out`"
    out.mkdir(exist_ok=True)
    (out/'chats.db').unlink(missing_ok=True)
    m = connect(f'sqlite:///{out}/chats.db')
    expect = fill(m)
    m._c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); m.close()
    for p in out.glob('chats.db-*'): p.unlink()
    (out/'expected.json').write_text(json.dumps(expect, ensure_ascii=True, indent=1))
    pre = f'{tag}:'
    rm = connect(os.environ['CHATSTATE_TEST_REDIS'] + f'?prefix={pre}')
    for k in rm.r.scan_iter(match=pre + '*'): rm.r.delete(k)
    assert fill(rm) == expect
    (out/'redis.json').write_text(json.dumps(dict(prefix=pre, keys=dump_redis(rm, pre)), indent=1))
    pm = connect(os.environ['CHATSTATE_TEST_POSTGRES'] + f'?schema={tag}')
    with pm._conn() as c: c.execute(f'DROP SCHEMA {tag} CASCADE')
    pm = connect(os.environ['CHATSTATE_TEST_POSTGRES'] + f'?schema={tag}')
    assert fill(pm) == expect
    (out/'postgres.json').write_text(json.dumps(dump_postgres(pm), ensure_ascii=True, indent=1))
    with pm._conn() as c: c.execute(f'DROP SCHEMA {tag} CASCADE')
    print('wrote', *sorted(p.name for p in out.iterdir()))

if __name__ == '__main__': write(OUT, fill, 'v1fixture')
