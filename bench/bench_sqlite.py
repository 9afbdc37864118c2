"""SQLite store: speed as ratios against raw sqlite3 doing the same work on the same pragmas, in the same process.

Run: python bench/bench_sqlite.py [--rounds 5]"""
import argparse, json, os, sqlite3, sys, tempfile, time, uuid
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import row, sample_messages, timed
from pathlib import Path
from chatstate import SQLiteSessionManager, Message
from chatstate.sqlite import WAL_PAGES

def raw_con(path):
    c = sqlite3.connect(path, isolation_level=None)
    c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA synchronous=NORMAL')
    c.execute(f'PRAGMA wal_autocheckpoint={WAL_PAGES}') # the store's own checkpoint interval
    return c

def bench_append(d, n, rounds):
    m = SQLiteSessionManager(d/'a.db')
    s = m.create_session('s')
    same = raw_con(d/'a.db')
    same.execute("INSERT INTO chatstate_sessions(id, metadata, created, updated) VALUES ('raw', '{}', 0, 0)")
    bare = raw_con(d/'bare.db')
    bare.execute('CREATE TABLE raw(session TEXT, seq INTEGER, id TEXT, role TEXT, content TEXT, PRIMARY KEY(session, seq)) WITHOUT ROWID')
    seq = [0]
    def ours():
        for i in range(n): s.add_message('User', 'hello there')
    def raw_same(): # the same work by hand: move the session's counters and insert the row, in one write transaction
        for i in range(n):
            now = time.time()
            same.execute('BEGIN IMMEDIATE')
            pk,seq = same.execute("""UPDATE chatstate_sessions SET next_seq = next_seq + 1, n = n + 1, updated = ?
                                     WHERE id = 'raw' AND (expires_at IS NULL OR expires_at > ?) RETURNING pk, next_seq""", (now, now)).fetchone()
            same.execute("INSERT INTO chatstate_messages(session, seq, id, role, content, pending, metadata, at, ended) VALUES (?, ?, ?, 'User', 'hello there', 0, NULL, ?, ?)",
                         (pk, seq, str(uuid.uuid4()), now, now))
            same.execute('COMMIT')
    def raw_bare():
        for i in range(n):
            seq[0] += 1
            bare.execute('INSERT INTO raw VALUES (?,?,?,?,?)', ('s', seq[0], str(uuid.uuid4()), 'User', 'hello there'))
    row(f'durable append x{n} (one commit each), ms', ours, raw_same, rounds, 1.3)
    row(f'  the same, vs a bare one-table INSERT (no id index, no counters)', ours, raw_bare, rounds)

def fill(path, sid, n):
    m = SQLiteSessionManager(path)
    s = m.create_session(sid)
    B = 1000
    for i in range(0, n, B):
        s.add_messages(sample_messages(min(B, n-i), i))
    m.close()

def bench_load(d, n, rounds):
    path = d/f'load{n}.db'
    fill(path, 's', n)
    def ours():
        m = SQLiteSessionManager(path)
        msgs = m['s'].messages
        m.close()
        assert len(msgs) == n
    def base():
        c = raw_con(path)
        rows = c.execute('''SELECT m.role, m.content, m.id, m.pending, m.metadata, m.at, m.ended, m.st, m.error, m.pending AND COALESCE(m.expires, 0) <= ?
                            FROM chatstate_messages m JOIN chatstate_sessions s ON m.session = s.pk WHERE s.id=? ORDER BY m.seq''', (time.time(), 's')).fetchall()
        msgs = [(r, ct, i, bool(p), json.loads(md) if md else {}, (at, en, st, er, la)) for r,ct,i,p,md,at,en,st,er,la in rows] # a message, its times and state
        c.close()
        assert len(msgs) == n
    row(f'reopen and load a {n:,}-message session, ms', ours, base, rounds, 1.3)
    return path

def bench_tail(d, rounds):
    print('\ntail(50): milliseconds, flat as the session grows')
    for n in (1_000, 10_000, 100_000):
        path = d/f'load{n}.db'
        if not path.exists(): fill(path, 's', n)
        s = SQLiteSessionManager(path)['s']
        t = timed(lambda: [s.tail(50) for _ in range(100)], rounds) / 100
        print(f'  {n:>7,} messages: {t*1e3:.3f} ms')

def bench_list(d, rounds, n=10_000):
    path = d/'many.db'
    m = SQLiteSessionManager(path)
    for i in range(n): m.create_session(f's{i}', metadata={'title': f'Chat {i}'})
    for i in range(0, n, 7): m[f's{i}'].add_message('User', f'hello {i}')
    stmts = []
    m._con().set_trace_callback(stmts.append)
    res = m.sessions()
    m._con().set_trace_callback(None)
    t = timed(m.sessions, rounds)
    print(f'\nlist {n:,} sessions with summaries: {t*1e3:.1f} ms, {len(stmts)} SQL statement(s); first page of 20: '
          f'{timed(lambda: m.sessions(limit=20), rounds)*1e3:.2f} ms')
    assert len(res) == n

def main(rounds=5):
    d = Path(tempfile.mkdtemp())
    print(f'chatstate SQLite store vs raw sqlite3 (WAL, synchronous=NORMAL), run alternately, {rounds} rounds: median times and ratio')
    print(f'{"measure":<52} {"chatstate":>10} {"raw":>10} {"ratio":>8}')
    print('(raw: sqlite3 doing the same work on the same schema, one commit per append)')
    bench_append(d, 2000, rounds)
    bench_load(d, 2_000, rounds)
    bench_load(d, 100_000, rounds)
    bench_tail(d, rounds)
    bench_list(d, rounds)
    for f in d.iterdir(): f.unlink()
    d.rmdir()

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--rounds', type=int, default=5)
    main(p.parse_args().rounds)
