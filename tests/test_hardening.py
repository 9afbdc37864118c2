"Every call all-or-nothing, on every store: merges, replace-import and pop are atomic; expiry, listing order, copies, close, fork."
import asyncio, os, signal, sys, threading, time, warnings, pytest
from hypothesis import given, settings, HealthCheck, strategies as st
from chatstate import *
from chatstate.core import merge_metadata
from test_threads import run_threads

# --- metadata merges are one atomic step

def test_concurrent_session_merges_keep_every_key(mgr):
    s = mgr.create_session('m', metadata={'title': 'T'})
    run_threads(lambda t: [mgr['m'].update_metadata(**{f'k{t}_{i}': i}) for i in range(50)])
    md = s.metadata
    assert md == {'title': 'T', **{f'k{t}_{i}': i for t in range(8) for i in range(50)}} and list(md)[0] == 'title'

def test_concurrent_message_merges_keep_every_key(mgr):
    s = mgr.create_session('m')
    r = s.add_message('assistant', '', pending=True, metadata={'model': 'x'})
    run_threads(lambda t: [s.update_message_metadata(r.id, **{f'k{t}_{i}': i}) for i in range(25)])
    assert s[r.id].metadata == {'model': 'x', **{f'k{t}_{i}': i for t in range(8) for i in range(25)}}

def test_merge_meaning(mgr):
    s = mgr.create_session('m', metadata={'a': 1, 'b': {'x': 1}, 'c': 3})
    assert list(s.update_metadata(b={'y': 2}, a=None, d=4).items()) == [('b', {'y': 2}), ('c', 3), ('d', 4)]
    assert list(s.metadata.items()) == [('b', {'y': 2}), ('c', 3), ('d', 4)]
    assert s.update_metadata({'key with space': 1, 'b': None}) == {'c': 3, 'd': 4, 'key with space': 1}
    m = s.add_message('user', 'q', metadata={'p': 1, 'q': [1]})
    assert list(s.update_message_metadata(m.id, q=None, r='new', p=2).metadata.items()) == [('p', 2), ('r', 'new')]
    assert s.update_message_metadata(m.id, p=None, r=None).metadata == {} == s[m.id].metadata
    assert s.update_message_metadata(m.id, z=1).metadata == {'z': 1}

json_val = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
                        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=8)
keys = st.sampled_from(['a', 'b', 'c', 'é', '"q"', 'x\\y', '🙂', ''])

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(keys, json_val, max_size=5), st.dictionaries(keys, st.none() | json_val, max_size=5))
def test_merge_is_the_same_on_every_store(mgr, md, patch):
    sid = new_id()
    s = mgr.create_session(sid, metadata=md)
    want = merge_metadata(md, patch)
    assert list(s.update_metadata(patch).items()) == list(want.items()) == list(mgr[sid].metadata.items())
    m = s.add_message('user', 'x', metadata={f'm{k}': v for k,v in md.items()})
    got = s.update_message_metadata(m.id, {f'm{k}': v for k,v in patch.items()}).metadata
    assert list(got.items()) == list(merge_metadata(m.metadata, {f'm{k}': v for k,v in patch.items()}).items()) == list(s[m.id].metadata.items())
    mgr.delete_session(sid)

def test_finalize_merges(mgr):
    s = mgr.create_session('f')
    r = s.add_message('assistant', '', pending=True, metadata={'model': 'gpt-x'})
    s.append_chunk(r.id, 'hi')
    done = s.finalize(r.id, metadata={'usage': {'out': 1}})
    assert done == s[r.id] == Message('assistant', 'hi', r.id, False, {'model': 'gpt-x', 'usage': {'out': 1}})
    assert s.finalize(r.id, content='hello').metadata == {'model': 'gpt-x', 'usage': {'out': 1}}

# --- replace-import and pop are one step

def test_replace_import_never_leaves_the_session_missing(store, mgr):
    d = {'session_id': 'r', 'metadata': {'v': 0}, 'messages': [{'role': 'user', 'content': 'x'}]}
    mgr.import_session(d)
    reader,stop,missing,errors = store.open(),threading.Event(),[],[]
    def read():
        while not stop.is_set():
            if reader.get_session('r') is None or 'r' not in reader: missing.append(1)
    def replace(t):
        try:
            for i in range(40): mgr.import_session({**d, 'metadata': {'v': t*100+i}}, on_conflict='replace')
        except Exception as e: errors.append(e)
    rt = threading.Thread(target=read); rt.start()
    try: run_threads(replace, 4)
    finally: stop.set(); rt.join()
    assert errors == [] and missing == []
    assert len(mgr['r']) == 1 and mgr.list_sessions() == ['r']

