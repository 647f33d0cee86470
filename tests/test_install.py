"""A quiet install: the editable install of requirements.txt prints no warning block."""

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This machine's or a CI runner's own pip configuration may name index folders that do not exist; pip says so
# in lines like these, which come from the machine, not from nst.
MACHINE_NOTICE = re.compile(r"WARNING: Location '.*' is ignored: it is neither a file nor a directory\.")


def test_requirements_install_the_checkout_editable():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-e ." in lines, "notebooks and tests import nst from the checkout: requirements.txt installs it with -e ."
    assert "pip install --quiet -r requirements.txt" in (ROOT / "Makefile").read_text()


def test_the_editable_install_prints_nothing(tmp_path):
    """``pip install --quiet -e .``, as ``make`` runs it through requirements.txt, in a fresh environment."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "-e", str(ROOT)],
        capture_output=True, text=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr
    printed = [line for line in (done.stdout + done.stderr).splitlines()
               if line.strip() and not MACHINE_NOTICE.fullmatch(line.strip())]
    assert printed == [], "\n".join(printed)
    site = subprocess.run([str(python), "-c", "import importlib.util; print(importlib.util.find_spec('nst').origin)"],
                          capture_output=True, text=True, check=True)
    assert Path(site.stdout.strip()) == ROOT / "nst" / "__init__.py"  # the checkout's nst, not a copy
