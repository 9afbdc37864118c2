"The installed `chatstate` console script, run in a subprocess the way a user runs it."
from datetime import datetime
import json, os, pty, shutil, subprocess, sys, pytest
from chatstate import *
from conftest import server_url

EXE = shutil.which('chatstate')

def cs(*args, cwd=None, env=None, input=None):
    assert EXE, 'the chatstate console script is not installed: pip install -e .'
    r = subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, input=input, env={**os.environ, **(env or {})})
    assert 'Traceback' not in r.stderr, r.stderr
    return r

def test_readme_two_lines_on_the_default_store(tmp_path):
    env = {'CHATSTATE_URL': ''}
    r = cs('add', 'demo', 'Hello there', cwd=tmp_path, env=env)
    assert r.returncode == 0 and len(r.stdout.strip()) == 36
    r = cs('show', 'demo', cwd=tmp_path, env=env)
    assert r.returncode == 0 and r.stdout.splitlines()[1].endswith('user: Hello there')
    assert (tmp_path/'chatstate.db').exists()

def test_help_lists_commands_and_exit_codes():
    r = cs('--help')
    assert r.returncode == 0 and all(c in r.stdout for c in ('list', 'show', 'add', 'export', 'import', 'copy', 'delete', 'prune', 'exit codes'))
    r = cs('copy', '--help')
    assert r.returncode == 0 and 'Store URL to copy from' in r.stdout and '--on-conflict' in r.stdout

def test_add_show_list(tmp_path):
    url = f'sqlite:///{tmp_path}/c.db'
    cs('add', 'trip', 'Plan 3 days in Lisbon', '--title', 'Lisbon', '--store', url)
    cs('add', 'trip', 'Day 1: Alfama', '--role', 'assistant', '--pending', '--meta', '{"model": "m"}', '--store', url)
    for i in range(3): cs('add', f's{i}', 'x', '--store', url)
    out = cs('show', 'trip', '--store', url).stdout.splitlines()
    assert out[0].startswith('trip - Lisbon (2 messages') and out[2].endswith('assistant [streaming]: Day 1: Alfama')
    assert out[1].startswith(datetime.now().strftime('%Y-%m-%d')) # when the store added it
    js = json.loads(cs('show', 'trip', '--json', '--store', url).stdout)
    assert js['messages'][1]['metadata']['model'] == 'm' and js['messages'][1]['pending'] is True
    table = cs('list', '--store', url, '--limit', '2').stdout.splitlines()
    assert table[0].split() == ['ID', 'TITLE', 'MESSAGES', 'UPDATED', 'EXPIRES'] and table[1].startswith('s2') and table[-1] == '(more: --offset 2)'
    rows = [json.loads(l) for l in cs('list', '--json', '--store', url, '--order', 'created').stdout.splitlines()]
    assert [r['id'] for r in rows] == ['trip', 's0', 's1', 's2'] and rows[0]['messages'] == 2 and rows[0]['title'] == 'Lisbon'
    r = cs('add', 'trip', '-', '--store', url, input='from stdin\n')
    assert connect(url)['trip'][-1].content == 'from stdin\n'
    m = connect(url)
    m['trip'].fail(m['trip'][1].id, 'the model timed out'); m.close()
    assert cs('show', 'trip', '--store', url).stdout.splitlines()[2].endswith('assistant [failed: the model timed out]: Day 1: Alfama')

