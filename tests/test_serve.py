"""`chatstate serve`: every view and action, on every store, with the app reading it through the sync store's async API on its threads
(`sync`) and through the async API opened from the URL (`async`); hostile stored content rendered inert; the lock (token, Host, Origin,
read-only); the assets served from the package."""
import json, re, threading, time, pytest
from html.parser import HTMLParser
from chatstate import *
from conftest import Store, KINDS, APIS, need_module

need_module('fasthtml', 'serve')
from starlette.testclient import TestClient
from chatstate.serve import serve_app, SHOWN, PAGE, _anchor

class Site:
    "The store under test, written through a sync manager `m`, and a test client `c` of the app over it (carrying the token)"
    def __init__(self, m, c, app, kind): self.m,self.c,self.app,self.kind = m,c,app,kind
    def get(self, path, **q): return self.c.get(path, params=q)
    def post(self, path, data, origin='http://testserver'): return self.c.post(path, data=data, headers={'Origin': origin} if origin else {})

@pytest.fixture(params=[(k, a) for a in APIS for k in KINDS], ids=lambda p: f'{p[0]}-{p[1]}')
def site(request, tmp_path):
    kind,api = request.param
    st = Store(kind, tmp_path, 'sync')
    m = st.open()
    target = m if api == 'sync' else AsyncSessionManager(m) if kind == 'memory' else st.url
    app = serve_app(target, token='t0k', poll=0.5)
    with TestClient(app, headers={'Authorization': 'Bearer t0k'}) as c: yield Site(m, c, app, kind)
    st.close()

def rows(html): return re.findall(r'<a href="(/chat\?[^"]*)" class="row">', html)

def test_sidebar_pages_owners_marks(site):
    m = site.m
    for i in range(PAGE + 5):
        s = m.create_session(f's{i:03}', owner='ana' if i % 2 else 'ben')
        s.add_message('user', f'question {i}')
    s = m.create_session('streaming', owner='ana'); s.add_message('assistant', 'so far', pending=True, writer='w1')
    s = m.create_session('stopped'); r = s.add_message('assistant', '', pending=True, writer='w1'); s.stop(r.id); s.finalize(r.id, writer='w1')
    s = m.create_session('failed'); r = s.add_message('assistant', '', pending=True, writer='w1'); s.fail(r.id, 'model overloaded', writer='w1')
    page = site.get('/').text
    first = rows(page)
    test_eq = lambda a, b: (a == b) or pytest.fail(f'{a!r} != {b!r}')
    test_eq(len(first), PAGE)
    test_eq(first[:3], ['/chat?id=failed', '/chat?id=stopped', '/chat?id=streaming']) # newest first
    for state in ('streaming', 'stopped', 'failed'): assert f'<span class="mark {state}">{state}</span>' in page
    assert 'question 54' in page and '1 message' in page
    more = re.search(r'hx-get="(/sessions\?offset=50)"', page)
    assert more, 'a button for the next page'
    rest = rows(site.get('/sessions', offset=PAGE).text)
    test_eq(len(rest), PAGE + 8 - PAGE)
    assert not set(rest) & set(first)
    ana = site.get('/sessions', owner='ana').text
    odd = [f'/chat?id=s{i:03}' for i in range(PAGE + 5) if i % 2]
    assert sorted(rows(ana)) == sorted(odd + ['/chat?id=streaming'])
    assert '/chat?id=failed' not in rows(ana)
    assert 'No sessions.' in site.get('/sessions', owner='nobody').text

def test_new_sessions_appear(site):
    site.m.create_session('first').add_message('user', 'hi')
    page = site.get('/').text
    poll = re.search(r'<div hx-get="(/sessions)" hx-trigger="every 0.5s" hx-swap="outerHTML" id="first">', page)
    assert poll, 'the first page reads itself again'
    site.m.create_session('second').add_message('user', 'hello')
    test_eq_rows = rows(site.get(poll[1]).text)
    assert test_eq_rows[:2] == ['/chat?id=second', '/chat?id=first']

