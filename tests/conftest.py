"""Shared fixtures. Tests marked ``real_weights`` need the ImageNet VGG19 file (``python -m nst.weights``)."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import matplotlib
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

matplotlib.use("Agg")  # no display in CI

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="session")
def content_path() -> Path:
    return DATA / "content" / "china.jpg"


@pytest.fixture(scope="session")
def style_path() -> Path:
    return DATA / "style" / "great_wave.jpg"


@pytest.fixture
def bare_python(tmp_path_factory) -> Path:
    """A Python like Colab's: TensorFlow, Jupyter, Otter and the rest importable, nst not installed.

    A virtual environment whose one ``.pth`` file adds this environment's site-packages: the packages
    there are found, the editable install of nst is not (its own ``.pth`` file is read only in a site
    directory). ``python -m pip`` there installs into the new environment, so each test gets its own.
    """
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (next(venv.glob("lib/python*/site-packages")) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import nst"], capture_output=True, text=True, cwd=venv)
    assert "No module named 'nst'" in probe.stderr  # nothing of nst before a setup cell
    return python


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
