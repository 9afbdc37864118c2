"""The bad-input fuzz: every public call, each argument in turn replaced by each hostile value, on every store.
Only `ChatStateError`s may escape, and a call that fails leaves the store exactly as a second manager saw it before.
By default each store and API takes every call and argument with a third of the hostile values (each value on two or three of
them, every value on the stores without a server too); CHATSTATE_FUZZ=full gives every store every value."""
import contextlib, io, math, os, time, pytest
from chatstate import *
from chatstate.formats import *
from chatstate.cli import main
import chatstate.stream
from conftest import run_async

class Weird:
    "An object whose repr fails, as a hostile caller's might"
    def __repr__(self): raise RuntimeError('no repr')

class Loud(str):
    def __str__(self): raise RuntimeError('no str')

def deep(n, leaf=1):
    d = x = {}
    for _ in range(n): x['a'] = x = {}
    x['a'] = leaf
    return d

HOSTILE = [None, True, 0, -1, 2**63, 10**400, 1.5, math.nan, math.inf, '', '\ud800', 'x' * (MAX_ID_LEN + 1), 'a\x00b', b'x',
           [], [1], {}, {1: 2}, {'role': 1}, {'k': deep(1000)}, {'k': 10**5000}, {'k': {1}}, set(), Weird(), Loud('s'), Message('user', 'x')]

S = lambda m: m['s']
def drain(x):
    "Everything an iterator gives (an async one's, on the async API)"
    if not hasattr(x, '__aiter__'): return list(x)
    async def go(): return [o async for o in x]
    return run_async(go())
