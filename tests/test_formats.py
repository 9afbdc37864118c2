"Requests built by the official openai and anthropic SDKs (sent to a capturing transport), round trips, windows."
import importlib, json, pytest
from hypothesis import given, settings, strategies as st
from chatstate import *
from chatstate.formats import *

openai = pytest.importorskip('openai')
anthropic = pytest.importorskip('anthropic')
httpx = importlib.import_module('httpx2') if importlib.util.find_spec('httpx2') else importlib.import_module('httpx')

OPENAI_REPLY = {'id': 'c1', 'object': 'chat.completion', 'created': 0, 'model': 'gpt-4o',
                'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': 'done'}, 'finish_reason': 'stop'}]}
ANTHROPIC_REPLY = {'id': 'm1', 'type': 'message', 'role': 'assistant', 'model': 'claude-x', 'content': [{'type': 'text', 'text': 'done'}],
                   'stop_reason': 'end_turn', 'stop_sequence': None, 'usage': {'input_tokens': 1, 'output_tokens': 1}}

class Capture:
    "An HTTP transport that records each request body and answers with a canned reply"
    def __init__(self, reply): self.reply,self.bodies = reply,[]
    def __call__(self, request):
        self.bodies.append(request.content)
        return httpx.Response(200, json=self.reply)
    def client(self): return httpx.Client(transport=httpx.MockTransport(self))

def send_openai(messages):
    cap = Capture(OPENAI_REPLY)
    c = openai.OpenAI(api_key='test', http_client=cap.client(), max_retries=0)
    assert c.chat.completions.create(model='gpt-4o', messages=messages).choices[0].message.content == 'done'
    return cap.bodies[-1]

def send_anthropic(req):
    cap = Capture(ANTHROPIC_REPLY)
    c = anthropic.Anthropic(api_key='test', http_client=cap.client(), max_retries=0)
    assert c.messages.create(model='claude-x', max_tokens=100, **req).content[0].text == 'done'
    return cap.bodies[-1]

CALL = {'id': 'call_1', 'type': 'function', 'function': {'name': 'weather', 'arguments': '{"city": "Paris", "unit": "C"}'}}
TOOL_ROUND = [{'role': 'system', 'content': 'You are terse.'},
              {'role': 'user', 'content': 'Weather in Paris?'},
              {'role': 'assistant', 'content': None, 'tool_calls': [CALL]},
              {'role': 'tool', 'tool_call_id': 'call_1', 'content': '18°C, sunny'},
              {'role': 'assistant', 'content': 'It is 18°C and sunny.'}]

def test_openai_sdk_accepts_and_serialises(tmp_path):
    body = send_openai(to_openai(from_openai(TOOL_ROUND)))
    assert json.loads(body)['messages'] == TOOL_ROUND

def test_anthropic_sdk_accepts_and_serialises():
    req = to_anthropic(from_openai(TOOL_ROUND))
    sent = json.loads(send_anthropic(req))
    assert sent['system'] == 'You are terse.'
    assert sent['messages'] == [
        {'role': 'user', 'content': 'Weather in Paris?'},
        {'role': 'assistant', 'content': [{'type': 'tool_use', 'id': 'call_1', 'name': 'weather', 'input': {'city': 'Paris', 'unit': 'C'}}]},
        {'role': 'user', 'content': [{'type': 'tool_result', 'tool_use_id': 'call_1', 'content': '18°C, sunny'}]},
        {'role': 'assistant', 'content': 'It is 18°C and sunny.'}]

@pytest.mark.parametrize('kind', ['memory', 'sqlite'])
def test_tool_round_trip_reloaded_is_byte_identical(kind, tmp_path):
    url = 'memory://' if kind == 'memory' else f'sqlite:///{tmp_path}/t.db'
    m = connect(url)
    s = m.create_session('t')
    s.add_openai(TOOL_ROUND[:3])
    s.add_openai(TOOL_ROUND[3:])
    before_o,before_a = send_openai(s.to_openai()),send_anthropic(s.to_anthropic())
    again = (m if kind == 'memory' else connect(url))['t']
    assert send_openai(again.to_openai()) == before_o
    assert send_anthropic(again.to_anthropic()) == before_a
    ant = to_anthropic(again)
    s2 = m.create_session('t2')
    s2.add_anthropic(ant['messages'], system=ant['system'])
    assert send_anthropic(s2.to_anthropic()) == before_a
    assert send_openai(s2.to_openai()) == before_o

