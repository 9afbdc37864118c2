"Stores for the conformance suite, and the rule for tests that need a server."
import os, uuid, pytest
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

class Store:
    "A store under test: `open()` gives a new manager on the same data, as another worker would"
    def __init__(self, kind, tmp_path):
        self.kind,self.tmp_path,self.mgrs = kind,tmp_path,[]
        self.url = {'memory': None, 'sqlite': f'sqlite:///{tmp_path}/chats.db'}.get(kind) or (kind != 'memory' and server_url(kind))
        if kind == 'redis':
            self.prefix = f'test-{uuid.uuid4().hex[:12]}:'
            self.url += f'?prefix={self.prefix}'
        if kind == 'postgres':
            self.schema = f'test_{uuid.uuid4().hex[:12]}'
            self.url += f'?schema={self.schema}' 
        if kind == 'memory': self._mem = InMemorySessionManager()

    def open(self):
        if self.kind == 'memory': return self._mem
        from chatstate import connect
        m = connect(self.url)
        self.mgrs.append(m)
        return m

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

@pytest.fixture(params=KINDS)
def store(request, tmp_path):
    s = Store(request.param, tmp_path)
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
