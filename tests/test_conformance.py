"One contract, every store: each test runs, unchanged, on every store the `store` fixture yields."
import json, time, uuid, pytest
from chatstate import *

def contents(s): return [m.content for m in s]

# --- the seed pattern, and write-through

def test_seed_pattern_without_save(store, mgr):
    s = mgr.create_session('session-1')
    m = s.add_message('User', 'First message')
    assert mgr.list_sessions() == ['session-1']
    assert mgr.get_session('session-1').get_message_dicts() == [{'role': 'User', 'content': 'First message', 'id': m.id}]
    other = store.open()
    assert other.get_session('session-1').messages == [m]

def test_second_manager_sees_every_change(store, mgr):
    s = mgr.create_session('a', metadata={'title': 'A'})
    a,b = s.add_message('User', 'q'), s.add_message('Assistant', '', pending=True)
    t = store.open()['a']
    s.append_chunk(b.id, 'ans')
    assert t[-1].content == 'ans' and t[-1].pending
    t.finalize(b.id)
    assert not s[-1].pending
    t.title = 'B'
    assert s.title == 'B'
    s.delete(a.id)
    assert t.messages == [s[0]] and len(t) == 1

# --- messages

def test_message_fields_round_trip(mgr):
    s = mgr.create_session('rt')
    md = {'model': 'gpt-4', 'tool_calls': [{'id': 'call_1', 'type': 'function', 'function': {'name': 'f', 'arguments': '{"x": 1}'}}],
          'none': None, 'zero': 0, 'empty': '', 'f': 1.5, 'big': 10**20, 'nested': {'a': [True, False, None]}}
    m = s.add_message('Assistant', 'héllo 🙂\n\t"quoted"', metadata=md, pending=True, id='my-id')
    assert s['my-id'] == m and s[0] == m
    assert s.messages == [m]
    assert s.get_message_dicts() == [m.to_dict(nested=True)]
    assert m.metadata == md

def test_order_and_ids_are_stable(mgr):
    s = mgr.create_session('o')
    ms = [s.add_message('User' if i%2 else 'Assistant', f'm{i}') for i in range(50)]
    assert s.messages == ms
    assert [m.id for m in s] == [m.id for m in ms]
    assert s.tail(5) == ms[-5:]
    assert s.tail(5, before=ms[10].id) == ms[5:10]
    assert s.tail(5, before=ms[2].id) == ms[:2]
    assert s[3:7] == ms[3:7] and s[-1] == ms[-1] and s[-50] == ms[0] and s[::7] == ms[::7]
    assert s[-3:] == ms[-3:] and s[45:100] == ms[45:]

def test_index_errors(mgr):
    s = mgr.create_session('ix')
    s.add_messages([Message('User', 'a'), Message('User', 'b')])
    for i in (2, -3, 100):
        with pytest.raises(IndexError, match=f'no message at position {i}'): s[i]
    with pytest.raises(MessageNotFoundError): s['nope']
    assert s.get('nope') is None and 'nope' not in s

def test_add_messages_is_atomic(store, mgr):
    s = mgr.create_session('atomic')
    a = s.add_message('User', 'a')
    with pytest.raises(DuplicateMessageError, match=repr(a.id)): s.add_messages([Message('User', 'b'), Message('User', 'c', id=a.id)])
    with pytest.raises(DuplicateMessageError, match='appears twice'): s.add_messages([Message('User', 'b', id='x'), Message('User', 'c', id='x')])
    assert store.open()['atomic'].messages == [a]
    added = s.add_messages([{'role': 'User', 'content': 'flat', 'k': 1}, {'role': 'User', 'content': 'nested', 'metadata': {'k': 2}}])
    assert [m.metadata for m in s[1:]] == [{'k': 1}, {'k': 2}] and s[1:] == added

def test_same_message_id_in_two_sessions(mgr):
    a,b = mgr.create_session('s1'),mgr.create_session('s2')
    a.add_message('User', 'in a', id='m')
    b.add_message('User', 'in b', id='m')
    assert a['m'].content == 'in a' and b['m'].content == 'in b'
    b.delete('m')
    assert a['m'].content == 'in a'

