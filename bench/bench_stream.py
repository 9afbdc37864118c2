"""Streaming a reply through the helper: how many writes a 200-chunk reply over 2 s takes (target <= 12), and the helper's time in the
store against the same number of writes made directly at the same pace (append_chunk of the same texts a quarter of a second apart,
then finalize), median of rounds run alternately (target <= 1.2x). Needs the servers for Redis and PostgreSQL: eval "$(bash scripts/services.sh start)", then:
python bench/bench_stream.py [--rounds 3]"""
import argparse, os, statistics, tempfile, time, uuid
from chatstate import *
from chatstate.stream import ReplyStream

REDIS = os.environ.get('CHATSTATE_TEST_REDIS', 'redis://127.0.0.1:6390/0')
PG = os.environ.get('CHATSTATE_TEST_POSTGRES', 'postgresql://postgres@127.0.0.1:5440/postgres')

def model(n=200, pause=0.01):
    for i in range(n): time.sleep(pause); yield f'token{i} '

class Timed(ReplyStream):
    "The helper, noting its time in the store and what it wrote"
    spent,texts = 0.0,None
    def _write(self, f, *args, **kw):
        t = time.perf_counter()
        try: return super()._write(f, *args, **kw)
        finally: self.spent += time.perf_counter() - t
    def _flush(self):
        if self._buf: self.texts.append(''.join(self._buf))
        super()._flush()

def one(m):
    s = m.create_session(f'b-{uuid.uuid4().hex[:8]}')
    rs = Timed(s, model(), None, 'w', 0.25, 2000, False, 'assistant', None)
    rs.texts = []
    for _ in rs: pass
    assert rs.message.content == ''.join(f'token{i} ' for i in range(200))
    r = s.add_message('assistant', '', pending=True, writer='w') # the same writes, made directly, at the same pace
    spent = 0.0
    for x in rs.texts + [None]:
        time.sleep(0.25)
        t = time.perf_counter()
        if x is None: s.finalize(r.id, writer='w')
        else: s.append_chunk(r.id, x, writer='w')
        spent += time.perf_counter() - t
    return rs.writes, rs.spent, spent

def main(rounds):
    d = tempfile.mkdtemp()
    stores = {'memory': 'memory://', 'sqlite': f'sqlite:///{d}/s.db', 'redis': REDIS + f'?prefix=bs-{uuid.uuid4().hex[:8]}:',
              'postgres': PG + f'?schema=bs_{uuid.uuid4().hex[:8]}'}
    print(f'a 200-chunk reply over 2 s, streamed through stream_reply (every=0.25 s): {rounds} rounds, medians')
    print(f'{"store":<10} {"writes":>7} {"helper in store":>16} {"direct":>9} {"ratio":>7}')
    for k,url in stores.items():
        m = connect(url)
        res = [one(m) for _ in range(rounds)]
        w,a,b = (statistics.median(x) for x in zip(*res))
        ok = 'ok' if w <= 12 and a / b <= 1.2 else 'MISSED'
        print(f'{k:<10} {w:>7.0f} {a*1e3:>13.2f} ms {b*1e3:>6.2f} ms {a/b:>6.2f}x  (targets: <= 12 writes, <= 1.2x) {ok}')
        if k == 'redis':
            for key in m.r.scan_iter(match=m.prefix + '*'): m.r.delete(key)
        if k == 'postgres':
            with m._conn() as c: c.execute(f'DROP SCHEMA "{m.schema}" CASCADE')
        m.close()

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--rounds', type=int, default=3)
    main(p.parse_args().rounds)
