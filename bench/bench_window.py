"""Windowing a long conversation: `s.window(max_tokens=4000)` of a session of 1,000 messages and of one of 100,000, on every
store. The window reads from the end only as far as the budget reaches, so its cost should be flat: the ratio of the big
session's time to the small one's (target about 1x). Beside it, the old way: load the whole session and window the list.
Times are medians of rounds, in ms.

Needs the servers: eval "$(bash scripts/services.sh start)", then: python bench/bench_window.py [--big 100000] [--rounds 9]"""
import argparse, os, sys, tempfile, uuid
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import timed, filled
from bench_owners import urls, clean
from chatstate import *
from chatstate.formats import window


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--small', type=int, default=1_000)
    p.add_argument('--big', type=int, default=100_000)
    p.add_argument('--rounds', type=int, default=9)
    a = p.parse_args()
    print(f'window(max_tokens=4000) of a session of {a.small:,} messages and of {a.big:,}; medians of {a.rounds} rounds, ms')
    for kind,url in urls():
        m = connect(url('win'))
        small,big = filled(m, 'small', a.small, system=True),filled(m, 'big', a.big, system=True)
        assert small.window(max_tokens=4000) == window(small.messages, max_tokens=4000)
        ts,tb = (timed(lambda: s.window(max_tokens=4000), a.rounds) for s in (small, big))
        whole = timed(lambda: window(big.messages, max_tokens=4000), max(3, a.rounds // 3))
        print(f'{kind:<9} {ts*1e3:8.2f} ms at {a.small:,}  {tb*1e3:8.2f} ms at {a.big:,}: {tb/ts:5.2f}x (target ~1x, flat)   | loading the whole {a.big:,} and windowing the list: {whole*1e3:8.1f} ms')
        clean(kind, m)