CALLS = [ # (name, call, arguments that succeed or fail cleanly on the filled store)
    ('create_session', lambda m, a, b, c, d: m.create_session(a, metadata=b, ttl=c, expires_at=d), ['new', None, None, None]),
    ('get_session', lambda m, a: m.get_session(a), ['s']),
    ('[]', lambda m, a: m[a], ['s']),
    ('in', lambda m, a: a in m, ['s']),
    ('get_or_create', lambda m, a, b, c, d: m.get_or_create(a, metadata=b, ttl=c, expires_at=d), ['s', None, None, None]),
    ('del', lambda m, a: m.__delitem__(a), ['zz']),
    ('delete_session', lambda m, a: m.delete_session(a), ['zz']),
    ('list_sessions', lambda m, a, b: m.list_sessions(limit=a, offset=b), [None, 0]),
    ('sessions', lambda m, a, b, c: m.sessions(limit=a, offset=b, order=c), [None, 0, 'updated']),
    ('purge_expired', lambda m, a: m.purge_expired(updated_before=a), [None]),
    ('import_session', lambda m, a, b: m.import_session(a, on_conflict=b), [{'session_id': 's'}, 'skip']),
    ('import fields', lambda m, a, b, c, d, e: m.import_session(dict(session_id=a, metadata=b, messages=c, created=d, expires_at=e)),
     ['imp', {}, [], None, None]),
    ('import message', lambda m, a: m.import_session(dict(session_id='imp', messages=[a])), [{'role': 'user', 'content': 'x'}]),
    ('ChatSession', lambda m, a, b: ChatSession(a, b, manager=m), ['s', None]),
    ('ChatSession manager', lambda m, a: len(ChatSession('s', manager=a)), [None]),
    ('add_message', lambda m, a, b, c, d, e: S(m).add_message(a, b, metadata=c, pending=d, id=e), ['user', 'x', None, False, None]),
    ('add_messages', lambda m, a: S(m).add_messages(a), [[]]),
    ('add_messages item', lambda m, a: S(m).add_messages([Message('user', 'ok'), a]), [{'role': 'user', 'content': 'x'}]),
    ('session []', lambda m, a: S(m)[a], [0]),
    ('session slice', lambda m, a, b, c: S(m)[a:b:c], [None, None, None]),
    ('get', lambda m, a, b: S(m).get(a, b), ['q', None]),
    ('session in', lambda m, a: a in S(m), ['q']),
    ('tail', lambda m, a, b: S(m).tail(a, before=b), [2, None]),
    ('update', lambda m, a, b, c, d: S(m).update(a, content=b, pending=c, metadata=d), ['q', None, None, None]),
    ('update_message_metadata', lambda m, a, b: S(m).update_message_metadata(a, b), ['q', {}]),
    ('update_message_metadata kw', lambda m, a: S(m).update_message_metadata('q', k=a), [1]),
    ('append_chunk', lambda m, a, b: S(m).append_chunk(a, b), ['p', 'x']),
    ('finalize', lambda m, a, b, c: S(m).finalize(a, content=b, metadata=c), ['zz', None, None]),
    ('add_message writer', lambda m, a, b: S(m).add_message('assistant', '', pending=True, after=a, writer=b), [None, 'w']),
    ('start_turn', lambda m, a, b, c: S(m).start_turn(a, after=b, writer=c), ['x', None, None]),
    ('append_chunk writer', lambda m, a, b: S(m).append_chunk(a, 'x', writer=b), ['p', None]),
    ('heartbeat', lambda m, a, b: S(m).heartbeat(a, writer=b), ['p', None]),
    ('fail', lambda m, a, b, c, d: S(m).fail(a, b, metadata=c, writer=d), ['zz', 'boom', None, None]),
    ('stop', lambda m, a: S(m).stop(a), ['zz']),
    ('settle', lambda m, a, b: S(m).settle(a, b), ['p', None]),
    ('stale_replies', lambda m, a: m.stale_replies(a), [10]),
    ('follow', lambda m, a, b: drain(S(m).follow(a, timeout=b)), ['q', 0]),
    ('stream_reply', lambda m, a, b, c, d, e: drain(S(m).stream_reply(a, every=b, chars=c, writer=d, metadata=e)), [['x'], 0.25, 2000, None, None]),
    ('edit', lambda m, a, b, c, d: S(m).edit(a, b, metadata=c, id=d), ['q', 'x', None, None]),
    ('regenerate', lambda m, a, b, c, d, e, f: S(m).regenerate(a, b, pending=c, metadata=d, id=e, writer=f), ['a', '', True, None, None, None]),
    ('add_branch', lambda m, a, b, c: S(m).add_branch(a, b, writer=c), ['q', [{'role': 'user', 'content': 'x'}], None]),
    ('add_branch item', lambda m, a: S(m).add_branch(None, [Message('user', 'ok'), a]), [{'role': 'user', 'content': 'x'}]),
    ('siblings', lambda m, a: S(m).siblings(a), ['q']),
    ('insert', lambda m, a, b, c: S(m).insert(a, b, writer=c), [1, [{'role': 'user', 'content': 'x'}], None]),
    ('insert item', lambda m, a: S(m).insert(0, [Message('user', 'ok'), a]), [{'role': 'user', 'content': 'x'}]),
    ('records', lambda m, a, b, c, d, e: S(m).records(a, after=b, before=c, limit=d, reverse=e), ['', None, None, None, False]),
    ('set_records', lambda m, a, b, c: S(m).set_records(a, drop=b, keep=c), [{'k': 1}, None, ()]),
    ('import records', lambda m, a: m.import_session(dict(session_id='imp', records=a)), [{'k': 1}]),
    ('summarize', lambda m, a, b, c, d: S(m).summarize(a, b, metadata=c, id=d), ['a', 'S', None, None]),
    ('search', lambda m, a, b, c, d, e: m.search(a, owner=b, limit=c, offset=d, order=e), ['q', 'ana', 20, 0, 'newest']),
    ('import summaries', lambda m, a: m.import_session(dict(session_id='imp', messages=[{'role': 'user', 'content': 'x', 'id': 'x'}], summaries=a)), [[{'upto': 'x', 'content': 'S'}]]),
    ('switch', lambda m, a: S(m).switch(a), ['q']),
    ('import tree', lambda m, a: m.import_session(dict(session_id='imp', messages=[{'role': 'user', 'content': 'x', 'id': 'x'}], tree=a)), [{'parents': [None], 'head': 'x'}]),
    ('delete', lambda m, a: S(m).delete(a), ['zz']),
    ('truncate_after', lambda m, a: S(m).truncate_after(a), ['zz']),
    ('update_metadata', lambda m, a: S(m).update_metadata(a), [{}]),
    ('update_metadata kw', lambda m, a: S(m).update_metadata(k=a), [1]),
    ('title', lambda m, a: setattr(S(m), 'title', a), ['T']),
    ('expire', lambda m, a, b: S(m).expire(ttl=a, expires_at=b), [3600, None]),
    ('fork', lambda m, a, b, c: S(m).fork(at=a, session_id=b, metadata=c), [None, 'zz', None]),
    ('from_json', lambda m, a: ChatSession.from_json(a), ['{"session_id": "x"}']),
    ('from_dict', lambda m, a: ChatSession.from_dict(a), [{'session_id': 'x'}]),
    ('Message', lambda m, a, b, c, d, e: Message(a, b, c, d, e), ['user', 'x', None, False, None]),
    ('Message.from_dict', lambda m, a: Message.from_dict(a), [{'role': 'user', 'content': 'x'}]),
    ('check_json', lambda m, a: check_json(a), [{}]),
    ('connect', lambda m, a: connect(a), ['memory://']),
]

