"""Cancellation at random points, thousands of times per store (branches and summaries among the calls): after each cancelled call the store holds what it held
before the call or what the call makes of it, never anything in between; and the next call on the same manager gets its
own answer (a connection is never left mid-reply). `CHATSTATE_CANCEL_ROUNDS` sets how many calls are cancelled per store
(2000 by default). Again, a quarter as many, while another task reads all the time, so that each call has company: on PostgreSQL
it is then sent in a pipeline with the reader's statements, and cancelled there."""
import asyncio, os, random, pytest
from chatstate import *
from conftest import Store, KINDS, run_async

ROUNDS = int(os.environ.get('CHATSTATE_CANCEL_ROUNDS', 2000))

def state(d:dict)->tuple:
    "What a session holds, from its `to_dict`, without its times: details, every message, the tree (if it branched), the summaries"
    return (d['metadata'], [(m['id'], m['role'], m['content'], m.get('pending', False), m.get('metadata', {})) for m in d['messages']],
            d.get('tree'), [{k:v for k,v in x.items() if k != 'created'} for x in d.get('summaries', [])])

def active(st:tuple)->list:
    "The active branch of a session holding `st`"
    msgs,tree = st[1],st[2]
    if tree is None: return msgs
    by,res,x = {m[0]: m for m in msgs},[],tree['head']
    up = dict(zip([m[0] for m in msgs], tree['parents']))
    while x is not None: res.append(by[x]); x = up[x]
    return res[::-1]

def pick(rnd, st, i):
    "A random call (its name and arguments) that is valid on a session holding `st`"
    msgs,act = st[1],active(st)
    pend = [m[0] for m in msgs if m[3]]
    ops = [('add_message', ('user', f'q{i}'), dict(id=f'm{i}')),
           ('add_message', ('assistant', ''), dict(id=f'm{i}', pending=True)),
           ('add_messages', ([Message('user', f'b{i}', id=f'b{i}'), Message('assistant', f'c{i}', id=f'c{i}', metadata={'n': i})],), {}),
           ('update_metadata', (), {f'k{i % 7}': i}),
           ('set_title', (f'T{i}',), {}),
           ('tail', (3,), {}), ('count', (), {}),
           ('add_message', ('user', f'a{i}'), dict(id=f'a{i}', after=act[-1][0] if act else '')), # another tab's turn, where this session ends
           ('add_messages', ([Message('user', f'd{i}', id=f'd{i}')],), dict(after=act[-1][0] if act else '')),
           ('add_branch', (None, [Message('user', f't{i}', id=f't{i}')]), {})]
    if pend: ops += [('append_chunk', (rnd.choice(pend), f'x{i}'), {})] * 3 + [('finalize', (rnd.choice(pend),), dict(metadata={'done': i}))]
    if msgs:
        mid = rnd.choice(msgs)[0]
        ops += [('update_message_metadata', (mid,), {f'r{i % 5}': i}), ('delete', (mid,), {}), ('truncate_after', (mid,), {}),
                ('get', (mid,), {}), ('edit', (mid, f'e{i}'), dict(id=f'e{i}')), ('regenerate', (mid,), dict(content=f'g{i}', pending=False, id=f'g{i}')),
                ('switch', (mid,), {}), ('summarize', (mid, f's{i}'), dict(id=f's{i}'))]
        if len(act) > 1: ops.append(('pop', (), {}))
    if len(msgs) > 12: ops = [o for o in ops if o[0] in ('delete', 'pop', 'truncate_after')] # keep the session short
    return rnd.choice(ops)

def model(before:dict, op):
    "What the call makes of the session: the same call on an in-memory copy"
    m = InMemorySessionManager()
    s = m.import_session(before)
    name,args,kw = op
    getattr(s, name)(*args, **kw)
    return state(s.to_dict())

async def quiet(busy=()):
    "Wait for every other task on the loop (a shielded call still running) to end, but those in `busy`"
    while True:
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done() and t not in busy]
        if not rest: return
        await asyncio.wait(rest)

@pytest.mark.parametrize('busy', [False, True], ids=['alone', 'busy'])
@pytest.mark.parametrize('kind', KINDS)
def test_cancelled_calls_leave_the_store_before_or_after(kind, busy, tmp_path):
    st = Store(kind, tmp_path, 'async')
    m,rnd = st.open()._o,random.Random(kind + str(busy))
    async def go():
        s = await m.create_session('cancel')
        seen,reads = {'before': 0, 'after': 0},[0]
        if busy:
            other = await m.create_session('other')
            async def read():
                while True:
                    await other.count()
                    reads[0] += 1
                    await asyncio.sleep(0) # on a store whose calls never wait (in memory), a turn for the others
            readers = [asyncio.ensure_future(read())]
        try: return await rounds(s, seen, readers if busy else ())
        finally:
            if busy:
                for t in readers: t.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
                assert reads[0] > 0
    async def rounds(s, seen, readers):
        for i in range(ROUNDS // 4 if busy else ROUNDS):
            d = await s.to_dict()
            before,op = state(d),pick(rnd, state(d), i)
            after = model(d, op)
            name,args,kw = op
            t = asyncio.ensure_future(getattr(s, name)(*args, **kw))
            for _ in range(rnd.randrange(4)): await asyncio.sleep(0) # cancel after 0-3 turns of the loop, at whichever await the call is in
            if rnd.random() < 0.5: await asyncio.sleep(rnd.random() * 0.0005)
            t.cancel()
            try: await t
            except asyncio.CancelledError: pass
            await quiet(readers)
            now = state(await s.to_dict())
            assert await s.count() == len(active(now)), f"round {i}: {name}{args} left the message counter behind"
            assert now in (before, after), f"round {i}: {name}{args} left the session in between:\n{before}\n{now}\n{after}"
            seen['before' if now == before and now != after else 'after'] += 1
            if i % 50 == 0: # the next call on the same manager gets its own answer
                last = [Message(r, c, id=mid, pending=p, metadata=md) for mid,r,c,p,md in active(now)[-1:]]
                assert (await s.count(), await s.tail(1)) == (len(active(now)), last)
        return seen
    try:
        seen = run_async(go())
        assert seen['after'] > 0 and (kind == 'memory' or seen['before'] > 0), seen # both kinds of outcome happened
    finally: st.close()
