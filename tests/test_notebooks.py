"Every notebook in nbs/ runs as a test: each cell must run without error (what `nbdev-test` checks)."
import os, sys, pytest
from pathlib import Path
from nbdev.test import test_nb as run_nb
from conftest import IN_CI

NBS = sorted((Path(__file__).parent.parent/'nbs').glob('*.ipynb'))
FLAG_VARS = {'redis': 'CHATSTATE_TEST_REDIS', 'postgres': 'CHATSTATE_TEST_POSTGRES'}
PYTHON = {'15_pydantic_ai.ipynb': (3, 11), '16_langgraph.ipynb': (3, 11)} # pages of a framework that needs a newer Python than chatstate does

@pytest.mark.parametrize('nb', NBS, ids=[p.name for p in NBS])
def test_notebook(nb):
    if sys.version_info < PYTHON.get(nb.name, (0,)): pytest.skip(f"{nb.name} needs Python {'.'.join(map(str, PYTHON[nb.name]))} or newer (its framework does)")
    force = [f for f,v in FLAG_VARS.items() if os.environ.get(v) or IN_CI]
    ok,_ = run_nb(nb, skip_flags=['notest', *FLAG_VARS], force_flags=force, basepath=nb.parent.parent)
    assert ok, f"{nb.name} failed: see the traceback above"
