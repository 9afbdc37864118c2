"""Listing a sidebar at scale: `sessions(limit=20)` and `len(m)` on a store of many sessions, some of them expired.
A page should cost a page and a count stay cheap, whatever the store holds; times are medians of several rounds, in ms,
with SQLite (one indexed query) as the reference measured in the same run.

Needs the Redis server: eval "$(bash scripts/services.sh start)", then: python bench/bench_listing.py [--sessions 50000]"""
import argparse, os, sys, tempfile, time, uuid
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import timed
from chatstate import *

def fill(m, n, expired):
    "`n` sessions of one message each, the first `expired` of them already expired, imported in one go"
    now = time.time()
    for i in range(n):
        m.import_session(dict(session_id=f's{i}', metadata={'title': f'chat {i}'}, created=now, updated=now + i * 1e-3,
                              expires_at=now + 0.5 if i < expired else None, messages=[{'role': 'user', 'content': f'hello {i}'}]))

def measure(name, m, rounds):
    page,count,deep = (timed(f, rounds) * 1e3 for f in (lambda: m.sessions(limit=20), lambda: len(m), lambda: m.sessions(limit=20, offset=len(m) // 2)))
    print(f'{name:<10} sessions(limit=20) {page:8.3f} ms   page in the middle {deep:8.3f} ms   len(m) {count:8.3f} ms')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--sessions', type=int, default=50_000)
    p.add_argument('--rounds', type=int, default=15)
    a = p.parse_args()
    n,exp = a.sessions,a.sessions // 10
    print(f'{n:,} sessions, {exp:,} of them expired; medians of {a.rounds} rounds')
    redis_url = os.environ.get('CHATSTATE_TEST_REDIS', 'redis://127.0.0.1:6390/0') + f'?prefix=list-{uuid.uuid4().hex[:8]}:'
    stores = [('sqlite', f'sqlite:///{tempfile.mkdtemp()}/list.db'), ('redis', redis_url)]
    ms = [(k, connect(u)) for k,u in stores]
    for k,m in ms: fill(m, n, exp)
    time.sleep(0.6)
    for k,m in ms:
        m.sessions(limit=None if k == 'redis' else 20) # the first listing meets each expired session once and unlists it
        measure(k, m, a.rounds)
    r = dict(ms)['redis']
    keys = list(r.r.scan_iter(match=r.prefix + '*', count=10_000))
    for i in range(0, len(keys), 10_000): r.r.delete(*keys[i:i+10_000])
