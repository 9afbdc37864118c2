"""Write README.md from nbs/index.ipynb, as nbdev's README does (whose command needs Quarto): the title and its summary line, each
markdown cell as it is, each code cell as a python block followed by its output (an `execute_result`'s text, or printed text);
cells marked `#| hide` are left out. `--check` writes nothing and fails if README.md differs (CI runs it).

Run: python scripts/readme.py [--check]"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def _text(v): return ''.join(v) if isinstance(v, list) else v

def _output(o)->str:
    if o.get('output_type') == 'stream': return _text(o.get('text', ''))
    if o.get('output_type') in ('execute_result', 'display_data'): return _text(o.get('data', {}).get('text/plain', ''))
    return ''

def readme(nb_path=ROOT / 'nbs' / 'index.ipynb')->str:
    "README.md's text, from notebook `nb_path`"
    parts = []
    for c in json.loads(Path(nb_path).read_text())['cells']:
        src = _text(c['source']).strip('\n')
        first = src.split('\n', 1)[0].strip()
        if not src or first.startswith('#|') and 'hide' in first: continue
        if c['cell_type'] == 'markdown': parts.append(src)
        elif c['cell_type'] == 'code':
            code = '\n'.join(l for l in src.split('\n') if not l.lstrip().startswith('#|')).strip('\n')
            if code: parts.append(f'```python\n{code}\n```')
            out = ''.join(_output(o) for o in c.get('outputs', [])).rstrip('\n')
            if out: parts.append(f'```\n{out}\n```')
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    new,path = readme(),ROOT / 'README.md'
    if '--check' in sys.argv[1:]:
        if path.read_text() != new:
            sys.exit('README.md is not what nbs/index.ipynb makes: run python scripts/readme.py, and commit README.md')
        print('README.md matches nbs/index.ipynb')
    else: path.write_text(new)