def test_update_stream_finalize(mgr):
    s = mgr.create_session('st')
    q = s.add_message('User', 'q')
    r = s.add_message('Assistant', '', pending=True, metadata={'model': 'm'})
    for c in ['a', 'b', '', 'c🙂']: s.append_chunk(r.id, c)
    assert s[r.id] == Message('Assistant', 'abc🙂', r.id, True, {'model': 'm'})
    done = s.finalize(r.id, metadata={'model': 'm', 'finish': 'stop'})
    assert s[-1] == done and not done.pending and done.content == 'abc🙂'
    with pytest.raises(InvalidValueError, match='is not pending'): s.append_chunk(r.id, 'late')
    assert s[-1] == done
    e = s.update(q.id, content='q2')
    assert s[0] == e == Message('User', 'q2', q.id)
    assert s.update(q.id, pending=True).pending and s.update(q.id, pending=False).pending is False
    assert s.update(q.id, metadata={}).metadata == {}
    assert contents(s) == ['q2', 'abc🙂']
    with pytest.raises(MessageNotFoundError, match="no message 'zz'"): s.update('zz', content='x')
    with pytest.raises(MessageNotFoundError): s.append_chunk('zz', 'x')

def test_delete_pop_truncate_clear(mgr):
    s = mgr.create_session('d')
    ms = s.add_messages([Message('User', str(i)) for i in range(6)])
    assert s.delete(ms[2].id) == ms[2]
    assert contents(s) == ['0', '1', '3', '4', '5']
    assert s.tail(2, before=ms[3].id) == [ms[0], ms[1]]
    assert s.pop() == ms[5]
    assert s.truncate_after(ms[1].id) == [ms[3], ms[4]]
    assert s.truncate_after(ms[1].id) == []
    n = s.add_message('User', 'new')
    assert s.messages == [ms[0], ms[1], n]
    assert s.clear() == 3 and len(s) == 0 and s.messages == []
    with pytest.raises(EmptySessionError): s.pop()
    with pytest.raises(MessageNotFoundError): s.delete(ms[0].id)
    with pytest.raises(MessageNotFoundError): s.truncate_after(ms[0].id)
    s.add_message('User', 'again', id=ms[0].id)
    assert contents(s) == ['again']

# --- sessions

def test_create_get_delete(store, mgr):
    s = mgr.create_session('x', metadata={'title': 'X', 'user': 'u1'})
    assert 'x' in mgr and len(mgr) == 1 and mgr['x'] == s
    with pytest.raises(DuplicateSessionError, match="'x' already exists"): mgr.create_session('x')
    assert mgr['x'].metadata == {'title': 'X', 'user': 'u1'}
    assert mgr.get_session('nope') is None and 'nope' not in mgr
    with pytest.raises(SessionNotFoundError, match="no session 'nope'"): mgr['nope']
    auto = mgr.create_session()
    assert uuid.UUID(auto.session_id).version == 4
    assert mgr.get_or_create('x').title == 'X' and mgr.get_or_create('y', metadata={'title': 'Y'}).title == 'Y'
    assert mgr.list_sessions() == ['x', auto.session_id, 'y']
    assert mgr.delete_session('x') and not mgr.delete_session('x')
    assert 'x' not in store.open() and len(mgr) == 2
    with pytest.raises(SessionNotFoundError, match="no session 'x'"): s.add_message('User', 'hi')
    with pytest.raises(SessionNotFoundError): len(s)
    with pytest.raises(SessionNotFoundError): del mgr['x']

def test_session_details(mgr):
    t0 = time.time()
    s = mgr.create_session('det')
    assert t0 - 1 <= s.created <= s.updated <= time.time() + 1
    u0 = s.updated
    time.sleep(0.01)
    s.add_message('User', 'hi')
    u1 = s.updated
    assert u1 > u0
    time.sleep(0.01)
    s.title = 'T'
    assert s.updated > u1 and s.title == 'T'
    assert s.update_metadata(k=[1, {'a': None}]) == {'title': 'T', 'k': [1, {'a': None}]}
    assert s.update_metadata(k=None) == {'title': 'T'} == s.metadata
    s.title = None
    assert s.title is None and s.metadata == {}

def test_lists_and_summaries(mgr):
    for i in range(5): mgr.create_session(f's{i}', metadata={'title': f'T{i}'})
    time.sleep(0.01)
    mgr['s1'].add_message('User', 'x' * 300)
    time.sleep(0.01)
    mgr['s3'].add_message('Assistant', 'latest')
    assert mgr.list_sessions() == ['s0', 's1', 's2', 's3', 's4']
    assert mgr.list_sessions(limit=2, offset=3) == ['s3', 's4'] and mgr.list_sessions(offset=9) == []
    assert list(mgr) == mgr.list_sessions()
    top = mgr.sessions(limit=2)
    assert [o.session_id for o in top] == ['s3', 's1']
    assert (top[0].title, top[0].message_count, top[0].preview, top[0].last_role) == ('T3', 1, 'latest', 'Assistant')
    assert top[1].preview == 'x' * 100
    assert [o.session_id for o in mgr.sessions(offset=2)] == ['s4', 's2', 's0']
    assert [o.session_id for o in mgr.sessions(order='created', limit=2, offset=1)] == ['s1', 's2']
    assert mgr.sessions(order='created')[0] == mgr['s0'].info
    with pytest.raises(InvalidValueError, match="order must be"): mgr.sessions(order='title')