def test_search(site):
    s = site.m.create_session('trip', metadata={'title': 'Lisbon trip'}, owner='ana')
    a = s.add_message('user', 'Where should I eat in Alfama?')
    s.add_message('assistant', 'Try the grilled sardines.')
    hits = site.get('/sessions', q='alfama', owner='ana').text
    assert f'href="/chat?id=trip&amp;at={a.id}#{_anchor(a.id)}"' in hits and 'Lisbon trip' in hits
    assert 'No message matches.' in site.get('/sessions', q='zanzibar', owner='ana').text
    page = site.get('/chat', id='trip', at=a.id).text
    assert f'id="{_anchor(a.id)}"' in page
    every = site.get('/sessions', q='alfama').text # the whole store: Redis says it searches one owner's chats only
    assert ('Lisbon trip' in every) if site.kind != 'redis' else ('search on Redis is for one owner' in every)

def test_conversation_parts_calls_summary(site):
    s = site.m.create_session('c', owner='ana', metadata={'title': 'Weather'})
    q = s.add_message('user', 'Look at *this*', metadata={'responses': [{'type': 'input_image', 'image_url': 'data:image/png;base64,AAAA'}]})
    s.add_message('assistant', '', metadata={'tool_calls': [{'id': 'c1', 'type': 'function', 'function': {'name': 'weather', 'arguments': '{"city": "Porto"}'}},
                                                            {'id': 'c2', 'type': 'function', 'function': {'name': 'time', 'arguments': '{}'}}]})
    s.add_message('tool', 'rain, 14°C', metadata={'tool_call_id': 'c1'})
    s.add_message('tool', '10:42', metadata={'tool_call_id': 'c2'})
    a = s.add_message('assistant', 'Rainy in Porto at 10:42.', metadata={'model': 'gpt-x'})
    s.summarize(a.id, 'The user asked about Porto weather.')
    page = site.get('/chat', id='c').text
    assert '<h1>Weather</h1>' in page and 'owner ana' in page and '5 messages' in page
    assert '<em>this</em>' in page and '[image]' in page
    assert 'weather({"city": "Porto"})' in page and '<pre>rain, 14°C</pre>' in page and '<pre>10:42</pre>' in page
    assert 'role-tool' not in page # each result is under its call
    assert '&quot;model&quot;' in page or '"model": "gpt-x"' in page # metadata, on demand
    assert page.index('Rainy in Porto') < page.index('summary of the above') and 'The user asked about Porto weather.' in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"', page)
    one = site.c.get('/message', params={'id': 'c', 'mid': q.id}, headers={'HX-Request': 'true'}).text # as htmx asks, when a reply ends
    assert one.startswith(f'<div id="{_anchor(q.id)}"') and '<em>this</em>' in one
    assert site.get('/message', id='c', mid='nope').status_code == 404
    assert site.get('/chat', id='missing').status_code == 404

def test_conversation_pages(site):
    s = site.m.create_session('long')
    msgs = s.add_messages([Message('user' if i % 2 == 0 else 'assistant', f'turn {i}') for i in range(2 * PAGE + 20)])
    page = site.get('/chat', id='long').text
    shown = re.findall(r'<p>turn (\d+)</p>', page)
    assert shown == [str(i) for i in range(PAGE + 20, 2 * PAGE + 20)]
    btn = re.search(r'<button hx-get="([^"]+)" hx-swap="outerHTML" class="earlier">(\d+) earlier messages</button>', page)
    assert btn and btn[2] == str(PAGE + 20)
    earlier = site.c.get(btn[1].replace('&amp;', '&')).text
    assert re.findall(r'<p>turn (\d+)</p>', earlier) == [str(i) for i in range(20, PAGE + 20)]
    btn2 = re.search(r'hx-get="([^"]+)" hx-swap="outerHTML" class="earlier">20 earlier', earlier)
    first = site.c.get(btn2[1].replace('&amp;', '&')).text
    assert re.findall(r'<p>turn (\d+)</p>', first) == [str(i) for i in range(20)] and 'earlier' not in first

