"""Every line an exercise asks a student to type runs as written, in quick mode, after its notebook.

Each notebook ends with "Try it yourself": exercises whose code stands in ```python blocks. The notebook
runs top to bottom in quick mode (``NST_QUICK=1``: 64 px, 5 steps) in a copy beside ``data/`` and ``docs/``, so that
files an exercise writes land there, and then every block runs in the same kernel.
"""

import re
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from nst.quiet import TF_LOG

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def exercises(book: nbformat.NotebookNode) -> list[str]:
    (cell,) = [cell for cell in book.cells if "## Try it yourself" in cell.source]
    return [textwrap.dedent(code) for _, code in BLOCK.findall(cell.source)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_runs_as_written_in_quick_mode(path, tmp_path, monkeypatch):
    book = nbformat.read(path, as_version=4)
    blocks = exercises(book)
    assert len(blocks) >= 3, "each notebook ends with at least three exercises with code"
    (tmp_path / "data").symlink_to(ROOT / "data")
    (tmp_path / "docs").symlink_to(ROOT / "docs")  # notebook 4 shows the committed print-size pictures
    (tmp_path / "notebooks").mkdir()
    book.cells += [nbformat.v4.new_code_cell(code) for code in blocks]
    monkeypatch.setenv("NST_QUICK", "1")
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path / "notebooks")}}).execute()
    for code, cell in zip(blocks, book.cells[-len(blocks):]):
        assert not [o for o in cell.outputs if o.output_type == "error"], code
    # A fresh run shows the student no TensorFlow C++ start-up lines: the first cell imports nst before TensorFlow.
    streams = [o.text for cell in book.cells if cell.cell_type == "code" for o in cell.outputs if "text" in o]
    assert not [text for text in streams if TF_LOG.search(text) or "cuInit" in text]
