"SQLite under several processes, a killed writer, and files it must refuse."
import os, signal, sqlite3, subprocess, sys, threading, time, pytest
from concurrent.futures import ProcessPoolExecutor
from chatstate import *
from conftest import check_order
from chatstate.sqlite import SCHEMA_VERSION

def _writer(url, sid, tag, n):
    "Append `n` messages tagged `tag`, in order; return how many returned"
    s = connect(url)[sid]
    for i in range(n): s.add_message('User', f'{tag}:{i}')
    return n

def test_processes_and_threads_into_one_session(tmp_path):
    url = f'sqlite:///{tmp_path}/c.db'
    m = connect(url)
    m.create_session('shared')
    P,N,T = 4,500,8
    with ProcessPoolExecutor(P) as ex:
        futs = [ex.submit(_writer, url, 'shared', f'p{p}', N) for p in range(P)]
        ths = [threading.Thread(target=_writer, args=(url, 'shared', f't{t}', N//5)) for t in range(T)]
        for t in ths: t.start()
        for t in ths: t.join()
        assert [f.result() for f in futs] == [N]*P
    msgs = connect(url)['shared'].messages
    assert len(msgs) == P*N + T*(N//5) == len(m['shared'])
    assert len({x.id for x in msgs}) == len(msgs)
    for p in range(P): check_order(msgs, f'p{p}', N)
    for t in range(T): check_order(msgs, f't{t}', N//5)

def test_processes_opening_a_new_file_at_once(tmp_path):
    "Several processes creating the schema of one new file at the same moment: no 'database is locked'"
    url = f'sqlite:///{tmp_path}/new.db'
    connect(f'sqlite:///{tmp_path}/warm.db')
    code = f"import sys; from chatstate import connect; m = connect({url!r}); m.get_or_create('s').add_message('User', sys.argv[1])"
    ps = [subprocess.Popen([sys.executable, '-c', code, str(i)], stderr=subprocess.PIPE, text=True) for i in range(6)]
    errs = [p.communicate()[1] for p in ps]
    assert [p.returncode for p in ps] == [0]*6, errs
    assert sorted(m.content for m in connect(url)['s']) == [str(i) for i in range(6)]

KILLED = '''
import sys
from chatstate import connect
s = connect(sys.argv[1]).get_or_create('victim')
p = s.add_message('Assistant', '', pending=True)
print('pending', p.id, flush=True)
i = 0
while True:
    m = s.add_message('User', f'm{i}')
    print('added', m.id, flush=True)
    s.append_chunk(p.id, f'c{i} ')
    print('chunk', i, flush=True)
    i += 1
'''

@pytest.mark.parametrize('synchronous', ['normal', 'full'])
def test_writer_killed_mid_stream(tmp_path, synchronous):
    url = f'sqlite:///{tmp_path}/k.db?synchronous={synchronous}'
    p = subprocess.Popen([sys.executable, '-c', KILLED, url], stdout=subprocess.PIPE, text=True)
    added,chunks,pid = [],[],None
    for line in p.stdout:
        kind,val = line.split()
        if kind == 'pending': pid = val
        elif kind == 'added': added.append(val)
        else: chunks.append(int(val))
        if len(chunks) >= 150: break
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    s = connect(url)['victim']
    ids = [m.id for m in s]
    assert ids[0] == pid and set(added) <= set(ids)
    assert ids[1:len(added)+1] == added
    pend = s[pid]
    assert pend.pending
    k = pend.content.count(' ')
    assert k >= len(chunks) and pend.content == ''.join(f'c{i} ' for i in range(k))
    assert [m.content for m in s][1:] == [f'm{i}' for i in range(len(s) - 1)]

def test_bad_files_left_unchanged(tmp_path):
    junk = tmp_path/'junk.db'; junk.write_bytes(b'SQLite format 2\x00' + os.urandom(2000))
    newer = tmp_path/'newer.db'
    con = sqlite3.connect(newer); con.execute('CREATE TABLE x(y)'); con.execute('PRAGMA user_version=99'); con.commit(); con.close()
    ro = tmp_path/'ro.db'
    connect(f'sqlite:///{ro}').create_session('kept').add_message('User', 'hi')
    ro.chmod(0o444)
    for path,text in ((junk, 'is not a SQLite database'), (newer, 'schema version 99, newer'), (ro, 'is read-only')):
        before = path.read_bytes()
        with pytest.raises(StoreError, match=text): connect(f'sqlite:///{path}')
        assert path.read_bytes() == before
    ro.chmod(0o644)
    assert connect(f'sqlite:///{ro}')['kept'][0].content == 'hi'

def test_migration_from_version_zero_keeps_other_tables(tmp_path):
    p = tmp_path/'app.db'
    con = sqlite3.connect(p); con.execute('CREATE TABLE users(name)'); con.execute("INSERT INTO users VALUES ('ann')"); con.commit(); con.close()
    connect(f'sqlite:///{p}').create_session('s')
    con = sqlite3.connect(p)
    assert con.execute('PRAGMA user_version').fetchone()[0] == SCHEMA_VERSION and con.execute('SELECT name FROM users').fetchall() == [('ann',)]

def test_fork_reopens_connection(tmp_path):
    m = connect(f'sqlite:///{tmp_path}/f.db')
    s = m.create_session('s')
    s.add_message('User', 'parent')
    pid = os.fork()
    if pid == 0:
        try: s.add_message('User', 'child'); os._exit(0)
        except BaseException: os._exit(1)
    _,status = os.waitpid(pid, 0)
    assert status == 0
    s.add_message('User', 'parent again')
    assert [x.content for x in s] == ['parent', 'child', 'parent again']
