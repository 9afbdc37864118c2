"The shared-server stores (and SQLite, where it applies): several processes, server restarts, round trips, drivers."
import os, shutil, socket, subprocess, sys, time, pytest
from concurrent.futures import ProcessPoolExecutor
from chatstate import *
from conftest import Store, Sync, APIS, server_url, need_binary, check_order, IN_CI, run_async

DURABLE = ['sqlite', 'redis', 'postgres']

def _worker(url, sid, tag, n, ids):
    "Append `n` messages tagged `tag`; edit and delete the messages `ids` (not this worker's) as it goes"
    s = connect(url)[sid]
    for i in range(n):
        s.add_message('User', f'{tag}:{i}')
        if i % 50 == 0 and ids:
            mid = ids.pop()
            s.update(mid, content=f'edited by {tag}')
            if i % 100 == 0: s.delete(mid)
    return n

@pytest.mark.parametrize('kind', DURABLE)
def test_four_processes_with_updates_and_deletes(kind, tmp_path):
    st = Store(kind, tmp_path)
    try:
        m = st.open()
        s = m.create_session('shared')
        seeds = s.add_messages([Message('System', f'seed {i}') for i in range(40)])
        P,N = 4,500
        groups = [[x.id for x in seeds[p::P]] for p in range(P)]
        with ProcessPoolExecutor(P) as ex:
            assert list(ex.map(_worker, [st.url]*P, ['shared']*P, [f'p{p}' for p in range(P)], [N]*P, groups)) == [N]*P
        msgs = st.open()['shared'].messages
        mine = [x for x in msgs if x.role == 'User']
        assert len(mine) == P*N and len({x.id for x in msgs}) == len(msgs) == len(s)
        for p in range(P): check_order(mine, f'p{p}', N)
        system = [x for x in msgs if x.role == 'System']  # each worker edited 10 seeds and deleted 5 of them
        assert len(system) == 20 and all(x.content.startswith('edited by p') for x in system)
    finally: st.close()

# --- round trips: constant, whatever the session's length

class Counter:
    def __init__(self): self.n = 0

def count_redis(m, monkeypatch):
    c,orig = Counter(),m.r.execute_command
    def counted(*a, **k):
        c.n += 1
        return orig(*a, **k)
    monkeypatch.setattr(m.r, 'execute_command', counted)
    return c

def count_postgres(m, monkeypatch):
    import psycopg
    c = Counter()
    for cls in (psycopg.Cursor,):  # Connection.execute goes through Cursor.execute
        orig = cls.execute
        def counted(self, *a, _orig=orig, **k):
            c.n += 1
            return _orig(self, *a, **k)
        monkeypatch.setattr(cls, 'execute', counted)
    return c

@pytest.mark.parametrize('kind', ['redis', 'postgres'])
def test_round_trips(kind, tmp_path, monkeypatch):
    st = Store(kind, tmp_path)
    try:
        m = st.open()
        for n in (10, 3000):
            s = m.create_session(f'rt{n}')
            s.add_messages([Message('User', str(i)) for i in range(n)])
            last = s.add_message('User', 'warm up')
            s.messages; s.tail(5); s.tail(5, before=last.id); s.get(last.id)
            c = (count_redis if kind == 'redis' else count_postgres)(m, monkeypatch)
            for what,f in [('append', lambda: s.add_message('User', 'x')), ('load', lambda: s.messages), ('tail', lambda: s.tail(50)),
                           ('tail before', lambda: s.tail(50, before=last.id)), ('get', lambda: s.get(last.id)),
                           ('stream a chunk', lambda: s.append_chunk(s.add_message('Assistant', '', pending=True).id, 'c') and None)]:
                c.n = 0
                f()
                assert c.n == (2 if what == 'stream a chunk' else 1), f'{what} on {n} messages took {c.n} round trips'
            monkeypatch.undo()
    finally: st.close()

# --- a missing driver names the extra to install

@pytest.mark.parametrize('mod,url,extra', [('redis', 'redis://127.0.0.1:1/0', 'chatstate[redis]'),
                                           ('psycopg', 'postgresql://x@127.0.0.1:1/db', 'chatstate[postgres]')])
def test_missing_driver(mod, url, extra, monkeypatch):
    monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(MissingDriverError, match=extra.replace('[', r'\[').replace(']', r'\]')) as e: connect(url)
    assert isinstance(e.value, ImportError)

def test_unreachable_servers_are_store_errors():
    with pytest.raises(StoreError, match='unreachable'): connect('redis://127.0.0.1:1/0').create_session('x')
    with pytest.raises(StoreError, match='cannot reach PostgreSQL'): connect('postgresql://nobody@127.0.0.1:1/db?connect_timeout=1')

