"""The LangGraph checkpointer on SQLite against langgraph-checkpoint-sqlite's `SqliteSaver`, at the same durability (every write synced:
synchronous=FULL on both), on one `create_agent` conversation against a fake model: each turn a user message and an answer of about 430
characters between them (86 kB of text in 200 turns).

Prints, for 10 and for `--turns` turns: each file's bytes once the run is done (the WAL checkpointed into it), bytes per turn with the empty
store's size taken off, the median time per turn over the run, and the ratios: chatstate's over SqliteSaver's (below 1: smaller, faster),
and chatstate's bytes per turn at `--turns` over at 10 (flat: close to 1). Medians of `--rounds` runs, taking turns in the same process.

Needs the bench extra (`pip install -e ".[dev,bench]"`). Run: python bench/bench_checkpointer.py [--turns 200] [--rounds 3]"""
import argparse, os, sqlite3, statistics, sys, tempfile, time, uuid
sys.path.insert(0, os.path.dirname(__file__))
from chatstate import connect
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

QUESTION = 'What should I see on day {i} in Lisbon? I like old streets, small museums and food, and I walk a lot. ' # ~110 characters
ANSWER = ('Day {i}: start in Alfama before the crowds, walk up to the Miradouro de Santa Luzia, see the Sé, then take tram 28 to Graça. '
          'Lunch at a tasca near the castle; in the afternoon, the Museu do Azulejo, and at dusk a fado house in Mouraria. ') # ~320

def saver(kind, path):
    "A fresh checkpointer in file `path`, syncing every commit; and what to close"
    if kind == 'ours':
        from chatstate.integrations.langgraph import ChatstateSaver
        m = connect(f'sqlite:///{path}?synchronous=full')
        return ChatstateSaver(m),m.close
    from langgraph.checkpoint.sqlite import SqliteSaver
    con = sqlite3.connect(path, check_same_thread=False)
    s = SqliteSaver(con)
    s.setup()
    con.execute('PRAGMA synchronous=FULL')
    return s,con.close

def size(path, kind):
    "The file's bytes, its WAL checkpointed into it"
    con = sqlite3.connect(path)
    con.execute('PRAGMA wal_checkpoint(TRUNCATE)'); con.close()
    return sum(os.path.getsize(p) for p in (path, path + '-wal') if os.path.exists(p))

def run(kind, d, turns):
    "One conversation of `turns` turns: (seconds per turn, bytes when done, bytes of the empty store)"
    path = f'{d}/{kind}-{uuid.uuid4().hex[:8]}.db'
    sv,close = saver(kind, path)
    empty = size(path, kind)
    model = GenericFakeChatModel(messages=iter([AIMessage(ANSWER.format(i=i)) for i in range(turns)]))
    agent = create_agent(model, [], checkpointer=sv)
    cfg,ts = {'configurable': {'thread_id': 'trip'}},[]
    for i in range(turns):
        t = time.perf_counter()
        out = agent.invoke({'messages': [{'role': 'user', 'content': QUESTION.format(i=i)}]}, cfg)
        ts.append(time.perf_counter() - t)
    assert len(out['messages']) == 2 * turns
    close()
    return statistics.median(ts),size(path, kind),empty

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--turns', type=int, default=200); p.add_argument('--rounds', type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        res = {}
        for n in (10, a.turns):
            rs = {'ours': [], 'theirs': []}
            for _ in range(a.rounds):
                for kind in rs: rs[kind].append(run(kind, d, n))
            res[n] = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k,v in rs.items()}
        print(f"{'turns':>6} {'store':<12} {'bytes':>12} {'bytes/turn':>11} {'ms/turn':>8}")
        for n,r in res.items():
            for k,(t,b,e) in r.items(): print(f"{n:>6} {'chatstate' if k == 'ours' else 'SqliteSaver':<12} {b:>12,} {(b - e) / n:>11,.0f} {t * 1e3:>8.2f}")
        (t10,b10,e10),(tn,bn,en) = res[10]['ours'],res[a.turns]['ours']
        flat = ((bn - en) / a.turns) / ((b10 - e10) / 10)
        smaller = bn / res[a.turns]['theirs'][1]
        speed = tn / res[a.turns]['theirs'][0]
        print(f"chatstate's bytes per turn, {a.turns} turns over 10: {flat:.2f}x  (target <= 1.5x) {'ok' if flat <= 1.5 else 'MISSED'}")
        print(f"chatstate's bytes over SqliteSaver's at {a.turns} turns: {smaller:.3f}x  (target <= 0.1x) {'ok' if smaller <= 0.1 else 'MISSED'}")
        print(f"chatstate's time per turn over SqliteSaver's at {a.turns} turns: {speed:.2f}x  (target <= 1x) {'ok' if speed <= 1 else 'MISSED'}")

if __name__ == '__main__': main()