def test_sdk_response_objects_are_read():
    cap = Capture({**OPENAI_REPLY, 'choices': [{'index': 0, 'finish_reason': 'tool_calls',
                   'message': {'role': 'assistant', 'content': None, 'tool_calls': [CALL]}}]})
    r = openai.OpenAI(api_key='test', http_client=cap.client(), max_retries=0).chat.completions.create(model='gpt-4o', messages=TOOL_ROUND[:2])
    s = ChatSession('sdk')
    s.add_openai(TOOL_ROUND[:2] + [r.choices[0].message])
    assert s[-1].metadata['tool_calls'] == [CALL]
    assert s.to_openai()[-1]['tool_calls'] == [CALL]
    cap = Capture({**ANTHROPIC_REPLY, 'content': [{'type': 'text', 'text': 'Checking.'}, {'type': 'tool_use', 'id': 'tu1', 'name': 'weather', 'input': {'city': 'Paris'}}]})
    r = anthropic.Anthropic(api_key='test', http_client=cap.client(), max_retries=0).messages.create(model='claude-x', max_tokens=10, messages=[{'role': 'user', 'content': 'hi'}])
    s.add_anthropic([{'role': 'assistant', 'content': r.content}])
    assert (s[-1].content, s[-1].metadata['tool_calls'][0]['function']['name']) == ('Checking.', 'weather')
    s.add_anthropic([{'role': 'user', 'content': [{'type': 'tool_result', 'tool_use_id': 'tu1', 'content': 'sunny'}]}])
    assert s[-1].role == 'tool' and s.to_openai()[-1] == {'role': 'tool', 'tool_call_id': 'tu1', 'content': 'sunny'}

# --- bad input: index named, nothing half-added

BAD = [([{'role': 'user', 'content': 'a'}, 'not a message'], 'message 1 is a str'),
       ([{'role': 'user', 'content': 'a'}, {'content': 'b'}], "message 1 has no 'role'"),
       ([{'role': 'user', 'content': 'a'}, {'role': 'tool', 'tool_call_id': 'zz', 'content': 'r'}], "message 1 is the result of tool call 'zz'"),
       ([{'role': 'user', 'content': 'a'}, {'role': 'wizard', 'content': 'b'}], "message 1 has role 'wizard'")]

@pytest.mark.parametrize('msgs,text', BAD)
def test_bad_openai_lists_add_nothing(store, msgs, text):
    s = store.open().create_session('b')
    s.add_message('user', 'kept')
    with pytest.raises(FormatError, match=text): s.add_openai(msgs)
    assert [m.content for m in store.open()['b']] == ['kept']

def test_bad_anthropic_lists_add_nothing(store):
    s = store.open().create_session('b')
    with pytest.raises(FormatError, match="message 1 holds the result of tool call 'x'"):
        s.add_anthropic([{'role': 'user', 'content': 'a'}, {'role': 'user', 'content': [{'type': 'tool_result', 'tool_use_id': 'x', 'content': 'r'}]}])
    with pytest.raises(FormatError, match="message 0 has content of type int"): s.add_anthropic([{'role': 'user', 'content': 5}])
    assert len(s) == 0
    with pytest.raises(FormatError, match="message 0 has role 'critic', which the Anthropic API does not take"): to_anthropic([Message('critic', 'x')])

# --- property: OpenAI and Anthropic lists survive the trip through Messages and a store

text = st.text(st.characters(exclude_categories=('Cs',)), max_size=20)
jv = st.recursive(st.none() | st.booleans() | st.integers() | text, lambda k: st.lists(k, max_size=3) | st.dictionaries(text, k, max_size=3), max_leaves=6)

@st.composite
def openai_lists(draw):
    out,n = [],draw(st.integers(0, 6))
    if draw(st.booleans()): out.append({'role': draw(st.sampled_from(['system', 'developer'])), 'content': draw(text)})
    for i in range(n):
        kind = draw(st.sampled_from(['user', 'assistant', 'tools']))
        if kind == 'tools':
            ids = draw(st.lists(st.text('abcdef0123456789', min_size=1, max_size=6), min_size=1, max_size=3, unique=True))
            ids = [f'c{i}_{x}' for x in ids]
            calls = [{'id': x, 'type': 'function', 'function': {'name': draw(text), 'arguments': json.dumps(draw(st.dictionaries(text, jv, max_size=3)))}} for x in ids]
            msg = {'role': 'assistant', 'content': draw(st.none() | text), 'tool_calls': calls}
            if draw(st.booleans()): msg['refusal'] = None
            out.append(msg)
            for x in ids: out.append({'role': 'tool', 'tool_call_id': x, 'content': draw(text)})
        else:
            msg = {'role': kind, 'content': draw(text | st.lists(st.fixed_dictionaries({'type': st.just('text'), 'text': text}), max_size=2))}
            if draw(st.booleans()): msg['name'] = draw(text)
            out.append(msg)
    return out