# --- a server restarted between two appends

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def start_redis(tmp_path, port, *options):
    "A redis-server of its own on `port`, keeping its files in `tmp_path`, once it takes connections"
    server_url('redis')
    exe = need_binary('/usr/bin/redis-server', 'redis-server')
    p = subprocess.Popen([exe, '--port', str(port), '--bind', '127.0.0.1', '--dir', str(tmp_path), '--save', '', *options],
                         stdout=subprocess.DEVNULL)
    for _ in range(100):
        try: socket.create_connection(('127.0.0.1', port), 0.1).close(); return p
        except OSError: time.sleep(0.05)
    raise RuntimeError('redis did not start')

def test_redis_restart_keeps_acknowledged_messages(tmp_path):
    port = free_port()
    start = lambda: start_redis(tmp_path, port, '--appendonly', 'yes', '--appendfsync', 'always')
    p = start()
    try:
        m = connect(f'redis://127.0.0.1:{port}/0')
        s = m.create_session('r')
        a = s.add_message('User', 'before the restart')
        p.terminate(); p.wait()
        with pytest.raises(StoreError, match='unreachable'): s.add_message('User', 'while down')
        p = start()
        b = s.add_message('User', 'after the restart')
        assert s.messages == [a, b]
    finally: p.terminate(); p.wait()

def test_redis_a_cancelled_big_write_is_sent_whole_and_lands(tmp_path):
    "A write too big for the socket's buffers, cancelled while the server reads nothing, is still sent whole and lands; then the task ends cancelled"
    import asyncio, signal
    port = free_port()
    p = start_redis(tmp_path, port, '--appendonly', 'no')
    try:
        async def go():
            async with aconnect(f'redis://127.0.0.1:{port}/0') as m:
                s = await m.create_session('big')
                p.send_signal(signal.SIGSTOP) # the server reads nothing: the command waits in the client's buffer
                t = asyncio.ensure_future(s.add_message('user', 'x' * 32_000_000, id='big'))
                await asyncio.sleep(0.3); t.cancel()
                await asyncio.sleep(0.2)
                waited = not t.done() # the cancellation waits for the command to be sent and answered
                p.send_signal(signal.SIGCONT)
                with pytest.raises(asyncio.CancelledError): await t
                return waited, len((await s['big']).content), await s.count()
        assert run_async(go()) == (True, 32_000_000, 1)
    finally:
        p.send_signal(signal.SIGCONT); p.terminate(); p.wait()

def test_postgres_restart_keeps_acknowledged_messages(tmp_path):
    server_url('postgres')
    bindir = os.path.dirname(need_binary('/usr/lib/postgresql/*/bin/pg_ctl', 'PostgreSQL'))
    import tempfile
    from pathlib import Path
    data = Path(tempfile.mkdtemp(prefix='chatstate-pg-'))  # not under pytest's tmp_path, which the postgres user cannot enter
    root = os.geteuid() == 0
    if root: shutil.chown(data, 'postgres')
    def pg(*a): subprocess.run((['runuser', '-u', 'postgres', '--'] if root else []) + [f'{bindir}/{a[0]}', *a[1:]], check=True, capture_output=True)
    port = free_port()
    pg('initdb', '-D', str(data), '-U', 'postgres', '-A', 'trust')
    start = lambda: pg('pg_ctl', '-D', str(data), '-w', '-l', str(data/'log'), '-o', f'-p {port} -k {data} -c listen_addresses=127.0.0.1', 'start')
    start()
    try:
        m = connect(f'postgresql://postgres@127.0.0.1:{port}/postgres')
        s = m.create_session('r')
        a = s.add_message('User', 'before the restart')
        pg('pg_ctl', '-D', str(data), '-w', '-m', 'fast', 'stop')
        with pytest.raises(StoreError): s.add_message('User', 'while down')
        start()
        b = s.add_message('User', 'after the restart')
        assert s.messages == [a, b]
        m.close()
    finally:
        pg('pg_ctl', '-D', str(data), '-w', '-m', 'immediate', 'stop')
        shutil.rmtree(data, ignore_errors=True)

# --- Redis: a key of the wrong type is refused before a script writes anything

def redis_snapshot(r, prefix):
    return {k: (r.type(k), r.dump(k)) for k in r.scan_iter(match=prefix + '*', count=1000)}

