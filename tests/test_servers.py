"The shared-server stores (and SQLite, where it applies): several processes, server restarts, round trips, drivers."
import os, shutil, socket, subprocess, sys, time, pytest
from concurrent.futures import ProcessPoolExecutor
from chatstate import *
from conftest import Store, server_url, need_binary, check_order, IN_CI

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

def test_redis_restart_keeps_acknowledged_messages(tmp_path):
    server_url('redis')
    exe = need_binary('/usr/bin/redis-server', 'redis-server')
    port = free_port()
    args = [exe, '--port', str(port), '--bind', '127.0.0.1', '--dir', str(tmp_path), '--appendonly', 'yes', '--appendfsync', 'always', '--save', '']
    def start():
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        for _ in range(100):
            try: socket.create_connection(('127.0.0.1', port), 0.1).close(); return p
            except OSError: time.sleep(0.05)
        raise RuntimeError('redis did not start')
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
