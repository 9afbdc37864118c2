"""Compaction on every store and both APIs: a summary recorded beside the messages stands in for them when the model is sent the session
(context, window, the format converters), supersedes an earlier one, belongs to its branch, goes with its messages, and survives export,
import and copy; bad input changes nothing."""
import pytest
from chatstate import *
import chatstate.formats # the sessions learn context, window, to_openai, ...

def texts(msgs): return [m.content for m in msgs]

def chat(mgr, sid='c', n=6):
    s = mgr.create_session(sid)
    s.add_message('system', 'Be brief.')
    return s,s.add_messages([Message('user' if i % 2 == 0 else 'assistant', f'turn {i}') for i in range(n)])

def test_a_summary_stands_in_for_what_it_summarises(store, mgr):
    s,ms = chat(mgr)
    sm = s.summarize(ms[3].id, 'They talked about turns 0 to 3.', metadata={'model': 'small'})
    assert (sm.upto, sm.content, sm.metadata, sm.created > 1.7e9) == (ms[3].id, 'They talked about turns 0 to 3.', {'model': 'small'}, True)
    assert s.summary() == sm and s.summaries() == [sm] and store.open()['c'].summary() == sm # another worker sees it
    assert texts(s.context()) == ['Be brief.', 'They talked about turns 0 to 3.', 'turn 4', 'turn 5']
    assert s.context()[1].metadata == {'model': 'small', 'summary_of': ms[3].id} and s.context()[1].role == 'system'
    assert [(m['role'], m['content']) for m in s.to_openai()][:2] == [('system', 'Be brief.'), ('system', 'They talked about turns 0 to 3.')]
    assert s.to_anthropic()['system'] == 'Be brief.\n\nThey talked about turns 0 to 3.' and [m['content'] for m in s.to_anthropic()['messages']] == ['turn 4', 'turn 5']
    assert len(s.to_responses()) == 4 and len(s.to_openai(summary=False)) == 7
    assert len(s) == 7 and texts(s)[1] == 'turn 0' and len(s.to_dict()['messages']) == 7 # the history stays whole
    assert texts(s.window(max_messages=3)) == ['Be brief.', 'They talked about turns 0 to 3.', 'turn 5']
    assert texts(s.window(max_messages=9)) == ['Be brief.', 'They talked about turns 0 to 3.', 'turn 4', 'turn 5']
    assert texts(s.window(max_messages=9, summary=False)) == texts(s)
    with pytest.raises(InvalidValueError, match='system prompt alone is over the budget'): s.window(max_messages=1)
    later = s.summarize(ms[5].id, 'All six turns.')
    assert s.summary() == later and s.summaries() == [sm, later] and texts(s.context()) == ['Be brief.', 'All six turns.']
    s.add_message('user', 'turn 6')
    assert texts(s.context()) == ['Be brief.', 'All six turns.', 'turn 6'] and texts(s.window(max_tokens=40)) == ['Be brief.', 'All six turns.', 'turn 6']

def test_a_summary_belongs_to_its_branch_and_goes_with_its_messages(store, mgr):
    s,ms = chat(mgr)
    sm = s.summarize(ms[3].id, 'S')
    e = s.edit(ms[2].id, 'turn 2, again') # a branch above it: it waits on its own branch
    assert s.summary() is None and texts(s.context()) == ['Be brief.', 'turn 0', 'turn 1', 'turn 2, again']
    s.switch(ms[2].id)
    assert s.summary() == sm and texts(s.context())[:2] == ['Be brief.', 'S']
    on_branch = s.regenerate(ms[5].id, 'turn 5, again', pending=False) # below it: it stands in still
    assert s.summary() == sm and texts(s.context()) == ['Be brief.', 'S', 'turn 4', 'turn 5, again']
    s.delete(ms[3].id) # its message went: so did it
    assert (s.summary(), s.summaries()) == (None, []) and texts(store.open()['c'].context())[1:3] == ['turn 0', 'turn 1']
    s2 = s.summarize(ms[4].id, 'S2')
    s.truncate_after(ms[1].id)
    assert (s.summaries(), texts(s.context())) == ([], ['Be brief.', 'turn 0', 'turn 1'])

def test_summaries_survive_export_import_and_copy(store, mgr):
    s,ms = chat(mgr)
    sm = s.summarize(ms[3].id, 'S', metadata={'k': 1})
    d = s.to_dict()
    assert d['summaries'] == [{'id': sm.id, 'upto': ms[3].id, 'content': 'S', 'metadata': {'k': 1}, 'created': sm.created}]
    assert 'summaries' not in mgr.create_session('plain').to_dict()
    c = mgr.import_session(dict(d, session_id='c2'))
    assert c.summaries() == [sm] and texts(c.context()) == texts(s.context())
    from chatstate.cli import copy_sessions
    dst = InMemorySessionManager()
    copy_sessions(store._mem if store.kind == 'memory' else connect(store.url), dst)
    assert dst['c'].summaries() == [sm] and texts(dst['c'].context()) == texts(s.context())

@pytest.mark.parametrize('bad,err,why', [
    ([{'id': 'x', 'upto': 'nope', 'content': 'S'}], InvalidValueError, "'upto' 'nope' is not one of its messages"),
    ([{'upto': 'm1'}], InvalidTypeError, 'content must be a str'),
    ([{'upto': 'm1', 'content': 'S', 'extra': 1}], InvalidValueError, "each must be a dict of"),
    ({'upto': 'm1'}, InvalidValueError, 'it must be a list'),
    ([{'upto': 'm1', 'content': 'S', 'created': 'soon'}], InvalidTypeError, 'created')])
def test_a_bad_summary_in_an_import_stores_nothing(mgr, bad, err, why):
    d = {'session_id': 'bad', 'messages': [{'role': 'user', 'content': 'a', 'id': 'm1'}], 'summaries': bad}
    with pytest.raises(err, match=why): mgr.import_session(d)
    assert 'bad' not in mgr

def test_bad_input_is_refused_and_changes_nothing(store, mgr):
    s,ms = chat(mgr)
    s.summarize(ms[1].id, 'S')
    before = (s.summaries(), texts(s.context()))
    for call,err,why in [(lambda: s.summarize('nope', 'x'), MessageNotFoundError, "no message 'nope'"),
                         (lambda: s.summarize(ms[2].id, None), InvalidTypeError, 'content must be a str'),
                         (lambda: s.summarize(ms[2].id, 'x', metadata={'k': {1}}), InvalidTypeError, 'metadata'),
                         (lambda: s.summarize(ms[2].id, 'x', id=''), InvalidValueError, 'id'),
                         (lambda: s.summarize(None, 'x'), InvalidTypeError, 'upto must be a str')]:
        with pytest.raises(err, match=why): call()
    assert (store.open()['c'].summaries(), texts(store.open()['c'].context())) == before
    mgr.delete_session('c')
    for call in (lambda: s.summarize(ms[1].id, 'x'), lambda: s.summaries(), lambda: s.summary(), lambda: s.context()):
        with pytest.raises(SessionNotFoundError, match="no session 'c'"): call()
