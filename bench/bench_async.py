"""The async API: speed against the raw async drivers, SQLite's worker thread against the sync API, and how much a chat app's
event loop is held up while 20 replies stream into the store. Ratios are medians of rounds run alternately in one process.

Needs the servers: eval "$(bash scripts/services.sh start)", then: python bench/bench_async.py [--rounds 5]"""
import argparse, asyncio, json, os, statistics, sys, tempfile, time, uuid
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import sample_messages
from chatstate import *

REDIS = os.environ.get('CHATSTATE_TEST_REDIS', 'redis://127.0.0.1:6390/0')
PG = os.environ.get('CHATSTATE_TEST_POSTGRES', 'postgresql://postgres@127.0.0.1:5440/postgres')

async def paired(ours, base, rounds):
    "Median times of async callables `ours` and `base`, run alternately, and the median ratio"
    to,tb,rs = [],[],[]
    for _ in range(rounds):
        for f,acc in ((ours, to), (base, tb)):
            t = time.perf_counter(); await f(); acc.append(time.perf_counter() - t)
        rs.append(to[-1] / tb[-1])
    return statistics.median(to), statistics.median(tb), statistics.median(rs)

def line(name, o, b, r, target=None):
    tgt = f'(target <= {target}x) {"ok" if r <= target else "MISSED"}' if target else ''
    print(f'{name:<58} {o*1e3:>9.1f} {b*1e3:>9.1f} {r:>7.2f}x  {tgt}')

async def bench_redis(rounds, n=1000, n_load=10_000):
    import redis.asyncio as ar
    prefix = f'abench-{uuid.uuid4().hex[:8]}:'
    m,r = await aconnect(f'{REDIS}?prefix={prefix}'),ar.Redis.from_url(REDIS)
    s,key = await m.create_session('s'),f'{prefix}raw'
    async def ours():
        for _ in range(n): await s.add_message('User', 'hello there')
    async def raw():
        for _ in range(n): await r.rpush(key, json.dumps({'id': str(uuid.uuid4()), 'role': 'User', 'content': 'hello there'}))
    line(f'redis.asyncio: append x{n}, ms', *await paired(ours, raw, rounds), 1.3)
    from chatstate.redis import _APPEND, _fields, _f
    sha,keys = await r.script_load(_APPEND),m.store._keys('same')
    await m.create_session('same')
    async def same(): # the raw driver doing exactly chatstate's work: the same script, keys and arguments
        for _ in range(n): await r.evalsha(sha, len(keys), *keys, 'same', _f(time.time()), 1, *_fields(Message('User', 'hello there')))
    line(f'  the same, vs EVALSHA of the same script (the same work)', *await paired(ours, same, rounds), 1.3)
    big = await m.create_session('big')
    await big.add_messages(sample_messages(n_load))
    await r.delete(key); await r.rpush(key, *[json.dumps(x.to_dict(nested=True)) for x in await big.messages])
    async def load(): assert len(await big.messages) == n_load
    async def raw_load(): assert len([json.loads(o) for o in await r.lrange(key, 0, -1)]) == n_load
    line(f'redis.asyncio: load {n_load:,} messages, ms', *await paired(load, raw_load, rounds), 1.3)
    async for k in r.scan_iter(f'{prefix}*'): await r.delete(k)
    await r.aclose(); await m.close()

async def bench_postgres(rounds, n=1000, n_load=10_000):
    import psycopg
    schema = f'abench_{uuid.uuid4().hex[:8]}'
    m = await aconnect(f'{PG}?schema={schema}')
    s = await m.create_session('s')
    raw = await psycopg.AsyncConnection.connect(PG, autocommit=True)
    await raw.execute(f'CREATE TABLE "{schema}".raw(session TEXT, seq BIGINT, id TEXT, role TEXT, content TEXT, PRIMARY KEY(session, seq))')
    seq = [0]
    async def ours():
        for _ in range(n): await s.add_message('User', 'hello there')
    async def base():
        for _ in range(n):
            seq[0] += 1
            await raw.execute(f'INSERT INTO "{schema}".raw VALUES (%s, %s, %s, %s, %s)', ('s', seq[0], str(uuid.uuid4()), 'User', 'hello there'))
    line(f'psycopg async: append x{n}, ms', *await paired(ours, base, rounds), 1.3)
    await m.create_session('same')
    q = m.store._appender(1)
    async def same(): # the raw driver doing exactly chatstate's work: the same statement and parameters
        for _ in range(n): await raw.execute(q, dict(sid='same', now=time.time(), k=1, id1=new_id(), role1='User', content1='hello there', pending1=False, md1=None))
    line(f'  the same, vs the same statement (the same work)', *await paired(ours, same, rounds), 1.3)
    big = await m.create_session('big')
    await big.add_messages(sample_messages(n_load))
    q = f'''SELECT m.role, m.content, m.id, m.pending, m.metadata FROM "{schema}".chatstate_messages m
            JOIN "{schema}".chatstate_sessions s ON m.session = s.pk WHERE s.id = %s ORDER BY m.seq'''
    async def load(): assert len(await big.messages) == n_load
    async def raw_load(): assert len([(a, b, c, d, json.loads(e) if e else {}) for a,b,c,d,e in await (await raw.execute(q, ('big',))).fetchall()]) == n_load
    line(f'psycopg async: load {n_load:,} messages, ms', *await paired(load, raw_load, rounds), 1.3)
    await raw.execute(f'DROP SCHEMA "{schema}" CASCADE'); await raw.close(); await m.close()

