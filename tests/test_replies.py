"""Reply states on every store and both APIs: leases held by a writer on the store's clock, stops from any worker, failures with their
cause, stale replies found across the store and settled, and the times every message keeps."""
import time, pytest
from chatstate import *
import chatstate.formats # the sessions learn to_openai, window, ...
from chatstate.core import LAPSED
from test_threads import run_threads

def lease(m, t):
    "Set manager `m`'s lease (the async API's through its store)"
    getattr(getattr(m, '_o', m), 'store', m).lease = t

def seen(store, sid):
    "The session's messages as another worker reads them: (id, content, pending, state, error)"
    m = store.open()
    return [(x.id, x.content, x.pending, x.state, x.error) for x in m[sid].messages]

def test_a_reply_streams_stops_and_keeps_its_times(store, mgr):
    s,t0 = mgr.create_session('r'),time.time()
    q,r = s.start_turn('Write a haiku', writer='w1')
    assert (q.state, r.state, q.ended == q.created, r.ended) == ('done', 'streaming', True, None)
    assert abs(q.created - t0) < 5 and q.created == r.created # the store's clock, one time for the turn
    s.append_chunk(r.id, 'An old pond', writer='w1')
    before = seen(store, 'r')
    for w in ('w2', None):
        with pytest.raises(ConflictError, match="being written by writer 'w1'"): s.append_chunk(r.id, '!', writer=w)
        with pytest.raises(ConflictError, match="being written by writer 'w1'"): s.finalize(r.id, writer=w)
        with pytest.raises(ConflictError, match="being written by writer 'w1'"): s.heartbeat(r.id, writer=w)
    assert seen(store, 'r') == before # refused writes leave it as it was
    assert store.open()['r'].stop(r.id).state == 'streaming' # asked from another worker; the writer has not seen it yet
    assert s.info.reply == 'streaming'
    with pytest.raises(ReplyStopped) as e: s.append_chunk(r.id, ', a frog', writer='w1')
    assert (e.value.message.content, e.value.message.state) == ('An old pond, a frog', 'stopped')
    with pytest.raises(ReplyStopped): s.append_chunk(r.id, ' jumps', writer='w1')
    with pytest.raises(ReplyStopped): s.heartbeat(r.id, writer='w1')
    with pytest.raises(ReplyStopped): s.finalize(r.id, writer='w1')
    assert seen(store, 'r')[-1] == (r.id, 'An old pond, a frog', False, 'stopped', None)
    got = store.open()['r'][r.id]
    assert got.created == pytest.approx(r.created, abs=0.002) and got.ended >= got.created and s.info.reply == 'stopped'
    assert [i.reply for i in mgr.sessions()] == ['stopped'] # the sidebar's page says so too
    s.add_message('user', 'Another')
    assert s.info.reply is None

def test_done_failed_and_the_error_kept(store, mgr):
    s = mgr.create_session('f')
    r = s.add_message('assistant', '', pending=True, writer='w', metadata={'model': 'm'})
    s.append_chunk(r.id, 'Half', writer='w')
    f = s.fail(r.id, TimeoutError('the model timed out'), metadata={'finish': 'error'}, writer='w')
    assert (f.state, f.error, f.content, f.pending, f.metadata) == ('failed', 'TimeoutError: the model timed out', 'Half', False, {'model': 'm', 'finish': 'error'})
    assert seen(store, 'f') == [(r.id, 'Half', False, 'failed', 'TimeoutError: the model timed out')] and s.info.reply == 'failed'
    with pytest.raises(ReplyEndedError, match='ended as failed'): s.append_chunk(r.id, 'late', writer='w')
    with pytest.raises(ReplyEndedError, match='ended as failed'): s.finalize(r.id, writer='w')
    assert s.fail(r.id, 'again').error == 'TimeoutError: the model timed out' and s.stop(r.id).state == 'failed' # an ended reply stays as it ended
    d = s.add_message('assistant', '', pending=True)
    s.append_chunk(d.id, '4')
    done = s.finalize(d.id, metadata={'usage': 1})
    assert (done.state, done.pending, done.ended >= done.created, done.error) == ('done', False, True, None)
    assert s.finalize(d.id, '4.').content == '4.' and s.get(d.id).state == 'done' # finishing again edits it, as it always did
    with pytest.raises(ValueError, match='is not pending'): s.append_chunk(d.id, '!')
    c = s.add_message('assistant', 'x', pending=True)
    s.stop(c.id)
    assert s.fail(c.id, 'CancelledError').state == 'stopped' # the writer's cancellation after a stop: stopped, its cause not a failure
    assert s.get(c.id).error is None

