"""The repository's address, in one place: ``[project.urls] Repository`` of pyproject.toml.

Badges and clone lines are made from it, so that a fork changes one line. Installed without the
source tree (``pip install ./nst`` on Colab), the address is read from the package's metadata.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _url() -> str:
    if PYPROJECT.is_file():
        match = re.search(r'^Repository\s*=\s*"([^"]+)"', PYPROJECT.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    for entry in importlib.metadata.metadata("nst").get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            return url.strip()
    raise RuntimeError("nst.repo: no Repository URL in pyproject.toml's [project.urls]")


URL = _url()  # e.g. https://github.com/nst-course/nst


def clone_url() -> str:
    """What ``git clone`` takes: ``URL`` + ``.git``."""
    return URL + ".git"


def colab_badge(path_in_repo: str) -> str:
    """Markdown of the "Open in Colab" badge for a notebook at ``path_in_repo`` on the main branch."""
    github = URL.removeprefix("https://github.com/")
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{github}/blob/main/{path_in_repo})")
