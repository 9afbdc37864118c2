"What a chat app does every turn, on every store and both APIs: appends that land only where the caller last saw the session end."
import pytest
from chatstate import *
from test_threads import run_threads

def test_append_after_lands_only_at_the_end(store, mgr):
    s = mgr.create_session('tabs')
    q = s.add_message('user', 'Plan a trip', after='')
    a = s.add_message('assistant', 'Where to?', after=q.id)
    two = s.add_messages([Message('user', 'Lisbon'), Message('assistant', 'Good choice')], after=a.id)
    before,updated = [m.to_dict() for m in s.messages],s.info.updated
    for after in (q.id, a.id, '', 'never-there'):
        with pytest.raises(ConflictError, match=repr(two[-1].id)): s.add_message('user', 'from another tab', after=after)
        with pytest.raises(ConflictError): s.add_messages([Message('user', 'x'), Message('user', 'y')], after=after)
    assert [m.to_dict() for m in s.messages] == before and len(s) == 4 and s.info.updated == updated
    assert [m.to_dict() for m in store.open()['tabs'].messages] == before # another worker sees the same
    s.pop(); s.pop() # the end moves back: an append after what is the last message again lands
    assert s.add_message('user', 'Porto', after=a.id).content == 'Porto'
    s.clear()
    assert s.add_message('user', 'again', after='').content == 'again'
    assert s.add_messages([], after='never-there') == [] # nothing to add: nothing is checked

def test_two_tabs_one_winner(store, mgr):
    "8 workers (half of them on a manager of their own) answer the same end of the session at once: one lands each round"
    s,other = mgr.create_session('race'),store.open()
    handles = [s if t % 2 else other['race'] for t in range(8)]
    last = ''
    for rnd in range(15):
        def answer(t):
            try: return handles[t].add_message('user', f'{rnd}:{t}', after=last)
            except ConflictError: return None
        won = [m for m in run_threads(answer) if m is not None]
        assert len(won) == 1, f'round {rnd}: {len(won)} appends landed after the same message'
        last = won[0].id
        assert s[-1].id == last and len(s) == rnd + 1
    assert [m.content.split(':')[0] for m in s.messages] == [str(r) for r in range(15)]

def test_start_turn(store, mgr):
    s = mgr.create_session('turns')
    q,r = s.start_turn('What is 2+2?', metadata={'lang': 'en'}, reply_metadata={'model': 'm'}, after='')
    assert [(m.id, m.role, m.content, m.pending, m.metadata) for m in store.open()['turns'].messages] == \
           [(q.id, 'user', 'What is 2+2?', False, {'lang': 'en'}), (r.id, 'assistant', '', True, {'model': 'm'})]
    s.append_chunk(r.id, '4')
    with pytest.raises(ConflictError): s.start_turn('Another tab', after=q.id)
    with pytest.raises(InvalidTypeError, match='content must be a str'): s.start_turn(None)
    with pytest.raises(InvalidValueError, match="metadata key 'id' collides"): s.start_turn('x', reply_metadata={'id': 1})
    assert len(s) == 2 and s.finalize(r.id).content == '4'
    q2,_ = s.start_turn('And 3+3?', after=r.id, role='User', reply_role='Assistant')
    assert [m.role for m in s.messages] == ['user', 'assistant', 'User', 'Assistant'] and s[2].id == q2.id

@pytest.mark.parametrize('kind', ['redis', 'postgres'])
@pytest.mark.parametrize('api', ['sync', 'async'])
def test_a_turn_starts_in_one_round_trip(tmp_path, kind, api):
    from conftest import Store
    st = Store(kind, tmp_path, api)
    try:
        m = st.open()
        s = m.create_session('t')
        store,name,ops = (m if api == 'sync' else m._o.store),('_exec' if api == 'sync' else '_aexec'),[]
        orig = getattr(store, name)
        if api == 'sync':
            def spy(op, ctx): ops.append(op[0]); return orig(op, ctx)
        else:
            async def spy(op, ctx): ops.append(op[0]); return await orig(op, ctx)
        setattr(store, name, spy)
        s.start_turn('hi')
        assert len(ops) == 1 and ops[0] != 'begin', ops # one statement or script, no transaction around it
        last = s[-1].id
        ops.clear(); s.start_turn('again', after=last)
        assert len(ops) == 1 and ops[0] != 'begin', ops # the check is in the same script or statement
        with pytest.raises(ConflictError): s.start_turn('late', after=last)
        assert len(s) == 4
    finally: st.close()
