"""A teacher's source notebook (``otter assign`` format) as grading reads it: its questions and their tests.

A question starts at a raw cell ``# BEGIN QUESTION`` followed by YAML (``name``, ``points``, ``manual``);
each test is a code cell between ``# BEGIN TESTS`` and ``# END TESTS`` that starts with its YAML
config (``points``, ``hidden``) and defines one function ``test_…(f, g, ...)``: its arguments name the
student's functions it checks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import NamedTuple

import nbformat
import yaml

CONFIG = re.compile(r'^"""\s*# BEGIN TEST CONFIG\n(.*?)"""\s*# END TEST CONFIG\n', re.S)


class Question(NamedTuple):
    name: str
    points: float
    manual: bool  # graded by hand


class Test(NamedTuple):
    question: str
    points: float
    hidden: bool
    function: str  # the source of ``def test_…(...)``
    asks: tuple[str, ...]  # the student's functions it takes, by name


def _config(cell) -> dict | None:
    if cell.cell_type == "raw" and re.match(r"#\s*BEGIN\s+QUESTION", cell.source, re.IGNORECASE):
        return yaml.safe_load(cell.source.split("\n", 1)[1])
    return None


def questions(source: Path) -> list[Question]:
    """The questions of a source notebook, in order."""
    return [Question(c["name"], float(c.get("points", 0)), bool(c.get("manual", False)))
            for c in map(_config, nbformat.read(source, as_version=4).cells) if c]


def tests(source: Path) -> list[Test]:
    """Every test of a source notebook, public and hidden, in order."""
    found, question, inside = [], None, False
    for cell in nbformat.read(source, as_version=4).cells:
        question = (_config(cell) or {}).get("name", question)
        if cell.cell_type == "raw" and cell.source.strip() in ("# BEGIN TESTS", "# END TESTS"):
            inside = cell.source.strip() == "# BEGIN TESTS"
        elif inside and cell.cell_type == "code" and (config := CONFIG.match(cell.source)):
            settings = yaml.safe_load(config.group(1)) or {}
            function = next(n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef))
            found.append(Test(question, float(settings.get("points", 1)), bool(settings.get("hidden", False)),
                              ast.unparse(function), tuple(a.arg for a in function.args.args)))
    return found
