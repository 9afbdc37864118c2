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
        for _ in range(n): await r.rpush(key, json.dumps({'id': str(uuid.uuid4()), 'role': 'User', 'content': 'hello there', 'created': time.time()}))
    line(f'redis.asyncio: append x{n}, ms', *await paired(ours, raw, rounds), 1.3)
    from chatstate.redis import _fields, _f
    sha,keys = await r.script_load(m.store._scripts['append'].script),m.store._keys('same')
    await m.create_session('same')
    async def same(): # the raw driver doing exactly chatstate's work: the same script, keys and arguments
        for _ in range(n): await r.evalsha(sha, len(keys), *keys, 'same', _f(time.time()), 1, '', *_fields(Message('User', 'hello there')), 30000)
    line(f'  the same, vs EVALSHA of the same script (the same work)', *await paired(ours, same, rounds), 1.3)
    big = await m.create_session('big')
    await big.add_messages(sample_messages(n_load))
    await r.delete(key); await r.rpush(key, *[json.dumps({**x.to_dict(nested=True), 'created': x.created, 'ended': x.ended}) for x in await big.messages])
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
    await raw.execute(f'CREATE TABLE "{schema}".raw(session TEXT, seq BIGINT, id TEXT, role TEXT, content TEXT, at DOUBLE PRECISION, PRIMARY KEY(session, seq))')
    seq = [0]
    async def ours():
        for _ in range(n): await s.add_message('User', 'hello there')
    async def base():
        for _ in range(n):
            seq[0] += 1
            await raw.execute(f'INSERT INTO "{schema}".raw VALUES (%s, %s, %s, %s, %s, %s)', ('s', seq[0], str(uuid.uuid4()), 'User', 'hello there', time.time()))
    line(f'psycopg async: append x{n}, ms', *await paired(ours, base, rounds), 1.3)
    await m.create_session('same')
    q = m.store._appender(1)
    async def same(): # the raw driver doing exactly chatstate's work: the same statement and parameters
        for _ in range(n): await raw.execute(q, dict(sid='same', now=time.time(), k=1, id1=new_id(), role1='User', content1='hello there', pending1=False, md1=None, after=None, writer=None, lease=30.0))
    line(f'  the same, vs the same statement (the same work)', *await paired(ours, same, rounds), 1.3)
    big = await m.create_session('big')
    await big.add_messages(sample_messages(n_load))
    q = f'''SELECT m.role, m.content, m.id, m.pending, m.metadata, m.at, m.ended, m.st, m.error, m.pending AND COALESCE(m.expires, 0) <= date_part('epoch', statement_timestamp())
            FROM "{schema}".chatstate_messages m JOIN "{schema}".chatstate_sessions s ON m.session = s.pk WHERE s.id = %s ORDER BY m.seq''' # each message with its times and state
    async def load(): assert len(await big.messages) == n_load
    async def raw_load(): assert len([(a, b, c, d, json.loads(e) if e else {}, (at, en, st, er, la)) for a,b,c,d,e,at,en,st,er,la in await (await raw.execute(q, ('big',))).fetchall()]) == n_load
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

async def ticking(replies, turn, stagger, every=0.02):
    """Run `turn(i, wait)` for `replies` streams at once beside a ticker every 1 ms: its lag beyond 2 ms, summed, as a share of the wall time.
    With `stagger` the streams start spread over one chunk interval, as users' requests arrive; without, every stream's chunks fall due at once"""
    lag,stop = [0.0],asyncio.Event()
    async def ticker():
        while not stop.is_set():
            t = time.perf_counter(); await asyncio.sleep(0.001)
            lag[0] += max(0.0, time.perf_counter() - t - 0.002)
    async def one(i):
        if stagger: await asyncio.sleep(every * i / replies)
        await turn(i, lambda: asyncio.sleep(every))
    t0 = time.perf_counter()
    tk = asyncio.ensure_future(ticker())
    await asyncio.gather(*[one(i) for i in range(replies)])
    stop.set(); await tk
    return lag[0] / (time.perf_counter() - t0)

