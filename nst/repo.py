"""Where the repository lives, and the notebooks' setup cell that fetches it on Colab.

The address has one home: ``Repository`` under ``[project.urls]`` in ``pyproject.toml``. The README's
and the notebooks' Open-in-Colab badges and the setup cells' clone lines are made from it; whoever
publishes the repository elsewhere changes that line and runs ``python -m nst.repo``, which rewrites
them all. ``tests/test_repo.py`` checks that they agree.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BRANCH = "main"
COLAB = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/")
CLONE = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+?\.git")

# The first lines of every notebook's first code cell. A package installed into a running kernel is
# found once the import caches are cleared; an editable one (`pip install -e`) only after a restart, so
# Colab gets a plain install. nst comes before TensorFlow: it imports it without the C++ start-up log.
SETUP = '''\
# Setup. On Colab (or with NST_SOURCE set, as the tests do): clone nst, for the package and data/, and
# install it{with_extra}; locally, `make lab` already did. nst is imported before TensorFlow, which it keeps quiet.
import importlib, os, subprocess, sys
if "google.colab" in sys.modules or "NST_SOURCE" in os.environ:
    SOURCE, REPO = os.environ.get("NST_SOURCE", "{clone_url}"), os.path.expanduser("~/nst")
    if not os.path.isdir(REPO):
        git = subprocess.run(["git", "clone", "-q", "--depth", "1", SOURCE, REPO], capture_output=True, text=True)
        if git.returncode:
            reason = (git.stderr.strip() or "git failed").splitlines()[-1]
            raise SystemExit(f"nst setup: could not clone {{SOURCE}}: {{reason}}")
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", {target}]).returncode:
        raise SystemExit(f"nst setup: pip could not install {{REPO}}{extra} (its messages are above)")
    importlib.invalidate_caches()
    os.chdir(os.path.join(REPO, "{folder}"))
import nst
'''


def url() -> str:
    """The repository's address, ``https://github.com/OWNER/NAME``: pyproject.toml's, else the installed package's."""
    pyproject = ROOT / "pyproject.toml"
    if pyproject.is_file():
        found = re.search(r'^Repository\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE)
        if found:
            return found.group(1).rstrip("/")
    for entry in importlib.metadata.metadata("nst").get_all("Project-URL") or []:
        label, _, address = entry.partition(", ")
        if label == "Repository":
            return address.rstrip("/")
    raise LookupError("no Repository under [project.urls] in pyproject.toml")


def clone_url() -> str:
    return url() + ".git"


def colab_url(path: str) -> str:
    """The address that opens ``path`` (relative to the repository's root) in Colab."""
    return f"https://colab.research.google.com/github/{url().removeprefix('https://github.com/')}/blob/{BRANCH}/{path}"


def colab_badge(path: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"


def setup_cell(folder: str, extra: str = "") -> str:
    """The setup lines for a notebook in ``folder`` (relative to the root), cloned from ``clone_url()``, installed
    with ``extra`` (``"video"``: ``nst[video]``) if given."""
    return SETUP.format(clone_url=clone_url(), folder=folder, extra=f"[{extra}]" if extra else "",
                        target=f'f"{{REPO}}[{extra}]"' if extra else "REPO",
                        with_extra=f" with its {extra} extra" if extra else "")


def relink(text: str) -> str:
    """``text`` with every Colab link and clone address pointing at ``url()``."""
    colab = colab_url("")
    return CLONE.sub(clone_url(), COLAB.sub(colab, text))


def linked_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "notebooks").rglob("*.ipynb"))]


def main() -> int:
    """Rewrite the badges and clone lines of the README and the notebooks to ``url()``."""
    for path in linked_files():
        text = path.read_text()
        if relink(text) != text:
            path.write_text(relink(text))
            print(f"{path.relative_to(ROOT)}: links now point at {url()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
