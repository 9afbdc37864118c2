"""Streaming a model's reply into every store, on both APIs: coalesced writes whose content is exactly the text handed back, tool
calls and thinking assembled so the formats send them back unchanged, stops from another worker closing the model's stream, heartbeats
through a silent model, failures and cancellations kept."""
import asyncio, threading, time, pytest
from chatstate import *
import chatstate.formats
from chatstate.formats import to_openai, to_anthropic, to_responses
from chatstate.stream import ReplyStream
from conftest import KINDS, Store, Sync, run_async

_END = object()
class Threaded:
    "A sync iterable read on a thread, as an SDK's async stream is read without holding up the event loop"
    def __init__(self, items): self.it = iter(items)
    def __aiter__(self): return self
    async def __anext__(self):
        x = await asyncio.to_thread(next, self.it, _END)
        if x is _END: raise StopAsyncIteration
        return x
    async def aclose(self):
        if hasattr(self.it, 'close'): self.it.close()

def stream(s, model, **kw):
    "Stream `model` (a list, or a function making the iterable) into handle `s` on the API under test: (texts yielded, the ReplyStream)"
    items = model() if callable(model) else model
    if isinstance(s, Sync):
        rs = s._o.stream_reply(Threaded(items), **kw)
        async def go(): return [t async for t in rs]
        return run_async(go()),rs
    rs = s.stream_reply(items, **kw)
    return list(rs),rs

def lease(m, t): getattr(getattr(m, '_o', m), 'store', m).lease = t

def paced(chunks, pause):
    def gen():
        for c in chunks: time.sleep(pause); yield c
    return gen

def test_text_is_coalesced_and_stored_exactly(store, mgr):
    s = mgr.create_session('c')
    q,r = s.start_turn('Count', writer='w')
    chunks = [f'{i} ' for i in range(60)] + ['é🙂\x00end']
    texts,rs = stream(s, paced(chunks, 0.005), mid=r.id, every=0.1, writer='w')
    assert texts == chunks and rs.message.content == ''.join(chunks) == s.get(r.id).content and s.get(r.id).state == 'done'
    assert rs.writes <= 6, rs.writes # 0.3 s of text at most every 0.1 s, and the finish
    assert store.open()['c'][r.id].content == ''.join(chunks) # as another worker reads it
    texts,rs = stream(s, ['a' * 50] * 10, chars=120, every=60)
    assert rs.writes == 5 and s.get(rs.mid).content == 'a' * 500 # 3 writes of 150 characters, the rest, the finish

