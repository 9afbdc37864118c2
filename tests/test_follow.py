"""Following a reply from another worker, on every store and both APIs: the text so far, then each piece in order, none missed or
doubled, until the reply ends; woken by the store's own signal, through one listener per store in a process."""
import threading, time, pytest
from chatstate import *
from conftest import Sync, run_async

def follow(s, mid, **kw):
    "Every `(text, state)` a follower of reply `mid` of handle `s` is told, on the API under test"
    if isinstance(s, Sync):
        async def go(): return [(t, m.state) async for t,m in s._o.follow(mid, **kw)]
        return run_async(go())
    return [(t, m.state) for t,m in s.follow(mid, **kw)]

def lease(m, t): getattr(getattr(m, '_o', m), 'store', m).lease = t

def stream(store, sid, mid, chunks, end='done', pause=0.01):
    "Another worker (a manager of its own) writes `chunks` into reply `mid`, then ends it"
    def run():
        s = store.open()[sid]
        try:
            for c in chunks: time.sleep(pause); s.append_chunk(mid, c, writer='w')
        except ReplyStopped: return
        if end == 'done': s.finalize(mid, writer='w')
        elif end == 'fail': s.fail(mid, 'boom', writer='w')
    t = threading.Thread(target=run)
    t.start()
    return t

def test_a_follower_gets_every_piece_in_order(store, mgr):
    s = mgr.create_session('f')
    q,r = s.start_turn('Count', writer='w')
    s.append_chunk(r.id, 'Zero', writer='w')
    chunks = [f' {i}' for i in range(40)]
    t = stream(store, 'f', r.id, chunks)
    got = follow(s, r.id)
    t.join()
    assert got[0][0].startswith('Zero') and ''.join(x for x,_ in got) == 'Zero' + ''.join(chunks) == s.get(r.id).content
    assert got[-1][1] == 'done' and all(st == 'streaming' for _,st in got[:-1])
    assert follow(s, r.id) == [('Zero' + ''.join(chunks), 'done')] # a reply that ended: its text, at once

def test_a_follower_hears_a_stop_a_failure_and_a_replaced_text(store, mgr):
    s = mgr.create_session('g')
    a = s.add_message('assistant', '', pending=True, writer='w')
    def stop_soon(): time.sleep(0.15); store.open()['g'].stop(a.id)
    threading.Thread(target=stop_soon).start()
    t = stream(store, 'g', a.id, ['x'] * 100, pause=0.01)
    got = follow(s, a.id)
    t.join()
    assert got[-1][1] == 'stopped' and ''.join(x for x,_ in got) == s.get(a.id).content and len(s.get(a.id).content) < 100
    b = s.add_message('assistant', '', pending=True, writer='w')
    t = stream(store, 'g', b.id, ['a', 'b'], end='fail')
    got = follow(s, b.id)
    t.join()
    assert ''.join(x for x,_ in got) == 'ab' and got[-1][1] == 'failed'
    c = s.add_message('assistant', 'draft', pending=True)
    def replace(): time.sleep(0.1); store.open()['g'].finalize(c.id, 'Final')
    t = threading.Thread(target=replace); t.start()
    assert follow(s, c.id) == [('draft', 'streaming'), (None, 'done')] # replaced whole: the follower shows message.content
    t.join()

def test_a_follower_of_a_dead_writer_ends_stale(store, mgr):
    s = mgr.create_session('d')
    lease(mgr, 0.3)
    r = s.add_message('assistant', 'Cut off', pending=True, writer='dead')
    a = time.monotonic()
    assert follow(s, r.id) == [('Cut off', 'streaming'), ('', 'stale')]
    assert time.monotonic() - a < 5
    lease(mgr, 30)
    r2 = s.add_message('assistant', 'Slow', pending=True, writer='w')
    assert follow(s, r2.id, timeout=0.2) == [('Slow', 'streaming')] # the follower gave up; the reply goes on
    with pytest.raises(MessageNotFoundError, match="'nope'"): follow(s, 'nope')

def test_many_followers_share_one_listener(store, mgr):
    s = mgr.create_session('m')
    r = s.add_message('assistant', '', pending=True, writer='w')
    st = getattr(getattr(mgr, '_o', mgr), 'store', mgr)
    res = [None] * 10
    def one(i): res[i] = follow(s, r.id)
    ts = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    for t in ts: t.start()
    time.sleep(0.2)
    wk = st._wakeups()
    assert len(wk.waiting[('m', r.id)]) == 10 and wk.started == (wk.listen is not None) # one listener for the store in this process, shared
    w = stream(store, 'm', r.id, [f'{i},' for i in range(20)])
    for t in ts + [w]: t.join()
    want = ''.join(f'{i},' for i in range(20))
    assert all(''.join(x for x,_ in got) == want and got[-1][1] == 'done' for got in res) and ('m', r.id) not in wk.waiting
