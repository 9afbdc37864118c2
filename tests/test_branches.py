"""Branches on every store and both APIs: editing and regenerating keep every version, a session reads its active branch, siblings and
switching, the whole tree, deletes and truncates across branches, two writers branching at once, replies on any branch, and a tree that
survives export, import and copy. A random walk of branch calls checks every store against the in-memory one."""
import random, threading, pytest
from chatstate import *
import chatstate.formats # the sessions learn to_openai, window, ...
from conftest import Store
from test_threads import run_threads

def texts(msgs): return [m.content for m in msgs]

def shape(s):
    "What a session shows: its active branch, its length, its tree (content, parent content) and each active message's versions"
    t = s.tree()
    by = {m.id: m.content for m in t.messages}
    return (texts(s.messages), len(s), s.info.message_count, [(m.content, by.get(t.parents[m.id])) for m in t.messages],
            [str(s.siblings(m.id)) for m in s.messages])

def test_edit_and_regenerate_keep_every_version(mgr):
    s = mgr.create_session('b')
    q,a = s.add_messages([Message('user', 'Name a colour'), Message('assistant', 'Red')])
    a2 = s.regenerate(a.id, 'Blue', pending=False)
    assert (texts(s), len(s), s[-1].content, s[1].content, texts(s[0:2]), texts(s.tail(1))) == (['Name a colour', 'Blue'], 2, 'Blue', 'Blue', ['Name a colour', 'Blue'], ['Blue'])
    assert s[a.id].content == 'Red' and a.id in s and s.get(a.id) == a # any branch, by id
    v = s.siblings(a.id)
    assert (str(v), v.n, v.index, v.active, texts(v.messages)) == ('1 / 2', 2, 0, 1, ['Red', 'Blue'])
    q2 = s.edit(q.id, 'Name a fruit')
    assert (q2.role, q2.content, texts(s), str(s.siblings(q2.id))) == ('user', 'Name a fruit', ['Name a fruit'], '2 / 2')
    s.add_message('assistant', 'Apple')
    assert s.siblings(a.id).active is None # not on the active branch: its parent is off it
    assert s.switch(q.id).content == 'Blue' and texts(s) == ['Name a colour', 'Blue'] # down to the answer active last
    assert s.switch(a.id).content == 'Red' and texts(s) == ['Name a colour', 'Red']
    assert s.switch(q2.id).content == 'Apple' and texts(s) == ['Name a fruit', 'Apple']
    assert s.switch(q.id).content == 'Red' # it remembers the answer read last under each question
    assert [i.preview for i in mgr.sessions()] == ['Red'] and s.info.message_count == 2
    assert [m['content'] for m in s.to_openai()] == ['Name a colour', 'Red']
    assert texts(s.window(100)) == ['Name a colour', 'Red']

def test_edit_keeps_metadata_unless_given_and_checks_input(store, mgr):
    s = mgr.create_session('e')
    q = s.add_message('user', 'Hi', metadata={'lang': 'en'})
    e = s.edit(q.id)
    assert (e.content, e.metadata, e.id != q.id) == ('Hi', {'lang': 'en'}, True)
    assert s.edit(q.id, metadata={'lang': 'pt'}, id='mine').metadata == {'lang': 'pt'}
    before = shape(s)
    with pytest.raises(MessageNotFoundError, match="no message 'nope'"): s.edit('nope', 'x')
    with pytest.raises(MessageNotFoundError, match="no message 'nope'"): s.regenerate('nope')
    with pytest.raises(MessageNotFoundError, match="no message 'nope'"): s.switch('nope')
    with pytest.raises(MessageNotFoundError, match="no message 'nope'"): s.siblings('nope')
    with pytest.raises(MessageNotFoundError, match="no message 'nope'"): s.add_branch('nope', [Message('user', 'x')])
    with pytest.raises(DuplicateMessageError, match="'mine'"): s.edit(q.id, 'again', id='mine')
    with pytest.raises(DuplicateMessageError, match="'mine'"): s.add_branch(q.id, [Message('assistant', 'a'), Message('user', 'b', id='mine')])
    with pytest.raises(InvalidValueError, match='at least one message'): s.add_branch(q.id, [])
    with pytest.raises(InvalidTypeError, match='content must be a str'): s.edit(q.id, 3)
    with pytest.raises(InvalidTypeError, match='message id must be a str'): s.switch(None)
    with pytest.raises(InvalidTypeError, match='parent must be a str'): s.add_branch(5, [Message('user', 'x')])
    assert shape(store.open()['e']) == before == shape(s) # refused calls leave it as it was
    mgr.delete_session('e')
    for call in (lambda: s.edit(q.id, 'x'), lambda: s.regenerate(q.id), lambda: s.switch(q.id), lambda: s.siblings(q.id), lambda: s.tree(),
                 lambda: s.add_branch(None, [Message('user', 'x')])):
        with pytest.raises(SessionNotFoundError, match="no session 'e'"): call()

