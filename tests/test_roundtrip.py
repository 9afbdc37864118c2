"Property tests: every message and session survives its dict forms, JSON, and every store, unchanged."
import json, pytest
from hypothesis import given, settings, HealthCheck, strategies as st
from chatstate import *
from chatstate.core import _RESERVED

text = st.text(st.characters(exclude_categories=('Cs',)))
keys = text.filter(lambda k: k not in _RESERVED)
json_vals = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
                         lambda kids: st.lists(kids, max_size=4) | st.dictionaries(text, kids, max_size=4), max_leaves=12)
messages = st.builds(Message, role=text.filter(lambda r: r.strip()), content=text, id=st.one_of(st.none(), text.filter(bool)),
                     pending=st.booleans(), metadata=st.dictionaries(keys, json_vals, max_size=5))

@given(messages, st.booleans())
def test_message_dict_round_trip(m, nested):
    assert Message.from_dict(m.to_dict(nested)) == m
    assert Message.from_dict(json.loads(json.dumps(m.to_dict(nested)))) == m

@given(messages)
def test_dict_forms_convert_into_each_other(m):
    flat,nested = m.to_dict(),m.to_dict(nested=True)
    assert Message.from_dict(flat).to_dict(nested=True) == nested
    assert Message.from_dict(nested).to_dict() == flat
    assert ('metadata' in nested) == bool(m.metadata) and ('pending' in flat) == m.pending

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(msgs=st.lists(messages, max_size=6, unique_by=lambda m: m.id), title=text)
def test_store_round_trip(store, msgs, title):
    m = store.open()
    sid = new_id()
    s = m.create_session(sid, metadata={'title': title})
    s.add_messages(msgs)
    back = store.open()[sid]
    assert back.messages == msgs and back.title == title
    d = json.loads(back.to_json())
    assert ChatSession.from_dict(d).to_dict() == d == back.to_dict()
