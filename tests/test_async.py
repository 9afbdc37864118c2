"""What only the async API has: protocols that cannot await, calls kept off the event loop's thread, cancellation that
leaves the store as it was before a call or after it, and a write in `finally` that lands after a cancellation.
(Everything else the async API does is proven by the shared suites, which run on it unchanged through `conftest.Sync`.)"""
import asyncio, random, threading, time, pytest
from chatstate import *
from conftest import Store, KINDS, run_async, check_order

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

class _Rec:
    "A SQLite connection that records the thread of every call made on it"
    def __init__(self, c, seen): self._c,self._seen = c,seen
    def __getattr__(self, name):
        v = getattr(self._c, name)
        if name not in ('execute', 'executemany'): return v
        def f(*a): self._seen.append((name, threading.current_thread())); return v(*a)
        return f

def test_calls_never_block_the_event_loop(astore, monkeypatch):
    """Every driver call the async API makes is recorded with its thread: SQLite's run on the store's own thread, never the loop's; on
    Redis and PostgreSQL no blocking call is made on the loop's thread (no sync driver call, no blocking socket call); the in-memory
    store never blocks, so it runs inline"""
    import socket
    m,seen = amgr(astore),[]
    if astore.kind == 'sqlite':
        con = m.store._con
        monkeypatch.setattr(m.store, '_con', lambda: _Rec(con(), seen))
    def record(cls, name, when=lambda self: True):
        f = getattr(cls, name)
        def rec(self, *a, **k):
            if when(self): seen.append((f'{cls.__name__}.{name}', threading.current_thread()))
            return f(self, *a, **k)
        monkeypatch.setattr(cls, name, rec)
    for name in ('recv', 'recv_into', 'send', 'sendall', 'connect'): record(socket.socket, name, lambda sk: sk.gettimeout() != 0.0)
    if astore.kind == 'redis':
        import redis
        record(redis.Redis, 'execute_command'); record(redis.connection.Connection, 'send_packed_command')
    if astore.kind == 'postgres':
        import psycopg
        record(psycopg.Connection, 'execute'); record(psycopg.Cursor, 'execute')
    calls = []
    async def go():
        loop = threading.current_thread()
        s = await m.create_session('t')
        r = await s.add_message('assistant', '', pending=True)
        await s.append_chunk(r.id, 'x'); await s.messages; await m.sessions(); await s.info
        await s.add_messages([Message('user', 'a'), Message('user', 'b')]); await s.update_metadata(k=1); await s.truncate_after(r.id)
        return loop
    loop = run_async(go())
    on_loop = [n for n,t in seen if t is loop]
    assert on_loop == [], f"blocking calls on the event loop's thread: {on_loop}"
    if astore.kind == 'sqlite': assert len(seen) >= 20 and all(t.name.startswith('chatstate') for _,t in seen)
    if astore.kind in ('redis', 'postgres'): assert m._native and not [n for n,_ in seen if not n.startswith('socket')] # nothing went through the sync driver

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

TASKS,APPENDS = 200,50

async def _tasks(m, sids, tag=''):
    "`TASKS` tasks, each appending `APPENDS` messages tagged with its number to its session (task i to `sids[i % len(sids)]`)"
    async def one(i):
        s = await m.get_or_create(sids[i % len(sids)])
        for k in range(APPENDS): await s.add_message('user', f'{tag}{i}:{k}')
    await asyncio.gather(*[one(i) for i in range(TASKS)])

def _check(msgs_by_sid, sids, tag=''):
    for i in range(TASKS): check_order(msgs_by_sid[sids[i % len(sids)]], f'{tag}{i}', APPENDS)

@pytest.mark.parametrize('spread', ['one session', '200 sessions'])
def test_many_tasks_lose_nothing_and_keep_order(astore, spread):
    m = amgr(astore)
    sids = ['one'] if spread == 'one session' else [f's{i}' for i in range(TASKS)]
    async def go():
        await _tasks(m, sids)
        return {sid: await (await m.get_session(sid)).messages for sid in sids}
    got = run_async(go())
    _check(got, sids)
    assert sum(len(v) for v in got.values()) == TASKS * APPENDS

def _process(url, tag):
    async def go():
        async with aconnect(url) as m: await _tasks(m, ['shared'], tag)
    asyncio.run(go())

@pytest.mark.parametrize('kind', [k for k in KINDS if k != 'memory']) # the in-memory store lives in one process
def test_processes_with_their_own_loops(kind, tmp_path):
    "Three processes, each running `TASKS` tasks on a loop of its own, into one session"
    astore = Store(kind, tmp_path, 'async')
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing as mp
    with ProcessPoolExecutor(3, mp_context=mp.get_context('spawn')) as ex: list(ex.map(_process, [astore.url]*3, 'abc'))
    m = connect(astore.url)
    msgs = m['shared'].messages
    m.close()
    for t in 'abc': _check({'shared': msgs}, ['shared'], t)
    assert len(msgs) == 3 * TASKS * APPENDS
    astore.close()

# --- SQLite's group commit: calls queued together share one transaction, each in a savepoint of its own

class _Con:
    "A SQLite connection that counts its statements and can refuse the next group's COMMIT"
    def __init__(self, c, log, fail): self._c,self._log,self._fail = c,log,fail
    def __getattr__(self, name): return getattr(self._c, name)
    def execute(self, sql, *a):
        self._log.append(sql.split()[0])
        if sql == 'COMMIT' and self._fail and self._log.count('SAVEPOINT'):
            self._fail.pop(); import sqlite3; raise sqlite3.OperationalError('disk I/O error')
        return self._c.execute(sql, *a)

@pytest.mark.parametrize('fail', [False, True], ids=['commits', 'commit-fails'])
def test_sqlite_group_commit(tmp_path, monkeypatch, fail):
    "A failing call undoes only itself; a group whose commit fails runs its calls again one by one; every other message lands once, in order"
    st = Store('sqlite', tmp_path, 'async')
    m,log = amgr(st),[]
    con = m.store._con
    monkeypatch.setattr(m.store, '_con', lambda: _Con(con(), log, [1] if fail else []))
    async def go():
        s = await m.create_session('g')
        await s.add_message('user', 'first', id='dup')
        calls = [s.add_message('user', f'm{i}', id='dup' if i % 10 == 5 else None) for i in range(40)]
        res = await asyncio.gather(*calls, return_exceptions=True)
        return res,[x.content for x in await s.messages]
    res,got = run_async(go())
    assert [type(r).__name__ for r in res if isinstance(r, Exception)] == ['DuplicateMessageError'] * 4
    assert got == ['first'] + [f'm{i}' for i in range(40) if i % 10 != 5]
    assert log.count('SAVEPOINT') > 0 # calls did run in groups
    assert log.count('BEGIN') >= 40 if fail else log.count('BEGIN') < 40 # and, after a failed commit, one by one
    st.close()
