"Bad input: each case raises the class a user would catch, names the offending value, and leaves the store as it was."
import math, pytest
from chatstate import *

def dump(m): return {sid: m[sid].to_dict() for sid in m.list_sessions()}

@pytest.fixture
def filled(mgr):
    s = mgr.create_session('s', metadata={'title': 'T'})
    s.add_messages([Message('User', 'q', id='q'), Message('Assistant', 'a', id='a', metadata={'k': 1}), Message('Assistant', '', id='p', pending=True)])
    mgr.create_session('other').add_message('User', 'x', id='x')
    return mgr

class Weird: pass

CASES = [ # (name, exception class, text the message must contain, call)
    ('role int', InvalidTypeError, 'role must be a str, not int', lambda m: m['s'].add_message(1, 'x')),
    ('role empty', InvalidValueError, "role must be a non-empty str, got ''", lambda m: m['s'].add_message('', 'x')),
    ('role blank', InvalidValueError, "got ' '", lambda m: m['s'].add_message(' ', 'x')),
    ('content None', InvalidTypeError, 'content must be a str, not NoneType', lambda m: m['s'].add_message('User', None)),
    ('content bytes', InvalidTypeError, "content must be a str, not bytes (b'x')", lambda m: m['s'].add_message('User', b'x')),
    ('content surrogate', InvalidValueError, 'content is not valid text', lambda m: m['s'].add_message('User', '\ud800')),
    ('metadata list', InvalidTypeError, 'metadata must be a dict, not list', lambda m: m['s'].add_message('User', 'x', metadata=[1])),
    ('metadata reserved', InvalidValueError, "metadata key 'role' collides", lambda m: m['s'].add_message('User', 'x', metadata={'role': 1})),
    ('metadata nan', InvalidValueError, "metadata['v'] is nan", lambda m: m['s'].add_message('User', 'x', metadata={'v': math.nan})),
    ('metadata inf', InvalidValueError, "metadata['v'] is inf", lambda m: m['s'].add_message('User', 'x', metadata={'v': math.inf})),
    ('metadata object', InvalidTypeError, "metadata['v'] is a Weird", lambda m: m['s'].add_message('User', 'x', metadata={'v': Weird()})),
    ('metadata int key', InvalidTypeError, 'has key 1 of type int', lambda m: m['s'].add_message('User', 'x', metadata={'v': {1: 2}})),
    ('pending str', InvalidTypeError, "pending must be a bool, not str", lambda m: m['s'].add_message('User', 'x', pending='yes')),
    ('id int', InvalidTypeError, 'id must be a str, not int', lambda m: m['s'].add_message('User', 'x', id=7)),
    ('id empty', InvalidValueError, "id must be a non-empty str", lambda m: m['s'].add_message('User', 'x', id='')),
    ('duplicate id', DuplicateMessageError, "already has a message 'q'", lambda m: m['s'].add_message('User', 'x', id='q')),
    ('batch with duplicate', DuplicateMessageError, "'a'", lambda m: m['s'].add_messages([Message('User', 'new'), Message('User', 'x', id='a')])),
    ('batch repeats id', DuplicateMessageError, "'n' appears twice", lambda m: m['s'].add_messages([Message('User', '1', id='n'), Message('User', '2', id='n')])),
    ('batch bad dict', InvalidValueError, "no 'content'", lambda m: m['s'].add_messages([{'role': 'User', 'content': 'ok'}, {'role': 'User'}])),
    ('batch not a dict', InvalidTypeError, 'not str', lambda m: m['s'].add_messages(['hello'])),
    ('after not at the end', ConflictError, "expected it to end at message 'q', but its last message is 'p'", lambda m: m['s'].add_message('User', 'x', after='q')),
    ('after on a non-empty session', ConflictError, "expected it to be empty", lambda m: m['s'].add_messages([Message('User', 'x')], after='')),
    ('after another session msg', ConflictError, "end at message 'x'", lambda m: m['s'].add_message('User', 'x', after='x')),
    ('after int', InvalidTypeError, "after must be a message id (a str), '' or None, not int", lambda m: m['s'].add_message('User', 'x', after=1)),
    ('after too long', InvalidValueError, 'after is longer than 256 characters', lambda m: m['s'].add_messages([Message('User', 'x')], after='p' * 100_000)),
    ('update missing', MessageNotFoundError, "no message 'zz'", lambda m: m['s'].update('zz', content='x')),
    ('update content int', InvalidTypeError, 'content must be a str, not int', lambda m: m['s'].update('q', content=1)),
    ('update metadata reserved', InvalidValueError, "'id' collides", lambda m: m['s'].update('q', metadata={'id': 1})),
    ('update pending int', InvalidTypeError, 'pending must be a bool', lambda m: m['s'].update('q', pending=0)),
    ('chunk to finished', InvalidValueError, "message 'a' is not pending", lambda m: m['s'].append_chunk('a', 'x')),
    ('chunk not str', InvalidTypeError, 'chunk must be a str, not int', lambda m: m['s'].append_chunk('p', 5)),
    ('delete missing', MessageNotFoundError, "no message 'zz'", lambda m: m['s'].delete('zz')),
    ('delete other session msg', MessageNotFoundError, "no message 'x'", lambda m: m['s'].delete('x')),
    ('truncate missing', MessageNotFoundError, "no message 'zz'", lambda m: m['s'].truncate_after('zz')),
    ('tail negative', InvalidValueError, 'n must be an int >= 0, got -2', lambda m: m['s'].tail(-2)),
    ('tail before missing', MessageNotFoundError, "no message 'zz'", lambda m: m['s'].tail(2, before='zz')),
    ('index float', InvalidTypeError, 'not float', lambda m: m['s'][0.5]),
    ('index past end', IndexError, 'no message at position 3', lambda m: m['s'][3]),
    ('create existing', DuplicateSessionError, "session 's' already exists", lambda m: m.create_session('s')),
    ('create id int', InvalidTypeError, 'session id must be a str, not int', lambda m: m.create_session(1)),
    ('create id empty', InvalidValueError, 'session id must be a non-empty str', lambda m: m.create_session('')),
    ('create metadata str', InvalidTypeError, 'session metadata must be a dict, not str', lambda m: m.create_session('n', metadata='t')),
    ('create metadata set', InvalidTypeError, "session metadata['a'] is a set", lambda m: m.create_session('n', metadata={'a': {1}})),
    ('create ttl zero', InvalidValueError, 'ttl must be > 0 seconds, got 0', lambda m: m.create_session('n', ttl=0)),
    ('create ttl str', InvalidTypeError, 'ttl must be a number of seconds, not str', lambda m: m.create_session('n', ttl='1d')),
    ('create ttl and expires', InvalidValueError, 'not both', lambda m: m.create_session('n', ttl=1, expires_at=2)),
    ('get missing', SessionNotFoundError, "no session 'zz'", lambda m: m['zz']),
    ('del missing', SessionNotFoundError, "no session 'zz'", lambda m: m.__delitem__('zz')),
    ('metadata set', InvalidTypeError, "session metadata['x'] is a set", lambda m: m['s'].update_metadata(x={1})),
    ('expire negative', InvalidValueError, 'ttl must be > 0', lambda m: m['s'].expire(ttl=-5)),
    ('list limit', InvalidValueError, 'limit must be >= 0, got -1', lambda m: m.list_sessions(limit=-1)),
    ('list offset', InvalidTypeError, 'offset must be an int, not float', lambda m: m.sessions(offset=1.5)),
    ('import existing', DuplicateSessionError, "'s' already exists", lambda m: m.import_session({'session_id': 's'})),
    ('import conflict mode', InvalidValueError, "got 'merge'", lambda m: m.import_session({'session_id': 'n'}, on_conflict='merge')),
    ('import bad message', InvalidTypeError, 'content must be a str', lambda m: m.import_session({'session_id': 'n', 'messages': [{'role': 'User', 'content': 1}]})),
    ('import repeated id', DuplicateMessageError, "'r' appears twice", lambda m: m.import_session({'session_id': 'n', 'messages': [{'role': 'U', 'content': '', 'id': 'r'}]*2})),
    ('fork missing point', MessageNotFoundError, "no message 'zz'", lambda m: m['s'].fork(at='zz')),
    ('fork onto existing', DuplicateSessionError, "'other' already exists", lambda m: m['s'].fork(session_id='other')),
]

@pytest.mark.parametrize('name,exc,text,call', CASES, ids=[c[0] for c in CASES])
def test_bad_input(store, filled, name, exc, text, call):
    before = dump(filled)
    with pytest.raises(exc) as e: call(filled)
    assert isinstance(e.value, ChatStateError) and text in str(e.value)
    assert dump(filled) == before
    assert dump(store.open()) == before

def test_error_classes_are_the_builtins_users_catch():
    assert issubclass(SessionNotFoundError, KeyError) and issubclass(MessageNotFoundError, KeyError)
    assert issubclass(DuplicateSessionError, ValueError) and issubclass(InvalidValueError, ValueError)
    assert issubclass(InvalidTypeError, TypeError) and issubclass(EmptySessionError, IndexError)
    assert all(issubclass(c, ChatStateError) for c in (SessionNotFoundError, DuplicateError, InvalidTypeError, StoreError))
