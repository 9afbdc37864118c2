"""A busy chat app's mix of operations from several processes at once: streaming replies, regenerating (truncate, pop),
edits, deletes, merges, new sessions. Counts operations per second on each store and the errors no operation may raise
(a deadlock, above all); PostgreSQL's rate is reported as a ratio of Redis's, measured in the same run.

Needs the servers: eval "$(bash scripts/services.sh start)", then: python bench/bench_mix.py [--procs 8] [--seconds 15]"""
import argparse, os, random, sys, tempfile, time, uuid
from concurrent.futures import ProcessPoolExecutor
from chatstate import *

EXPECTED = (NotFoundError, PositionError, InvalidValueError, DuplicateError) # races the app itself makes: fine

def worker(url, sessions, seconds, seed):
    rnd,m = random.Random(seed),connect(url)
    n,errors,deadline = 0,[],time.monotonic() + seconds
    while time.monotonic() < deadline:
        s = m.get_or_create(rnd.choice(sessions))
        op = rnd.random()
        try:
            if op < 0.35: # stream a short reply
                r = s.add_message('assistant', '', pending=True, metadata={'model': 'm'})
                for c in ('Hel', 'lo', '!'): s.append_chunk(r.id, c); n += 1
                s.finalize(r.id, metadata={'usage': {'out': 3}}); n += 1
            elif op < 0.55: s.add_message('user', 'question'); n += 1
            elif op < 0.65: # regenerate: truncate after the first message
                first = s.tail(1)
                if first: s.truncate_after(s[0].id)
                n += 2
            elif op < 0.72: s.pop(); n += 1
            elif op < 0.80:
                last = s.tail(1)
                if last: s.update(last[0].id, content='edited')
                n += 2
            elif op < 0.86:
                last = s.tail(1)
                if last: s.delete(last[0].id)
                n += 2
            elif op < 0.93: s.update_metadata(**{f'k{seed}': n}); n += 1
            elif op < 0.97: s.tail(20); m.sessions(limit=20); n += 2
            else: m.delete_session(s.session_id); n += 1
        except EXPECTED: n += 1
        except Exception as e: errors.append(f'{type(e).__name__}: {str(e)[:120]}')
    m.close()
    return n, errors

def run(name, url, procs, seconds):
    sessions = [f'mix-{i}' for i in range(procs * 2)]
    with ProcessPoolExecutor(procs) as ex:
        res = list(ex.map(worker, [url]*procs, [sessions]*procs, [seconds]*procs, range(procs)))
    ops,errors = sum(r[0] for r in res),[e for r in res for e in r[1]]
    dead = sum('deadlock' in e.lower() for e in errors)
    print(f'{name:<12} {ops:>9,} ops {ops/seconds:>10,.0f} ops/s   errors {len(errors)} (deadlocks {dead})')
    for e in sorted(set(errors))[:5]: print('   ', e)
    return ops / seconds

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--procs', type=int, default=8)
    p.add_argument('--seconds', type=float, default=15)
    a = p.parse_args()
    print(f'{a.procs} processes, {a.seconds:g} s each store, random operations on {a.procs*2} sessions')
    rurl = os.environ.get('CHATSTATE_TEST_REDIS', 'redis://127.0.0.1:6390/0') + f'?prefix=mix-{uuid.uuid4().hex[:8]}:'
    purl = os.environ.get('CHATSTATE_TEST_POSTGRES', 'postgresql://postgres@127.0.0.1:5440/postgres') + f'?schema=mix_{uuid.uuid4().hex[:8]}'
    sdir = tempfile.mkdtemp()
    r = run('redis', rurl, a.procs, a.seconds)
    pg = run('postgresql', purl, a.procs, a.seconds)
    run('sqlite', f'sqlite:///{sdir}/mix.db', a.procs, a.seconds)
    print(f'postgresql / redis operations per second: {pg/r:.2f} (target >= 0.33) {"ok" if pg/r >= 1/3 else "MISSED"}')
    m = connect(rurl); keys = list(m.r.scan_iter(match=m.prefix + '*'))
    if keys: m.r.delete(*keys)
    m = connect(purl)
    with m._conn() as c: c.execute(f'DROP SCHEMA "{m.schema}" CASCADE')