def test_add_branch_at_the_top_and_below_any_message(mgr):
    s = mgr.create_session('t')
    a,b,c = s.add_messages([Message('user', x) for x in 'abc'])
    x,y = s.add_branch(a.id, [Message('assistant', 'x'), Message('user', 'y')])
    assert texts(s) == ['a', 'x', 'y'] and (x.created, x.state) == (y.created, 'done')
    top = s.add_branch(None, [Message('user', 'top')])[0]
    assert texts(s) == ['top'] and str(s.siblings(top.id)) == '2 / 2' and len(s) == 1
    t = s.tree()
    assert (texts(t.children()), texts(t.children(a.id)), texts(t.children(b.id)), t.head) == (['a', 'top'], ['b', 'x'], ['c'], top.id)
    assert texts(t.path(c.id)) == ['a', 'b', 'c'] and texts(t.active) == ['top'] and str(t.siblings(x.id)) == '2 / 2'
    assert texts(s.tail(2, before=c.id)) == ['a', 'b'] and texts(s.tail(9, before=y.id)) == ['a', 'x'] # above a message on another branch: its own path
    assert s.switch(a.id).content == 'y' and texts(s[1:]) == ['x', 'y'] and s[-2].content == 'x'

def test_delete_pop_truncate_across_branches(store, mgr):
    s = mgr.create_session('d')
    a,b,c = s.add_messages([Message('user', x) for x in 'abc'])
    b2 = s.edit(b.id, 'B')
    d = s.add_message('assistant', 'd')
    s.delete(a.id) # its children join the top, one depth up
    assert (texts(s), len(s), texts(s.tree().children())) == (['B', 'd'], 2, ['b', 'B'])
    assert s.switch(b.id).content == 'c' and texts(s) == ['b', 'c']
    s.delete(b.id) # in the middle: c joins the top
    assert (texts(s), str(s.siblings(c.id))) == (['c'], '1 / 2')
    assert s.pop().content == 'c' and texts(s) == [] and len(s) == 0 # the active branch is empty; the other stays
    assert texts(s.tree().messages) == ['B', 'd']
    e = s.add_message('user', 'e') # at the top, beside B
    assert texts(s) == ['e'] and str(s.siblings(e.id)) == '2 / 2'
    s.switch(b2.id)
    f = s.regenerate(d.id, 'D', pending=False)
    assert texts(s) == ['B', 'D']
    assert texts(s.truncate_after(b2.id)) == ['d', 'D'] and texts(s) == ['B'] # every branch below it
    assert s.truncate_after(b2.id) == [] and texts(store.open()['d']) == ['B']
    assert s.clear() == 2 and (len(s), s.tree().messages, s.tree().head) == (0, [], None)
    s.add_message('user', 'fresh')
    assert shape(s) == (['fresh'], 1, 1, [('fresh', None)], ['1 / 1'])

def test_truncate_after_a_message_on_another_branch_makes_it_active(mgr):
    s = mgr.create_session('ta')
    a,b = s.add_messages([Message('user', 'a'), Message('assistant', 'b')])
    s.regenerate(b.id, 'b2', pending=False)
    assert s.truncate_after(b.id) == [] and texts(s) == ['a', 'b'] and s.switch(a.id).content == 'b'

def test_truncate_after_the_end_of_the_active_branch_changes_nothing(mgr):
    "Nothing follows the message it is given: nothing is cut, and which branch was active last stays as it was"
    s = mgr.create_session('te')
    s.add_messages([Message('user', 'a', id='a'), Message('assistant', 'a1', id='a1')])
    s.add_branch(None, [Message('user', 'b', id='b')])
    s.switch('a1'); s.add_message('user', 'c', id='c'); s.switch('b'); s.switch('c')
    s.delete('c') # the active branch ends at a1 again, though b was active after it
    before = s.to_dict()['tree']
    assert before['head'] == 'a1' and s.truncate_after('a1') == [] and s.to_dict()['tree'] == before

