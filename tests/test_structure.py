"""The package's shape stays readable: short functions, a short loop, and imports that only go down."""

import ast
from pathlib import Path

import pytest

NST = Path(__file__).resolve().parent.parent / "nst"
MODULES = sorted(NST.rglob("*.py"))


def _name(path: Path) -> str:
    parts = path.relative_to(NST.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The nst modules ``path`` imports, at module level or inside functions, ``TYPE_CHECKING`` blocks left out."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) == "TYPE_CHECKING" for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nst"):
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in NAMES else node.module
                      for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("nst")}
    return found - {_name(path)}


NAMES = {_name(path) for path in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(NST.parent)))
def test_no_function_is_over_60_lines(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno - node.lineno + 1 <= 60, f"{path.name}: {node.name} has over 60 lines"


def test_the_loop_stays_short():
    assert len((NST / "transfer.py").read_text().splitlines()) <= 250


def test_imports_never_go_round_in_a_circle():
    """Each module's nst imports (those of a package's __init__ aside, which only hands names on) form no cycle."""
    graph = {_name(path): {m for m in _imports(path) if m in NAMES and m != "nst"} for path in MODULES}
    done, path = set(), []

    def visit(module: str) -> None:
        assert module not in path, f"import cycle: {' -> '.join(path[path.index(module):] + [module])}"
        if module in done:
            return
        path.append(module)
        for imported in graph.get(module, ()):
            visit(imported)
        path.pop()
        done.add(module)

    for module in graph:
        visit(module)