def test_branches_viewed_and_switched(site):
    s = site.m.create_session('b')
    q = s.add_message('user', 'Name a colour')
    a1 = s.add_message('assistant', 'Blue')
    a2 = s.regenerate(a1.id, 'Green', pending=False)
    s.add_message('user', 'Why green?')
    before = [x.id for x in s.messages]
    page = site.get('/chat', id='b').text
    assert '2 of 2' in page and f'href="/chat?id=b&amp;at={a1.id}"' in page and 'Why green?' in page and 'Blue' not in page
    other = site.get('/chat', id='b', at=a1.id).text
    assert '1 of 2' in other and '<p>Blue</p>' in other and 'Green' not in other and 'Make this branch active' in other
    assert 'hx-get="/since' not in other # another branch is not polled
    assert [x.id for x in s.messages] == before # looking changes nothing
    assert site.get('/chat', id='b', at='nope').status_code == 404
    r = site.post('/switch', {'id': 'b', 'mid': a1.id})
    assert r.status_code == 200 and r.headers['hx-redirect'] == '/chat?id=b'
    assert [x.id for x in s.messages] == [q.id, a1.id]
    assert site.post('/switch', {'id': 'b', 'mid': 'nope'}).status_code == 404

def test_since_polls_new_messages(site):
    s = site.m.create_session('p')
    q = s.add_message('user', 'hi')
    page = site.get('/chat', id='p').text
    poll = re.search(r'<div hx-get="(/since\?[^"]+)" hx-trigger="every 0.5s"', page)[1].replace('&amp;', '&')
    assert site.c.get(poll).text.count('<p>') == 0 # nothing new yet: the poll again
    r = s.add_message('assistant', 'Hel', pending=True, writer='w')
    new = site.c.get(poll).text
    assert f'data-follow="/follow?id=p&amp;mid={r.id}"' in new and f'after={r.id}' in new
    s.truncate_after(q.id) # the reply it was told of left the branch: the page is read again whole
    gone = site.c.get(poll.replace(q.id, r.id))
    assert gone.headers.get('hx-refresh') == 'true'
    site.m.delete_session('p')
    assert 'was deleted' in site.c.get(poll).text

def test_follow_a_reply(site):
    s = site.m.create_session('f')
    s.add_message('user', 'Tell me')
    r = s.add_message('assistant', 'Once', pending=True, writer='w')
    def write():
        time.sleep(0.3); s.append_chunk(r.id, ' upon', writer='w')
        time.sleep(0.2); s.append_chunk(r.id, ' a time', writer='w'); s.finalize(r.id, writer='w')
    t = threading.Thread(target=write); t.start()
    with site.c.stream('GET', '/follow', params={'id': 'f', 'mid': r.id}) as ev: body = ''.join(ev.iter_text())
    t.join()
    events = re.findall(r'event: (\w+)\ndata: (.*)\n\n', body)
    assert events[0] == ('set', '"Once"') and events[-1] == ('done', '""')
    assert ''.join(json.loads(d) for k,d in events if k in ('set', 'add')) == 'Once upon a time'
    done = site.get('/message', id='f', mid=r.id).text
    assert 'data-follow' not in done and '<p>Once upon a time</p>' in done
    with site.c.stream('GET', '/follow', params={'id': 'f', 'mid': 'nope'}) as ev: assert 'event: gone' in ''.join(ev.iter_text())
    with site.c.stream('GET', '/follow', params={'id': 'nope', 'mid': r.id}) as ev: assert 'event: gone' in ''.join(ev.iter_text())

