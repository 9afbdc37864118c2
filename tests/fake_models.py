"""A local server that speaks the streaming protocols of the OpenAI Chat Completions, OpenAI Responses and Anthropic Messages APIs,
for the real SDKs to talk to: a reply's text in pieces, a tool call, an error mid-stream, and a note of when a client went away."""
import json, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def chat_events(text, tool=False):
    base = {'id': 'chatcmpl-1', 'object': 'chat.completion.chunk', 'created': 1, 'model': 'gpt-fake'}
    yield {**base, 'choices': [{'index': 0, 'delta': {'role': 'assistant', 'content': ''}, 'finish_reason': None}]}
    for w in text: yield {**base, 'choices': [{'index': 0, 'delta': {'content': w}, 'finish_reason': None}]}
    if tool:
        yield {**base, 'choices': [{'index': 0, 'delta': {'tool_calls': [{'index': 0, 'id': 'call_1', 'type': 'function', 'function': {'name': 'weather', 'arguments': ''}}]}, 'finish_reason': None}]}
        for a in ['{"city":', ' "Paris"}']: yield {**base, 'choices': [{'index': 0, 'delta': {'tool_calls': [{'index': 0, 'function': {'arguments': a}}]}, 'finish_reason': None}]}
    yield {**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'tool_calls' if tool else 'stop'}]}
    yield {**base, 'choices': [], 'usage': {'prompt_tokens': 5, 'completion_tokens': len(text), 'total_tokens': 5 + len(text)}}

def anthropic_events(text, tool=False):
    yield 'message_start', {'type': 'message_start', 'message': {'id': 'msg_1', 'type': 'message', 'role': 'assistant', 'model': 'claude-fake', 'content': [],
                            'stop_reason': None, 'stop_sequence': None, 'usage': {'input_tokens': 5, 'output_tokens': 1}}}
    i = 0
    if tool:
        yield 'content_block_start', {'type': 'content_block_start', 'index': 0, 'content_block': {'type': 'thinking', 'thinking': '', 'signature': ''}}
        yield 'content_block_delta', {'type': 'content_block_delta', 'index': 0, 'delta': {'type': 'thinking_delta', 'thinking': 'The user wants Paris.'}}
        yield 'content_block_delta', {'type': 'content_block_delta', 'index': 0, 'delta': {'type': 'signature_delta', 'signature': 'EqQBCkYIBRgCKkDz+/sig=='}}
        yield 'content_block_stop', {'type': 'content_block_stop', 'index': 0}
        i = 1
    yield 'content_block_start', {'type': 'content_block_start', 'index': i, 'content_block': {'type': 'text', 'text': ''}}
    for w in text: yield 'content_block_delta', {'type': 'content_block_delta', 'index': i, 'delta': {'type': 'text_delta', 'text': w}}
    yield 'content_block_stop', {'type': 'content_block_stop', 'index': i}
    if tool:
        yield 'content_block_start', {'type': 'content_block_start', 'index': i + 1, 'content_block': {'type': 'tool_use', 'id': 'toolu_1', 'name': 'weather', 'input': {}}}
        for a in ['{"city": ', '"Paris"}']: yield 'content_block_delta', {'type': 'content_block_delta', 'index': i + 1, 'delta': {'type': 'input_json_delta', 'partial_json': a}}
        yield 'content_block_stop', {'type': 'content_block_stop', 'index': i + 1}
    yield 'message_delta', {'type': 'message_delta', 'delta': {'stop_reason': 'tool_use' if tool else 'end_turn', 'stop_sequence': None}, 'usage': {'output_tokens': len(text)}}
    yield 'message_stop', {'type': 'message_stop'}

def responses_events(text, tool=False):
    items = [{'type': 'reasoning', 'id': 'rs_1', 'summary': [], 'encrypted_content': 'gAAAAABfake=='}]
    resp = {'id': 'resp_1', 'object': 'response', 'created_at': 1, 'model': 'gpt-fake', 'status': 'in_progress', 'output': [], 'parallel_tool_calls': True,
            'tool_choice': 'auto', 'tools': []}
    n = 0
    def ev(t, **kw):
        nonlocal n; n += 1
        return t, {'type': t, 'sequence_number': n, **kw}
    yield ev('response.created', response=resp)
    yield ev('response.output_item.done', output_index=0, item=items[0])
    msg = {'type': 'message', 'id': 'msg_1', 'role': 'assistant', 'status': 'completed', 'content': [{'type': 'output_text', 'text': ''.join(text), 'annotations': []}]}
    for w in text: yield ev('response.output_text.delta', item_id='msg_1', output_index=1, content_index=0, delta=w, logprobs=[])
    yield ev('response.output_item.done', output_index=1, item=msg)
    items.append(msg)
    if tool:
        fc = {'type': 'function_call', 'id': 'fc_1', 'call_id': 'call_1', 'name': 'weather', 'arguments': '{"city":"Paris"}', 'status': 'completed'}
        yield ev('response.output_item.done', output_index=2, item=fc)
        items.append(fc)
    yield ev('response.completed', response={**resp, 'status': 'completed', 'output': items,
                                             'usage': {'input_tokens': 5, 'output_tokens': len(text), 'total_tokens': 5 + len(text),
                                                       'input_tokens_details': {'cached_tokens': 0}, 'output_tokens_details': {'reasoning_tokens': 0}}})

class FakeModels:
    "The server: `how` sets the next replies (text pieces, tool?, pause between events, fail after N events); `gone` counts clients that left"
    def __init__(self):
        self.text,self.tool,self.pause,self.fail_after,self.gone = ['Hel', 'lo', ' there'],False,0.0,None,0
        fake = self
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get('content-length', 0))) or b'{}')
                p = self.path.split('?')[0]
                gen = (((None, e) for e in chat_events(fake.text, fake.tool)) if p.endswith('/chat/completions') else
                       anthropic_events(fake.text, fake.tool) if p.endswith('/messages') else responses_events(fake.text, fake.tool))
                self.send_response(200)
                self.send_header('content-type', 'text/event-stream')
                self.send_header('cache-control', 'no-cache')
                self.end_headers()
                try:
                    for k,(name,e) in enumerate(gen):
                        if fake.fail_after is not None and k >= fake.fail_after: # the model fails mid-reply, as each API says so
                            err = (b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n' if p.endswith('/messages')
                                   else b'data: {"error": {"message": "The model is overloaded", "type": "server_error"}}\n\n')
                            self.wfile.write(err); self.wfile.flush(); return
                        self.wfile.write((f'event: {name}\n' if name else '').encode() + b'data: ' + json.dumps(e).encode() + b'\n\n')
                        self.wfile.flush()
                        if fake.pause: time.sleep(fake.pause)
                    if p.endswith('/chat/completions'): self.wfile.write(b'data: [DONE]\n\n'); self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError): fake.gone += 1
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.server.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
    def close(self): self.server.shutdown(); self.server.server_close()
