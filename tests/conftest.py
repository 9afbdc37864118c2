"Stores for the conformance suite, on the sync and the async API, and the rule for tests that need a server."
import sys, asyncio, inspect, os, threading, uuid, pytest
from chatstate import *

IN_CI = os.environ.get('CI', '').lower() in ('1', 'true', 'yes')
SERVICES = 'scripts/services.sh'

def server_url(name):
    "The URL of test server `name` (redis, postgres) from CHATSTATE_TEST_<NAME>: required in CI, else skip"
    var = f'CHATSTATE_TEST_{name.upper()}'
    url = os.environ.get(var)
    if url: return url
    msg = f"{name} tests need a server: run `eval $(bash {SERVICES} start)` to start one and set {var}"
    if IN_CI: pytest.fail(f"CI requires the {name} server. {msg}")
    pytest.skip(msg)

class _Loop:
    "One event loop on a thread of its own: the async API's calls made from the sync suites run on it"
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True, name='test-loop').start()
    def run(self, coro): return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

_loop = None
def run_async(coro):
    "Run `coro` on the tests' event loop, from any thread, and return its result"
    global _loop
    if _loop is None: _loop = _Loop()
    return _loop.run(coro)

def _sync(v):
    return Sync(v) if isinstance(v, (AsyncChatSession, AsyncSessionManager)) else v

class Sync:
    "The async API in the sync API's shape, so that every shared suite runs on it unchanged: each call is awaited on the tests' loop"
    def __init__(self, o): object.__setattr__(self, '_o', o)
    def __getattr__(self, name):
        v = getattr(self._o, name)
        if inspect.iscoroutine(v): return _sync(run_async(v)) # an async property
        if inspect.iscoroutinefunction(v): return lambda *a, **k: _sync(run_async(v(*a, **k)))
        return _sync(v)
    def __setattr__(self, name, v):
        if name != 'title': raise AttributeError(name)
        run_async(self._o.set_title(v))
    def __len__(self): return run_async(self._o.count())
    def __contains__(self, x): return run_async(self._o.contains(x))
    def __getitem__(self, i): return _sync(run_async(self._o[i]))
    def __iter__(self):
        o = self._o
        return iter(run_async(o.messages if isinstance(o, AsyncChatSession) else o.list_sessions()))
    def __delitem__(self, sid):
        if not run_async(self._o.delete_session(sid)): raise SessionNotFoundError(f"no session {sid!r}")
    def __eq__(self, x): return isinstance(x, Sync) and self._o == x._o
    __hash__ = None
    def __repr__(self): return f'Sync({self._o!r})'

class Store:
    "A store under test: `open()` gives a new manager on the same data, as another worker would, on the `api` under test"
    def __init__(self, kind, tmp_path, api='sync'):
        self.kind,self.tmp_path,self.mgrs,self.api = kind,tmp_path,[],api
        self.url = {'memory': None, 'sqlite': f'sqlite:///{tmp_path}/chats.db'}.get(kind) or (kind != 'memory' and server_url(kind))
        if kind == 'redis':
            self.prefix = f'test-{uuid.uuid4().hex[:12]}:'
            self.url += f'?prefix={self.prefix}'
        if kind == 'postgres':
            self.schema = f'test_{uuid.uuid4().hex[:12]}'
            self.url += f'?schema={self.schema}' 
        if kind == 'memory': self._mem = InMemorySessionManager()

    def open(self):
        if self.kind == 'memory': return self._mem if self.api == 'sync' else Sync(AsyncSessionManager(self._mem))
        m = connect(self.url) if self.api == 'sync' else Sync(run_async(aconnect(self.url)._open()))
        self.mgrs.append(m)
        return m

    def fresh(self):
        "A new, empty in-memory manager on the API under test"
        return InMemorySessionManager() if self.api == 'sync' else Sync(AsyncSessionManager(InMemorySessionManager()))

    def close(self):
        "Drop what the test stored, through a manager of its own (the test may have closed its managers)"
        for m in self.mgrs: m.close()
        if self.mgrs and self.kind == 'redis':
            import redis
            with redis.Redis.from_url(self.url.split('?')[0]) as r:
                keys = list(r.scan_iter(match=self.prefix.replace('*', r'\*') + '*', count=1000))
                if keys: r.delete(*keys)
        if self.mgrs and self.kind == 'postgres':
            import psycopg
            with psycopg.connect(self.url.split('?')[0], autocommit=True) as c: c.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

KINDS = ['memory', 'sqlite', 'redis', 'postgres']

APIS = ['sync', 'async']

@pytest.fixture(params=[(k, a) for a in APIS for k in KINDS], ids=lambda p: f'{p[0]}-{p[1]}')
def store(request, tmp_path):
    kind,api = request.param
    s = Store(kind, tmp_path, api)
    yield s
    s.close()

@pytest.fixture
def mgr(store): return store.open()

def check_order(msgs, tag, n):
    "The messages tagged `tag` ('tag:i' contents) are exactly 0..n-1, in order"
    assert [int(m.content.split(':')[1]) for m in msgs if m.content.split(':')[0] == str(tag)] == list(range(n))

def need_binary(path_glob, what):
    "The first file matching `path_glob`: required in CI, else skip"
    import glob
    found = sorted(glob.glob(path_glob))
    if found: return found[-1]
    msg = f"{what} is not installed: run `bash {SERVICES} start`, which installs it"
    if IN_CI: pytest.fail(msg)
    pytest.skip(msg)

def need_module(name, extra, python=None):
    "Module `name`, imported: required in CI (the dev extras install it), else skip; a framework that needs a newer Python than this (`python`, a version tuple) is skipped"
    if python and sys.version_info < python: pytest.skip(f"{name} needs Python {'.'.join(map(str, python))} or newer", allow_module_level=True)
    try: return __import__(name)
    except ImportError:
        msg = f"{name} is not installed: pip install -e '.[{extra}]'"
        if IN_CI: pytest.fail(msg)
        pytest.skip(msg, allow_module_level=True)

async def async_manager(store):
    "The store under test on the API under test, opened in the running loop: a sync manager, or an async one (close it with `await m.close()`)"
    if store.api == 'sync': return store.open()
    if store.kind == 'memory': return AsyncSessionManager(store._mem)
    store.mgrs.append(connect(store.url)) # so the store's data is dropped at the end
    return await aconnect(store.url)

def run_on(store, body):
    "Run `body(m)` in an event loop of its own, `m` the store under test opened on the API under test in that loop (an async one closed after)"
    async def go():
        m = await async_manager(store)
        try: await body(m)
        finally:
            if isinstance(m, AsyncSessionManager) and store.kind != 'memory': await m.close()
    asyncio.run(go())