def fill(m):
    for sid in m.list_sessions(): m.delete_session(sid)
    s = m.create_session('s', metadata={'title': 'T'})
    s.add_messages([Message('user', 'q', id='q'), Message('assistant', 'a', id='a', metadata={'k': 1}), Message('assistant', '', id='p', pending=True)])
    m.create_session('other').add_message('user', 'x', id='x')

def dump(m):
    "What the store holds: each session's summary and its whole tree"
    return [(i, t.messages, t.parents, t.head, m[i.session_id].summaries(), m[i.session_id].records()) for i in m.sessions() for t in [m[i.session_id].tree()]]

FULL = os.environ.get('CHATSTATE_FUZZ') == 'full'

def hostile_calls(shard=0):
    "Each call with each argument replaced by each hostile value (those of `shard`, one of three, unless CHATSTATE_FUZZ=full)"
    for name,call,args in CALLS:
        for k in range(len(args)):
            for j,v in enumerate(HOSTILE):
                if FULL or j % 3 == shard % 3: yield name, k, v, call, [*args[:k], v, *args[k+1:]]

def test_only_chatstate_errors_and_nothing_changed(store, mgr, request):
    fill(mgr)
    seer,leaks,changed = store.open(),[],[]
    before = dump(seer)
    for name,k,v,call,args in hostile_calls(request.node.callspec.indices['store']):
        try: call(mgr, *args)
        except ChatStateError:
            now = dump(seer)
            if now != before: changed.append((name, k, v)); fill(mgr); before = dump(seer)
            continue
        except Exception as e: leaks.append((name, k, type(v).__name__, f'{type(e).__name__}: {str(e)[:80]}')); continue
        now = dump(seer)
        if now != before: fill(mgr); before = dump(seer)
    assert leaks == [] and changed == []

# --- the format converters, which need no store