def test_stale_replies_found_settled_and_taken_over(store, mgr):
    s = mgr.create_session('st')
    mgr.create_session('other').add_message('assistant', 'live', pending=True, writer='alive')
    lease(mgr, 0.6)
    a = s.add_message('assistant', 'Part of', pending=True, writer='dead')
    time.sleep(0.01) # a millisecond apart at least: the order is by when each lease lapsed
    b = s.add_message('assistant', 'More of', pending=True, writer='dead')
    h = s.add_message('assistant', 'Thinking', pending=True, writer='slow')
    assert mgr.stale_replies() == []
    for _ in range(3): time.sleep(0.3); s.heartbeat(h.id, writer='slow') # a silent model, its writer alive
    assert [(x.id, x.state) for x in s.messages] == [(a.id, 'stale'), (b.id, 'stale'), (h.id, 'streaming')]
    assert s.info.reply == 'streaming' and s.tail(1)[0].state == 'streaming'
    got = mgr.stale_replies()
    assert [(sid, x.id, x.content, x.state) for sid,x in got] == [('st', a.id, 'Part of', 'stale'), ('st', b.id, 'More of', 'stale')]
    assert [x.id for _,x in mgr.stale_replies(limit=1)] == [a.id] and mgr.stale_replies(limit=0) == []
    with pytest.raises(ConflictError, match='still streaming'): s.settle(h.id)
    settled = s.settle(a.id)
    assert (settled.state, settled.error, settled.content, settled.pending) == ('failed', LAPSED, 'Part of', False)
    assert [x.id for _,x in mgr.stale_replies()] == [b.id]
    assert s.stop(b.id).state == 'stopped' and mgr.stale_replies() == [] # a stale reply stops at once: its writer is gone
    lease(mgr, 30)
    c = s.add_message('assistant', 'Lost', pending=True, writer='gone')
    lease(mgr, 0.2)
    s.heartbeat(c.id, writer='gone'); time.sleep(0.4)
    assert s.append_chunk(c.id, ' and found', writer='new').content == 'Lost and found' # a lapsed lease is taken over
    with pytest.raises(ConflictError, match="writer 'new'"): s.append_chunk(c.id, '!', writer='gone')
    assert s.finalize(c.id, writer='new').state == 'done'

def test_gone_replies_leave_no_lease_behind(store, mgr):
    lease(mgr, 0.2)
    s = mgr.create_session('g', owner='ana')
    ids = [s.add_message('assistant', f'r{i}', pending=True, writer='w').id for i in range(4)]
    s.delete(ids[0]); s.truncate_after(ids[1])
    t = mgr.create_session('t')
    t.add_message('assistant', 'x', pending=True)
    mgr.delete_session('t')
    u = mgr.create_session('u', owner='bob')
    u.add_message('assistant', 'y', pending=True)
    time.sleep(0.4)
    assert [(sid, x.id) for sid,x in mgr.stale_replies()][:1] == [('g', ids[1])] and [sid for sid,_ in mgr.stale_replies()] == ['g', 'u']
    assert mgr.erase_owner('ana') == 1 and [sid for sid,_ in mgr.stale_replies()] == ['u']
    mgr.import_session({'session_id': 'u', 'messages': []}, on_conflict='replace') # replaced whole: its reply goes with it
    assert mgr.stale_replies() == []
    if store.kind == 'redis' and store.api == 'sync': assert mgr.r.exists(mgr.prefix + 'leases') == 0 # nothing left in the lease index