def test_a_session_that_never_branched_reads_as_before(store, mgr):
    s = mgr.create_session('flat')
    ms = s.add_messages([Message('user' if i % 2 == 0 else 'assistant', f'm{i}') for i in range(10)])
    assert [str(s.siblings(m.id)) for m in ms] == ['1 / 1'] * 10 and s.switch(ms[3].id).content == 'm9'
    t = s.tree()
    assert t.head == ms[-1].id and [t.parents[m.id] for m in ms] == [None] + [m.id for m in ms[:-1]]
    assert 'tree' not in s.to_dict() and len(s) == 10 and texts(s.tail(3, before=ms[5].id)) == ['m2', 'm3', 'm4']

def test_conditional_append_holds_per_branch(store, mgr):
    s = mgr.create_session('c')
    u = s.add_message('user', 'Hi')
    e1,e2 = s.edit(u.id, 'Hi 1'),s.edit(u.id, 'Hi 2') # two tabs edit the question at once
    other = store.open()['c']
    r1 = other.add_message('assistant', 'for tab 1', after=e1.id) # e1 ends a branch of its own: it grows there
    r2 = s.add_message('assistant', 'for tab 2', after=e2.id) # the active branch's end
    assert texts(s) == ['Hi 2', 'for tab 2'] and s.switch(e1.id).id == r1.id
    before = shape(s)
    with pytest.raises(ConflictError, match="expected it to end at message"): s.add_message('user', 'late', after=e2.id) # e2 has its reply now
    assert shape(store.open()['c']) == before
    late = s.add_message('assistant', 'late', after=u.id) # nothing is below u: its own branch grows
    assert texts(s) == ['Hi 1', 'for tab 1'] and s.switch(u.id).id == late.id

def test_two_writers_branching_at_once_both_keep_their_branch(store, mgr):
    s = mgr.create_session('race')
    q,a = s.add_messages([Message('user', 'q'), Message('assistant', 'a')])
    def work(i):
        w = store.open()['race']
        r = w.regenerate(a.id, writer=f'w{i}')
        for k in range(5): w.append_chunk(r.id, f'{i}.{k} ', writer=f'w{i}')
        w.finalize(r.id, writer=f'w{i}')
        return r.id
    ids = run_threads(work, 8)
    v = s.siblings(a.id)
    assert v.n == 9 and {m.id for m in v.messages[1:]} == set(ids)
    for m in v.messages[1:]: assert m.content == ''.join(f'{m.content[0]}.{k} ' for k in range(5)) and m.state == 'done'
    assert len(s) == 2 and s[-1].id in ids

def test_a_reply_streams_and_stops_on_any_branch(store, mgr):
    s = mgr.create_session('rs')
    q,a = s.add_messages([Message('user', 'q'), Message('assistant', 'a')])
    r = s.regenerate(a.id, writer='w1')
    assert (r.pending, r.state, s.info.reply) == (True, 'streaming', 'streaming')
    s.switch(a.id) # the user flips back while it streams: it streams on, off the active branch
    s.append_chunk(r.id, 'streamed', writer='w1')
    assert store.open()['rs'].stop(r.id).state == 'streaming'
    with pytest.raises(ReplyStopped): s.append_chunk(r.id, ' on', writer='w1')
    assert (s[r.id].state, s[r.id].content, texts(s)) == ('stopped', 'streamed on', ['q', 'a'])
    assert s.switch(r.id).state == 'stopped'
    assert [m['content'] for m in s.to_openai()] == ['q', 'streamed on']

def test_fork_keeps_its_meaning(mgr):
    s = mgr.create_session('f')
    q,a = s.add_messages([Message('user', 'q'), Message('assistant', 'a')])
    a2 = s.regenerate(a.id, 'a2', pending=False)
    f = s.fork()
    assert texts(f) == ['q', 'a2'] and 'tree' not in f.to_dict() and f.metadata['fork_point'] == a2.id
    with pytest.raises(MessageNotFoundError): s.fork(at=a.id) # not on the active branch

