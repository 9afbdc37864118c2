"""A small streaming chat app on chatstate (FastAPI, the `openai` SDK): each user's own sidebar, replies streamed into the store and
followed by any tab (a refresh picks the reply up where it is), stop, regenerate, and recovery of a reply whose worker died.

Run: CHATSTATE_URL=sqlite:///chats.db OPENAI_BASE_URL=... uvicorn examples.chat_app:app   (the user id comes in the `x-user` header:
the app's login would set it)."""
import asyncio, json, os
from contextlib import asynccontextmanager
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
import openai
from chatstate import *
import chatstate.formats, chatstate.stream

class Ask(BaseModel):
    content: str
    after: str | None = None # the last message id the tab saw: a second tab's question is refused, not interleaved

def make_app(store_url:str, model_url:str, lease:float=30.0)->FastAPI:
    "The app over the store at `store_url`, asking the OpenAI-compatible model at `model_url`"
    worker,tasks,box = new_id(),set(),{}
    model = openai.AsyncOpenAI(base_url=model_url, api_key=os.environ.get('OPENAI_API_KEY', 'x'), max_retries=0)

    @asynccontextmanager
    async def life(app):
        box['m'] = await aconnect(store_url)
        box['m'].lease = lease
        yield
        for t in list(tasks): t.cancel()
        await box['m'].close()
    app = FastAPI(lifespan=life)

    async def chat(cid, user):
        s = await box['m'].get_session(cid, owner=user) # another user's chat is not there
        if s is None: raise HTTPException(404, f'no chat {cid!r}')
        return s

    async def answer(s, rid):
        "Stream the model's answer into reply `rid`: a task of its own, so the reply goes on whoever reads it"
        stream = await model.chat.completions.create(model='gpt-4o-mini', messages=await s.to_openai(), stream=True)
        t = asyncio.ensure_future(s.stream_reply(stream, mid=rid, writer=worker).run())
        tasks.add(t); t.add_done_callback(tasks.discard)

    @app.get('/chats')
    async def sidebar(x_user:str=Header()):
        return [dict(id=i.session_id, title=i.title, updated=i.updated, reply=i.reply) for i in await box['m'].sessions(owner=x_user)]

    @app.post('/chats')
    async def new_chat(title:str='New chat', x_user:str=Header()):
        return {'id': (await box['m'].create_session(metadata={'title': title}, owner=x_user)).id}

    @app.get('/chats/{cid}')
    async def messages(cid:str, x_user:str=Header()):
        s = await chat(cid, x_user)
        return [dict(id=m.id, role=m.role, content=m.content, state=m.state, created=m.created) for m in await s.messages]

    @app.post('/chats/{cid}/messages')
    async def ask(cid:str, q:Ask, x_user:str=Header()):
        s = await chat(cid, x_user)
        try: qm,r = await s.start_turn(q.content, after=q.after, writer=worker)
        except ConflictError as e: raise HTTPException(409, str(e))
        await answer(s, r.id)
        return {'question': qm.id, 'reply': r.id}

    @app.get('/chats/{cid}/replies/{rid}')
    async def follow(cid:str, rid:str, x_user:str=Header()):
        "The reply as server-sent events: its text so far, then each piece, until it ends. A tab that reconnects asks again"
        s = await chat(cid, x_user)
        async def events():
            async for text,m in s.follow(rid):
                yield f'data: {json.dumps(dict(text=m.content if text is None else text, replaced=text is None, state=m.state))}\n\n'
        return StreamingResponse(events(), media_type='text/event-stream')

    @app.post('/chats/{cid}/replies/{rid}/stop')
    async def stop(cid:str, rid:str, x_user:str=Header()):
        return {'state': (await (await chat(cid, x_user)).stop(rid)).state}

    @app.post('/chats/{cid}/regenerate')
    async def regenerate(cid:str, x_user:str=Header()):
        "Drop the last answer and ask again"
        s = await chat(cid, x_user)
        q = next((m for m in reversed(await s.messages) if m.role == 'user'), None)
        if q is None: raise HTTPException(400, 'nothing to regenerate')
        await s.truncate_after(q.id)
        r = await s.add_message('assistant', '', pending=True, writer=worker, after=q.id)
        await answer(s, r.id)
        return {'reply': r.id}

    @app.post('/recover')
    async def recover():
        "Replies whose worker died (their lease lapsed) are marked failed, so their users see it and regenerate: run at start-up, or now and then"
        done = []
        for sid,m in await box['m'].stale_replies():
            try: await (await box['m'][sid]).settle(m.id); done.append([sid, m.id])
            except ConflictError: pass # taken over meanwhile
        return {'settled': done}

    return app

if os.environ.get('CHATSTATE_URL'): app = make_app(os.environ['CHATSTATE_URL'], os.environ.get('OPENAI_BASE_URL', 'https://api.openai.com/v1'))