def test_tool_calls_and_thinking_come_back_unchanged(store, mgr):
    s = mgr.create_session('t')
    chat = [{'choices': [{'delta': {'role': 'assistant', 'content': None, 'tool_calls': [{'index': 0, 'id': 'call_1', 'type': 'function', 'function': {'name': 'weather', 'arguments': ''}}]}}], 'model': 'gpt-x'},
            {'choices': [{'delta': {'tool_calls': [{'index': 0, 'function': {'arguments': '{"city": '}}]}}]},
            {'choices': [{'delta': {'tool_calls': [{'index': 0, 'function': {'arguments': '"Paris"}'}}, {'index': 1, 'id': 'call_2', 'function': {'name': 'time', 'arguments': '{}'}}]}}]},
            {'choices': [{'delta': {}, 'finish_reason': 'tool_calls'}], 'usage': {'prompt_tokens': 3, 'completion_tokens': 7}}]
    _,rs = stream(s, chat)
    m = s.get(rs.mid)
    assert to_openai([m]) == [{'role': 'assistant', 'content': None, 'tool_calls': [
        {'id': 'call_1', 'type': 'function', 'function': {'name': 'weather', 'arguments': '{"city": "Paris"}'}},
        {'id': 'call_2', 'type': 'function', 'function': {'name': 'time', 'arguments': '{}'}}]}]
    assert (m.metadata['finish_reason'], m.metadata['model'], m.metadata['usage']['completion_tokens']) == ('tool_calls', 'gpt-x', 7)
    blocks = [{'type': 'thinking', 'thinking': 'Paris, then.', 'signature': 'EqQBCkYIARgCKkA+/=='}, {'type': 'redacted_thinking', 'data': 'RW5jcnlwdGVk'},
              {'type': 'text', 'text': 'Let me check.'}, {'type': 'tool_use', 'id': 'toolu_1', 'name': 'weather', 'input': {'city': 'Paris', 'days': [1, 2]}}]
    ev = [{'type': 'message_start', 'message': {'model': 'claude-x', 'usage': {'input_tokens': 9, 'output_tokens': 1}}},
          {'type': 'content_block_start', 'index': 0, 'content_block': {'type': 'thinking', 'thinking': ''}},
          {'type': 'content_block_delta', 'index': 0, 'delta': {'type': 'thinking_delta', 'thinking': 'Paris, '}},
          {'type': 'content_block_delta', 'index': 0, 'delta': {'type': 'thinking_delta', 'thinking': 'then.'}},
          {'type': 'content_block_delta', 'index': 0, 'delta': {'type': 'signature_delta', 'signature': 'EqQBCkYIARgCKkA+/=='}},
          {'type': 'content_block_stop', 'index': 0},
          {'type': 'content_block_start', 'index': 1, 'content_block': {'type': 'redacted_thinking', 'data': 'RW5jcnlwdGVk'}},
          {'type': 'content_block_stop', 'index': 1},
          {'type': 'content_block_start', 'index': 2, 'content_block': {'type': 'text', 'text': ''}},
          {'type': 'content_block_delta', 'index': 2, 'delta': {'type': 'text_delta', 'text': 'Let me '}},
          {'type': 'text', 'text': 'Let me ', 'snapshot': 'Let me '}, # the SDK helper's own event: a repeat, skipped
          {'type': 'content_block_delta', 'index': 2, 'delta': {'type': 'text_delta', 'text': 'check.'}},
          {'type': 'content_block_stop', 'index': 2},
          {'type': 'content_block_start', 'index': 3, 'content_block': {'type': 'tool_use', 'id': 'toolu_1', 'name': 'weather', 'input': {}}},
          {'type': 'content_block_delta', 'index': 3, 'delta': {'type': 'input_json_delta', 'partial_json': '{"city": "Paris", '}},
          {'type': 'content_block_delta', 'index': 3, 'delta': {'type': 'input_json_delta', 'partial_json': '"days": [1, 2]}'}},
          {'type': 'content_block_stop', 'index': 3},
          {'type': 'message_delta', 'delta': {'stop_reason': 'tool_use'}, 'usage': {'output_tokens': 30}},
          {'type': 'message_stop'}]
    texts,rs = stream(s, ev)
    m = s.get(rs.mid)
    assert texts == ['Let me ', 'check.'] and m.content == 'Let me check.'
    assert to_anthropic([m])['messages'] == [{'role': 'assistant', 'content': blocks}] # the signature and the redacted block exactly
    assert (m.metadata['stop_reason'], m.metadata['usage']) == ('tool_use', {'input_tokens': 9, 'output_tokens': 30})
    items = [{'type': 'reasoning', 'id': 'rs_1', 'summary': [], 'encrypted_content': 'gAAAAB=='},
             {'type': 'message', 'id': 'msg_1', 'role': 'assistant', 'status': 'completed', 'content': [{'type': 'output_text', 'text': 'Sunny.', 'annotations': []}]},
             {'type': 'function_call', 'id': 'fc_1', 'call_id': 'call_9', 'name': 'weather', 'arguments': '{"city":"Paris"}', 'status': 'completed'}]
    rev = [{'type': 'response.created', 'response': {'id': 'resp_1'}}, {'type': 'response.output_item.done', 'item': items[0]},
           {'type': 'response.output_text.delta', 'delta': 'Sun'}, {'type': 'response.output_text.delta', 'delta': 'ny.'},
           {'type': 'response.output_item.done', 'item': items[1]}, {'type': 'response.function_call_arguments.delta', 'delta': '{"city"'},
           {'type': 'response.output_item.done', 'item': items[2]},
           {'type': 'response.completed', 'response': {'id': 'resp_1', 'model': 'gpt-r', 'status': 'completed', 'usage': {'total_tokens': 40}, 'output': items}}]
    texts,rs = stream(s, rev)
    m = s.get(rs.mid)
    assert texts == ['Sun', 'ny.'] and m.content == 'Sunny.' and to_responses([m]) == items and m.metadata['model'] == 'gpt-r'

def test_a_stop_from_another_worker_closes_the_model_stream(store, mgr):
    s,closed = mgr.create_session('s'),[]
    q,r = s.start_turn('Go on forever')
    def endless():
        try:
            while True: time.sleep(0.005); yield 'la '
        finally: closed.append(True)
    def stop_soon(): time.sleep(0.3); store.open()['s'].stop(r.id)
    threading.Thread(target=stop_soon).start()
    texts,rs = stream(s, endless, mid=r.id, every=0.05)
    m = s.get(r.id)
    assert closed == [True] and m.state == 'stopped' and m.content == ''.join(texts)[:len(m.content)] and m.content.startswith('la la ')
    assert ''.join(texts).startswith(m.content) and rs.message.state == 'stopped'

