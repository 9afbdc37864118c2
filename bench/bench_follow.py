"""Following a reply: how long a follower waits to see each write, and how much 50 followers slow the reply's writer.

Latency: a writer streams chunks 20 ms apart; followers (another process, as a reconnected tab's worker would be) note when each
piece arrives; the figure is the median and the worst delay from the write's return to the follower's seeing it (target <= 100 ms).
Slowdown: the writer's time in the store for a reply of 200 chunks over about 2 s (each written as it comes, unbatched) with 50
followers on it (in another process, one listener shared by them) over its time with none, median of rounds run alternately
(target <= 1.2x). The in-memory store has no other process: it is left out.
Needs the servers for Redis and PostgreSQL: eval "$(bash scripts/services.sh start)", then: python bench/bench_follow.py [--rounds 5]"""
import argparse, asyncio, multiprocessing as mp, os, statistics, sys, tempfile, time, uuid
from chatstate import *

REDIS = os.environ.get('CHATSTATE_TEST_REDIS', 'redis://127.0.0.1:6390/0')
PG = os.environ.get('CHATSTATE_TEST_POSTGRES', 'postgresql://postgres@127.0.0.1:5440/postgres')

def followers(url, sid, mid, n, ready, out):
    "In a process of its own: `n` async followers of one reply; each puts [(arrival time, text)] on `out`"
    async def main():
        m = await aconnect(url)
        s = await m[sid]
        async def one():
            got = []
            async for text,msg in s.follow(mid):
                got.append((time.time(), text))
                if len(got) == 1: ready.put(1)
            return got
        res = await asyncio.gather(*[one() for _ in range(n)])
        await m.close()
        for r in res: out.put(r)
    asyncio.run(main())

def start_followers(url, sid, mid, n):
    ctx = mp.get_context('spawn')
    ready,out = ctx.Queue(),ctx.Queue()
    p = ctx.Process(target=followers, args=(url, sid, mid, n, ready, out))
    p.start()
    for _ in range(n): ready.get(timeout=60)
    return p,out

def latency(url, chunks=50, pause=0.02):
    m = connect(url)
    s = m.create_session(f'lat-{uuid.uuid4().hex[:8]}')
    r = s.add_message('assistant', '', pending=True, writer='w')
    p,out = start_followers(url, s.id, r.id, 1)
    written = {}
    for i in range(chunks):
        time.sleep(pause)
        s.append_chunk(r.id, f'<{i}>', writer='w')
        written[f'<{i}>'] = time.time()
    s.finalize(r.id, writer='w')
    got = out.get(timeout=60); p.join()
    delays = []
    for t,text in got[1:]:
        for piece in (text or '').replace('><', '>\n<').split('\n'):
            if piece in written: delays.append(t - written[piece])
    m.close()
    return statistics.median(delays), max(delays), len(delays)

def slowdown(url, rounds, n=50, chunks=200, pause=0.01):
    m = connect(url)
    def reply(k):
        s = m.create_session(f'slow-{uuid.uuid4().hex[:8]}')
        r = s.add_message('assistant', '', pending=True, writer='w')
        p = out = None
        if k: p,out = start_followers(url, s.id, r.id, k)
        took = 0.0
        for i in range(chunks): # a model's pace: 200 chunks over about 2 s; what counts is the writer's time in the store
            time.sleep(pause)
            t = time.perf_counter(); s.append_chunk(r.id, 'x' * 20, writer='w'); took += time.perf_counter() - t
        t = time.perf_counter(); s.finalize(r.id, writer='w'); took += time.perf_counter() - t
        if p:
            res = [out.get(timeout=60) for _ in range(k)]; p.join()
            assert all(''.join(x for _,x in g) == 'x' * 20 * chunks for g in res)
        return took
    alone,watched = [],[]
    for _ in range(rounds): alone.append(reply(0)); watched.append(reply(n))
    m.close()
    return statistics.median(alone), statistics.median(watched)

def main(rounds):
    d = tempfile.mkdtemp()
    stores = {'sqlite': f'sqlite:///{d}/f.db', 'redis': REDIS + f'?prefix=bf-{uuid.uuid4().hex[:8]}:', 'postgres': PG + f'?schema=bf_{uuid.uuid4().hex[:8]}'}
    print(f'following a reply: {rounds} rounds; followers in another process')
    print(f'{"store":<10} {"latency median":>15} {"worst":>8} {"(pieces)":>9}   {"writer alone":>13} {"50 followers":>13} {"ratio":>7}')
    for k,url in stores.items():
        med,worst,n = latency(url)
        a,w = slowdown(url, rounds)
        ok = 'ok' if worst <= 0.1 and w / a <= 1.2 else 'MISSED'
        print(f'{k:<10} {med*1e3:>12.1f} ms {worst*1e3:>5.1f} ms {n:>9}   {a*1e3:>10.1f} ms {w*1e3:>10.1f} ms {w/a:>6.2f}x  '
              f'(targets: worst <= 100 ms, <= 1.2x) {ok}')
    rm = connect(stores['redis'])
    for key in rm.r.scan_iter(match=rm.prefix + '*'): rm.r.delete(key)
    rm.close()
    try:
        import psycopg
        with psycopg.connect(PG, autocommit=True) as c: c.execute(f'DROP SCHEMA IF EXISTS "{stores["postgres"].split("schema=")[1]}" CASCADE')
    except Exception: pass

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--rounds', type=int, default=5)
    main(p.parse_args().rounds)