def test_export_and_delete(site):
    s = site.m.create_session('e', metadata={'title': 'Keep me'}, owner='ana')
    s.add_message('user', 'a'); s.add_message('assistant', 'b')
    r = site.get('/export', id='e')
    assert r.headers['content-type'].startswith('application/json') and 'attachment' in r.headers['content-disposition']
    d = json.loads(r.text)
    assert d == s.to_dict()
    assert site.get('/export', id='nope').status_code == 404
    assert site.post('/delete', {'id': 'e'}, origin=None).status_code == 403 # no Origin: not from the page
    assert site.post('/delete', {'id': 'e'}, origin='http://evil.example').status_code == 403
    assert site.m.contains('e')
    r = site.post('/delete', {'id': 'e'})
    assert r.headers['hx-redirect'] == '/' and not site.m.contains('e')
    assert site.post('/delete', {'id': 'e'}).status_code == 404
    site.m.import_session(d)
    assert [x.content for x in site.m.get_session('e').messages] == ['a', 'b']

HOSTILE = ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '[click](javascript:alert(1))', '<a href="javascript:alert(1)">x</a>',
           '"><svg onload=alert(1)>', '</pre><script>alert(1)</script>', '\x1b[31mred\x1b[0m \x1b]0;title\x07', '\u202egnp.exe', 'nul\x00byte',
           '![img](http://example.com/track.png)', '<iframe src="https://example.com"></iframe>', '{{7*7}} ${alert(1)}']

class Inert(HTMLParser):
    "Fails on anything in a page that could run or load: a script not from /_static/, an on* attribute, a javascript: link, an outside frame or image"
    def __init__(self): super().__init__(); self.bad = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'script' and not (a.get('src') or '').startswith('/_static/'): self.bad.append(('script', a))
        if tag in ('iframe', 'object', 'embed', 'svg', 'base', 'meta') and not (tag == 'meta' and a.get('name') == 'htmx-config'): self.bad.append((tag, a))
        if tag == 'img' and not (a.get('src') or '').startswith(('/', 'data:')): self.bad.append(('img', a))
        for k,v in attrs:
            if k.startswith('on') or (k in ('href', 'src', 'action', 'hx-get', 'hx-post') and (v or '').strip().lower().startswith(('javascript:', 'data:text'))):
                self.bad.append((tag, k, v))

def inert(html):
    p = Inert(); p.feed(html); p.close()
    assert not p.bad, p.bad

def test_hostile_content_is_inert(site):
    bad = ' '.join(HOSTILE)
    sid = '"><script>alert(1)</script>'
    s = site.m.create_session(sid, metadata={'title': '<b onmouseover=alert(1)>title</b>'}, owner='<script>x</script>')
    s.add_message('<img src=x onerror=alert(1)>', bad, metadata={'note': '</pre><script>alert(1)</script>',
                  'tool_calls': [{'id': '<script>', 'type': 'function', 'function': {'name': '<script>alert(1)</script>', 'arguments': bad}}]})
    s.add_message('tool', bad, metadata={'tool_call_id': '<script>'})
    r = s.add_message('assistant', bad, pending=True, writer='w')
    s.fail(r.id, '<script>alert("error")</script>', writer='w')
    s.add_message('assistant', bad, pending=True, writer='w2')
    for page in (site.get('/').text, site.get('/chat', id=sid).text, site.get('/sessions', q='alert').text, site.get('/message', id=sid, mid=r.id).text):
        inert(page)
        assert '\x1b' not in page and '\u202e' not in page and '\x00' not in page
    page = site.get('/chat', id=sid).text
    assert '\\x1b[31mred' in page and '\\u202egnp.exe' in page and 'nul\\x00byte' in page # shown, as escapes
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page and '&lt;img src=x onerror=alert(1)&gt;' in page
    assert site.get('/chat', id=sid).headers['content-security-policy'].startswith("default-src 'none'; script-src 'self'")