async def raw_chunker(url, st, ops):
    "The raw async driver running, for stream `i`, the very op chatstate's `append_chunk` runs (the same script or statement), and how to close it"
    if url.startswith('redis'):
        import redis.asyncio as ar
        r = ar.Redis.from_url(REDIS)
        sha = await r.script_load(st._scripts['update'].script)
        async def chunk(i): _,keys,args,_w = ops[i]; await r.evalsha(sha, len(keys), *keys, *args)
        return chunk, r.aclose
    import psycopg
    conns = [await psycopg.AsyncConnection.connect(PG, autocommit=True) for _ in range(10)]
    locks = [asyncio.Lock() for _ in conns]
    async def chunk(i):
        async with locks[i % 10]: await conns[i % 10].execute(ops[i][1], ops[i][2])
    async def close():
        for c in conns: await c.close()
    return chunk, close

async def loop_lag(url, stagger, replies=20, chunks=50, warm=False):
    """20 replies streamed through chatstate (a question, a pending reply, 50 chunks 20 ms apart, finalize); then, on a server store,
    the raw driver running the op of each `append_chunk` alone, in the same pattern. With `warm`, the manager has served 20 calls
    at once before, so its pool's connections are open, as in an app that has been running (the raw driver's are open too)"""
    m = await aconnect(url)
    if warm: await asyncio.gather(*[m.count() for _ in range(replies)])
    async def turn(i, wait):
        s = await m.get_or_create(f'lag-{i}')
        await s.add_message('user', 'question')
        r = await s.add_message('assistant', '', pending=True)
        for _ in range(chunks): await s.append_chunk(r.id, 'token '); await wait()
        await s.finalize(r.id, metadata={'usage': {'out': chunks}})
    ours,raw = await ticking(replies, turn, stagger),None
    if not url.startswith(('memory', 'sqlite')):
        st,ops = m.store,[]
        for i in range(replies):
            s = await m.get_or_create(f'raw-{i}')
            ops.append(next(st._update.body(st, s.id, (await s.add_message('assistant', '', pending=True)).id, chunk='token ')))
        chunk,close = await raw_chunker(url, st, ops)
        async def raw_turn(i, wait):
            for _ in range(chunks): await chunk(i); await wait()
        raw = await ticking(replies, raw_turn, stagger)
        await close()
    for i in range(replies): await m.delete_session(f'lag-{i}'); await m.delete_session(f'raw-{i}')
    await m.close()
    return ours, raw

async def main(rounds):
    print(f'the async API, {rounds} rounds run alternately: median times (ms) and median ratio')
    await bench_redis(rounds); await bench_postgres(rounds); await bench_sqlite(rounds)
    for stagger in (False, True):
        print('event loop held up while 20 replies stream,', 'started spread over 20 ms, as requests arrive' if stagger else 'every chunk of every reply due at the same instant',
              '(ticker lag beyond 2 ms, summed, share of wall time, median of 3; target <= 2%):')
        for name,url in [('memory', 'memory://'), ('sqlite', f'sqlite:///{tempfile.mkdtemp()}/lag.db'),
                         ('redis', f'{REDIS}?prefix=lag-{uuid.uuid4().hex[:8]}:'), ('postgres', f'{PG}?schema=lag_{uuid.uuid4().hex[:8]}')]:
            res = [await loop_lag(url, stagger) for _ in range(3)]
            share = statistics.median(o for o,_ in res)
            raw = '' if res[0][1] is None else f'; the raw driver, its chunks alone: {statistics.median(r for _,r in res)*100:.2f}%'
            print(f'  {name:<10} {share*100:6.2f}%  {"ok" if share <= 0.02 else "MISSED"}   (rounds: {", ".join(f"{o*100:.2f}%" for o,_ in res)}){raw}')
            if name in ('redis', 'postgres'):
                warm = [(await loop_lag(url, stagger, warm=True))[0] for _ in range(3)]
                print(f'  {"":<10} {statistics.median(warm)*100:6.2f}%  with the pool open first, as in an app that has been serving (rounds: {", ".join(f"{o*100:.2f}%" for o in warm)})')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--rounds', type=int, default=5)
    asyncio.run(main(p.parse_args().rounds))