async def bench_sqlite(rounds, tasks=20, per=50):
    d = tempfile.mkdtemp()
    am,sm = await aconnect(f'sqlite:///{d}/a.db'),connect(f'sqlite:///{d}/s.db')
    sessions = [await am.create_session(f's{t}') for t in range(tasks)]
    ss = sm.create_session('s')
    async def concurrent(): await asyncio.gather(*[asyncio.gather(*[s.add_message('User', 'hi') for _ in range(per)]) for s in sessions])
    async def sync_one_thread():
        for _ in range(tasks * per): ss.add_message('User', 'hi')
    o,b,r = await paired(concurrent, sync_one_thread, rounds)
    print(f'{"sqlite: 20 tasks x 50 appends vs the sync API in one thread, ms":<58} {o*1e3:>9.1f} {b*1e3:>9.1f} {b/o:>7.2f}x throughput (target >= 0.7x) {"ok" if b/o >= 0.7 else "MISSED"}')
    s1 = sessions[0]
    async def one_by_one():
        for _ in range(200): await s1.add_message('User', 'hi')
    async def sync_calls():
        for _ in range(200): ss.add_message('User', 'hi')
    o,b,r = await paired(one_by_one, sync_calls, rounds)
    added = (o - b) / 200 * 1e3
    print(f'{"sqlite: latency added to one call by the worker thread":<58} {added:>9.3f} ms (target <= 0.2 ms) {"ok" if added <= 0.2 else "MISSED"}')
    await am.close(); sm.close()

async def loop_lag(url, replies=20, chunks=50, every=0.02):
    "20 replies streamed at once, a chunk every 20 ms each, beside a ticker every 1 ms: its lag beyond 2 ms, summed, against the wall time"
    m = await aconnect(url)
    lag,stop = [0.0],asyncio.Event()
    async def ticker():
        while not stop.is_set():
            t = time.perf_counter(); await asyncio.sleep(0.001)
            lag[0] += max(0.0, time.perf_counter() - t - 0.002)
    async def reply(i):
        s = await m.get_or_create(f'lag-{i}')
        await s.add_message('user', 'question')
        r = await s.add_message('assistant', '', pending=True)
        for _ in range(chunks): await s.append_chunk(r.id, 'token '); await asyncio.sleep(every)
        await s.finalize(r.id, metadata={'usage': {'out': chunks}})
    t0 = time.perf_counter()
    tk = asyncio.ensure_future(ticker())
    await asyncio.gather(*[reply(i) for i in range(replies)])
    stop.set(); await tk
    wall = time.perf_counter() - t0
    for i in range(replies): await m.delete_session(f'lag-{i}')
    await m.close()
    return lag[0] / wall

async def main(rounds):
    print(f'the async API, {rounds} rounds run alternately: median times (ms) and median ratio')
    await bench_redis(rounds); await bench_postgres(rounds); await bench_sqlite(rounds)
    print('event loop held up while 20 replies stream (ticker lag beyond 2 ms, summed, share of wall time; target <= 2%):')
    for name,url in [('memory', 'memory://'), ('sqlite', f'sqlite:///{tempfile.mkdtemp()}/lag.db'),
                     ('redis', f'{REDIS}?prefix=lag-{uuid.uuid4().hex[:8]}:'), ('postgres', f'{PG}?schema=lag_{uuid.uuid4().hex[:8]}')]:
        shares = [await loop_lag(url) for _ in range(3)]
        share = statistics.median(shares)
        print(f'  {name:<10} {share*100:6.2f}%  {"ok" if share <= 0.02 else "MISSED"}   (rounds: {", ".join(f"{x*100:.2f}%" for x in shares)})')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--rounds', type=int, default=5)
    asyncio.run(main(p.parse_args().rounds))
