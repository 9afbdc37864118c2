"""In-memory core: speed and memory as ratios against raw Python baselines run in the same process (median of rounds).

Run: python bench/bench_core.py [--n 100000] [--rounds 5]"""
import argparse, gc, os, sys, tracemalloc, uuid
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import row, timed
from chatstate import InMemorySessionManager, ChatSession

def mem_per_item(f, n):
    gc.collect(); tracemalloc.start()
    keep = f()
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop(); del keep
    return used / n

def floor_append(n):
    l = []
    for i in range(n): l.append((str(uuid.uuid4()), 'User', 'hello there'))
    return l

def lib_append(n):
    s = InMemorySessionManager().create_session('b')
    add = s.add_message
    for i in range(n): add('User', 'hello there')
    return s

def langchain_append(n):
    "LangChain's in-memory history, appending the same messages (each with an id, as chatstate's have)"
    import warnings
    from langchain_core.chat_history import InMemoryChatMessageHistory
    from langchain_core.messages import HumanMessage
    with warnings.catch_warnings():
        warnings.simplefilter('ignore') # deprecated since langchain-core 1.6.4, still widely used
        h = InMemoryChatMessageHistory()
    add = h.add_message
    for i in range(n): add(HumanMessage(content='hello there', id=str(uuid.uuid4())))
    return h

def main(n=100_000, rounds=5):
    print(f'chatstate in-memory core, n={n:,}, median of {rounds} rounds')
    print(f'{"measure":<56} {"chatstate":>10} {"baseline":>10} {"ratio":>8}')
    r = row(f'append {n:,} messages (s)', lambda: lib_append(n), lambda: floor_append(n), rounds, 1.5, scale=1)
    try:
        import langchain_core
        lc = row(f'  LangChain InMemoryChatMessageHistory, the same (s)', lambda: langchain_append(n), lambda: floor_append(n), rounds, scale=1)
        print(f'  chatstate {"ahead of" if r < lc else "BEHIND"} LangChain {langchain_core.__version__}: {r:.2f}x vs {lc:.2f}x the bare list append')
    except ImportError: print('  (pip install langchain-core to compare with LangChain in the same run)')
    mo,mb = mem_per_item(lambda: lib_append(n), n),mem_per_item(lambda: floor_append(n), n)
    print(f'{"memory per stored message (bytes)":<56} {mo:>10.1f} {mb:>10.1f} {mo/mb:>7.2f}x  (target <= 2x) {"ok" if mo/mb <= 2 else "MISSED"}')
    s,tuples = lib_append(n),floor_append(n)
    row(f'get_message_dicts() of {n:,} (s)', s.get_message_dicts, lambda: [{'role': r, 'content': c, 'id': i} for i,r,c in tuples], rounds, 2, scale=1)
    print('\nflat as the session grows: microseconds per operation, and the ratio against the same raw operation')
    print('(dict.get on a dict of that many uuids; list.append of a tuple) on a structure of the same size:')
    for size in (1_000, 10_000, 100_000, 1_000_000):
        s,raw = lib_append(size),floor_append(size)
        d = {t[0]: t for t in raw}
        ids,raw_ids = [m.id for m in s.tail(1000)],[t[0] for t in raw[-1000:]]
        look = timed(lambda: [s.get(i) for i in ids], rounds) / 1000 * 1e6
        rlook = timed(lambda: [d.get(i) for i in raw_ids], rounds) / 1000 * 1e6
        app = timed(lambda: [s.add_message('User', 'x') for _ in range(1000)], rounds) / 1000 * 1e6
        rapp = timed(lambda: [raw.append((str(uuid.uuid4()), 'User', 'x')) for _ in range(1000)], rounds) / 1000 * 1e6
        print(f'  {size:>9,} messages: look-up by id {look:5.2f} ({look/rlook:4.1f}x raw {rlook:4.2f})   append {app:5.2f} ({app/rapp:4.2f}x raw {rapp:4.2f})')
        del s,raw,d

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--n', type=int, default=100_000); p.add_argument('--rounds', type=int, default=5)
    a = p.parse_args()
    main(a.n, a.rounds)