def test_export_import(tmp_path):
    a,b = f'sqlite:///{tmp_path}/a.db',f'sqlite:///{tmp_path}/b.db'
    m = connect(a)
    for i in range(5):
        s = m.create_session(f's{i}', metadata={'title': f'T{i}'})
        s.add_messages([Message('user', f'q{i}', metadata={'k': [i]}), Message('assistant', '', pending=True)])
    f = tmp_path/'dump.jsonl'
    assert cs('export', '--store', a, '--out', str(f)).returncode == 0
    assert len(f.read_text().splitlines()) == 5
    assert cs('import', str(f), '--store', b).returncode == 0
    assert [connect(b)[f's{i}'].to_dict() for i in range(5)] == [m[f's{i}'].to_dict() for i in range(5)]
    r = cs('import', str(f), '--store', b)
    assert r.returncode == 1 and "'s0' already exists" in r.stderr and 'nothing imported' in r.stderr
    assert cs('import', '-', '--store', b, '--on-conflict', 'skip', input=f.read_text()).stderr == 'imported 0 sessions, skipped 5\n'
    one = cs('export', 's1', 's3', '--store', a).stdout.splitlines()
    assert [json.loads(l)['session_id'] for l in one] == ['s1', 's3']

def test_corrupt_jsonl_imports_nothing(tmp_path):
    url = f'sqlite:///{tmp_path}/c.db'
    good = json.dumps({'session_id': 'ok', 'messages': [{'role': 'user', 'content': 'fine'}]})
    for bad,text in (('{"session_id": "x", "messages": [{"role": "user"}', 'line 3: '),
                     ('{"session_id": "x", "messages": [{"role": "user"}]}', "line 3: message dict has no 'content'"),
                     ('[1, 2]', "line 3: not a session object"),
                     ('{"session_id": "x", "metadata": {"a": NaN}}', 'line 3: ')):
        f = tmp_path/'in.jsonl'; f.write_text(good + '\n\n' + bad + '\n')
        r = cs('import', str(f), '--store', url)
        assert r.returncode == 4 and text in r.stderr and r.stderr.count('\n') == 1, r.stderr
        assert connect(url).list_sessions() == []

def test_copy_between_stores_whole_sessions(tmp_path):
    src,dst = f'sqlite:///{tmp_path}/src.db',f'sqlite:///{tmp_path}/dst.db'
    m = connect(src)
    for i in range(25):
        s = m.create_session(f's{i:02}', metadata={'title': f'T{i}'}, ttl=3600 if i % 5 == 0 else None)
        s.add_messages([Message('user', f'{i}:{j}') for j in range(i % 4)])
    connect(dst).create_session('s10').add_message('user', 'already here')
    r = cs('copy', src, dst, '--batch', '7')
    assert r.returncode == 1 and "'s10' already exists" in r.stderr and '\r' not in r.stderr
    d = connect(dst)
    assert d.list_sessions() == ['s10'] + [f's{i:02}' for i in range(10)]
    assert all(d[f's{i:02}'].to_dict() == m[f's{i:02}'].to_dict() for i in range(10))
    assert d['s10'][0].content == 'already here'
    assert cs('copy', src, dst, '--batch', '7', '--on-conflict', 'skip').returncode == 0
    assert sorted(d.list_sessions()) == sorted(m.list_sessions()) and d['s24'].to_dict() == m['s24'].to_dict()
    assert cs('copy', src, dst, '--on-conflict', 'replace').returncode == 0
    assert d['s10'].to_dict() == m['s10'].to_dict()

def test_copy_progress_only_on_a_terminal(tmp_path):
    src,dst = f'sqlite:///{tmp_path}/src.db',f'sqlite:///{tmp_path}/dst.db'
    m = connect(src)
    for i in range(30): m.create_session(f's{i}')
    master,slave = pty.openpty()
    p = subprocess.run([EXE, 'copy', src, dst, '--batch', '10'], stderr=slave, stdout=subprocess.PIPE)
    os.close(slave)
    out = os.read(master, 65536).decode(); os.close(master)
    assert p.returncode == 0 and '\rcopied 10/30 sessions' in out and 'copied 30/30' in out

