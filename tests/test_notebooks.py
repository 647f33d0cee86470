"""Committed notebooks stay clean: outputs kept, counts 1..N, no machine-specific metadata or log noise."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_five_lessons_are_there():
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean_small_and_follows_the_conventions(path):
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    # One clean top-to-bottom run: counts 1..N (nbval needs a count on every cell with outputs).
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert all(o.get("execution_count") in (None, cell.execution_count) for cell in code for o in cell.outputs)
    assert all(set(cell.metadata) <= {"tags"} for cell in book.cells)
    assert "widgets" not in book.metadata
    assert path.stat().st_size < 3_000_000
    assert "colab.research.google.com" in book.cells[0].source  # the Open in Colab badge
    assert "google.colab" in code[0].source and "sys.path" not in "".join(c.source for c in code)
    assert "NST_QUICK" in code[1].source
    assert any("Try it yourself" in cell.source for cell in book.cells)
    outputs = [o for cell in code for o in cell.outputs]
    assert outputs, "committed notebooks keep their outputs"
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and "cuInit" in o.text]


def test_the_set_up_gives_a_working_jupyter_lab(tmp_path):
    """`make lab` runs .venv/bin/jupyter lab: it must start, serve the notebooks and offer a Python kernel."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--IdentityProvider.token=t", f"--ServerApp.root_dir={NOTEBOOKS[0].parent}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # as the Makefile does
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)})
    try:
        deadline, answer = time.time() + 60, None
        while answer is None and time.time() < deadline and server.poll() is None:
            try:
                answer = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=t", timeout=5))
            except OSError:
                time.sleep(0.5)
        assert answer is not None, "jupyter lab did not answer within 60 s"
        assert {p.name for p in NOTEBOOKS} <= {item["name"] for item in answer["content"]}
        specs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernelspecs?token=t", timeout=5))
        assert "python3" in specs["kernelspecs"]
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=t", timeout=5).read().decode()
        assert "JupyterLab" in page
    finally:
        server.terminate()
        server.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