@settings(max_examples=150, deadline=None)
@given(openai_lists())
def test_openai_round_trip(msgs):
    ms = from_openai(msgs)
    assert to_openai(ms) == msgs
    assert to_openai([Message.from_dict(json.loads(json.dumps(m.to_dict()))) for m in ms]) == msgs
    a = to_anthropic(ms)
    assert to_anthropic(from_anthropic(a['messages'], system=a.get('system'))) == a

@settings(max_examples=25, deadline=None)
@given(openai_lists())
def test_openai_round_trip_through_sqlite(tmp_path_factory, msgs):
    m = connect(f'sqlite:///{tmp_path_factory.mktemp("f")}/x.db')
    s = m.create_session('s')
    s.add_openai(msgs)
    assert m['s'].to_openai() == msgs

# --- windows

def conversation(n_turns, with_tools=True):
    s = ChatSession('w')
    s.add_message('system', 'sys')
    for t in range(n_turns):
        s.add_message('user', f'q{t} ' * (t % 3 + 1))
        if with_tools and t % 2:
            ids = [f't{t}a', f't{t}b']
            s.add_openai([{'role': 'assistant', 'content': None, 'tool_calls': [{'id': x, 'type': 'function', 'function': {'name': 'f', 'arguments': '{}'}} for x in ids]}])
            s.add_openai([{'role': 'tool', 'tool_call_id': x, 'content': 'r' * t} for x in ids])
        s.add_message('assistant', f'a{t}')
    s.add_message('assistant', 'partial', pending=True)
    return s

@given(st.integers(0, 12), st.none() | st.integers(1, 40), st.none() | st.integers(1, 200))
def test_window_properties(turns, max_messages, max_tokens):
    s = conversation(turns)
    all_msgs = s.messages
    w = window(s, max_messages=max_messages, max_tokens=max_tokens) # the system prompt (1 message, 1 token) always fits these budgets
    assert w[0].content == 'sys' and not any(m.pending for m in w)
    pos = [all_msgs.index(m) for m in w]
    assert pos == sorted(pos)
    if max_messages is not None: assert len(w) <= max_messages
    if max_tokens is not None: assert sum(estimate_tokens(m.content) + (estimate_tokens(json.dumps(m.metadata['tool_calls'])) if m.metadata.get('tool_calls') else 0) for m in w) <= max_tokens
    called = {c['id'] for m in w for c in m.metadata.get('tool_calls') or []}
    answered = {m.metadata['tool_call_id'] for m in w if m.role == 'tool'}
    assert called == answered
    if w[1:]: assert w[1:] == [m for m in all_msgs if not m.pending][-len(w[1:]):]
    send_openai(to_openai(w))

def test_window_refuses_a_budget_the_system_prompt_alone_exceeds():
    s = conversation(2)
    for kw in (dict(max_messages=0), dict(max_tokens=0)):
        with pytest.raises(InvalidValueError, match='the system prompt alone is over the budget'): window(s, **kw)

# --- the OpenAI Responses API and Anthropic thinking, through every store and the SDKs' own serialisation

REASONING_TURN = [{'role': 'user', 'content': 'Weather in Paris?'},
                  {'type': 'reasoning', 'id': 'rs_1', 'summary': [{'type': 'summary_text', 'text': 'Call the tool.'}], 'encrypted_content': 'gAAAAABoX' + 'z' * 300},
                  {'type': 'function_call', 'id': 'fc_1', 'call_id': 'call_7', 'name': 'weather', 'arguments': '{"city":"Paris"}', 'status': 'completed'},
                  {'type': 'function_call_output', 'call_id': 'call_7', 'output': '18°C, sunny'},
                  {'type': 'message', 'id': 'msg_1', 'role': 'assistant', 'status': 'completed',
                   'content': [{'type': 'output_text', 'text': 'It is 18°C and sunny.', 'annotations': []}]}]
THINKING_TURN = [{'role': 'user', 'content': 'Weather in Paris?'},
                 {'role': 'assistant', 'content': [{'type': 'thinking', 'thinking': 'I should call the tool.', 'signature': 'EqQBCgIYAhIM1gbcDa9GJwZA2b3h' * 4},
                                                   {'type': 'redacted_thinking', 'data': 'EmwKAhgBEgy3va3pzix/LafPsn4a' * 4},
                                                   {'type': 'tool_use', 'id': 'toolu_1', 'name': 'weather', 'input': {'city': 'Paris'}}]},
                 {'role': 'user', 'content': [{'type': 'tool_result', 'tool_use_id': 'toolu_1', 'content': '18°C'}]}]
RESPONSES_REPLY = {'id': 'resp_1', 'object': 'response', 'created_at': 0, 'model': 'o4-mini', 'status': 'completed', 'parallel_tool_calls': True,
                   'tool_choice': 'auto', 'tools': [], 'output': REASONING_TURN[1:3]}

