"What every benchmark here shares: timing ours against a raw baseline, alternately, in the same process."
import gc, statistics, time
from chatstate import Message

def sample_messages(n:int, start:int=0, tag:str='')->list:
    "`n` realistic messages: users and assistants taking turns, every assistant message with metadata"
    return [Message('user' if j % 2 == 0 else 'assistant', f'message {j}{tag} ' + 'x' * 80,
                    metadata={} if j % 2 == 0 else {'model': 'gpt-4o', 'tokens': j}) for j in range(start, start + n)]

def timed(f, rounds:int)->float:
    "Median seconds of `rounds` runs of `f`"
    res = []
    for _ in range(rounds):
        gc.collect()
        t = time.perf_counter(); f(); res.append(time.perf_counter() - t)
    return statistics.median(res)

def paired(ours, base, rounds:int, setup=None)->tuple:
    "Run `ours` and `base` alternately `rounds` times: their median times, and the median of the per-round ratios"
    to,tb,rs = [],[],[]
    for _ in range(rounds):
        for f,acc in ((ours, to), (base, tb)):
            if setup: setup()
            gc.collect()
            t = time.perf_counter(); f(); acc.append(time.perf_counter() - t)
        rs.append(to[-1] / tb[-1])
    return statistics.median(to), statistics.median(tb), statistics.median(rs)

def row(name:str, ours, base, rounds:int, target=None, scale=1e3):
    "Print one line: `ours` against `base` (callables, run alternately), and whether the ratio meets `target`"
    o,b,r = paired(ours, base, rounds)
    tgt = f'(target <= {target}x) {"ok" if r <= target else "MISSED"}' if target else ''
    print(f'{name:<56} {o*scale:>10.2f} {b*scale:>10.2f} {r:>7.2f}x  {tgt}')
    return r

def filled(m, sid:str, n:int, system:bool=False):
    "A new session `sid` of store `m` holding `n` `sample_messages` (after a system prompt, if `system`), added 5,000 at a time"
    s = m.create_session(sid)
    if system: s.add_message('system', 'You are a helpful assistant.')
    for i in range(0, n, 5000): s.add_messages(sample_messages(min(5000, n - i), start=i))
    return s
