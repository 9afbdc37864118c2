"The original design note is the contract: its cells run verbatim and print the same shapes, uuids aside."
import re, io, contextlib
from pathlib import Path

SEED = (Path(__file__).parent/'seed'/'state-management-layer.md').read_text()
UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}')

def seed_cells():
    "(code, expected stdout) of each cell in the note"
    pat = re.compile(r'``` \{\.python \.cell-code\}\n(.*?)```.*?::: \{\.cell-output \.cell-output-stdout\}\n```\n(.*?)```', re.S)
    return pat.findall(SEED)

def test_seed_has_three_cells(): assert len(seed_cells()) == 3

def test_seed_cells_print_the_same_shapes():
    ns = {}
    exec('from chatstate import *', ns)
    for code,expected in seed_cells():
        out = io.StringIO()
        with contextlib.redirect_stdout(out): exec(code, ns)
        assert UUID.sub('<uuid>', out.getvalue()) == UUID.sub('<uuid>', expected)

def test_seed_ids_are_distinct_uuid4s():
    ns = {}
    exec('from chatstate import *', ns)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for code,_ in seed_cells(): exec(code, ns)
    ids = UUID.findall(out.getvalue())
    assert len(ids) == 5 and len(set(ids)) == 4  # the first message id is printed twice