def test_concurrent_pops_take_each_message_once(mgr):
    s = mgr.create_session('p')
    s.add_messages([Message('user', str(i), id=str(i)) for i in range(200)])
    got,errors = [],[]
    def pop(t):
        while True:
            try: got.append(s.pop().id)
            except EmptySessionError: return
            except Exception as e: errors.append(e); return
    run_threads(pop)
    assert errors == [] and sorted(got, key=int) == [str(i) for i in range(200)] and len(s) == 0

def test_streaming_while_regenerating(mgr):
    "Chunks into a reply while another writer truncates and pops: no deadlock, no error but the expected ones"
    s = mgr.create_session('regen')
    q = s.add_message('user', 'q')
    stop,errors = time.monotonic() + 1.5,[]
    def stream(t):
        while time.monotonic() < stop:
            try:
                r = s.add_message('assistant', '', pending=True)
                for c in 'abc': s.append_chunk(r.id, c)
                s.finalize(r.id, metadata={'t': t})
            except (MessageNotFoundError, InvalidValueError): pass
            except Exception as e: errors.append(e); return
    def regenerate(t):
        while time.monotonic() < stop:
            try:
                s.truncate_after(q.id) if t % 2 else s.pop()
                if not len(s): s.add_message('user', 'q', id=q.id)
            except (EmptySessionError, MessageNotFoundError, DuplicateMessageError): pass
            except Exception as e: errors.append(e); return
    run_threads(lambda t: (stream if t < 4 else regenerate)(t))
    assert errors == []

# --- expiry: gone at once, everywhere; far-off times work

def test_expire_in_the_past_is_gone_at_once(store, mgr):
    mgr.create_session('keep').add_message('user', 'k')
    s = mgr.create_session('x', metadata={'title': 'X'})
    s.add_message('user', 'hi')
    s.expire(expires_at=time.time() - 1)
    for m in (mgr, store.open()):
        assert 'x' not in m and m.get_session('x') is None and len(m) == 1
        assert m.list_sessions() == ['keep'] and [i.session_id for i in m.sessions()] == ['keep']
    with pytest.raises(SessionNotFoundError): s.add_message('user', 'late')
    assert mgr.create_session('x').messages == [] and mgr['x'].title is None
    mgr.delete_session('x')
    assert mgr.purge_expired() == 0

def test_far_future_expiry(store, mgr):
    s = mgr.create_session('far', expires_at=MAX_TIME)
    s.add_message('user', 'hi')
    assert store.open()['far'].expires_at == MAX_TIME and len(mgr) == 1
    s.expire(ttl=100 * 365 * 86400)
    assert s.expires_at > time.time() + 99 * 365 * 86400
    with pytest.raises(InvalidValueError, match='the year 10000'): mgr.create_session('too-far', expires_at=MAX_TIME + 1)
    assert mgr.list_sessions() == ['far']

def test_purge_counts_each_expired_session_once(store, mgr):
    for i in range(6): mgr.create_session(f'e{i}', ttl=0.2)
    mgr.create_session('live')
    time.sleep(0.3)
    assert mgr.list_sessions() == ['live'] and len(mgr.sessions(limit=3)) == 1 and len(mgr) == 1
    assert store.open().purge_expired() == 6 and mgr.purge_expired() == 0

def test_purge_idle_sessions(mgr):
    mgr.import_session({'session_id': 'idle', 'updated': 1000.0})
    mgr.import_session({'session_id': 'busy', 'updated': 1000.0})
    mgr['busy'].add_message('user', 'came back')
    assert mgr.purge_expired(updated_before=2000.0) == 1 and mgr.list_sessions() == ['busy']

# --- listing: one order everywhere

def test_ties_list_oldest_first_on_every_store(mgr):
    for i in range(7): mgr.import_session({'session_id': f't{i}', 'created': 1.0, 'updated': 5.0 if i % 2 else 7.0})
    want = ['t0', 't2', 't4', 't6', 't1', 't3', 't5']
    assert [i.session_id for i in mgr.sessions()] == want
    assert [i.session_id for k in range(0, 7, 2) for i in mgr.sessions(limit=2, offset=k)] == want
    assert mgr._list('updated', 3, 1, False) == want[1:4]
    assert mgr._list('created', None, 0, False) == mgr.list_sessions() == [f't{i}' for i in range(7)]