def test_the_tree_survives_export_import_and_copy(store, mgr):
    s = mgr.create_session('x', metadata={'title': 'T'})
    q,a = s.add_messages([Message('user', 'q'), Message('assistant', 'a', metadata={'k': 1})])
    s.regenerate(a.id, 'a2', pending=False)
    q2 = s.edit(q.id, 'q2')
    s.add_message('assistant', 'b')
    s.switch(q.id)
    d = s.to_dict()
    assert d['tree']['head'] == s[-1].id and len(d['messages']) == 5
    want = shape(s)
    for sid,api in (('y', mgr), ('z', store.fresh())):
        d2 = dict(d, session_id=sid)
        c = api.import_session(d2)
        assert shape(c) == want and c.to_dict()['tree'] == d['tree'] and c.switch(q2.id).content == 'b'
    j = ChatSession.from_json(s.to_json())
    assert shape(j) == want
    from chatstate.cli import copy_sessions
    dst = InMemorySessionManager()
    copy_sessions(store._mem if store.kind == 'memory' else connect(store.url), dst)
    assert shape(dst['x']) == want

@pytest.mark.parametrize('tree,why', [
    ({'parents': [None]}, '1 parents for 2 messages'),
    ({'parents': [None, 'nope']}, "has parent 'nope', which is not a message before it"),
    ({'parents': ['b', None]}, "has parent 'b', which is not a message before it"),
    ({'parents': [None, 'a'], 'head': 'zz'}, "head 'zz' is not one of its messages"),
    ({'parents': 'a'}, "it must be a dict of 'parents'"),
    ({'parents': [None, 'a'], 'extra': 1}, "it must be a dict of 'parents'")])
def test_a_bad_tree_is_refused_and_stores_nothing(mgr, tree, why):
    d = {'session_id': 'bad', 'messages': [{'role': 'user', 'content': 'a', 'id': 'a'}, {'role': 'user', 'content': 'b', 'id': 'b'}], 'tree': tree}
    with pytest.raises(InvalidValueError, match=why): mgr.import_session(d)
    assert 'bad' not in mgr

OPS = ('append', 'append_after', 'branch', 'edit', 'regenerate', 'switch', 'delete', 'pop', 'truncate', 'top', 'insert', 'insert')

def test_random_branching_matches_the_in_memory_store(store, mgr):
    "Random branch calls, the same on this store and on the in-memory one: after each, both show the same session"
    rnd = random.Random(20261201)
    ref = InMemorySessionManager().create_session('w')
    s = mgr.create_session('w')
    n = 0
    for step in range(120):
        op = rnd.choice(OPS)
        ids = [m.id for m in ref.tree().messages]
        at = rnd.choice(ids) if ids else None
        pos = rnd.randrange(-len(ref) - 2, len(ref) + 3)
        n += 1
        def call(x):
            if op == 'append': return x.add_message('user', f'm{n}', id=f'i{n}')
            if op == 'append_after': return x.add_message('assistant', f'm{n}', id=f'i{n}', after=at or '')
            if op == 'branch': return x.add_branch(at, [Message('user', f'm{n}', id=f'i{n}'), Message('assistant', f'r{n}', id=f'j{n}')])
            if op == 'top': return x.add_branch(None, [Message('user', f'm{n}', id=f'i{n}')])
            if op == 'edit': return x.edit(at, f'm{n}', id=f'i{n}')
            if op == 'regenerate': return x.regenerate(at, f'm{n}', pending=False, id=f'i{n}')
            if op == 'switch': return x.switch(at)
            if op == 'delete': return x.delete(at)
            if op == 'pop': return x.pop()
            if op == 'truncate': return x.truncate_after(at)
            if op == 'insert': return x.insert(pos, [Message('user', f'm{n}', id=f'i{n}'), Message('assistant', f'r{n}', id=f'j{n}')][:1 + n % 2])
        def outcome(x):
            try: r = call(x)
            except ChatStateError as e: return type(e).__name__
            return [m.content for m in r] if isinstance(r, list) else r.content
        got,want = outcome(s),outcome(ref)
        assert got == want, (step, op)
        assert shape(s) == shape(ref), (step, op)
        assert s.to_dict().get('tree') == ref.to_dict().get('tree'), (step, op) # which branch was active last, too
        assert texts(s.tail(3)) == texts(ref.tail(3)) and texts(s[1:4]) == texts(ref[1:4])
    assert len(ref.tree().messages) > 20 and s.to_dict()['messages'] == ref.to_dict()['messages']

