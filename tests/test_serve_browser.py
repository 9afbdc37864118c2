"""`chatstate serve` in a real browser: headless Chromium, driven over the DevTools protocol, opens the page (`chatstate serve`, a process
of its own) against a SQLite store that another process writes, sees the sidebar and a reply streaming into the store grow on the page,
then rendered when it ends; that hostile stored text runs nothing in it; and saves a screenshot under the test's temp dir."""
import asyncio, base64, itertools, json, os, shutil, subprocess, sys, time, urllib.request, pytest
from conftest import IN_CI, need_module

need_module('fasthtml', 'serve')
websockets = need_module('websockets', 'dev')

def chromium():
    path = shutil.which('chromium') or shutil.which('chromium-browser')
    if path: return path
    msg = 'the browser test needs Chromium: apt-get install -y chromium (.ci/run installs it)'
    if IN_CI: pytest.fail(msg)
    pytest.skip(msg)

WRITER = r'''
import sys, time
from chatstate import connect
m = connect(sys.argv[1])
h = m.create_session('hostile', metadata={'title': '<b onmouseover="window.pwned=3">hostile</b>'})
h.add_message('user', '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> [x](javascript:window.pwned=4)')
s = m.create_session('live', metadata={'title': 'A story, streaming'}, owner='ana')
s.add_message('user', 'Tell me a story about **Lisbon**')
r = s.add_message('assistant', '', pending=True, writer='model')
print(r.id, flush=True)
for i in range(int(sys.argv[2])):
    time.sleep(0.25); s.append_chunk(r.id, f'word{i} ', writer='model')
s.finalize(r.id, writer='model')
'''

class Page:
    "One browser tab over the DevTools protocol"
    def __init__(self, ws): self.ws,self.ids = ws,itertools.count(1)
    async def call(self, method, **params):
        i = next(self.ids)
        await self.ws.send(json.dumps({'id': i, 'method': method, 'params': params}))
        while True:
            r = json.loads(await self.ws.recv())
            if r.get('id') == i:
                if 'error' in r: raise RuntimeError(r['error'])
                return r['result']
    async def js(self, expr):
        r = await self.call('Runtime.evaluate', expression=expr, returnByValue=True)
        return r['result'].get('value')
    async def until(self, expr, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = await self.js(expr)
            if v: return v
            await asyncio.sleep(0.1)
        raise AssertionError(f'the page never showed {expr}: {await self.js("document.body.innerText")!r}')

def test_a_streaming_reply_grows_in_the_browser(tmp_path):
    browser = chromium()
    url = f'sqlite:///{tmp_path}/chats.db'
    server = subprocess.Popen([sys.executable, '-c', 'from chatstate.cli import main; raise SystemExit(main())', 'serve', '--store', url, '--port', '0'], stdout=subprocess.PIPE, text=True)
    writer = chrome = None
    try:
        line = server.stdout.readline()
        assert line.startswith('chatstate serve: http://127.0.0.1:'), line
        base = line.split()[2]
        writer = subprocess.Popen([sys.executable, '-c', WRITER, url, '40'], stdout=subprocess.PIPE, text=True)
        reply = writer.stdout.readline().strip()
        prof = tmp_path / 'profile'
        chrome = subprocess.Popen([browser, '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--remote-debugging-port=0',
                                   f'--user-data-dir={prof}', '--window-size=1280,800', 'about:blank'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if (prof / 'DevToolsActivePort').exists() and (prof / 'DevToolsActivePort').read_text().count('\n') >= 1: break
            time.sleep(0.05)
        port = (prof / 'DevToolsActivePort').read_text().split()[0]
        tabs = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list'))
        ws_url = next(t['webSocketDebuggerUrl'] for t in tabs if t['type'] == 'page')

        async def look():
            async with websockets.connect(ws_url, max_size=50_000_000) as ws:
                p = Page(ws)
                await p.call('Page.enable')
                await p.call('Page.navigate', url=base.replace('/?token=', '/chat?id=live&token='))
                await p.until("location.pathname === '/chat' && !location.search.includes('token')") # the token traded for a cookie
                await p.until("document.querySelector('aside a.row') && document.querySelector('aside').innerText.includes('A story, streaming')")
                assert 'streaming' in await p.js("document.querySelector('aside').innerText")
                grow = "(document.querySelector('.msg[data-follow] .text') || {}).textContent || ''"
                first = await p.until(f"({grow}).includes('word2') && {grow}")
                await asyncio.sleep(1.5)
                later = await p.js(grow)
                assert len(later) > len(first) and later.startswith(first), (first, later) # it grew, while we watched
                shot = await p.call('Page.captureScreenshot', format='png')
                (tmp_path / 'serve.png').write_bytes(base64.b64decode(shot['data']))
                if os.environ.get('CHATSTATE_SCREENSHOT'): (tmp_path / 'serve.png').replace(os.environ['CHATSTATE_SCREENSHOT'])
                # when the reply ends, the page shows it rendered, as the store has it
                done = await p.until("!document.querySelector('.msg[data-follow]') && document.querySelector('main').innerText.includes('word39')", timeout=30)
                text = await p.js("document.querySelector('main').innerText")
                assert 'Tell me a story about Lisbon' in text and 'word0 word1 word2' in text
                assert await p.js("document.querySelector('main strong').textContent") == 'Lisbon' # the question's markdown, rendered
                # hostile text stays text in a real browser: nothing it holds runs
                await p.call('Page.navigate', url=base.split('/?')[0] + '/chat?id=hostile')
                await p.until("document.querySelector('main') && document.querySelector('main').innerText.includes('window.pwned=2')")
                assert await p.js("typeof window.pwned") == 'undefined'
                assert await p.js("document.querySelectorAll('main img, main script, aside b, main a[href^=javascript]').length") == 0
        asyncio.run(look())
        assert writer.wait(30) == 0
        assert (tmp_path / 'serve.png').exists() or os.environ.get('CHATSTATE_SCREENSHOT')
    finally:
        for p in (chrome, writer, server):
            if p is not None and p.poll() is None: p.terminate()
        for p in (chrome, writer, server):
            if p is not None:
                try: p.wait(10)
                except subprocess.TimeoutExpired: p.kill()