FORMAT_CALLS = [
    ('to_openai', lambda a: to_openai(a), [[Message('user', 'x')]]),
    ('from_openai', lambda a: from_openai(a), [[{'role': 'user', 'content': 'x'}]]),
    ('from_openai item', lambda a: from_openai([a]), [{'role': 'user', 'content': 'x'}]),
    ('from_openai content', lambda a: from_openai([{'role': 'user', 'content': a}]), ['x']),
    ('from_openai tool_calls', lambda a: from_openai([{'role': 'assistant', 'content': None, 'tool_calls': a}]), [[]]),
    ('from_openai call', lambda a: from_openai([{'role': 'assistant', 'content': None, 'tool_calls': [a]}]),
     [{'id': 'c', 'type': 'function', 'function': {'name': 'f', 'arguments': '{}'}}]),
    ('to_anthropic', lambda a: to_anthropic(a), [[Message('user', 'x')]]),
    ('to_anthropic tool_calls', lambda a: to_anthropic([Message('assistant', '', metadata={'tool_calls': a})]), [[]]),
    ('to_anthropic arguments', lambda a: to_anthropic([Message('assistant', '', metadata={'tool_calls': [{'id': 'c', 'function': {'name': 'f', 'arguments': a}}]})]), ['{}']),
    ('from_anthropic', lambda a, b: from_anthropic(a, system=b), [[{'role': 'user', 'content': 'x'}], None]),
    ('from_anthropic block', lambda a: from_anthropic([{'role': 'assistant', 'content': [a]}]), [{'type': 'text', 'text': 'x'}]),
    ('from_anthropic tool_use', lambda a, b, c: from_anthropic([{'role': 'assistant', 'content': [{'type': 'tool_use', 'id': a, 'name': b, 'input': c}]}]), ['t', 'f', {}]),
    ('from_anthropic tool_result', lambda a, b: from_anthropic([{'role': 'assistant', 'content': [{'type': 'tool_use', 'id': 't', 'name': 'f', 'input': {}}]},
                                                              {'role': 'user', 'content': [{'type': 'tool_result', 'tool_use_id': a, 'content': b}]}]), ['t', 'r']),
    ('to_claudette', lambda a: to_claudette(a), [[Message('user', 'x')]]),
    ('from_claudette', lambda a, b: from_claudette(a, b), [['hi'], '']),
    ('to_lisette', lambda a: to_lisette(a), [[Message('user', 'x')]]),
    ('from_lisette', lambda a, b: from_lisette(a, b), [['hi'], '']),
    ('window', lambda a, b, c: window(a, max_messages=b, max_tokens=c), [[Message('user', 'x')], None, None]),
    ('estimate_tokens', lambda a: estimate_tokens(a), ['x']),
]
HOSTILE_PAYLOADS = HOSTILE + [{'k': '[' * 100_000}, '[' * 100_000, [{'role': 'user', 'content': 'x'}] * 3, {'id': ['unhashable']}, [{'x': 1}], 5]

def test_format_converters_raise_only_chatstate_errors():
    leaks = []
    for name,call,args in FORMAT_CALLS:
        for k in range(len(args)):
            for v in HOSTILE_PAYLOADS:
                try: call(*[*args[:k], v, *args[k+1:]])
                except ChatStateError: pass
                except Exception as e: leaks.append((name, k, type(v).__name__, f'{type(e).__name__}: {str(e)[:80]}'))
    assert leaks == []

# --- store URLs: refused at once, or unreachable, never a raw error, never a hang, never a password

SECRET = 's3cr3t-pw'
URLS = ['redis://h:abc/0', 'redis://127.0.0.1:1/x', 'redis://127.0.0.1:1/0?foo=1', 'redis://127.0.0.1:1/0?timeout=-1', 'redis://127.0.0.1:1/0?timeout=nan',
        'redis://127.0.0.1:1/0?socket_timeout=soon', 'redis://127.0.0.1:1/0?pool_size=x', 'redis://127.0.0.1:1/0?pool_size=0', 'redis://127.0.0.1:1/0?pool_size=1001', 'redis://127.0.0.1:99999/0', f'redis://:{SECRET}@127.0.0.1:1/0', f'rediss://u:{SECRET}@127.0.0.1:1/0?ssl_cert_reqs=none',
        'postgresql://x@127.0.0.1:99999/db', 'postgresql://x@127.0.0.1:abc/db', 'postgresql://x@127.0.0.1:1/db?pool_size=0', 'postgresql://x@127.0.0.1:1/db?pool_size=x',
        'postgresql://x@127.0.0.1:1/db?foo=bar', 'postgresql://x@127.0.0.1:1/db?timeout=0', 'postgresql://x@127.0.0.1:1/db?schema=a-b',
        f'postgresql://u:{SECRET}@127.0.0.1:1/db', f'postgresql://u@127.0.0.1:1/db?password={SECRET}', 'postgres://127.0.0.1:1/db?connect_timeout=x',
        'sqlite:///a\x00b.db', 'sqlite:///{tmp}/x.db?timeout=inf', 'sqlite:///{tmp}/x.db?timeout=-1', 'sqlite:///{tmp}/x.db?synchronous=1', 'sqlite:///{tmp}/x.db?bad=1',
        'sqlite:///{tmp}', 'sqlite:///{tmp}/no/such/dir/x.db', 'memory://x', 'mysql://db', '', '://', 'redis:', '\ud800://x', 'sqlite:///\ud800']

