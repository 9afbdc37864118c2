"""README.md: made from nbs/index.ipynb by scripts/readme.py (so the two never drift), and its examples run as a reader runs them,
twice in the same directory, doing the same each time."""
import asyncio, re, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'scripts'))
from readme import readme

def test_readme_is_made_from_the_home_page():
    assert (ROOT / 'README.md').read_text() == readme()

def run_examples():
    "Run the README's python blocks in order, in one namespace (the async one inside a coroutine), and return the namespace"
    g = {}
    for b in re.findall(r'```python\n(.*?)```', (ROOT / 'README.md').read_text(), re.S):
        if 'async with' in b:
            exec('async def _example():\n' + '\n'.join('    ' + l for l in b.splitlines()), g)
            asyncio.run(g['_example']())
        else: exec(b, g)
    return g

def test_readme_examples_run_twice(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        g = run_examples()
        assert [m.content for m in g['connect']('sqlite:///chats.db')['chat-1'].messages] == ['Plan 3 days in Lisbon']
    out = capsys.readouterr().out
    assert out.count('Day 4: Cascais, by the sea. | done | Day 4: Cascais, by the sea.') == 2