def test_expiry_and_purge(store, mgr):
    mgr.create_session('short', ttl=0.2).add_message('User', 'bye')
    mgr.create_session('long', ttl=3600).add_message('User', 'stay')
    mgr.create_session('never').add_message('User', 'forever')
    mgr.create_session('at', expires_at=time.time() - 1)
    assert 'at' not in mgr
    h = mgr['short']
    assert h.expires_at is not None
    time.sleep(0.3)
    other = store.open()
    for m in (mgr, other):
        assert m.get_session('short') is None and 'short' not in m
        assert m.list_sessions() == ['long', 'never'] and len(m) == 2
        assert [o.session_id for o in m.sessions()] == ['never', 'long']
    with pytest.raises(SessionNotFoundError): h.add_message('User', 'hello?')
    with pytest.raises(SessionNotFoundError): h.messages
    assert mgr.create_session('short').messages == []
    mgr['long'].expire(expires_at=time.time() - 1)
    assert mgr.purge_expired() == 2 # 'short' (expired by its ttl) and 'long'
    assert mgr.purge_expired() == 0
    assert mgr.list_sessions() == ['never', 'short']
    mgr['never'].expire(ttl=100)
    mgr['never'].expire()
    assert mgr['never'].expires_at is None

def test_import_export(store, mgr):
    s = mgr.create_session('src', metadata={'title': 'Src'}, ttl=1000)
    s.add_messages([Message('User', 'a', metadata={'k': [1]}), Message('Assistant', 'b', pending=True)])
    d = json.loads(s.to_json())
    assert d['messages'] == s.get_message_dicts() and d['expires_at'] == s.expires_at
    mgr.delete_session('src')
    back = mgr.import_session(d)
    assert back.to_dict() == d
    assert store.open()['src'].to_dict() == d
    assert mgr.import_session(d, on_conflict='skip') is None
    with pytest.raises(DuplicateSessionError): mgr.import_session(d)
    assert mgr.import_session({**d, 'messages': d['messages'][:1]}, on_conflict='replace').messages == back.messages[:1]
    bad = {**d, 'session_id': 'bad', 'messages': d['messages'] + [{'role': 'User', 'content': 1}]}
    with pytest.raises(InvalidTypeError): mgr.import_session(bad)
    assert 'bad' not in mgr
    assert ChatSession.from_dict(d).to_dict() == d

def test_fork(store, mgr):
    s = mgr.create_session('orig', metadata={'title': 'O'})
    ms = s.add_messages([Message('User', str(i)) for i in range(4)])
    f = s.fork(at=ms[1].id, session_id='fork')
    assert f.messages == ms[:2] and s.messages == ms
    assert f.metadata == {'title': 'O', 'forked_from': 'orig', 'fork_point': ms[1].id}
    f.add_message('User', 'diverge')
    assert len(s) == 4 and len(store.open()['fork']) == 3
    assert s.fork().messages == ms
    with pytest.raises(MessageNotFoundError): s.fork(at='nope')
    with pytest.raises(DuplicateSessionError): s.fork(session_id='orig')

HOSTILE = ["'; DROP TABLE messages; --", 'a"b', '%', '_', '50% off_', 'x\x00y', '🙂🚀', 'a:b:*', '{tag}', ' spaced id ',
           'back\\slash', '\n', 'ünïcödé', 'sess:*', '*', 'a', 'a:z', 'a%3Az', 'a:h', '\ue000', '\ue0000']

def test_hostile_ids_and_content(store, mgr):
    for i,h in enumerate(HOSTILE):
        s = mgr.create_session(h, metadata={'title': h})
        s.add_message('User', h, metadata={h: h}, id=h)
    other = store.open()
    assert other.list_sessions() == HOSTILE
    for h in HOSTILE:
        s = other[h]
        assert s[h] == Message('User', h, h, metadata={h: h}) and s.title == h and len(s) == 1
    big = 'x' * (1 << 20) + '🙂'
    mgr['%'].add_message('User', big, id='big')
    assert other['%']['big'].content == big and other['_'].messages[0].content == '_'
    assert other['_'].get('big') is None
    assert mgr.delete_session('%') and other.list_sessions() == [h for h in HOSTILE if h != '%']
    assert other['_'].messages == [Message('User', '_', '_', metadata={'_': '_'})]
