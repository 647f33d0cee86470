"""Shared fixtures. Tests marked ``real_weights`` need the ImageNet VGG19 file (``python -m nst.weights``)."""

import subprocess
import sys
import sysconfig
from pathlib import Path

import matplotlib
import pytest

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