def send_responses(items):
    cap = Capture(RESPONSES_REPLY)
    c = openai.OpenAI(api_key='test', http_client=cap.client(), max_retries=0)
    r = c.responses.create(model='o4-mini', input=items)
    return cap.bodies[-1],r

def test_responses_and_thinking_come_back_from_every_store_exactly(store, mgr):
    s = mgr.create_session('r')
    s.add_responses(REASONING_TURN[:3]); s.add_responses(REASONING_TURN[3:]) # the tool's output answers a call stored before
    t = mgr.create_session('t')
    t.add_anthropic(THINKING_TURN)
    again = store.open() # reloaded by another worker
    body,_ = send_responses(again['r'].to_responses())
    assert json.dumps(json.loads(body)['input']) == json.dumps(REASONING_TURN)
    assert json.dumps(json.loads(send_anthropic(again['t'].to_anthropic()))['messages']) == json.dumps(THINKING_TURN)
    assert [c['function']['name'] for c in again['r'][1].metadata['tool_calls']] == ['weather'] # a plain tool call to the other formats
    assert json.loads(send_openai(again['r'].to_openai()))['messages'][2] == {'role': 'tool', 'tool_call_id': 'call_7', 'content': '18°C, sunny'}

def test_responses_sdk_output_objects_are_read():
    _,r = send_responses([{'role': 'user', 'content': 'Weather in Paris?'}])
    ms = from_responses(r.output)
    assert [(m.role, m.content, m.metadata['tool_calls'][0]['id']) for m in ms] == [('assistant', '', 'call_7')]
    body,_ = send_responses(to_responses(ms))
    assert json.loads(body)['input'] == [o.model_dump(exclude_none=True) for o in r.output]

# --- a stored session's window, read from the end

def long_conversation(rnd, turns=120):
    "System and developer messages at the start, then turns with tool calls of up to 40 results (so units cross pages), a late system message, pending messages"
    msgs = [Message('system', 'You are terse.'), Message('developer', 'Answer in French.'), Message('system', '', pending=True), Message('system', 'Be kind.')]
    for t in range(turns):
        msgs.append(Message('user', f'q{t} ' * rnd.randint(1, 9)))
        if rnd.random() < 0.3:
            ids = [f'c{t}-{j}' for j in range(rnd.choice([1, 2, 40]))]
            msgs.append(Message('assistant', '', metadata={'tool_calls': [{'id': i, 'type': 'function', 'function': {'name': 'f', 'arguments': '{}'}} for i in ids]}))
            msgs += [Message('tool', 'r' * rnd.randint(0, 30), metadata={'tool_call_id': i}) for i in ids]
        if rnd.random() < 0.05: msgs.append(Message('system', 'A file was uploaded.'))
        msgs.append(Message('assistant', f'a{t} ' * rnd.randint(1, 20), pending=rnd.random() < 0.05))
    return msgs

def test_window_of_a_stored_session_is_the_window_of_its_messages(store, mgr):
    import random
    rnd = random.Random(11)
    msgs = long_conversation(rnd)
    s = mgr.create_session('w')
    s.add_messages(msgs)
    for max_messages,max_tokens in [(None, None), (5, None), (None, 40), (60, None), (None, 300), (200, 2000), (None, 100_000), (4, 12)]:
        assert s.window(max_messages=max_messages, max_tokens=max_tokens) == window(msgs, max_messages=max_messages, max_tokens=max_tokens), (max_messages, max_tokens)
    assert window(s, max_tokens=300) == window(msgs, max_tokens=300)
    with pytest.raises(InvalidValueError, match='the system prompt alone is over the budget'): s.window(max_tokens=3)
    empty = mgr.create_session('empty')
    assert empty.window(max_tokens=10) == [] and mgr.create_session('sys').add_message('system', 'x') and mgr['sys'].window(max_messages=1)[0].content == 'x'

@pytest.mark.parametrize('n', [1_000, 6_000])
@pytest.mark.parametrize('kind', ['memory', 'sqlite', 'redis', 'postgres'])
def test_window_reads_what_the_budget_needs(tmp_path, kind, n):
    "Windowing to a small budget reads the same few pages however long the session is (counted on the sync API's primitives)"
    from conftest import Store
    st = Store(kind, tmp_path)
    try:
        mgr = st.open()
        s = mgr.create_session('big')
        s.add_message('system', 'You are terse.')
        s.add_messages([Message('user' if i % 2 == 0 else 'assistant', f'message {i}') for i in range(n)])
        read = []
        for name in ('_slice', '_tail'):
            f = getattr(mgr, name)
            setattr(mgr, name, lambda *a, f=f: read.append(f(*a)) or read[-1])
        w = s.window(max_tokens=200)
        assert len(w) > 40 and sum(map(len, read)) <= 2 * len(w) + 40
    finally: st.close()