async def _aopen(url):
    async with aconnect(url) as m: await m.create_session('x'); await m.count()

@pytest.mark.parametrize('api', ['sync', 'async'])
def test_hostile_store_urls(tmp_path, api):
    "Every hostile URL, given to `connect` or `aconnect`, is a chatstate error that shows no password, within seconds"
    from conftest import run_async
    leaks = []
    for url in URLS:
        url = url.replace('{tmp}', str(tmp_path))
        t0 = time.monotonic()
        try:
            if api == 'async': run_async(_aopen(url))
            else: m = connect(url); m.create_session('x'); len(m); m.close()
        except ChatStateError as e:
            if SECRET in str(e) or SECRET in repr(e.args): leaks.append((url, 'password shown', str(e)))
        except Exception as e: leaks.append((url, f'{type(e).__name__}: {str(e)[:80]}'))
        if time.monotonic() - t0 > 10: leaks.append((url, f'took {time.monotonic() - t0:.0f} s'))
    assert leaks == []

def test_reprs_mask_passwords():
    r = connect(f'redis://:{SECRET}@127.0.0.1:1/0')
    assert SECRET not in repr(r) and '***' in repr(r)
    with pytest.raises(StoreError) as e: r.create_session('x')
    assert SECRET not in str(e.value)

# --- the command line, run in-process

def run_cli(*args):
    out,err = io.StringIO(),io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): code = main(list(args))
    return code, out.getvalue(), err.getvalue()

@pytest.mark.parametrize('kind', ['sqlite', 'redis', 'postgres']) # a memory:// URL opens a new, empty store each time
def test_cli_hostile_arguments(kind, tmp_path):
    from conftest import Store
    store = Store(kind, tmp_path)
    try: cli_hostile(store, tmp_path)
    finally: store.close()

def cli_hostile(store, tmp_path):
    fill(store.open())
    u,seer = store.url,store.open()
    bad = tmp_path/'bad.jsonl'; bad.write_bytes(b'\xff\xfe not text\n')
    deepf = tmp_path/'deep.jsonl'; deepf.write_text('[' * 100_000 + '\n')
    cases = [('list', '--limit', '-1'), ('list', '--offset', '-5'), ('list', '--order', 'x'),
             ('show', 's', '--tail', '-1'), ('show', '\x1b[2J'), ('show', ''), ('add', 's', 'x', '--meta', '{"role": 1}'),
             ('add', 's', 'x', '--role', ''), ('add', 's', 'x', '--meta', '[' * 5000), ('add', '', 'x'), ('add', 'x' * 300, 'x'),
             ('export', '--out', '/nonexistent/dir/x.jsonl'), ('export', 'zz', '--out', str(tmp_path/'x.jsonl')), ('import', '/nonexistent'),
             ('import', str(bad)), ('import', str(deepf)), ('import', str(tmp_path)), ('copy', u, 'mysql://x'), ('prune', '--before', '99999-01-01'),
             ('delete', ''), ('delete', 'zz'), ('import', str(tmp_path/'x.jsonl'), '--on-conflict', 'merge')]
    before,leaks = dump(seer),[]
    for args in cases:
        args = [*args, '--store', u] if args[0] != 'copy' else list(args)
        code,out,err = run_cli(*args)
        if code not in (1, 2, 3, 4) or 'Traceback' in err or len(err.splitlines()) != 1: leaks.append((args[:3], code, err[-200:]))
        if dump(seer) != before: leaks.append((args[:3], 'changed the store'))
    assert leaks == []
