"A session's records, on every store and both APIs: JSON values under text keys, in key order, written in one step, gone with the session."
import random, threading, time, pytest
from chatstate import *

def keys(s, *a, **kw): return [k for k,v in s.records(*a, **kw)]

def test_records_round_trip_in_key_order(mgr):
    s = mgr.create_session('r')
    vals = {'cp/b': {'n': [1, 2.5, None, True], 'txt': 'héllo 🙂\n"q"'}, 'cp/a': 'x', 'cp/ab': 0, 'w/1': [], 'ü': {}, 'cp/\ue000': 1, 'cp/~': -1}
    s.set_records(vals)
    assert dict(s.records()) == vals
    assert keys(s) == sorted(vals) # code point order: byte order of UTF-8, on every store
    assert keys(s, 'cp/') == ['cp/a', 'cp/ab', 'cp/b', 'cp/~', 'cp/\ue000'] and keys(s, 'cp/a') == ['cp/a', 'cp/ab']
    assert keys(s, 'cp/', reverse=True) == ['cp/\ue000', 'cp/~', 'cp/b', 'cp/ab', 'cp/a']
    assert keys(s, 'cp/', after='cp/a') == ['cp/ab', 'cp/b', 'cp/~', 'cp/\ue000'] and keys(s, 'cp/', before='cp/ab') == ['cp/a']
    assert keys(s, 'cp/', after='cp/a', before='cp/~') == ['cp/ab', 'cp/b'] and keys(s, 'cp/', after='cp/b', before='cp/ab') == []
    assert keys(s, 'cp/', limit=2) == ['cp/a', 'cp/ab'] and keys(s, 'cp/', limit=0) == [] and keys(s, 'cp/', reverse=True, limit=1) == ['cp/\ue000']
    assert keys(s, 'nope') == [] and keys(s, after='ü') == []
    assert s.messages == [] and mgr['r'].info.message_count == 0 # not messages

def test_a_write_replaces_drops_and_keeps_in_one_step(mgr):
    s = mgr.create_session('w')
    s.set_records({f'cp/{i:03}': i for i in range(10)} | {'w/005/t': 'a', 'w/009/t': 'b', 'other': 1})
    s.set_records({'cp/010': 10, 'cp/009': 'nine'}, drop=['cp/', 'w/'], keep=['cp/008', 'w/009/t'])
    assert s.records() == [('cp/008', 8), ('cp/009', 'nine'), ('cp/010', 10), ('other', 1), ('w/009/t', 'b')]
    s.set_records(drop='') # all of them
    assert s.records() == [] and len(s) == 0

def test_records_go_with_their_session(store, mgr):
    s = mgr.create_session('gone', owner='ana')
    s.add_message('user', 'hi')
    s.set_records({'a': 1})
    mgr.delete_session('gone')
    t = mgr.create_session('gone') # the same id again: none of the old records
    assert t.records() == []
    mgr.create_session('mine', owner='ana').set_records({'a': 1})
    mgr.erase_owner('ana')
    assert mgr.create_session('mine').records() == []
    e = mgr.create_session('short', ttl=0.5)
    e.set_records({'a': 1})
    time.sleep(0.6)
    with pytest.raises(SessionNotFoundError): e.records()
    with pytest.raises(SessionNotFoundError): e.set_records({'b': 1})
    assert mgr.purge_expired() <= 1 and mgr.create_session('short').records() == []
    x = mgr.create_session('replaced')
    x.set_records({'a': 1})
    mgr.import_session({'session_id': 'replaced', 'messages': [{'role': 'user', 'content': 'new'}]}, on_conflict='replace')
    assert mgr['replaced'].records() == [] # a session replaced whole
    assert store.open()['gone'].records() == [] # seen so by another manager

def test_records_expire_with_the_session(store, mgr):
    s = mgr.create_session('later')
    s.set_records({'a': 1})
    s.expire(ttl=0.5)
    s.set_records({'b': 2})
    time.sleep(0.6)
    assert 'later' not in mgr
    with pytest.raises(SessionNotFoundError): s.records()
    assert mgr.create_session('later').records() == []

def test_bad_records_change_nothing(mgr):
    s = mgr.create_session('bad')
    s.set_records({'a': 1, 'b': 2})
    for recs,err,msg in [({'': 1}, InvalidValueError, '1 to 1000 characters'), ({'k\x00': 1}, InvalidValueError, 'cannot hold NUL'),
                         ({'x' * 1001: 1}, InvalidValueError, '1 to 1000'), ({'\udc00': 1}, InvalidValueError, 'not valid text'),
                         ({'ok': 1, 'nan': float('nan')}, InvalidValueError, 'NaN'), ({'ok': 1, 7: 1}, InvalidTypeError, 'must be a str'),
                         ({'ok': object()}, InvalidTypeError, "record 'ok' is a object")]:
        with pytest.raises(err, match=msg): s.set_records(recs, drop='')
    with pytest.raises(InvalidTypeError, match='prefix must be a str'): s.set_records({'ok': 1}, drop=[1])
    with pytest.raises(InvalidValueError, match='kept key'): s.set_records({'ok': 1}, drop='', keep=[''])
    with pytest.raises(InvalidValueError, match='limit must be'): s.records(limit=True)
    with pytest.raises(InvalidValueError, match='U\\+10FFFF'): s.records(after='a\U0010ffff')
    assert s.records() == [('a', 1), ('b', 2)]
    mgr.delete_session('bad')
    with pytest.raises(SessionNotFoundError, match="no session 'bad'"): s.records()