def test_a_silent_model_keeps_its_lease(store, mgr):
    s = mgr.create_session('h')
    lease(mgr, 0.6)
    def thinker():
        yield 'Let me think'
        time.sleep(1.5) # a long reasoning pause, longer than the lease
        yield '. Done.'
    seen = []
    def watch():
        for _ in range(6): time.sleep(0.25); seen.append(len(store.open().stale_replies()))
    t = threading.Thread(target=watch); t.start()
    texts,rs = stream(s, thinker, every=0.01)
    t.join()
    assert seen == [0] * 6 and s.get(rs.mid).state == 'done' and s.get(rs.mid).content == 'Let me think. Done.'

def test_a_failing_stream_keeps_the_text_and_the_cause(store, mgr):
    s = mgr.create_session('f')
    def broken():
        yield 'Half '; yield 'a'
        raise ConnectionError('the model went away')
    with pytest.raises(ConnectionError): stream(s, broken)
    m = s.messages[-1]
    assert (m.state, m.content, m.error) == ('failed', 'Half a', 'ConnectionError: the model went away')
    n = len(s)
    with pytest.raises(InvalidTypeError, match='stream item must be'): stream(s, [3])
    assert s.messages[-1].state == 'failed' and len(s) == n # bad input before anything was stored: the reply it added went again

@pytest.mark.parametrize('kind', KINDS)
def test_a_cancelled_request_leaves_a_failed_reply(tmp_path, kind):
    "A task cancelled mid-reply (the async API's way of a request going away)"
    st = Store(kind, tmp_path, 'async')
    a = st.open()._o
    async def go():
        s = await a.get_or_create('x')
        async def stuck():
            yield 'Thinking'
            await asyncio.sleep(30)
        rs = s.stream_reply(stuck())
        async def consume(): return [t async for t in rs]
        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.2); task.cancel()
        with pytest.raises(asyncio.CancelledError): await task
        return await s.get(rs.mid)
    try: m = run_async(go())
    finally: st.close()
    assert (m.state, m.content, m.error) == ('failed', 'Thinking', 'CancelledError')

def test_a_reader_that_leaves_stops_the_reply_unless_detached(store, mgr):
    s = mgr.create_session('d')
    for detach,want in ((False, 'stopped'), (True, 'done')):
        items = paced(['a', 'b', 'c', 'd'], 0.02)()
        if isinstance(s, Sync):
            items = Threaded(items)
            rs = s._o.stream_reply(items, detach=detach, every=0.01)
            async def leave():
                it = rs.__aiter__(); await it.__anext__(); await it.aclose()
                if detach: await rs._rest
            run_async(leave())
        else:
            rs = s.stream_reply(items, detach=detach, every=0.01)
            it = iter(rs); next(it); it.close()
            if detach: [x for x in s.follow(rs.mid)]
        m = s.get(rs.mid)
        assert m.state == want and (m.content == 'abcd' if detach else m.content.startswith('a')), (detach, m.state, m.content)

def test_bad_input_is_refused_before_anything_is_written(store, mgr):
    s = mgr.create_session('b')
    sr = s._o.stream_reply if isinstance(s, Sync) else s.stream_reply
    for args,kw,err,msg in [(('hello',), {}, InvalidTypeError, "stream must be a model's stream"), ((3,), {}, InvalidTypeError, "stream must be"),
                            (([],), {'every': 0}, InvalidValueError, 'every must be'), (([],), {'chars': 0}, InvalidValueError, 'chars must be'),
                            (([],), {'writer': ''}, InvalidValueError, 'writer must be a non-empty str'), (([],), {'detach': 'yes'}, InvalidTypeError, 'detach must be'),
                            (([],), {'mid': 3}, InvalidTypeError, 'message id must be a str')]:
        with pytest.raises(err, match=msg): sr(*args, **kw)
    with pytest.raises(InvalidValueError, match="metadata key 'id' collides"): stream(s, ['x'], metadata={'id': 1})
    with pytest.raises(InvalidValueError, match='timeout must be'): list(s.follow('x', timeout=-1)) if not isinstance(s, Sync) else run_async(s._o.follow('x', timeout=-1).__anext__())
    assert len(s) == 0
