"Sessions that belong to a user, on every store and both APIs: created, listed a page at a time, counted, guarded and erased by owner."
import time, pytest
from chatstate import *

@pytest.fixture
def owned(mgr):
    "ana has three sessions (the middle one updated last), bob one, and one session has no owner"
    for sid,who in [('a1', 'ana'), ('a2', 'ana'), ('b1', 'bob'), ('free', None), ('a3', 'ana')]:
        mgr.create_session(sid, metadata={'title': sid}, owner=who).add_message('user', f'hi from {sid}')
    time.sleep(0.01); mgr['a2'].add_message('assistant', 'latest')
    return mgr

def test_listed_and_counted_by_owner(store, owned):
    m = owned
    assert m.list_sessions(owner='ana') == ['a1', 'a2', 'a3'] and m.list_sessions(owner='bob') == ['b1']
    assert [i.session_id for i in m.sessions(owner='ana')] == ['a2', 'a3', 'a1'] # newest first
    assert [i.session_id for i in m.sessions(owner='ana', limit=1, offset=1)] == ['a3']
    assert m.list_sessions(owner='ana', limit=2, offset=1) == ['a2', 'a3']
    assert (m.count(owner='ana'), m.count(owner='bob'), m.count(owner='nobody'), m.count(), len(m)) == (3, 1, 0, 5, 5)
    i = m.sessions(owner='ana')[0]
    assert (i.owner, i.title, i.message_count, i.preview, i.last_role) == ('ana', 'a2', 2, 'latest', 'assistant')
    assert m['free'].info.owner is None and m['b1'].info.owner == 'bob'
    assert m.list_sessions(owner='nobody') == [] and m.sessions(owner='nobody') == []
    other = store.open() # another worker sees the same
    assert other.list_sessions(owner='ana') == ['a1', 'a2', 'a3'] and other.count(owner='bob') == 1

def test_another_owners_session_is_absent(store, owned):
    m,before = owned,{sid: owned[sid].to_dict() for sid in owned.list_sessions()}
    assert m.get_session('a1', owner='bob') is None and m.get_session('free', owner='bob') is None
    assert m.get_session('a1', owner='ana') is not None and m.get_session('a1') is not None
    assert not m.contains('a1', owner='bob') and m.contains('a1', owner='ana') and 'a1' in m
    assert m.delete_session('a1', owner='bob') is False and m.delete_session('free', owner='bob') is False
    with pytest.raises(SessionNotFoundError, match="no session 'a1' of owner 'bob'"): m.get_or_create('a1', owner='bob')
    assert {sid: m[sid].to_dict() for sid in m.list_sessions()} == before # nothing changed
    assert m.get_or_create('a1', owner='ana').id == 'a1' and m.get_or_create('new', owner='bob').info.owner == 'bob'
    assert m.delete_session('a1', owner='ana') is True and m.list_sessions(owner='ana') == ['a2', 'a3']
    assert m.get_session('nope', owner='ana') is None and m.delete_session('nope', owner='ana') is False

def test_owner_travels_with_the_session(store, owned):
    m = owned
    d = m['a1'].to_dict()
    assert d['owner'] == 'ana' and list(d)[-2:] == ['owner', 'messages']
    assert 'owner' not in m['free'].to_dict() # no owner: the seed's dict shape
    c = m.import_session({**d, 'session_id': 'copy'})
    assert c.info.owner == 'ana' and m.list_sessions(owner='ana') == ['a1', 'a2', 'a3', 'copy']
    f = m['a2'].fork(session_id='fork')
    assert f.info.owner == 'ana' and m.count(owner='ana') == 5
    m.import_session({**m['b1'].to_dict(), 'owner': 'ana'}, on_conflict='replace') # replaced whole: it is ana's now
    assert m.list_sessions(owner='bob') == [] and 'b1' in m.list_sessions(owner='ana')
    assert ChatSession.from_dict(d).info.owner == 'ana'

def test_erase_owner(store, owned):
    m = owned
    m.create_session('gone', owner='ana', expires_at=time.time() - 1) # expired: erased too, not counted
    assert m.erase_owner('ana') == 3
    assert m.list_sessions() == ['b1', 'free'] and m.count(owner='ana') == 0 and m.sessions(owner='ana') == []
    assert m.get_session('a1') is None and store.open().list_sessions() == ['b1', 'free']
    assert m.erase_owner('ana') == 0 and m.erase_owner('nobody') == 0
    m.create_session('a1', owner='ana') # the ids are free again, and nothing of the old session is in them
    assert len(m['a1']) == 0 and m.list_sessions(owner='ana') == ['a1']
    assert m['b1'][0].content == 'hi from b1' and m.count(owner='bob') == 1

def test_expired_sessions_of_an_owner(store, mgr):
    mgr.create_session('old', owner='ana', expires_at=time.time() + 0.3)
    mgr.create_session('live', owner='ana')
    time.sleep(0.4)
    assert mgr.list_sessions(owner='ana') == ['live'] and mgr.count(owner='ana') == 1 and mgr.get_session('old', owner='ana') is None
    mgr.create_session('old', owner='bob') # the id of an expired session, taken by another owner
    assert mgr.list_sessions(owner='ana') == ['live'] and mgr.count(owner='ana') == 1
    assert mgr.erase_owner('ana') == 1 and mgr.list_sessions() == ['old'] and mgr['old'].info.owner == 'bob'
    assert mgr.purge_expired() == 0

@pytest.mark.parametrize('bad,exc,text', [(1, InvalidTypeError, 'owner must be a str, not int'), ('', InvalidValueError, 'owner must be a non-empty str'),
                                          ('x' * 300, InvalidValueError, 'owner is longer than 256')])
def test_bad_owner(store, owned, bad, exc, text):
    m,before = owned,{sid: owned[sid].to_dict() for sid in owned.list_sessions()}
    for call in (lambda: m.create_session('n', owner=bad), lambda: m.sessions(owner=bad), lambda: m.list_sessions(owner=bad), lambda: m.count(owner=bad),
                 lambda: m.get_session('a1', owner=bad), lambda: m.delete_session('a1', owner=bad), lambda: m.erase_owner(bad),
                 lambda: m.get_or_create('a1', owner=bad), lambda: m.import_session({'session_id': 'n', 'owner': bad})):
        with pytest.raises(exc, match=text): call()
    with pytest.raises(InvalidValueError, match='erase_owner needs an owner'): m.erase_owner(None)
    assert {sid: m[sid].to_dict() for sid in m.list_sessions()} == before

def test_hostile_owners(store, mgr):
    "Owners are user ids: whatever characters they hold, each owner's sessions are theirs alone (no key or query of one reaches another's)"
    from test_conformance import HOSTILE
    for i,h in enumerate(HOSTILE): mgr.create_session(f's{i}', owner=h).add_message('user', h)
    other = store.open()
    for i,h in enumerate(HOSTILE):
        assert other.list_sessions(owner=h) == [f's{i}'] and other.count(owner=h) == 1, repr(h)
        assert other.sessions(owner=h)[0].owner == h and other.get_session(f's{(i + 1) % len(HOSTILE)}', owner=h) is None
    assert other.erase_owner('a:*') == 0 and other.erase_owner('*') == 1 and other.erase_owner('%') == 1
    assert len(mgr) == len(HOSTILE) - 2 and mgr.count(owner='a') == 1 and mgr.count(owner='*') == 0
