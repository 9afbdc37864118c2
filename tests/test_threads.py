"Concurrent threads (a web server's workers) on one manager: nothing lost, each thread's order kept, one winner per id."
import threading, pytest
from concurrent.futures import ThreadPoolExecutor
from chatstate import *
from conftest import check_order

T,N = 8,1000

def run_threads(fn, n=T):
    barrier = threading.Barrier(n)
    def go(t):
        barrier.wait()
        return fn(t)
    with ThreadPoolExecutor(n) as ex: return list(ex.map(go, range(n)))

def test_threads_one_session(mgr):
    s = mgr.create_session('busy')
    run_threads(lambda t: [s.add_message('User', f'{t}:{i}') for i in range(N)])
    msgs = s.messages
    assert len(msgs) == T*N == len(s) and len({m.id for m in msgs}) == T*N
    for t in range(T): check_order(msgs, t, N)

def test_threads_eight_sessions(mgr):
    for t in range(T): mgr.create_session(f's{t}')
    run_threads(lambda t: [mgr[f's{t}'].add_message('User', f'{t}:{i}') for i in range(N)])
    for t in range(T):
        msgs = mgr[f's{t}'].messages
        assert len(msgs) == N
        check_order(msgs, t, N)

def test_concurrent_create_same_id(mgr):
    def create(t):
        try: return mgr.create_session('same', metadata={'by': t})
        except DuplicateSessionError: return None
    res = run_threads(create)
    winners = [r for r in res if r is not None]
    assert len(winners) == 1 and mgr.list_sessions() == ['same']
    assert mgr['same'].metadata == {'by': res.index(winners[0])}

def test_concurrent_get_or_create_and_stream(mgr):
    s = mgr.get_or_create('chat')
    p = s.add_message('Assistant', '', pending=True)
    run_threads(lambda t: [mgr.get_or_create('chat').append_chunk(p.id, 'x') for i in range(200)])
    assert s[p.id].content == 'x' * (T*200) and len(mgr) == 1