def test_concurrent_writers_keep_every_record(store, mgr):
    s = mgr.create_session('busy')
    def writer(t):
        m = store.open() if store.kind != 'memory' else mgr
        for i in range(30): m['busy'].set_records({f'{t}/{i:02}': i}, drop=f'{t}/', keep=[f'{t}/{j:02}' for j in range(i)])
    ts = [threading.Thread(target=writer, args=(t,)) for t in 'abc']
    for t in ts: t.start()
    for t in ts: t.join()
    assert keys(s) == [f'{t}/{i:02}' for t in 'abc' for i in range(30)]

def test_records_match_a_model_of_them(mgr):
    "A random run of writes and reads, checked against a dict"
    s,model,rnd = mgr.create_session('model'),{},random.Random(7)
    ks = [p + str(i) for p in ('cp/', 'cp/x', 'w/', '') for i in range(6)]
    for step in range(120):
        recs = {rnd.choice(ks): step for _ in range(rnd.randrange(3))}
        drop = rnd.sample(['cp/', 'cp/x', 'w/', 'cp/x1', 'q'], rnd.randrange(3)) if rnd.random() < .3 else None
        keep = rnd.sample(ks, rnd.randrange(4)) if drop else ()
        s.set_records(recs, drop=drop, keep=keep)
        for d in drop or ():
            for k in [k for k in model if k.startswith(d) and k not in keep]: del model[k]
        model.update(recs)
        p,a,b = rnd.choice(['', 'cp/', 'cp/x', 'w/']),rnd.choice([None, *ks]),rnd.choice([None, *ks])
        lim,rev = rnd.choice([None, 0, 1, 3]),rnd.random() < .5
        want = sorted(k for k in model if k.startswith(p) and (a is None or k > a) and (b is None or k < b))
        if rev: want.reverse()
        assert s.records(p, after=a, before=b, limit=lim, reverse=rev) == [(k, model[k]) for k in want[:lim]], step

def test_records_travel_with_the_session_and_not_with_a_fork(store, mgr):
    s = mgr.create_session('src')
    s.add_message('user', 'hi', id='q')
    s.set_records({'cp/1': {'step': 1}, 'w/1/t': ['ch', 2]})
    d = s.to_dict()
    assert d['records'] == {'cp/1': {'step': 1}, 'w/1/t': ['ch', 2]} and 'records' not in mgr.create_session('bare').to_dict()
    c = mgr.import_session({**d, 'session_id': 'copy'})
    assert c.records() == s.records() and [m.id for m in c] == ['q']
    assert s.fork(session_id='fork').records() == [] # a fork is a new conversation from this one's messages
    mgr.import_session({**d, 'records': {'x': 1}}, on_conflict='replace')
    assert mgr['src'].records() == [('x', 1)]
    for bad in [{'': 1}, {'k': {1}}, [('k', 1)], {'k\x00': 1}]:
        with pytest.raises(ChatStateError): mgr.import_session({**d, 'session_id': 'nope', 'records': bad})
        assert 'nope' not in mgr # refused before anything is stored

def test_a_branch_and_its_records_are_one_step(store, mgr):
    "add_branch(records=...) writes the messages and the records together, or neither (what a checkpointer's step needs)"
    s = mgr.create_session('step')
    q = s.add_message('user', 'q', id='q')
    got = s.add_branch('q', [Message('assistant', 'a', id='a')], records={'cp/1': {'head': 'a'}})
    assert [m.id for m in got] == ['a'] and [m.id for m in s] == ['q', 'a'] and s.records() == [('cp/1', {'head': 'a'})]
    for bad,err in [(([Message('assistant', 'x', id='a')], {'cp/2': 1}), DuplicateMessageError), (([Message('assistant', 'x', id='b')], {'cp/2': {1}}), InvalidTypeError),
                    (([Message('assistant', 'x', id='b')], {'': 1}), InvalidValueError), (([Message('assistant', 'x', id='b')], [1]), InvalidTypeError)]:
        with pytest.raises(err): s.add_branch('q', *bad[:1], records=bad[1])
    assert [m.id for m in s.tree().messages] == ['q', 'a'] and s.records() == [('cp/1', {'head': 'a'})] # refused whole
    assert store.open()['step'].records() == [('cp/1', {'head': 'a'})]