@pytest.mark.parametrize('kind', ['redis', 'postgres'])
def test_copy_sqlite_to_server(kind, tmp_path):
    from conftest import Store
    st = Store(kind, tmp_path)
    try:
        src = f'sqlite:///{tmp_path}/src.db'
        m = connect(src)
        for i in range(12): m.create_session(f's{i}', metadata={'title': str(i)}, owner=f'u{i % 3}' if i % 4 else None).add_messages([Message('user', 'hi', metadata={'n': i})])
        assert cs('copy', src, st.url, '--batch', '5').returncode == 0
        dst = st.open()
        assert [dst[f's{i}'].to_dict() for i in range(12)] == [m[f's{i}'].to_dict() for i in range(12)] # owners included
        assert dst.list_sessions(owner='u1') == m.list_sessions(owner='u1') == ['s1', 's7', 's10']
        assert cs('list', '--store', st.url, '--json').returncode == 0
    finally: st.close()

def test_owners(tmp_path):
    url = f'sqlite:///{tmp_path}/c.db'
    for sid,who in [('a1', 'ana'), ('b1', 'bob'), ('a2', 'ana'), ('free', None)]:
        assert cs('add', sid, f'hi {sid}', '--store', url, *(['--owner', who] if who else [])).returncode == 0
    r = cs('list', '--owner', 'ana', '--store', url)
    assert r.returncode == 0 and [l.split()[0] for l in r.stdout.splitlines()] == ['ID', 'a2', 'a1'] and 'OWNER' not in r.stdout
    assert 'OWNER' in cs('list', '--store', url).stdout # a page of several owners' sessions says whose each is
    assert [json.loads(l)['owner'] for l in cs('list', '--json', '--order', 'created', '--store', url).stdout.splitlines()] == ['ana', 'bob', 'ana', None]
    out = cs('export', '--owner', 'ana', '--store', url).stdout
    assert [(json.loads(l)['session_id'], json.loads(l)['owner']) for l in out.splitlines()] == [('a1', 'ana'), ('a2', 'ana')]
    r = cs('export', 'b1', '--owner', 'ana', '--store', url)
    assert r.returncode == 1 and "no session 'b1' of owner 'ana'" in r.stderr and r.stdout == ''
    assert ', owner ana)' in cs('show', 'a1', '--store', url).stdout.splitlines()[0]
    assert cs('show', 'a1', '--owner', 'ana', '--store', url).returncode == 0
    r = cs('show', 'a1', '--owner', 'bob', '--store', url)
    assert (r.returncode, r.stdout) == (1, '') and "no session 'a1' of owner 'bob'" in r.stderr
    assert cs('delete', 'a1', '--owner', 'bob', '--store', url).returncode == 1 and 'a1' in connect(url)
    assert cs('delete', 'free', '--owner', 'bob', '--store', url).returncode == 1 and 'free' in connect(url)
    assert cs('add', 'b1', 'not yours', '--owner', 'ana', '--store', url).returncode == 1 and len(connect(url)['b1']) == 1
    assert cs('import', '-', '--store', f'sqlite:///{tmp_path}/d.db', input=out).returncode == 0
    assert connect(f'sqlite:///{tmp_path}/d.db').list_sessions(owner='ana') == ['a1', 'a2']
    r = cs('erase-owner', 'ana', '--store', url)
    assert (r.returncode, r.stderr) == (0, 'deleted 2 sessions of ana\n') and connect(url).list_sessions() == ['b1', 'free']
    assert cs('delete', 'b1', '--owner', 'bob', '--store', url).returncode == 0 and connect(url).list_sessions() == ['free']

def test_delete_prune(tmp_path):
    url = f'sqlite:///{tmp_path}/c.db'
    m = connect(url)
    m.create_session('old'); m.create_session('gone', expires_at=1); m.create_session('new')
    assert cs('delete', 'nope', '--store', url).returncode == 1
    assert cs('delete', 'new', '--store', url).returncode == 0 and 'new' not in m
    assert cs('prune', '--before', '2000-01-01', '--store', url).stderr == 'deleted 1 session\n'
    assert cs('prune', '--before', '2999-01-01', '--dry-run', '--store', url).stderr.startswith('would delete 1 session not')
    assert m.list_sessions() == ['old']
    assert cs('prune', '--before', '2999-01-01', '--store', url).returncode == 0 and m.list_sessions() == []

