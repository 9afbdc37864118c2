"""What only the async API has: protocols that cannot await, calls kept off the event loop's thread, cancellation that
leaves the store as it was before a call or after it, and a write in `finally` that lands after a cancellation.
(Everything else the async API does is proven by the shared suites, which run on it unchanged through `conftest.Sync`.)"""
import asyncio, random, threading, time, pytest
from chatstate import *
from conftest import Store, KINDS, run_async

@pytest.fixture(params=KINDS)
def astore(request, tmp_path):
    st = Store(request.param, tmp_path, 'async')
    yield st
    st.close()

def amgr(st): return st.open()._o

def test_protocols_name_the_coroutine_to_await(astore):
    async def go(m):
        s = await m.create_session('p')
        checks = [(lambda: len(s), 'await s.count()'), (lambda: bool(s), 'await s.count()'), (lambda: 'x' in s, 'await s.contains(message_id)'),
                  (lambda: list(s), 'async for m in s'), (lambda: setattr(s, 'title', 'T'), 'await s.set_title(title)'),
                  (lambda: len(m), 'await m.count()'), (lambda: 'p' in m, 'await m.contains(session_id)'),
                  (lambda: list(m), 'async for session_id in m'), (lambda: m.__delitem__('p'), 'await m.delete_session(session_id)')]
        for f,use in checks:
            with pytest.raises(TypeError, match=f'use `{use}`'.replace('(', r'\(').replace(')', r'\)')): f()
        await s.set_title('T')
        assert (await s.title, await s.count(), await m.count(), await m.contains('p'), await s.contains('x')) == ('T', 0, 1, True, False)
        assert [sid async for sid in m] == ['p'] and [x async for x in s] == []
    run_async(go(amgr(astore)))

def test_calls_never_block_the_event_loop(astore, monkeypatch):
    """A store with an async driver (Redis, PostgreSQL) awaits its I/O on the loop and never makes a blocking call there; any other runs every
    call on a thread of its own (SQLite: one), except the in-memory store, which never blocks"""
    m,seen = amgr(astore),[]
    names = ('_exec', '_aexec') if m._native else ('_append', '_slice', '_update', '_list', '_create', '_info')
    for name in names:
        f = getattr(m.store, name)
        if name == '_aexec':
            async def rec(*a, _f=f): seen.append(('async', threading.current_thread().name)); return await _f(*a)
        else: rec = lambda *a, _f=f, _n=name: (seen.append((_n, threading.current_thread().name)), _f(*a))[1]
        monkeypatch.setattr(m.store, name, rec)
    async def go():
        s = await m.create_session('t')
        r = await s.add_message('assistant', '', pending=True)
        await s.append_chunk(r.id, 'x'); await s.messages; await m.sessions(); await s.info
        return threading.current_thread().name
    loop_thread = run_async(go())
    threads = {t for _,t in seen}
    if m._native: assert {k for k,_ in seen} == {'async'} and threads == {loop_thread} and len(seen) >= 6
    elif astore.kind == 'memory': assert threads == {loop_thread} and len(seen) == 6
    else: assert loop_thread not in threads and all(t.startswith('chatstate') for t in threads) and len(seen) == 6

def test_a_write_in_finally_lands_after_a_cancellation(astore):
    import anyio
    m = amgr(astore)
    async def reply(s, ids):
        r = await s.add_message('assistant', '', pending=True)
        ids.append(r.id)
        try:
            while True: await s.append_chunk(r.id, 'x'); await asyncio.sleep(0) # a model's next chunk
        finally: await s.finalize(r.id, metadata={'interrupted': True}) # cancelled again by the scope: the write must land all the same
    async def go():
        s,ids = await m.create_session('c'),[]
        with anyio.move_on_after(0.05): await reply(s, ids)
        for _ in range(200): # the write was handed to the store before the await was cancelled: wait until it is seen
            done = await s.get(ids[0])
            if not done.pending: break
            await asyncio.sleep(0.01)
        assert not done.pending and done.metadata == {'interrupted': True} and set(done.content) <= {'x'}
    run_async(go())

def test_random_cancellation_leaves_no_half_call(astore):
    "Tasks cancelled at random points: each message is absent or whole, chunks are an unbroken prefix, counters agree"
    m,rnd = amgr(astore),random.Random(7)
    async def one(s, i):
        await s.add_messages([Message('user', f'q{i}', id=f'q{i}'), Message('assistant', f'a{i}', id=f'a{i}')])
        r = await s.add_message('assistant', '', pending=True, id=f'r{i}')
        for k in range(5): await s.append_chunk(r.id, str(k))
        await s.update_metadata(**{f'k{i}': i})
    async def go():
        s = await m.create_session('rc')
        for i in range(60):
            t = asyncio.ensure_future(one(s, i))
            await asyncio.sleep(rnd.random() * 0.003)
            t.cancel()
            try: await t
            except asyncio.CancelledError: pass
        await asyncio.sleep(0.3) # calls already handed to the store's threads finish there
        msgs = await s.messages
        ids = {x.id for x in msgs}
        for i in range(60):
            assert (f'q{i}' in ids) == (f'a{i}' in ids) # a batch is all or nothing
            r = await s.get(f'r{i}')
            if r is not None: assert '01234'.startswith(r.content)
        assert await s.count() == len(msgs) and len(ids) == len(msgs)
    run_async(go())