def test_redis_wrong_type_keys_change_nothing(tmp_path):
    st = Store('redis', tmp_path)
    try:
        m = st.open()
        s = m.create_session('s', metadata={'t': 1}, ttl=3600)
        s.add_messages([Message('user', 'q', id='q', metadata={'k': 1}), Message('assistant', '', id='p', pending=True)])
        r,keys = m.r,m._keys('s')
        ops = [lambda: m.create_session('new'), lambda: m.create_session('s2', ttl=5), lambda: s.add_message('user', 'x'),
               lambda: s.add_messages([Message('user', 'a'), Message('user', 'b')]), lambda: s.append_chunk('p', 'x'),
               lambda: s.update('q', content='c'), lambda: s.update_message_metadata('q', z=1), lambda: s.finalize('p', metadata={'u': 1}),
               lambda: s.delete('q'), lambda: s.pop(), lambda: s.truncate_after('q'), lambda: s.update_metadata(x=1),
               lambda: s.expire(ttl=10), lambda: m.delete_session('s'), lambda: m.import_session({'session_id': 's'}, on_conflict='replace'),
               lambda: m.purge_expired(), lambda: m.sessions(), lambda: len(m), lambda: s.messages,
               lambda: s.set_records({'k': 1}), lambda: s.records()]
        refused = 0
        for key in keys:
            saved = r.dump(key) if r.exists(key) else None
            ttl = r.pttl(key)
            r.delete(key); r.set(key, 'not-chatstate') if key != keys[7] else r.rpush(key, 'x')
            for op in ops:
                before = redis_snapshot(r, st.prefix)
                try: op()
                except ChatStateError as e:
                    assert isinstance(e, (StoreError, NotFoundError)), e
                    assert redis_snapshot(r, st.prefix) == before, (key, e)
                    refused += 1
                    continue
                # the op did not touch that key: undo it, so the next op starts from the same store
                for k in r.scan_iter(match=st.prefix + '*'): r.delete(k)
                for k,(t,v) in before.items(): r.restore(k, 0, v, replace=True)
            r.delete(key)
            if saved is not None: r.restore(key, max(ttl, 0), saved, replace=True)
        assert refused >= len(keys)
        assert 'new' not in m and m['s'].metadata == {'t': 1} and [x.id for x in m['s']] == ['q', 'p']
    finally: st.close()

def test_redis_unlists_an_expired_session_once(tmp_path):
    st = Store('redis', tmp_path)
    try:
        m = st.open()
        for i in range(20): m.create_session(f'e{i}', ttl=0.1)
        m.create_session('live')
        time.sleep(0.2)
        assert m.r.zcard(m._idx[0]) == 21 and len(m) == 1
        assert [i.session_id for i in m.sessions(limit=5)] == ['live']
        assert m.r.zcard(m._idx[0]) == 1 and m.r.zcard(m._idx[1]) == 1 and len(m) == 1
        assert m.purge_expired() == 20 and m.r.exists(m._idx[4]) == 0
    finally: st.close()

# --- no call hangs: a server that accepts and never answers ends in StoreTimeoutError

import threading as _threading

class BlackHole:
    "A TCP server on loopback that accepts connections and never says a word"
    def __enter__(self):
        self.s = socket.socket(); self.s.bind(('127.0.0.1', 0)); self.s.listen(16); self.port = self.s.getsockname()[1]
        self.conns,self.stop = [],_threading.Event()
        def accept():
            self.s.settimeout(0.1)
            while not self.stop.is_set():
                try: self.conns.append(self.s.accept()[0])
                except OSError: pass
        self.t = _threading.Thread(target=accept, daemon=True); self.t.start()
        return self
    def __exit__(self, *a):
        self.stop.set(); self.t.join()
        for c in self.conns: c.close()
        self.s.close()

@pytest.mark.parametrize('kind', ['redis', 'postgres'])
def test_a_silent_server_times_out(kind):
    with BlackHole() as bh:
        url = f'redis://127.0.0.1:{bh.port}/0?timeout=1' if kind == 'redis' else f'postgresql://u@127.0.0.1:{bh.port}/db?timeout=1'
        t0 = time.monotonic()
        with pytest.raises(StoreTimeoutError) as e: connect(url).create_session('x')
        assert isinstance(e.value, TimeoutError) and time.monotonic() - t0 < 8

def opened(st, api, options:str):
    "A manager of store `st` for `api`, its URL with `options` added, closed with the store"
    url = st.url + options
    m = connect(url) if api == 'sync' else Sync(run_async(aconnect(url)._open()))
    st.mgrs.append(m)
    return m