def test_errors_are_one_line_with_exit_codes(tmp_path):
    cases = [(('show', 'x', '--store', 'mysql://db'), 2, "unknown store URL 'mysql://db'"),
             (('show', 'x', '--store', 'sqlite://host/x.db'), 2, 'a SQLite URL has no host'),
             (('list', '--store', 'redis://127.0.0.1:1/0'), 3, 'unreachable'),
             (('list', '--store', 'postgresql://x@127.0.0.1:1/db'), 3, 'cannot reach PostgreSQL'),
             (('show', 'missing', '--store', f'sqlite:///{tmp_path}/c.db'), 1, "no session 'missing'"),
             (('list', '--store', f'sqlite:///{tmp_path}/nodir/c.db'), 3, 'cannot open'),
             (('add', 's', 'x', '--meta', '[1]', '--store', f'sqlite:///{tmp_path}/c.db'), 2, '--meta must be a JSON object'),
             (('frobnicate',), 2, "unknown command 'frobnicate'"),
             (('list', '--limit', 'ten'), 2, 'invalid int value')]
    (tmp_path/'junk.db').write_text('not a database')
    cases.append((('list', '--store', f'sqlite:///{tmp_path}/junk.db'), 3, 'is not a SQLite database'))
    for args,code,text in cases:
        r = cs(*args)
        assert (r.returncode, text in r.stderr) == (code, True), (args, r.returncode, r.stderr)
        assert len([l for l in r.stderr.splitlines() if l.startswith('chatstate')]) == 1

def test_missing_driver_names_the_extra(tmp_path):
    fake = tmp_path/'fake'; (fake/'redis').mkdir(parents=True)
    (fake/'redis'/'__init__.py').write_text("raise ImportError('No module named redis')\n")
    r = cs('list', '--store', 'redis://127.0.0.1:6379/0', env={'PYTHONPATH': str(fake)})
    assert r.returncode == 3 and 'pip install "chatstate[redis]"' in r.stderr

def test_show_marks_versions_and_export_keeps_every_branch(tmp_path):
    url = f'sqlite:///{tmp_path}/c.db'
    s = connect(url).create_session('b')
    q,a = s.add_messages([Message('user', 'q'), Message('assistant', 'a')])
    s.regenerate(a.id, 'a2', pending=False); s.edit(q.id, 'q2'); s.add_message('assistant', 'b'); s.switch(q.id)
    out = cs('show', 'b', '--store', url).stdout.splitlines()
    assert out[0].startswith('b (2 messages') and out[1].endswith('user (1 / 2): q') and out[2].endswith('assistant (2 / 2): a2')
    assert cs('show', 'b', '--tail', '1', '--store', url).stdout.splitlines()[1:] == out[2:]
    f = tmp_path/'out.jsonl'
    cs('export', '--store', url, '--out', str(f))
    url2 = f'sqlite:///{tmp_path}/d.db'
    cs('import', str(f), '--store', url2)
    t = connect(url2)['b'].tree()
    assert [m.content for m in t.messages] == ['q', 'a', 'a2', 'q2', 'b'] and [m.content for m in t.active] == ['q', 'a2']
    assert cs('copy', url, f'sqlite:///{tmp_path}/e.db').returncode == 0 and len(connect(f'sqlite:///{tmp_path}/e.db')['b'].tree().messages) == 5
    connect(url)['b'].summarize(q.id, 'A question.')
    out = cs('show', 'b', '--store', url).stdout.splitlines()
    assert out[2] == '[summary of the above, sent to the model in its place: A question.]' and out[3].endswith('assistant (2 / 2): a2')
