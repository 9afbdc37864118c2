"""Search across a user's chats, on SQLite (FTS5) and PostgreSQL (tsvector, GIN), and what keeping the index costs a durable append.

1. The first page of 20, newest first, of a word that 1,000 messages hold, among 100,000 messages in 1,000 sessions, against the same among
   10,000 (target <= 2x, and about 20 ms or less here); and the same by relevance, which ranks every match.
2. A durable append (one commit each) with the search index kept, against the same append on the same store with its index taken away (the
   SQLite triggers dropped, the PostgreSQL column dropped), run alternately (target <= 1.3x).

Medians of rounds, in ms. Needs the PostgreSQL server: eval "$(bash scripts/services.sh start)", then: python bench/bench_search.py [--rounds 15]"""
import argparse, os, sys, tempfile, time, uuid
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import paired, timed
from bench_owners import PG
from chatstate import *

def fill(m, n, sessions=1000, hits=1000):
    "`n` messages in `sessions` sessions of an owner, `hits` of them holding the word 'needle'"
    per,every,k = n // sessions,n // hits,0
    for s in range(sessions):
        msgs = []
        for j in range(per):
            msgs.append({'role': 'user' if j % 2 == 0 else 'assistant', 'content': f'message {k} about the trip ' + ('with a needle ' if k % every == 0 else '') + 'x' * 60, 'id': f'm{k}'})
            k += 1
        m.import_session({'session_id': f's{s}', 'owner': 'ana', 'messages': msgs})

def stores(tag):
    t = tempfile.mkdtemp()
    yield 'sqlite',lambda: connect(f'sqlite:///{t}/{tag}-{uuid.uuid4().hex[:6]}.db')
    yield 'postgres',lambda: connect(f'{PG}?schema=srch_{tag}_{uuid.uuid4().hex[:6]}')

def drop(kind, m):
    if kind == 'postgres':
        with m._conn() as c: c.execute(f'DROP SCHEMA "{m.schema}" CASCADE')
    m.close()

def unindexed(kind, m):
    "Take the search index away from store `m`"
    if kind == 'sqlite':
        for t in ('found', 'refound', 'unfound', 'queued'): m._c.execute(f'DROP TRIGGER chatstate_{t}')
    else:
        with m._conn() as c: c.execute(f'ALTER TABLE "{m.schema}".chatstate_messages DROP COLUMN words')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--rounds', type=int, default=15)
    p.add_argument('--appends', type=int, default=500)
    a = p.parse_args()
    print(f'search: first page of 20 of a word 1,000 messages hold; medians of {a.rounds} rounds, ms')
    for kind,opener in stores('q'):
        try: small,big = opener(),opener()
        except StoreError as e: print(f'{kind}: skipped ({e})'); continue
        fill(small, 10_000); fill(big, 100_000)
        if kind == 'postgres': # the statistics autovacuum gathers soon after a bulk load, gathered now: without them the planner guesses an owner's search badly
            for x in (small, big):
                with x._conn() as c: c.execute(f'ANALYZE "{x.schema}".chatstate_messages'); c.execute(f'ANALYZE "{x.schema}".chatstate_sessions')
        assert len(big.search('needle', owner='ana', limit=2000)) == len(small.search('needle', owner='ana', limit=2000)) == 1000
        for order in ('newest', 'relevance'):
            tb,ts,r = paired(lambda: big.search('needle', limit=20, order=order), lambda: small.search('needle', limit=20, order=order), a.rounds)
            tgt = f'(target <= 2x and ~20 ms) {"ok" if r <= 2 and tb < 0.02 else "MISSED"}' if order == 'newest' else '(ranks every match)'
            print(f'  {kind:<9} {order:<9} 10k messages {ts*1e3:7.2f}   100k messages {tb*1e3:7.2f}   {r:5.2f}x  {tgt}')
        tb,ts,r = paired(lambda: big.search('needle', owner='ana', limit=20), lambda: small.search('needle', owner='ana', limit=20), a.rounds)
        print(f'  {kind:<9} {"an owner":<9} 10k messages {ts*1e3:7.2f}   100k messages {tb*1e3:7.2f}   {r:5.2f}x')
        drop(kind, small); drop(kind, big)
    print(f'durable append, {a.appends} a round, with the search index kept against without it; medians of {a.rounds} rounds, ms')
    for kind,opener in stores('a'):
        try: kept,bare = opener(),opener()
        except StoreError as e: print(f'{kind}: skipped ({e})'); continue
        unindexed(kind, bare)
        sk,sb = kept.create_session('a'),bare.create_session('a')
        def appends(s): return lambda: [s.add_message('user', f'a durable message about Lisbon and Porto number {i}') for i in range(a.appends)]
        tk,tb,r = paired(appends(sk), appends(sb), a.rounds)
        print(f'  {kind:<9} with the index {tk*1e3:8.1f}   without {tb*1e3:8.1f}   {r:5.2f}x  (target <= 1.3x) {"ok" if r <= 1.3 else "MISSED"}')
        drop(kind, kept); drop(kind, bare)