@pytest.mark.parametrize('api', APIS)
def test_postgres_frozen_backend_and_held_lock_time_out(tmp_path, api):
    import signal, psycopg
    st = Store('postgres', tmp_path, api)
    try:
        m = opened(st, api, '&timeout=1')
        s = m.create_session('s')
        with psycopg.connect(server_url('postgres')) as other: # holds the session's row lock in an open transaction
            other.execute(f'SELECT 1 FROM "{st.schema}".chatstate_sessions WHERE id = %s FOR UPDATE', ('s',))
            t0 = time.monotonic()
            with pytest.raises(StoreTimeoutError, match='did not answer within 1 s'): s.add_message('user', 'waits for the lock')
            assert time.monotonic() - t0 < 5
        assert s.add_message('user', 'after').content == 'after'
        # the backends of the connections the next call may take (the async API's statements go to libpq without psycopg)
        pids = [c.info.backend_pid for c in (m.pool.idle if api == 'sync' else m._o.store._ap.idle)]
        for pid in pids: os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            with pytest.raises(StoreTimeoutError, match='did not answer within 1 s'): len(s)
            assert time.monotonic() - t0 < 8
        finally:
            for pid in pids: os.kill(pid, signal.SIGCONT)
        assert len(s) == 1
        assert s.add_message('user', 'after it').content == 'after it' and len(s) == 2
    finally: st.close()

@pytest.mark.parametrize('api', APIS)
def test_redis_held_write_times_out_then_the_next_call_gets_its_own_answer(tmp_path, api):
    import redis
    st = Store('redis', tmp_path, api)
    try:
        m = opened(st, api, '&timeout=0.5')
        s = m.create_session('s')
        s.add_message('user', 'first')
        other = redis.Redis.from_url(server_url('redis'))
        other.client_pause(1500, all=False) # the server holds every write for 1.5 s
        try:
            t0 = time.monotonic()
            with pytest.raises(StoreTimeoutError, match='did not answer within 0.5 s; the write may or may not have been applied'):
                s.add_message('user', 'held', id='held')
            assert time.monotonic() - t0 < 1.4
        finally: other.client_unpause(); other.close()
        # the late answer to the held write never reaches the next call: its connection was dropped
        assert s.add_message('user', 'after', id='after').content == 'after'
        ids = [x.id for x in s.messages]
        assert ids[-1] == 'after' and ids[:-1] in ([s.messages[0].id], [s.messages[0].id, 'held']) and len(s) == len(ids)
    finally: st.close()

# --- PostgreSQL: tables changed underneath are a StoreError that says so

def test_postgres_schema_changed_underneath(tmp_path):
    st = Store('postgres', tmp_path)
    try:
        m = st.open()
        m.create_session('s').add_message('user', 'x')
        T = f'"{st.schema}".chatstate'
        with m._conn() as c: c.execute(f"COMMENT ON TABLE {T}_sessions IS 'chatstate schema 99'")
        with pytest.raises(StoreError, match='schema version 99, newer than this chatstate knows'): connect(st.url)
        with m._conn() as c: c.execute(f"COMMENT ON TABLE {T}_sessions IS 'a table of my own'")
        with pytest.raises(StoreError, match='is not a chatstate table'): connect(st.url)
        with m._conn() as c: c.execute(f"COMMENT ON TABLE {T}_sessions IS 'chatstate schema 2'")
        with m._conn() as c: c.execute(f'ALTER TABLE {T}_messages DROP COLUMN pending CASCADE') # its search words go too
        with pytest.raises(StoreError, match="has no column 'pending'"): connect(st.url)
        with pytest.raises(StoreError, match='changed outside chatstate'): m['s'].messages
        with m._conn() as c: c.execute(f'DROP TABLE {T}_messages CASCADE') # the summaries' key on it goes too
        with pytest.raises(StoreError, match='is missing'): connect(st.url)
        with pytest.raises(StoreError, match='changed outside chatstate'): m['s'].add_message('user', 'y')
    finally: st.close()

# --- Redis: a call that finds every pooled connection busy waits, then says so

def test_redis_pool_waits_then_times_out(tmp_path):
    import asyncio
    from conftest import run_async
    st = Store('redis', tmp_path)
    url = f'{st.url}&pool_size=1&timeout=0.5'
    m = connect(url)
    try:
        s = m.create_session('p')
        held = m.r.connection_pool.get_connection()
        with pytest.raises(StoreTimeoutError, match='all 1 Redis connections .* stayed busy for 0.5 s'): s.add_message('user', 'x')
        m.r.connection_pool.release(held)
        assert len(s) == 0 and s.add_message('user', 'y').content == 'y'
        async def go():
            async with aconnect(url) as am:
                a = await am['p']
                await asyncio.gather(*[a.add_message('user', str(i)) for i in range(50)]) # 50 tasks queue for one connection
                await am.store._places.acquire() # the one place is taken
                with pytest.raises(StoreTimeoutError, match='all 1 Redis connections .* stayed busy'): await a.count()
                am.store._places.release()
                return await a.count()
        assert run_async(go()) == 51
    finally: m.close(); st.close()
