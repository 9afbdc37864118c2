"""Search across a user's chats on every store and both APIs: words and prefixes, case ignored, any script, every word asked for, newest
first or by relevance, paged, one owner's only; the index stays true through edits, deletes, truncates, branches, owner erasure and expiry,
and a streamed reply is found once it ends. Redis, which keeps no index of text, searches one owner's chats and says so otherwise."""
import time, pytest
from chatstate import *

def found(m, text, **kw): return [h.message.content for h in m.search(text, **kw)]

def fill(mgr):
    a = mgr.create_session('trip', metadata={'title': 'Lisbon trip'}, owner='ana')
    a.add_messages([Message('user', 'Plan 3 days in Lisbon'), Message('assistant', 'Day 1: Alfama. Day 2: Belém. Day 3: Sintra, by train.')])
    b = mgr.create_session('words', owner='ana')
    b.add_messages([Message('user', 'ÉCOLE à Paris'), Message('user', 'Москва зимой'), Message('user', 'Ελληνικά νησιά'), Message('user', 'snake_case and CamelCase')])
    mgr.create_session('bob', owner='bob').add_message('user', 'Lisbon for Bob')
    return a,b

def test_words_prefixes_case_and_scripts(store, mgr):
    fill(mgr)
    for q,want in [('lisb', ['Plan 3 days in Lisbon']), ('LISBON', ['Plan 3 days in Lisbon']), ('plan lisb', ['Plan 3 days in Lisbon']), ('plan xyz', []),
                   ('école', ['ÉCOLE à Paris']), ('моск', ['Москва зимой']), ('ΕΛΛΗΝ', ['Ελληνικά νησιά']), ('snake', ['snake_case and CamelCase']),
                   ('case', ['snake_case and CamelCase']), ('camelcase', ['snake_case and CamelCase']), ('train sintra', ['Day 1: Alfama. Day 2: Belém. Day 3: Sintra, by train.']),
                   ('ramble', []), ('isbon', [])]: # a word's start, not its middle
        assert found(mgr, q, owner='ana') == want, q
    h = mgr.search('sintra', owner='ana')[0]
    assert (h.session_id, h.title, h.message.role, 'Sintra' in h.snippet) == ('trip', 'Lisbon trip', 'assistant', True)
    assert found(mgr, 'lisbon', owner='bob') == ['Lisbon for Bob'] and found(mgr, 'lisbon', owner='nobody') == [] # one owner's chats, never another's

def test_newest_first_paged_and_by_relevance(store, mgr):
    s = mgr.create_session('many', owner='ana')
    for i in range(12):
        s.add_message('user', f'note {i} about lisbon' + ' lisbon' * (i % 3 == 0))
        time.sleep(0.002) # distinct times on every store's clock
    assert found(mgr, 'lisbon', owner='ana', limit=3) == ['note 11 about lisbon', 'note 10 about lisbon', 'note 9 about lisbon lisbon']
    assert found(mgr, 'lisbon', owner='ana', limit=3, offset=10) == ['note 1 about lisbon', 'note 0 about lisbon lisbon']
    rel = found(mgr, 'lisbon', owner='ana', order='relevance')
    assert sorted(rel) == sorted(found(mgr, 'lisbon', owner='ana')) and len(rel) == 12 # every match, each engine's own order

def test_the_index_stays_true(store, mgr):
    a,b = fill(mgr)
    q = a[0]
    a.update(q.id, content='Plan 4 days in Porto')
    assert found(mgr, 'lisbon', owner='ana') == [] and found(mgr, 'porto', owner='ana') == ['Plan 4 days in Porto']
    e = a.edit(q.id, 'Plan 5 days in Faro') # a new version: both are found, on their branches
    assert found(mgr, 'plan', owner='ana') == ['Plan 5 days in Faro', 'Plan 4 days in Porto']
    a.delete(e.id)
    assert found(mgr, 'faro', owner='ana') == []
    a.truncate_after(q.id)
    assert found(mgr, 'sintra', owner='ana') == []
    r = a.add_message('assistant', '', pending=True, writer='w')
    a.append_chunk(r.id, 'Porto has ', writer='w'); a.append_chunk(r.id, 'port wine', writer='w')
    assert found(mgr, 'wine', owner='ana') == [] # streaming: not yet
    a.finalize(r.id, writer='w')
    assert found(mgr, 'wine', owner='ana') == ['Porto has port wine']
    b.expire(expires_at=time.time() - 1)
    assert found(mgr, 'école', owner='ana') == [] # an expired session is gone
    assert mgr.erase_owner('bob') == 1 and found(mgr, 'lisbon', owner='bob') == []
    mgr.delete_session('trip')
    assert found(mgr, 'porto', owner='ana') == []

