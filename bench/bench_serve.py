"""`chatstate serve`'s server time per request: the sidebar's first page (50 sessions) on a store of 1k and of 100k sessions, and the page
of a 5,000-message conversation. Each request goes through the whole app in process (the lock, the store's async API, the rendering;
sent by `starlette.testclient`, no sockets), timed inside the server from its arrival to its response's last byte; the raw baseline, run alternately in the same process, is the store call the page is built on
(`sessions(limit=51)`, and the conversation's `tree()`), so the ratio is what the page adds: the async API's hop to the store's
threads, and the rendering. Flat: the sidebar's time at 100k over
its time at 1k. Medians of rounds, ms.

Needs the serve extra. Run: python bench/bench_serve.py [--store sqlite|postgres|redis] [--sessions 100000] [--rounds 15]"""
import argparse, os, statistics, sys, tempfile, time, uuid
sys.path.insert(0, os.path.dirname(__file__))
from benchutil import sample_messages
from chatstate import *
from chatstate.serve import serve_app, PAGE
from starlette.testclient import TestClient

def url_for(kind, d):
    if kind == 'sqlite': return f'sqlite:///{d}/serve.db'
    if kind == 'redis': return os.environ.get('CHATSTATE_TEST_REDIS', 'redis://127.0.0.1:6390/0') + f'?prefix=serve-{uuid.uuid4().hex[:8]}:'
    return os.environ.get('CHATSTATE_TEST_POSTGRES', 'postgresql://postgres@127.0.0.1:5440/postgres') + f'?schema=serve_{uuid.uuid4().hex[:8]}'

def fill(m, start, n):
    "Sessions `start`..`start+n`, each a question and an answer, imported one by one"
    now = time.time()
    for i in range(start, start + n):
        m.import_session(dict(session_id=f's{i:06}', metadata={'title': f'chat {i}'}, created=now, updated=now + i * 1e-3, owner=f'user{i % 100}',
                              messages=[{'role': 'user', 'content': f'question {i} about Lisbon'}, {'role': 'assistant', 'content': f'answer {i} ' + 'x' * 80}]))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--store', default='sqlite', choices=['sqlite', 'postgres', 'redis'])
    p.add_argument('--sessions', type=int, default=100_000)
    p.add_argument('--messages', type=int, default=5_000)
    p.add_argument('--rounds', type=int, default=15)
    a = p.parse_args()
    m = connect(url_for(a.store, tempfile.mkdtemp()))
    spent = []
    app = serve_app(m, token='t')
    async def timed_app(scope, receive, send): # the server's time: from the request's arrival to its response's last byte
        t = time.perf_counter()
        try: await app(scope, receive, send)
        finally: spent.append(time.perf_counter() - t)
    c = TestClient(timed_app, headers={'Authorization': 'Bearer t'}).__enter__()
    def ok(r): assert r.status_code == 200, r.text[:300]
    def paired(page, raw, rounds):
        "The server's median time for request `page`, the median time of `raw`, alternately, and the median of their ratios"
        tp,tr,rs = [],[],[]
        for _ in range(rounds):
            spent.clear(); ok(page()); tp.append(spent[-1])
            t = time.perf_counter(); raw(); tr.append(time.perf_counter() - t)
            rs.append(tp[-1] / tr[-1])
        return statistics.median(tp),statistics.median(tr),statistics.median(rs)
    print(f'{a.store}: server time per request, medians of {a.rounds} rounds, ms            page        raw   ratio')
    side,have = {},0
    for n in (1_000, a.sessions):
        fill(m, have, n - have); have = n
        assert c.get('/').text.count('class="row"') == PAGE
        to,tb,r = paired(lambda: (c.get('/')), lambda: m.sessions(limit=PAGE + 1), a.rounds)
        side[n] = to
        print(f'  sidebar, first page of {PAGE}, {n:>7,} sessions              {to*1e3:8.2f}   {tb*1e3:8.2f}  {r:5.1f}x')
        to,tb,r = paired(lambda: (c.get('/sessions', params={'owner': 'user7'})), lambda: m.sessions(limit=PAGE + 1, owner='user7'), a.rounds)
        print(f'  sidebar of one owner, {n:>7,} sessions                    {to*1e3:8.2f}   {tb*1e3:8.2f}  {r:5.1f}x')
    print(f'  flat: the first page at {a.sessions:,} sessions over at 1,000: {side[a.sessions] / side[1_000]:.2f}x')
    s = m.create_session('long')
    for i in range(0, a.messages, 1000): s.add_messages(sample_messages(min(1000, a.messages - i), start=i))
    assert c.get('/chat', params={'id': 'long'}).text.count('class="msg ') == PAGE
    to,tb,r = paired(lambda: (c.get('/chat', params={'id': 'long'})), lambda: s.tree(), a.rounds)
    print(f'  conversation page ({PAGE} of {a.messages:,} messages)                  {to*1e3:8.2f}   {tb*1e3:8.2f}  {r:5.1f}x')
    to,tb,r = paired(lambda: (c.get('/since', params={'id': 'long', 'after': s.tail(1)[0].id})), lambda: s.tail(PAGE), a.rounds)
    print(f'  its poll for new messages (nothing new)                  {to*1e3:8.2f}   {tb*1e3:8.2f}  {r:5.1f}x')
    c.__exit__(None, None, None); m.close()
