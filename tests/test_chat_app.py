"""The example chat app (examples/chat_app.py) end to end: real HTTP on loopback (uvicorn), the real `openai` SDK against the local
fake model server, on SQLite and on Redis. Two users with their own sidebars, streaming, a tab that reconnects mid-reply and follows
it, stop mid-reply, regenerate, and recovery of a reply whose worker died."""
import json, os, sys, threading, time, uuid, pytest
httpx = pytest.importorskip('httpx')
uvicorn = pytest.importorskip('uvicorn')
pytest.importorskip('fastapi')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'examples'))
from chat_app import make_app
from chatstate import *
from fake_models import FakeModels
from conftest import server_url

@pytest.fixture(params=['sqlite', 'redis'])
def app_url(request, tmp_path):
    store = f'sqlite:///{tmp_path}/app.db' if request.param == 'sqlite' else server_url('redis') + f'?prefix=app-{uuid.uuid4().hex[:8]}:'
    fake = FakeModels()
    server = uvicorn.Server(uvicorn.Config(make_app(store, fake.url + '/v1', lease=0.5), host='127.0.0.1', port=0, log_level='warning'))
    t = threading.Thread(target=server.run, daemon=True); t.start()
    while not server.started: time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f'http://127.0.0.1:{port}',fake,store
    server.should_exit = True; t.join(10); fake.close()
    if request.param == 'redis':
        m = connect(store)
        for k in m.r.scan_iter(match=m.prefix + '*'): m.r.delete(k)
        m.close()

def events(c, url, limit=None):
    "The reply's server-sent events, as (text, state); `limit`: leave after that many (a tab closed or refreshed)"
    got = []
    with c.stream('GET', url, timeout=30) as r:
        for line in r.iter_lines():
            if line.startswith('data: '):
                e = json.loads(line[6:]); got.append((e['text'], e['state']))
                if limit and len(got) >= limit: break
    return got

def test_the_chat_app(app_url):
    base,fake,store = app_url
    ana,bob = httpx.Client(base_url=base, headers={'x-user': 'ana'}),httpx.Client(base_url=base, headers={'x-user': 'bob'})
    a = ana.post('/chats', params={'title': 'Trip'}).json()['id']
    b = bob.post('/chats', params={'title': 'Taxes'}).json()['id']
    assert [c['id'] for c in ana.get('/chats').json()] == [a] and [c['id'] for c in bob.get('/chats').json()] == [b] # each their own sidebar
    assert bob.get(f'/chats/{a}').status_code == 404 and bob.post(f'/chats/{a}/messages', json={'content': 'hi'}).status_code == 404
    r = ana.post(f'/chats/{a}/messages', json={'content': 'Plan a day', 'after': ''}).json()
    got = events(ana, f'/chats/{a}/replies/{r["reply"]}')
    assert ''.join(t for t,_ in got) == 'Hello there' and got[-1][1] == 'done'
    msgs = ana.get(f'/chats/{a}').json()
    assert [(m['role'], m['content'], m['state']) for m in msgs] == [('user', 'Plan a day', 'done'), ('assistant', 'Hello there', 'done')]
    assert ana.post(f'/chats/{a}/messages', json={'content': 'late tab', 'after': r['question']}).status_code == 409 # a second tab saw an older end
    fake.text,fake.pause = [f'w{i} ' for i in range(60)],0.01 # a slow reply: the tab refreshes mid-reply, then follows it to the end
    r2 = ana.post(f'/chats/{a}/messages', json={'content': 'Tell me more', 'after': msgs[-1]['id']}).json()
    first = events(ana, f'/chats/{a}/replies/{r2["reply"]}', limit=5)
    again = events(ana, f'/chats/{a}/replies/{r2["reply"]}')
    assert ''.join(t for t,_ in again) == ''.join(fake.text) and again[-1][1] == 'done' and ''.join(fake.text).startswith(''.join(t for t,_ in first))
    fake.text = ['la '] * 500 # stopped mid-reply: the model's stream is closed
    r3 = ana.post(f'/chats/{a}/regenerate').json()
    time.sleep(0.3)
    assert ana.post(f'/chats/{a}/replies/{r3["reply"]}/stop').json()['state'] in ('streaming', 'stopped')
    got = events(ana, f'/chats/{a}/replies/{r3["reply"]}')
    assert got[-1][1] == 'stopped' and 0 < len(''.join(t for t,_ in got)) < 1500
    for _ in range(50):
        if fake.gone: break
        time.sleep(0.05)
    assert fake.gone == 1 and [m['content'] for m in ana.get(f'/chats/{a}').json()][-2] == 'Tell me more' # regenerated: the old answer went
    fake.text,fake.pause = ['Fresh'],0
    dead = connect(store) # a worker that started a reply, then died
    dead.lease = 0.3
    bs = dead[b]; bs.start_turn('Deduct this?', writer='gone-worker'); dead.close()
    time.sleep(0.5)
    assert bob.get('/chats').json()[0]['reply'] == 'stale'
    assert len(bob.post('/recover').json()['settled']) == 1 and bob.get('/chats').json()[0]['reply'] == 'failed'
    r4 = bob.post(f'/chats/{b}/regenerate').json()
    assert ''.join(t for t,_ in events(bob, f'/chats/{b}/replies/{r4["reply"]}')) == 'Fresh'
    assert bob.get('/chats').json()[0]['reply'] is None
