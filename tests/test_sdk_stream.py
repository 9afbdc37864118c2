"""The real `openai` and `anthropic` SDKs streaming from a local server that speaks their protocols, through `stream_reply` into a
store: text, tool calls and thinking kept so the formats send them back unchanged, an error mid-stream, and a stop that closes the
SDK's stream so the server sees its client go away (the model stops generating). Sync and async clients."""
import asyncio, threading, time, pytest
openai = pytest.importorskip('openai')
anthropic = pytest.importorskip('anthropic')
from chatstate import *
import chatstate.formats, chatstate.stream
from chatstate.formats import to_openai, to_anthropic, to_responses
from fake_models import FakeModels
from conftest import run_async

@pytest.fixture
def fake():
    f = FakeModels()
    yield f
    f.close()

APIS = ['chat', 'responses', 'anthropic', 'anthropic-helper']

def call(fake, api, is_async=False):
    "Start a streamed reply with the real SDK of `api`: the SDK's stream object"
    kw = dict(model='m', max_tokens=100) if api.startswith('anthropic') else dict(model='m')
    if api.startswith('anthropic'):
        c = (anthropic.AsyncAnthropic if is_async else anthropic.Anthropic)(base_url=fake.url, api_key='x', max_retries=0)
        msgs = [{'role': 'user', 'content': 'Weather?'}]
        if api == 'anthropic-helper': return c.messages.stream(messages=msgs, **kw) # a context manager: entered by the caller
        return c.messages.create(messages=msgs, stream=True, **kw)
    c = (openai.AsyncOpenAI if is_async else openai.OpenAI)(base_url=fake.url + '/v1', api_key='x', max_retries=0)
    if api == 'chat': return c.chat.completions.create(messages=[{'role': 'user', 'content': 'Weather?'}], stream=True, stream_options={'include_usage': True}, **kw)
    return c.responses.create(input='Weather?', stream=True, **kw)

def sync_stream(s, fake, api, **kw):
    st = call(fake, api)
    if api == 'anthropic-helper':
        with st as ms: rs = s.stream_reply(ms, **kw); return list(rs),rs
    rs = s.stream_reply(st, **kw)
    return list(rs),rs

@pytest.mark.parametrize('api', APIS)
@pytest.mark.parametrize('tool', [False, True], ids=['text', 'tool'])
def test_a_real_sdk_stream_into_the_store(tmp_path, fake, api, tool):
    fake.tool = tool
    s = connect(f'sqlite:///{tmp_path}/c.db').create_session('c')
    s.add_message('user', 'Weather?')
    texts,rs = sync_stream(s, fake, api, every=0.01)
    m = s.get(rs.mid)
    assert texts == fake.text and m.content == 'Hello there' and m.state == 'done'
    if api == 'chat':
        assert m.metadata['finish_reason'] == ('tool_calls' if tool else 'stop') and m.metadata['model'] == 'gpt-fake' and m.metadata['usage']['completion_tokens'] == 3
        if tool: assert to_openai([m])[0]['tool_calls'] == [{'id': 'call_1', 'type': 'function', 'function': {'name': 'weather', 'arguments': '{"city": "Paris"}'}}]
    elif api == 'responses':
        out = to_responses([m])
        assert out[0] == {'type': 'reasoning', 'id': 'rs_1', 'summary': [], 'encrypted_content': 'gAAAAABfake=='} and m.metadata['usage']['output_tokens'] == 3
        assert [o['type'] for o in out] == ['reasoning', 'message'] + (['function_call'] if tool else [])
    else:
        blocks = to_anthropic([m])['messages'][0]['content']
        assert m.metadata['stop_reason'] == ('tool_use' if tool else 'end_turn') and m.metadata['model'] == 'claude-fake'
        if tool:
            assert blocks[0] == {'type': 'thinking', 'thinking': 'The user wants Paris.', 'signature': 'EqQBCkYIBRgCKkDz+/sig=='} # byte for byte
            assert blocks[-1] == {'type': 'tool_use', 'id': 'toolu_1', 'name': 'weather', 'input': {'city': 'Paris'}}

@pytest.mark.parametrize('api', APIS)
def test_an_error_mid_stream_fails_the_reply(tmp_path, fake, api):
    fake.fail_after = 3
    s = connect(f'sqlite:///{tmp_path}/c.db').create_session('c')
    with pytest.raises(Exception) as e: sync_stream(s, fake, api)
    m = s.messages[-1]
    assert m.state == 'failed' and type(e.value).__name__ in m.error and 'Hello there'.startswith(m.content)

@pytest.mark.parametrize('api', APIS)
def test_a_stop_closes_the_sdk_stream(tmp_path, fake, api):
    fake.text,fake.pause = ['la '] * 400,0.005
    url = f'sqlite:///{tmp_path}/c.db'
    s = connect(url).create_session('c')
    def stop_soon():
        time.sleep(0.4)
        o = connect(url)['c']
        o.stop(o[-1].id) # the stop button, in another worker
    threading.Thread(target=stop_soon).start()
    texts,rs = sync_stream(s, fake, api, every=0.02)
    m = s.get(rs.mid)
    assert m.state == 'stopped' and 0 < len(texts) < 400 and ''.join(texts).startswith(m.content) and m.content.startswith('la la ')
    for _ in range(50):
        if fake.gone: break
        time.sleep(0.05)
    assert fake.gone == 1 # the server saw its client leave: the model stops generating

@pytest.mark.parametrize('api', ['chat', 'responses', 'anthropic'])
def test_async_clients_and_a_client_that_goes_away(tmp_path, fake, api):
    fake.text,fake.pause = ['la '] * 200,0.005
    async def go():
        am = await aconnect(f'sqlite:///{tmp_path}/c.db')
        s = await am.create_session('c')
        rs = s.stream_reply(await call(fake, api, is_async=True))
        got = []
        async for t in rs:
            got.append(t)
            if len(got) == 20: break # the browser tab closed
        await asyncio.sleep(0.2)
        m = await s.get(rs.mid)
        fake.text,fake.pause = ['Hel', 'lo'],0
        rs2 = s.stream_reply(await call(fake, api, is_async=True))
        done = await rs2.run()
        await am.close()
        return m,done
    m,done = run_async(go())
    assert m.state == 'stopped' and m.content.startswith('la ' * 20) and done.content == 'Hello' and done.state == 'done'
    for _ in range(50):
        if fake.gone: break
        time.sleep(0.05)
    assert fake.gone == 1
