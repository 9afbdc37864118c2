"""A user's own sidebar at scale: the first page of 20 of one owner who has 100 sessions, in a store of 1,000 sessions and in one
of 100,000 (the same owner, the same 100 sessions, 990 other owners with theirs). The page should cost a page of the owner's index:
the ratio of the big store's time to the small one's (target <= 2x), on every store. Beside it, what an app without owners does:
list the whole store and keep one user's sessions in Python (metadata['user']), at the small and at a 10,000-session size.
Times are medians of rounds, in ms.

Needs the servers: eval "$(bash scripts/services.sh start)", then: python bench/bench_owners.py [--big 100000] [--rounds 15]"""
import argparse, os, statistics, sys, tempfile, time, uuid
from concurrent.futures import ThreadPoolExecutor
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import timed
from chatstate import *

REDIS = os.environ.get('CHATSTATE_TEST_REDIS', 'redis://127.0.0.1:6390/0')
PG = os.environ.get('CHATSTATE_TEST_POSTGRES', 'postgresql://postgres@127.0.0.1:5440/postgres')

REPS = 20 # pages read a round, so a round is long enough to time

def fill(m, n, per=100, threads=8):
    "`n` sessions of one message each, `per` to an owner: owner u0 has sessions 0, 10, 20, ... (spread through the store)"
    owners = n // per
    now = time.time()
    def one(i):
        o = f'u{i % owners}'
        m.import_session(dict(session_id=f's{i}', metadata={'title': f'chat {i}', 'user': o}, owner=o, created=now, updated=now + i * 1e-3,
                              messages=[{'role': 'user', 'content': f'hello {i}'}]))
    with ThreadPoolExecutor(threads) as ex: list(ex.map(one, range(n)))

def urls():
    t = tempfile.mkdtemp()
    return [('memory', lambda tag: 'memory://'), ('sqlite', lambda tag: f'sqlite:///{t}/{tag}.db'),
            ('redis', lambda tag: f'{REDIS}?prefix=own-{tag}-{uuid.uuid4().hex[:6]}:'), ('postgres', lambda tag: f'{PG}?schema=own_{tag}_{uuid.uuid4().hex[:6]}')]

def clean(kind, m):
    if kind == 'redis':
        keys = list(m.r.scan_iter(match=m.prefix + '*', count=10_000))
        for i in range(0, len(keys), 10_000): m.r.delete(*keys[i:i+10_000])
    if kind == 'postgres':
        with m._conn() as c: c.execute(f'DROP SCHEMA "{m.schema}" CASCADE')
    m.close()

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--small', type=int, default=1_000)
    p.add_argument('--big', type=int, default=100_000)
    p.add_argument('--rounds', type=int, default=15)
    a = p.parse_args()
    print(f'first page of 20 of an owner with 100 sessions: a store of {a.small:,} sessions against one of {a.big:,}; medians of {a.rounds} rounds, ms')
    for kind,url in urls():
        res = {}
        for tag,n in (('small', a.small), ('big', a.big)):
            m = connect(url(tag))
            t = time.perf_counter(); fill(m, n); made = time.perf_counter() - t
            assert m.count(owner='u0') == 100 and len(m.sessions(owner='u0', limit=20)) == 20
            res[tag] = timed(lambda: [m.sessions(owner='u0', limit=20) for _ in range(REPS)], a.rounds) / REPS
            if tag == 'small' or n <= 10_000: # the app without owners: every session listed, one user's kept in Python
                res[f'scan-{tag}'] = timed(lambda: [i for i in m.sessions() if i.metadata.get('user') == 'u0'][:20], max(3, a.rounds // 5))
            print(f'  ({kind}: {n:,} sessions made in {made:.1f} s)', file=sys.stderr)
            clean(kind, m)
        r = res['big'] / res['small']
        print(f'{kind:<9} owner page: {res["small"]*1e3:7.3f} ms at {a.small:,}, {res["big"]*1e3:7.3f} ms at {a.big:,}: {r:5.2f}x (target <= 2x) {"ok" if r <= 2 else "MISSED"}'
              f'   | listing the whole store and filtering in Python: {res["scan-small"]*1e3:8.1f} ms at {a.small:,}')
