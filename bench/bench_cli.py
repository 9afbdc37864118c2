"""`chatstate copy`: 10k sessions x 20 messages, SQLite to SQLite, as a ratio against the library's own batched append
of the same data (create_session + add_messages into a fresh SQLite file), in the same process.

Run: python bench/bench_cli.py [--sessions 10000] [--messages 20] [--rounds 3]"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from chatstate import SQLiteSessionManager, Message, connect
from chatstate.cli import copy_sessions
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import sample_messages

def data(n, k):
    return [(f's{i}', {'title': f'Chat {i}'}, sample_messages(k, tag=f' of chat {i}')) for i in range(n)]

def batched_append(path, sessions):
    m = SQLiteSessionManager(path)
    for sid,md,msgs in sessions: m.create_session(sid, metadata=md).add_messages(msgs)
    m.close()

def main(n=10_000, k=20, rounds=3):
    d = Path(tempfile.mkdtemp())
    sessions = data(n, k)
    base,ours,cli = [],[],[]
    for r in range(rounds):
        for f in d.iterdir(): f.unlink()
        t = time.perf_counter(); batched_append(d/'src.db', sessions); base.append(time.perf_counter() - t)
        t = time.perf_counter(); copy_sessions(connect(f'sqlite:///{d}/src.db'), connect(f'sqlite:///{d}/dst.db')); ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([shutil.which('chatstate') or 'chatstate', 'copy', f'sqlite:///{d}/src.db', f'sqlite:///{d}/cli.db'], check=True, stderr=subprocess.DEVNULL)
        cli.append(time.perf_counter() - t)
    assert len(connect(f'sqlite:///{d}/cli.db')) == n
    b,o,c = map(statistics.median, (base, ours, cli))
    print(f'chatstate copy, {n:,} sessions x {k} messages, SQLite -> SQLite, median of {rounds} rounds')
    print(f'  library batched append of the same data: {b:7.2f} s')
    print(f'  copy_sessions (in process):              {o:7.2f} s   {o/b:.2f}x')
    print(f'  `chatstate copy` (a subprocess):         {c:7.2f} s   {c/b:.2f}x   ({n*k/c:,.0f} messages/s)')
    shutil.rmtree(d)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--sessions', type=int, default=10_000); p.add_argument('--messages', type=int, default=20); p.add_argument('--rounds', type=int, default=3)
    a = p.parse_args()
    main(a.sessions, a.messages, a.rounds)
