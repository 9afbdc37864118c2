"""The adapters' async methods never block the event loop, on every store and both APIs: checked with blockbuster (the detector LangChain's
tests use), which fails any blocking call (a socket read, a file write, a sleep) made on the loop's thread from Python (psycopg's I/O is in
libpq, out of its sight: on PostgreSQL the async API uses psycopg's async connections, and a sync store's calls go to threads)."""
import asyncio, sys, warnings, pytest
from conftest import need_module, async_manager
from chatstate import *

need_module('blockbuster', 'dev')
from blockbuster import blockbuster_ctx, BlockingError
from chatstate.integrations.agents import AgentsSession
from chatstate.integrations.llamaindex import ChatstateChatStore
from chatstate.integrations.langchain import ChatstateHistory
from chatstate.integrations.claudette import AsyncStoredChat
from chatstate.integrations.langgraph import ChatstateSaver
from chatstate.integrations.base import both_apis
from llama_index.core.llms import ChatMessage
from langchain_core.messages import HumanMessage

def test_async_methods_never_block(store):
    async def body():
        m = await async_manager(store)
        try:
            s = store.open() if store.api == 'sync' else None
            acp = hist = None
            if sys.version_info >= (3, 11): # imported before the check: an import reads files
                from pydantic_ai.messages import ModelRequest, UserPromptPart
                from chatstate.integrations.pydantic_ai import AcpSessionStore
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore') # the harness marks ACP experimental
                    from pydantic_ai_harness.experimental.acp import StoredSession
                    from pydantic_ai_harness.experimental.acp._session import SessionUpdate
                acp,hist = AcpSessionStore(m),[ModelRequest(parts=[UserPromptPart('hi')])]
                await AcpSessionStore(m).load('none') # its first use builds pydantic's validators, off the check
            with blockbuster_ctx():
                a = AgentsSession('a', m)
                await a.add_items([{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'hello'}])
                assert len(await a.get_items(limit=5)) == 2 and (await a.pop_item())['content'] == 'hello'
                await a.clear_session()
                cs = ChatstateChatStore(m)
                await cs.async_add_message('b', ChatMessage(role='user', content='x'))
                await cs.aset_messages('b', [ChatMessage(role='user', content='y')])
                assert [x.content for x in await cs.aget_messages('b')] == ['y'] and await cs.aget_keys()
                assert (await cs.adelete_last_message('b')).content == 'y'
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore') # LangChain's notice that the base class is deprecated
                    h = ChatstateHistory('c', m)
                await h.aadd_messages([HumanMessage('x')])
                assert await h.aget_messages() == [HumanMessage('x')]
                await h.aclear()
                sv = ChatstateSaver(m) # a checkpoint with messages, its writes, read back, listed, copied, pruned, deleted
                from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_metadata
                cp = generate_checkpoint(channel_values={'messages': [HumanMessage('q', id='q')], 'n': 1}, channel_versions={'messages': 1, 'n': 1})
                cfg = await sv.aput({'configurable': {'thread_id': 'g', 'checkpoint_ns': ''}}, cp, generate_metadata(), {'messages': 1, 'n': 1})
                await sv.aput_writes(cfg, [('n', 2)], 'task')
                t = await sv.aget_tuple(cfg)
                assert t.checkpoint['channel_values']['messages'] == [HumanMessage('q', id='q')] and t.pending_writes == [('task', 'n', 2)]
                assert [x async for x in sv.alist(cfg)][0].checkpoint['id'] == cp['id']
                await sv.acopy_thread('g', 'g2'); await sv.aprune(['g2']); await sv.adelete_thread('g')
                assert await sv.aget_tuple(cfg) is None and (await sv.aget_tuple({'configurable': {'thread_id': 'g2'}})).checkpoint['id'] == cp['id']
                if acp is not None: # pydantic-ai-harness's ACP sessions (Python 3.11 or newer)
                    await acp.save('z', StoredSession(messages=hist, updates=[], model='m'))
                    assert (await acp.load('z')).messages == hist
                if s is not None and store.kind in ('sqlite', 'redis'): # the check can fail: the sync API called on the loop blocks, and is caught
                    # (psycopg's sync I/O is libpq's, below what blockbuster patches; the memory store does none)
                    with pytest.raises(BlockingError): s.get_or_create('d').add_message('user', 'blocks')
        finally:
            if isinstance(m, AsyncSessionManager) and store.kind != 'memory': await m.close()
    asyncio.run(body())

def test_serve_never_blocks(store):
    "`chatstate serve`'s every view and action, on the app's own loop: nothing in it blocks, whatever store it reads"
    need_module('fasthtml', 'serve')
    import httpx
    from chatstate.serve import serve_app
    async def body():
        m = await async_manager(store)
        try:
            am = both_apis(m)[1] # the async API, whichever the store is on
            app = serve_app(m, token='t')
            s = await am.create_session('v', owner='ana')
            q = await s.add_message('user', 'hello Lisbon')
            r = await s.add_message('assistant', 'hi', pending=True, writer='w')
            await s.finalize(r.id, writer='w')
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url='http://testserver', headers={'Authorization': 'Bearer t'}) as c:
                await c.get('/') # the first request builds what FastHTML caches, off the check
                with blockbuster_ctx():
                    for path,params in (('/', {}), ('/sessions', {'q': 'lisbon', 'owner': 'ana'}), ('/chat', {'id': 'v'}), ('/chat', {'id': 'v', 'at': q.id}),
                                        ('/since', {'id': 'v', 'after': q.id}), ('/message', {'id': 'v', 'mid': r.id}), ('/follow', {'id': 'v', 'mid': r.id}),
                                        ('/export', {'id': 'v'}), ('/_static/htmx.min.js', {})):
                        assert (await c.get(path, params=params)).status_code == 200, path
                    o = {'Origin': 'http://testserver'}
                    assert (await c.post('/switch', data={'id': 'v', 'mid': q.id}, headers=o)).status_code == 200
                    assert (await c.post('/delete', data={'id': 'v'}, headers=o)).status_code == 200
                    if store.api == 'sync' and store.kind in ('sqlite', 'redis'): # the check can fail: a view calling the sync store on the loop is caught
                        @app.get('/blocks')
                        async def blocks(): return str(m.get_or_create('d').count())
                        with pytest.raises(BlockingError): await c.get('/blocks')
            assert not await am.contains('v')
        finally:
            if isinstance(m, AsyncSessionManager) and store.kind != 'memory': await m.close()
    asyncio.run(body())
