"""Running cells in a fresh Jupyter kernel of another Python (``bare_python`` in conftest.py): Colab's view."""

import json
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def run_in_kernel(python: Path, cells: list[str], cwd: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    """Run ``cells`` in one fresh kernel of ``python``, started in ``cwd`` with ``env`` added; errors stay in
    the outputs (the cells after the first error are not run)."""
    spec = cwd.parent / f"{cwd.name}-jupyter" / "kernels" / "bare"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bare", "language": "python", "env": env}))
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(spec.parent.parent)
    try:
        NotebookClient(book, timeout=600, kernel_name="bare", allow_errors=False,
                       resources={"metadata": {"path": str(cwd)}}).execute()
    except CellExecutionError:
        pass  # the error is in the outputs, for the test to read
    finally:
        if old is None:
            del os.environ["JUPYTER_PATH"]
        else:
            os.environ["JUPYTER_PATH"] = old
    return book