def test_preview_keeps_nul(mgr):
    s = mgr.create_session('nul')
    s.add_message('user', 'a\x00b' + 'c' * 200)
    assert mgr['nul'].info.preview == ('a\x00b' + 'c' * 200)[:PREVIEW_LEN]

# --- values handed out are copies

def test_values_handed_out_are_copies(store, mgr):
    s = mgr.create_session('c', metadata={'tags': ['a'], 'n': {'k': 1}})
    given = s.add_message('user', 'hi', metadata={'k': [1]})
    given.metadata['k'].append(2)
    s[0].metadata['k'].append(3)
    s.messages[0].metadata['new'] = 1
    s.metadata['tags'].append('b'); s.info.metadata['n']['k'] = 2; mgr.sessions()[0].metadata['x'] = 1
    f = s.fork(session_id='f')
    f[0].metadata['k'].append(4)
    for m in (mgr, store.open()):
        assert m['c'][0].metadata == {'k': [1]} == m['f'][0].metadata
        assert m['c'].metadata == {'tags': ['a'], 'n': {'k': 1}}
    assert hash(s[0]) == hash(s[0]) and len({s[0], s[0], *s.messages}) == 1

# --- close ends a manager

def test_close_ends_the_manager(store):
    m = store.open() if store.kind != 'memory' else store.fresh()
    s = m.create_session('c')
    m.close()
    for call in (lambda: s.add_message('user', 'x'), lambda: len(m), lambda: m.list_sessions(), lambda: m.create_session('d'), lambda: 'c' in m):
        with pytest.raises(StoreClosedError, match='closed') as e: call()
        assert isinstance(e.value, RuntimeError) and isinstance(e.value, StoreError)
    m.close()

# --- a forked child works, whatever a thread of its parent was doing

def _busy(mgr, sid, stop):
    s = mgr[sid]
    while not stop.is_set(): s.add_message('user', 'parent'); s.tail(2); mgr.sessions(limit=2)

def child(mgr, i):
    s = mgr['child']
    s.add_message('user', f'child {i}')
    return s.get(s[-1].id) is not None and len(mgr) >= 2

async def achild(mgr, i):
    "The child's own event loop drives the async manager it inherited: its threads are made anew"
    s = await mgr['child']
    await s.add_message('user', f'child {i}')
    return await s.get((await s[-1]).id) is not None and await mgr.count() >= 2

@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_fork_while_another_thread_is_inside_a_call(store, mgr):
    mgr.create_session('parent'); mgr.create_session('child')
    stop = threading.Event()
    ts = [threading.Thread(target=_busy, args=(mgr, 'parent', stop)) for _ in range(2)]
    for t in ts: t.start()
    pids = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning) # Python 3.12+ warns of fork with threads: that is the case under test
            for i in range(10):
                time.sleep(0.02)
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try: code = 0 if (child(mgr, i) if store.api == 'sync' else asyncio.run(achild(mgr._o, i))) else 1
                    finally: os._exit(code)
                pids.append(pid)
    finally:
        stop.set()
        for t in ts: t.join()
    codes,deadline = [],time.monotonic() + 30
    for pid in pids:
        while True:
            done,status = os.waitpid(pid, os.WNOHANG)
            if done: codes.append(os.waitstatus_to_exitcode(status)); break
            if time.monotonic() > deadline: os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0); codes.append('hung'); break
            time.sleep(0.01)
    assert codes == [0] * 10
    if store.kind != 'memory': assert len(mgr['child']) == 10

# --- the longest ids every store takes, of the widest characters

def test_longest_ids_work_on_every_store(store, mgr):
    for ch in ('🙂', '\x00', '\ue000', 'a'):
        sid = mid = ch * MAX_ID_LEN
        s = mgr.create_session(sid, metadata={'k': ch})
        s.add_message('user', 'x', id=mid)
        assert store.open()[sid][mid].id == mid and mgr.delete_session(sid)
    with pytest.raises(InvalidValueError, match=f'longer than {MAX_ID_LEN} characters'): mgr.create_session('a' * (MAX_ID_LEN + 1))
    assert mgr.list_sessions() == []