def test_what_was_active_last_survives_export_and_import(store, mgr):
    s = mgr.create_session('l')
    q,a = s.add_messages([Message('user', 'q'), Message('assistant', 'a')])
    a2 = s.regenerate(a.id, 'a2', pending=False)
    s.switch(a.id) # the user went back to the first answer
    q2 = s.edit(q.id, 'q2')
    d = s.to_dict()
    assert d['tree']['touched'] == [0, 2, 1, 3] # the first answer was active after the second was added
    for sid,m in (('l2', mgr), ('l3', store.fresh())):
        c = m.import_session(dict(d, session_id=sid))
        assert c.to_dict()['tree'] == d['tree'] and c.switch(q.id).id == a.id and texts(c) == ['q', 'a'] # not a2, the one added last
        assert c.to_dict()['tree']['touched'] == [0, 3, 1, 2] # now the first answer is active last of all
    with pytest.raises(InvalidValueError, match="'touched' must rank its 4 messages 0 to 3"): mgr.import_session(dict(d, session_id='bad', tree=d['tree'] | {'touched': [0, 0, 1, 2]}))

def test_insert_moves_the_later_messages_and_keeps_everything_of_them(store, mgr):
    s = mgr.create_session('ins', owner='ana')
    q,a = s.add_messages([Message('user', 'Plan Lisbon', id='q'), Message('assistant', 'Day 1: Alfama', id='a', metadata={'model': 'm'})])
    r = s.add_message('assistant', '', pending=True, id='r', writer='w1')
    s.summarize('a', 'They planned Lisbon.', id='s1')
    alt = s.regenerate('a', 'Day 1: Belém', pending=False, id='a2') # a branch below q
    s.switch('a')
    got = s.insert(1, [Message('system', 'Be brief.', id='sys'), Message('user', 'And food?', id='f')])
    assert [m.id for m in got] == ['sys', 'f'] and all(m.created is not None for m in got)
    assert [m.id for m in s] == ['q', 'sys', 'f', 'a', 'r'] and s['a'].created == a.created and s['a'].metadata == {'model': 'm'}
    assert s.append_chunk('r', 'Day 2', writer='w1').content == 'Day 2' and s.finalize('r', writer='w1').state == 'done' # the reply streams on where it moved
    assert [x.id for x in s.summaries()] == ['s1'] and s.summary().id == 's1'
    assert str(s.siblings('sys')) == '2 / 2' and [m.id for m in s.siblings('sys').messages] == ['a2', 'sys'] # the other version of a stays below q: that branch has no insert
    t = s.tree()
    order = [m.id for m in t.messages]
    assert all(t.parents[m] is None or order.index(t.parents[m]) < order.index(m) for m in order) # each message after its parent
    assert s.switch('a2').id == 'a2' and [m.id for m in s] == ['q', 'a2']
    assert [h.message.id for h in mgr.search('alfama', owner='ana')] == ['a'] # found where it moved
    c = mgr.import_session({**s.to_dict(), 'session_id': 'copy'})
    assert c.tree().parents == t.parents and [m.id for m in c] == ['q', 'a2']
    assert store.open()['ins'].messages == s.messages # as another manager sees it
    for bad,err in [((1.5, [Message('user', 'x')]), InvalidTypeError), ((True, [Message('user', 'x')]), InvalidTypeError), ((0, []), InvalidValueError),
                    ((0, [Message('user', 'x', id='q')]), DuplicateMessageError), ((0, [Message('user', 'x', id='d'), Message('user', 'y', id='d')]), DuplicateMessageError)]:
        with pytest.raises(err): s.insert(*bad)
    assert s.tree().parents == mgr['copy'].tree().parents # nothing changed
    mgr.delete_session('ins')
    with pytest.raises(SessionNotFoundError): s.insert(0, [Message('user', 'x')])

def test_inserts_and_appends_at_once_keep_every_message(store, mgr):
    s = mgr.create_session('busy')
    s.add_message('user', 'first', id='first')
    def inserter():
        m = store.open()
        for i in range(20): m['busy'].insert(1, Message('user', f'ins {i}', id=f'ins{i}'))
    def appender():
        m = store.open()
        for i in range(20): m['busy'].add_message('user', f'app {i}', id=f'app{i}')
    ts = [threading.Thread(target=f) for f in (inserter, appender)]
    for t in ts: t.start()
    for t in ts: t.join()
    ids = [m.id for m in s]
    assert ids[0] == 'first' and sorted(ids) == sorted(['first'] + [f'ins{i}' for i in range(20)] + [f'app{i}' for i in range(20)])
    assert [x for x in ids if x.startswith('ins')] == [f'ins{i}' for i in reversed(range(20))] and [x for x in ids if x.startswith('app')] == [f'app{i}' for i in range(20)]