def test_a_10mb_message(site):
    big = ('<script>alert(1)</script> ' * 40 + '\n') * 10_000
    assert len(big) > 10_000_000
    s = site.m.create_session('big')
    x = s.add_message('assistant', big)
    page = site.get('/chat', id='big').text
    inert(page)
    assert len(page) < 2 * SHOWN * 2 and f'{len(big):,} characters: the first {SHOWN:,} are shown' in page
    raw = site.get('/raw', id='big', mid=x.id)
    assert raw.text == big and raw.headers['content-type'].startswith('text/plain') and raw.headers['x-content-type-options'] == 'nosniff'
    assert 'sandbox' in raw.headers['content-security-policy']
    listed = site.get('/').text
    assert len(listed) < 50_000

def test_the_lock(site):
    site.m.create_session('x').add_message('user', 'private')
    app = serve_app(site.m, token='t0k') # the sync store's async API: clients of their own, each in a loop of its own, share it
    anon,forged = TestClient(app),TestClient(app, cookies={'chatstate_token': 'wrong'})
    for path in ('/', '/chat?id=x', '/sessions', '/export?id=x', '/raw?id=x&mid=y', '/follow?id=x&mid=y', '/message?id=x&mid=y', '/_static/htmx.min.js'):
        r = anon.get(path)
        assert r.status_code == 403 and 'private' not in r.text and 'token' in r.text, path
        assert anon.get(path, headers={'Authorization': 'Bearer wrong'}).status_code == 403
        assert forged.get(path).status_code == 403
    assert anon.post('/delete', data={'id': 'x'}, headers={'Origin': 'http://testserver'}).status_code == 403
    r = anon.get('/chat?id=x&token=t0k', follow_redirects=False)
    assert r.status_code == 303 and r.headers['location'] == '/chat?id=x'
    assert 'private' in anon.get('/chat?id=x').text # the cookie carries the token now
    assert anon.post('/delete', data={'id': 'x'}, headers={'Origin': 'http://evil.example'}).status_code == 403
    assert site.m.contains('x')
    ro = TestClient(serve_app(site.m, token='t0k', read_only=True), headers={'Authorization': 'Bearer t0k'})
    page = ro.get('/chat?id=x').text
    assert 'private' in page and 'Delete' not in page
    for path,data in (('/delete', {'id': 'x'}), ('/switch', {'id': 'x', 'mid': 'y'})):
        r = ro.post(path, data=data, headers={'Origin': 'http://testserver'})
        assert r.status_code == 403 and 'read-only' in r.text
    assert site.m.contains('x')
    local = TestClient(serve_app(site.m, token='t0k', hosts={'127.0.0.1:8000'}), headers={'Authorization': 'Bearer t0k'})
    assert local.get('/').status_code == 403 # Host: testserver, a name this server does not answer to (DNS rebinding)
    assert local.get('/', headers={'Host': '127.0.0.1:8000'}).status_code == 200

def test_assets_from_the_package(site):
    page = site.get('/').text
    srcs = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert srcs == ['/_static/serve.css', '/_static/htmx.min.js', '/_static/serve.js']
    assert 'http' not in ' '.join(re.findall(r'<head>.*</head>', page, re.S))
    js = site.get('/_static/htmx.min.js')
    assert js.headers['content-type'].startswith('text/javascript') and 'htmx' in js.text[:200] and len(js.content) > 40_000
    assert site.get('/_static/serve.css').headers['content-type'].startswith('text/css')
    assert 'EventSource' in site.get('/_static/serve.js').text
    assert site.get('/_static/nope.js').status_code == 404

def test_without_the_extra():
    "Without FastHTML, `chatstate serve` says which extra to install"
    import subprocess, sys
    code = "import sys; sys.modules['fasthtml'] = sys.modules['fasthtml.common'] = None; from chatstate.cli import main; raise SystemExit(main(['serve', '--store', 'memory://']))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and 'pip install "chatstate[serve]"' in r.stderr, r.stderr