def test_store_wide_search_or_a_clear_refusal(store, mgr):
    fill(mgr)
    if store.kind == 'redis':
        with pytest.raises(StoreError, match="search on Redis is for one owner's chats"): mgr.search('lisbon')
    else: assert sorted(found(mgr, 'lisbon')) == ['Lisbon for Bob', 'Plan 3 days in Lisbon']

def test_bad_input_is_refused(mgr):
    fill(mgr)
    for args,kw,err,why in [((None,), {}, InvalidTypeError, 'search text must be a str'), (('!!!',), {}, InvalidValueError, 'has no words'),
                            (('x',), dict(order='best'), InvalidValueError, "order must be 'newest' or 'relevance'"),
                            (('x',), dict(limit=-1), InvalidValueError, 'limit'), (('x',), dict(owner=''), InvalidValueError, 'owner')]:
        with pytest.raises(err, match=why): mgr.search(*args, **kw)

def test_sqlite_index_taken_in_by_the_batch(tmp_path):
    """SQLite's index takes messages in 32 at a time, or at a search: across random writes, whatever is done is indexed or queued, never both,
    never a message that is gone, and FTS5's own integrity check passes"""
    import random
    m,rnd = SQLiteSessionManager(tmp_path/'b.db'),random.Random(7)
    c = m._c
    keys = lambda q: {k for k, in c.execute(q)}
    for step in range(400):
        sid = f's{rnd.randrange(3)}'
        s = m.get_or_create(sid)
        live = [x for x in s]
        act = rnd.random()
        if act < 0.6 or not live: s.add_messages([Message('user', f'word{rnd.randrange(50)} step {step}') for _ in range(rnd.randrange(1, 5))])
        elif act < 0.7: s.update(rnd.choice(live).id, content=f'changed word{rnd.randrange(50)}')
        elif act < 0.8: s.delete(rnd.choice(live).id)
        elif act < 0.85: s.truncate_after(rnd.choice(live).id)
        elif act < 0.9: s.edit(rnd.choice(live).id, f'edited word{rnd.randrange(50)}')
        elif act < 0.95: m.search('word1')
        else: m.delete_session(s.id)
        done = keys('SELECT session * 4294967296 + seq FROM chatstate_messages WHERE NOT pending')
        indexed,queued = keys('SELECT rowid FROM chatstate_search'),keys('SELECT k FROM chatstate_unsearched')
        assert not indexed & queued and indexed | queued == done and len(queued) < 32, step
    c.execute("INSERT INTO chatstate_search(chatstate_search) VALUES ('integrity-check')")
    w = {x.id: x.content for sid in m.list_sessions() for x in m[sid].tree().messages}
    assert sorted(found(m, 'word1')) == sorted(t for t in w.values() if any(x.startswith('word1') for x in t.split()))
    assert not keys('SELECT k FROM chatstate_unsearched') # the search took the queue in

def test_redis_copies_made_by_search(tmp_path):
    """Redis: a write makes no searchable copy; a search makes those the owner's messages lack (`fold_batch` a round trip), including
    every one of a store written before copies; a copy made from what a message said before it changed is not kept; copies expire with the session"""
    from conftest import Store
    from chatstate.redis import _copy
    st = Store('redis', tmp_path)
    try:
        m = st.open()
        m.fold_batch,calls,fold = 3,[],m._scripts['fold']
        m._scripts['fold'] = lambda **kw: (calls.append(len(kw['args']) // 4), fold(**kw))[1]
        s = m.create_session('t', owner='ana', ttl=3600)
        s.add_messages([Message('user', f'note {i} about Lisbon') for i in range(10)])
        w,key = f'{st.prefix}s:t:w',f'{st.prefix}s:t'
        assert m.r.hlen(w) == 0
        assert len(m.search('lisbon', owner='ana', limit=None)) == 10 and calls == [3, 3, 3, 1] and m.r.hlen(w) == 10
        assert m.r.hget(w, s[0].id) == b' note 0 about lisbon' and 3_500_000 < m.r.pttl(w) <= 3_600_000
        assert found(m, 'lisbon', owner='ana', limit=2) == ['note 9 about Lisbon', 'note 8 about Lisbon'] and calls == [3, 3, 3, 1] # nothing left to copy
        m.r.delete(w) # as a store written before copies
        assert found(m, 'note 7', owner='ana') == ['note 7 about Lisbon'] and m.r.hlen(w) == 10
        x = s[0]
        was = _copy(m.r.hget(key + ':m', x.id))
        s.update(x.id, content='now Porto')
        assert m.r.hget(w, x.id) is None # the change dropped its copy
        fold(keys=[], args=[key, x.id, *was]) # a copy of what it said before comes too late
        assert m.r.hget(w, x.id) is None
        assert found(m, 'porto', owner='ana') == ['now Porto'] and 'note 0 about Lisbon' not in found(m, 'lisbon', owner='ana', limit=None)
        s.delete(x.id)
        assert not m.r.hexists(w, x.id)
    finally: st.close()
