"""Redis and PostgreSQL stores: speed as ratios against raw redis-py / psycopg doing the same work, same process.

Needs the servers: eval "$(bash scripts/services.sh start)", then: python bench/bench_servers.py [--rounds 5]"""
import argparse, json, os, sys, time, uuid
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import row, sample_messages
from chatstate import Message, new_id
from chatstate.redis import RedisSessionManager
from chatstate.postgres import PostgresSessionManager

def bench_redis(url, rounds, n_app=1000, n_load=10_000):
    m = RedisSessionManager(url, prefix=f'bench-{new_id()[:8]}:')
    r = m.r
    s = m.create_session('s')
    key = f'{m.prefix}raw'
    def ours():
        for i in range(n_app): s.add_message('User', 'hello there')
    def raw():
        for i in range(n_app): r.rpush(key, json.dumps({'id': str(uuid.uuid4()), 'role': 'User', 'content': 'hello there', 'created': time.time()}))
    row(f'redis: append x{n_app}, ms', ours, raw, rounds, 1.3)
    big = m.create_session('big')
    big.add_messages(sample_messages(n_load))
    r.delete(key); r.rpush(key, *[json.dumps({**x.to_dict(nested=True), 'created': x.created, 'ended': x.ended}) for x in big.messages])
    def load(): assert len(big.messages) == n_load
    def raw_load(): assert len([json.loads(o) for o in r.lrange(key, 0, -1)]) == n_load
    row(f'redis: load {n_load:,} messages, ms', load, raw_load, rounds, 1.5)
    for k in r.scan_iter(f'{m.prefix}*'): r.delete(k)
    m.close()

def bench_postgres(url, rounds, n_app=1000, n_load=10_000):
    import psycopg
    schema = f'bench_{new_id()[:8]}'
    m = PostgresSessionManager(url, schema=schema)
    s = m.create_session('s')
    raw = psycopg.connect(url, autocommit=True)
    raw.execute(f'CREATE TABLE "{schema}".raw(session TEXT, seq BIGINT, id TEXT, role TEXT, content TEXT, at DOUBLE PRECISION, PRIMARY KEY(session, seq))')
    seq = [0]
    def ours():
        for i in range(n_app): s.add_message('User', 'hello there')
    def base():
        for i in range(n_app):
            seq[0] += 1
            raw.execute(f'INSERT INTO "{schema}".raw VALUES (%s, %s, %s, %s, %s, %s)', ('s', seq[0], str(uuid.uuid4()), 'User', 'hello there', time.time()))
    row(f'postgres: append x{n_app} (one commit each), ms', ours, base, rounds, 1.3)
    big = m.create_session('big')
    big.add_messages(sample_messages(n_load))
    q = f'''SELECT m.role, m.content, m.id, m.pending, m.metadata, m.at, m.ended, m.st, m.error, m.pending AND COALESCE(m.expires, 0) <= date_part('epoch', statement_timestamp())
            FROM "{schema}".chatstate_messages m JOIN "{schema}".chatstate_sessions s ON m.session = s.pk WHERE s.id = %s ORDER BY m.seq''' # each message with its times and state
    def load(): assert len(big.messages) == n_load
    def raw_load(): assert len([(r, c, i, p, json.loads(md) if md else {}, (at, en, st, er, la)) for r,c,i,p,md,at,en,st,er,la in raw.execute(q, ('big',)).fetchall()]) == n_load
    row(f'postgres: load {n_load:,} messages, ms', load, raw_load, rounds, 1.5)
    raw.execute(f'DROP SCHEMA "{schema}" CASCADE'); raw.close(); m.close()

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--rounds', type=int, default=9)
    a = p.parse_args()
    print(f'chatstate server stores vs the raw drivers, run alternately, {a.rounds} rounds: median times and median ratio')
    print(f'{"measure":<46} {"chatstate":>10} {"raw":>10} {"ratio":>8}')
    bench_redis(os.environ.get('CHATSTATE_TEST_REDIS', 'redis://127.0.0.1:6390/0'), a.rounds)
    bench_postgres(os.environ.get('CHATSTATE_TEST_POSTGRES', 'postgresql://postgres@127.0.0.1:5440/postgres'), a.rounds)
