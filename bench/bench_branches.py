"""Branches cost the same in a long conversation as in a short one: on every store, each operation in a session of 100,000 messages
against the same operation in one of 1,000 (the baseline, run alternately in the same process; the ratio is the median of the
per-round ratios, target <= 1.3x):

- a branch at the tail: `regenerate` the last reply (a sibling beside it, now active);
- a branch at message 1: `edit` the first question (the active branch is then that new message alone);
- the active branch's last 50 messages, in a session that branched at its tail (so the branch runs through a new sibling);
- the same, 60 messages after a branch at message 1 (every one of the 50 is on the new branch).

Beside them, for contrast, `fork` (a new session holding a copy of the conversation), which grows with it. Times are medians, in ms.

Needs the servers for Redis and PostgreSQL: eval "$(bash scripts/services.sh start)", then: python bench/bench_branches.py [--big 100000] [--rounds 15]"""
import argparse, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import paired, timed, sample_messages, filled
from bench_owners import urls, clean
from chatstate import *

def line(name, big, small, rounds, target=1.3):
    tb,ts,r = paired(big, small, rounds)
    print(f'  {name:<52} {ts*1e3:8.3f} {tb*1e3:8.3f} {r:6.2f}x  (target <= {target}x) {"ok" if r <= target else "MISSED"}')
    return r

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--small', type=int, default=1_000)
    p.add_argument('--big', type=int, default=100_000)
    p.add_argument('--rounds', type=int, default=15)
    a = p.parse_args()
    print(f'a session of {a.big:,} messages against one of {a.small:,}; medians of {a.rounds} rounds, ms ({a.small:,} | {a.big:,} | ratio)')
    for kind,url in urls():
        try: m = connect(url('br'))
        except StoreError as e:
            print(f'{kind}: skipped ({e})'); continue
        print(kind)
        sess = {n: (filled(m, f'tail-{n}', n), filled(m, f'top-{n}', n)) for n in (a.small, a.big)}
        last = {n: s[-1].id for n,(s,_) in sess.items()}
        first = {n: t[0].id for n,(_,t) in sess.items()}
        op = lambda n: lambda: sess[n][0].regenerate(last[n], 'another answer', pending=False)
        line('branch at the tail (regenerate the last reply)', op(a.big), op(a.small), a.rounds)
        op = lambda n: lambda: sess[n][1].edit(first[n], 'another question')
        line('branch at message 1 (edit the first question)', op(a.big), op(a.small), a.rounds)
        assert len(sess[a.big][0]) == a.big and len(sess[a.big][1]) == 1
        op = lambda n: lambda: sess[n][0].tail(50)
        line('tail(50), the branch through a new sibling at the tail', op(a.big), op(a.small), a.rounds)
        for n in (a.small, a.big): sess[n][1].add_messages(sample_messages(60, tag='b'))
        assert [x.content for x in sess[a.big][1].tail(50)] == [x.content for x in sess[a.small][1].tail(50)]
        op = lambda n: lambda: sess[n][1].tail(50)
        line('tail(50), 60 messages after a branch at message 1', op(a.big), op(a.small), a.rounds)
        r = max(3, a.rounds // 5)
        fs,fb = (timed(lambda: sess[n][0].fork(), r) for n in (a.small, a.big))
        print(f'  {"for contrast: fork, a copy of the conversation":<52} {fs*1e3:8.3f} {fb*1e3:8.3f} {fb/fs:6.2f}x  (grows with it)')
        clean(kind, m)
