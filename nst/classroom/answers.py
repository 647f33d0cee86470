"""What grading takes from a submitted notebook: its definitions, and what they reach for.

Only top-level definitions are taken (``def``, ``class``, imports, and names bound to a constant, a
``lambda`` or another name), from every code cell but the picture cells (``otter_ignore``): nothing else
a notebook does runs while it is graded. Read statically, before anything runs:

- **delegation**: a function that reaches nst (``nst.…``, a name imported from nst, an alias of one),
  itself or through the student's own helpers, hands its work to nst's implementation: 0 for its question;
- **escapes**: a function that reaches for the interpreter's machinery (``__import__``, ``sys``,
  ``open``, ``__globals__``, ...) scores 0 for its question too; none of it is needed to compute a loss;
- **tampering**: top-level statements that patch modules, write files or reach Otter's or nst's checks
  are noted for the teacher (they never ran).
"""

from __future__ import annotations

import ast
from typing import NamedTuple

import nbformat

LENT = ("nst", "otter")  # the setup cell's imports: not taken; a function that uses them is noted
ALLOWED = {"tensorflow", "keras", "numpy", "math", "functools", "typing", "itertools", "collections",
           "dataclasses", "__future__"}
ESCAPES = {"__import__", "importlib", "eval", "exec", "compile", "globals", "vars", "locals", "getattr", "setattr",
           "delattr", "open", "sys", "os", "subprocess", "builtins", "__builtins__", "__globals__", "__code__",
           "__subclasses__", "__dict__", "__class__", "__bases__", "__mro__", "ctypes", "gc", "inspect", "shutil",
           "pathlib", "Path", "threading", "multiprocessing", "signal", "pickle", "marshal"}
TAMPERING = ESCAPES - {"os", "sys", "importlib", "subprocess"} | {"checks", "_tests_dir_override", "meta_path",
                                                                    "modules", "write_text", "write_bytes"}
SETUP_MARK = "# Setup."  # the first line of the handed-out setup cell, which imports os, sys, subprocess


class Answers(NamedTuple):
    code: list[tuple[int, str]]  # (cell number, source) of the definitions taken, in order
    delegated: dict[str, str]  # function name -> what of nst it reaches
    escapes: dict[str, str]  # function name -> the machinery it reaches for
    tampering: list[str]  # notes on top-level statements that were not run
    written: set[str]  # the functions asked whose body is more than the handed-out docstring and ...


def _names(node: ast.AST) -> set[str]:
    """Every name and attribute a node mentions."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
            root = sub
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(sub.ctx, (ast.Store, ast.Del)) and isinstance(root, ast.Name):
                found.add(f"{root.id}|{ast.unparse(sub)} =")  # an attribute set: patching, if root is a module
        elif isinstance(sub, ast.alias):
            found.update({sub.name.split(".")[0], sub.asname or sub.name.split(".")[0]})
        elif isinstance(sub, ast.ImportFrom) and sub.module:
            found.add(sub.module.split(".")[0])
    return found


def _imported(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """Names an import binds -> the top-level module they come from."""
    if isinstance(node, ast.ImportFrom):
        return {a.asname or a.name: (node.module or "").split(".")[0] for a in node.names}
    return {(a.asname or a.name).split(".")[0]: a.name.split(".")[0] for a in node.names}


def _kept(node: ast.stmt) -> bool:
    """Definitions, and names bound to a constant, a lambda or another name: what grading runs."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return not set(_imported(node).values()) & set(LENT)
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        simple = isinstance(node.value, (ast.Lambda, ast.Name, ast.Attribute, ast.Constant))
        return simple and all(isinstance(t, ast.Name) for t in targets)
    return False


def _tampering(cell: int, node: ast.stmt) -> str | None:
    stores = [sub for sub in ast.walk(node) if isinstance(sub, (ast.Attribute, ast.Subscript))
              and isinstance(sub.ctx, (ast.Store, ast.Del))]
    touched = sorted(_names(node) & TAMPERING)
    if stores or touched:
        what = ast.unparse(stores[0]) if stores else touched[0]
        return f"cell {cell} touches {what}"[:120]
    return None


def read(book: nbformat.NotebookNode, asked: set[str]) -> Answers:
    """The definitions of a notebook and what the functions ``asked`` reach (see the module's docstring)."""
    code, tampering, bound, functions, setup_cells = [], [], {}, {}, 0
    for cell_number, cell in enumerate(book.cells):
        if cell.cell_type != "code" or "otter_ignore" in cell.metadata.get("tags", []):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as e:
            tampering.append(f"cell {cell_number} is not Python ({e.msg}, line {e.lineno})")
            continue
        setup = cell.source.startswith(SETUP_MARK) and setup_cells == 0  # only the first: the handed-out one
        setup_cells += cell.source.startswith(SETUP_MARK)
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                bound.update(_imported(node))
                for name in _imported(node):
                    functions.pop(name, None)  # the last binding of a name is the one graded
            origin = ""
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                sources = {bound.get(name, "") for name in _names(node.value)}
                origin = next((m for m in sources if m in LENT), "")
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name):
                        bound[target.id] = origin
                        functions.pop(target.id, None)
                        if isinstance(node.value, (ast.Lambda, ast.Name, ast.Attribute)):
                            functions[target.id] = node.value  # an alias reaches what it names
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[node.name] = node
                bound.pop(node.name, None)
            if _kept(node) and not (isinstance(node, (ast.Assign, ast.AnnAssign)) and origin in LENT):
                code.append((cell_number, ast.get_source_segment(cell.source, node) or ast.unparse(node)))
            elif not setup and (note := _tampering(cell_number, node)):
                tampering.append(note)
    delegated, escapes = {}, {}
    written = {name for name in asked & set(functions) if not _blank(functions[name])}
    written |= {name for name in asked if bound.get(name)}  # imported or aliased: not blank
    for name in sorted(asked):
        reached = _reach(name, functions, asked - {name})
        nst = sorted(n for n in reached if bound.get(n) in LENT or n in LENT)
        if nst:
            delegated[name] = ", ".join(nst)
        patched = {n.split("|")[1] for n in reached if n.endswith(" =") and n.split("|")[0] in bound}
        machinery = sorted(reached & ESCAPES | patched | {n for n in reached if "|" not in n
                                                          and bound.get(n) not in (None, "", *ALLOWED, *LENT)})
        if machinery:
            escapes[name] = ", ".join(machinery)
    return Answers(code, delegated, escapes, tampering, written)


def _blank(node: ast.AST) -> bool:
    """A function whose body is only constants (a docstring, ``...``) or ``pass``: as handed out."""
    body = getattr(node, "body", None)
    return isinstance(body, list) and all(isinstance(s, ast.Pass) or isinstance(s, ast.Expr)
                                          and isinstance(s.value, ast.Constant) for s in body)


def _reach(name: str, functions: dict[str, ast.AST], seen: set[str]) -> set[str]:
    """The names ``name`` mentions, through the student's own functions it calls but those in ``seen`` (the other
    questions' functions: each is graded on its own, with nst's in its place)."""
    if name in seen:
        return set()
    seen.add(name)
    if name not in functions:
        return {name}
    found = _names(functions[name]) - {name}
    return found | set().union(*(_reach(n, functions, seen) for n in found if n in functions))