def test_a_lapsed_reply_is_taken_over_by_one_writer(store, mgr):
    s = mgr.create_session('race')
    lease(mgr, 0.2)
    r = s.add_message('assistant', 'Once', pending=True, writer='dead')
    time.sleep(0.4)
    lease(mgr, 30)
    others = [store.open() for _ in range(3)]
    for o in others: lease(o, 30)
    handles = [s] + [o['race'] for o in others]
    def take(t):
        try: return handles[t % 4].append_chunk(r.id, f' {t}', writer=f'w{t}')
        except ConflictError: return None
    won = [m for m in run_threads(take) if m is not None]
    assert len(won) == 1, f'{len(won)} writers took over the same reply'
    assert s.get(r.id).content == 'Once' + won[0].content[4:] and s.get(r.id).state == 'streaming'

def test_a_plain_edit_starts_and_ends_a_reply(store, mgr):
    s = mgr.create_session('p')
    m = s.add_message('assistant', 'Done')
    again = s.update(m.id, content='', pending=True)
    assert (again.state, again.ended, again.pending) == ('streaming', None, True)
    s.append_chunk(m.id, 'Redo')
    end = s.update(m.id, pending=False)
    assert (end.state, end.content, end.pending) == ('done', 'Redo', False) and end.ended >= end.created

def test_times_and_states_travel_with_a_fork(store, mgr):
    s = mgr.create_session('o')
    q,r = s.start_turn('Hi', writer='w')
    s.fail(r.id, 'boom', writer='w')
    k = s.add_message('assistant', 'Kept', pending=True)
    f = s.fork()
    old,new = s.messages,f.messages
    assert [(x.created, x.ended, x.state, x.error) for x in new[:2]] == [(x.created, x.ended, x.state, x.error) for x in old[:2]]
    assert (new[2].state, new[2].pending, new[2].created) == ('streaming', True, old[2].created) # a copied reply streams on, unnamed
    assert f.append_chunk(k.id, '!').content == 'Kept!'

def test_bad_reply_input_is_refused_and_changes_nothing(store, mgr):
    s = mgr.create_session('b')
    r = s.add_message('assistant', 'x', pending=True, writer='w')
    before = seen(store, 'b')
    for call,err,msg in [(lambda: s.add_message('assistant', '', pending=True, writer=''), InvalidValueError, 'writer must be a non-empty str'),
                         (lambda: s.append_chunk(r.id, 'y', writer=3), InvalidTypeError, 'writer must be a str'),
                         (lambda: s.fail(r.id, 3, writer='w'), InvalidTypeError, 'error must be'),
                         (lambda: s.fail(r.id, '', writer='w'), InvalidTypeError, 'error must be'),
                         (lambda: s.settle(r.id), ConflictError, 'still streaming'),
                         (lambda: s.stop('nope'), MessageNotFoundError, "'nope'"),
                         (lambda: mgr['nope'].stop(r.id), SessionNotFoundError, "'nope'"),
                         (lambda: mgr.stale_replies(-1), InvalidValueError, 'limit must be'),
                         (lambda: mgr.stale_replies('3'), InvalidValueError, 'limit must be')]:
        with pytest.raises(err, match=msg): call()
    with pytest.raises(InvalidValueError, match='lease must be'): lease(mgr, -1)
    assert seen(store, 'b') == before

def test_the_model_is_sent_a_stopped_reply_not_a_failed_or_stale_one(store, mgr):
    s = mgr.create_session('fmt')
    q,a = s.start_turn('A long story', writer='w')
    s.append_chunk(a.id, 'Once', writer='w'); s.stop(a.id)
    with pytest.raises(ReplyStopped): s.append_chunk(a.id, ' upon', writer='w')
    q2,b = s.start_turn('Again', writer='w')
    s.append_chunk(b.id, 'Twice', writer='w'); s.fail(b.id, 'boom', writer='w')
    lease(mgr, 0.2)
    q3,c = s.start_turn('Third')
    time.sleep(0.4)
    assert [m.state for m in s.messages] == ['done', 'stopped', 'done', 'failed', 'done', 'stale']
    assert [d['content'] for d in s.to_openai()] == ['A long story', 'Once upon', 'Again', 'Third']
    assert [d['content'] for d in s.to_openai(include_failed=True, include_pending=True)] == ['A long story', 'Once upon', 'Again', 'Twice', 'Third', '']
    assert [m.content for m in s.window(max_messages=10)] == ['A long story', 'Once upon', 'Again', 'Third']
