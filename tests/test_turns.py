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
