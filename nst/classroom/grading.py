"""``python -m nst.classroom generate`` and ``python -m nst.classroom grade FOLDER -o grades.csv``.

``generate`` stands on Otter-Grader 7's ``otter assign``: it turns a teacher's source notebook into
the student version, its public tests and an autograder zip (for Otter's own routes, e.g. Gradescope).
It is deterministic: Otter gives new cells random ids and stamps the zip with the time, so the student
notebook's cell ids are renumbered, its badge and clone line come from ``nst.repo``, and the zip's
entries are sorted with a fixed date. Running it twice on unchanged sources writes the same bytes.
``--source``/``--student`` point it at a course's private copy of the sources.

``grade`` grades each notebook in a process of its own (``nst.classroom.referee``, see the package's
docstring for what a notebook can and cannot reach) and writes one CSV: ``file`` (its path under
FOLDER: one subfolder per student, as an LMS download gives them, is fine), one column per question,
``total``, ``note``. A written question reads ``by hand`` when answered, 0 when left as handed out.
The exit status is 1 when a notebook could not be graded (its row says why), 2 for a bad argument
(nothing is graded).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

import nst
from nst import repo
from nst.classroom.assignment import questions

ROOT = Path(__file__).resolve().parent.parent.parent
ASSIGNMENTS = ROOT / "notebooks" / "assignments"
SOURCE, STUDENT, AUTOGRADER = ASSIGNMENTS / "source", ASSIGNMENTS / "student", ASSIGNMENTS / "autograder"
PACKAGE = Path(nst.__file__).resolve().parent
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")


def sources(folder: Path = SOURCE) -> list[Path]:
    found = sorted(folder.glob("*.ipynb"))
    if not found:
        raise SystemExit(f"nst.classroom: no source notebooks in {folder}")
    return found


@contextlib.contextmanager
def _quiet():
    """Otter prints its progress; a teacher needs only the result."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def assign(source: Path, result: Path) -> None:
    """``otter assign`` of one source notebook into ``result`` (student/ and autograder/)."""
    try:
        from otter.assign import main as otter_assign
    except ImportError:
        raise SystemExit("nst.classroom: needs Otter-Grader: pip install 'otter-grader~=7.0' "
                         "(requirements.txt has it)") from None

    with _quiet():
        otter_assign(str(source), str(result), no_pdfs=True, no_run_tests=True)


def _student_notebook(path: Path, in_repo: str) -> nbformat.NotebookNode:
    """Otter's student notebook made reproducible, with the badge and clone line of ``nst.repo``."""
    book = nbformat.read(path, as_version=4)
    for index, cell in enumerate(book.cells):
        cell.id = f"cell-{index:03d}"  # Otter gives random ids to the cells it makes
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    book.cells[0].source = BADGE.sub(repo.colab_badge(in_repo).replace("\\", "\\\\"), book.cells[0].source)
    setup = next(cell for cell in book.cells if cell.cell_type == "code")
    setup.source = repo.CLONE.sub(repo.clone_url(), setup.source)
    kept = ("kernelspec", "language_info", "otter")
    book.metadata = {key: book.metadata[key] for key in kept if key in book.metadata}
    return book


def generate(source_folder: Path = SOURCE, student_folder: Path = STUDENT,
             autograder_folder: Path = AUTOGRADER) -> list[Path]:
    """Write each source's student notebook and public tests, and its autograder zip; returns the files written."""
    written = []
    for source in sources(source_folder):
        name = source.stem
        with tempfile.TemporaryDirectory() as tmp:
            assign(source, Path(tmp) / "dist")
            dist = Path(tmp) / "dist"
            student_folder.mkdir(parents=True, exist_ok=True)
            notebook = student_folder / source.name
            in_repo = notebook.resolve().relative_to(ROOT).as_posix() if notebook.resolve().is_relative_to(ROOT) \
                else f"notebooks/assignments/student/{source.name}"
            nbformat.write(_student_notebook(dist / "student" / source.name, in_repo), notebook)
            tests = student_folder / "tests" / name
            shutil.rmtree(tests, ignore_errors=True)
            shutil.copytree(dist / "student" / "tests", tests)
            autograder_folder.mkdir(parents=True, exist_ok=True)
            zip_path = autograder_folder / f"{name}-autograder.zip"
            _reproducible_zip(next((dist / "autograder").glob("*-autograder_*.zip")), zip_path)
            written += [notebook, *sorted(tests.glob("*.py")), zip_path]
    return written


def _reproducible_zip(made: Path, path: Path) -> None:
    """Otter's zip with its entries sorted by name, each dated ``ZIP_DATE`` and readable by all."""
    with zipfile.ZipFile(made) as original, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as copy:
        for name in sorted(original.namelist()):
            entry = zipfile.ZipInfo(name, ZIP_DATE)
            entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            copy.writestr(entry, original.read(name))


# -- grading ----------------------------------------------------------------------------------------------


class BadArgument(Exception):
    """An argument that stops grading before it starts: one line, exit status 2."""


def check_output(path: Path) -> None:
    """Raise ``BadArgument`` unless a CSV can be written at ``path``: not a folder, no file on its way."""
    if path.is_dir():
        raise BadArgument(f"-o {path} is a folder: give the CSV's file name, e.g. -o {path / 'grades.csv'}")
    blocking = next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)
    if blocking:
        raise BadArgument(f"-o {path}: {blocking} is a file, not a folder")


def submissions(folder: Path) -> tuple[list[Path], list[Path]]:
    """The notebooks under ``folder`` (subfolders too: an LMS download has one per student) and the files skipped.

    Hidden files and folders (``.ipynb_checkpoints``, ``.DS_Store``) are neither."""
    if not folder.is_dir():
        raise BadArgument(f"{folder} is not a folder")
    found = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    notebooks = [p for p in found if p.suffix == ".ipynb"]
    if not notebooks:
        raise BadArgument(f"no .ipynb files in {folder}")
    return notebooks, [p for p in found if p.suffix != ".ipynb"]


def _package() -> dict[str, bytes]:
    """nst's files, as grading starts: each notebook's referee runs from a copy of these bytes."""
    return {p.relative_to(PACKAGE).as_posix(): p.read_bytes() for p in sorted(PACKAGE.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def _restore(package: dict[str, bytes]) -> list[str]:
    """Put back any of nst's files that changed (possible only where the sandbox is not available); returns them."""
    changed = sorted(name for name, data in package.items()
                     if not (PACKAGE / name).is_file() or (PACKAGE / name).read_bytes() != data)
    changed += sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                      if p.relative_to(PACKAGE).as_posix() not in package)
    for name in changed:
        if name in package:
            (PACKAGE / name).write_bytes(package[name])
        else:
            (PACKAGE / name).unlink()
    return changed


def _grade_one(notebook: bytes, package: dict[str, bytes], source_folder: Path, timeout: int,
               memory_gb: float) -> dict:
    """One notebook, graded by a referee started from a fresh private copy of nst and of the sources."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in package.items():
            (folder / "nst" / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / "nst" / name).write_bytes(data)
        shutil.copytree(source_folder, folder / "sources", ignore=shutil.ignore_patterns(".*"))
        (folder / "submission.ipynb").write_bytes(notebook)
        request = {"submission": str(folder / "submission.ipynb"), "sources": str(folder / "sources"),
                   "hidden": [str(PACKAGE), str(folder / "nst")], "timeout": timeout, "memory_gb": memory_gb}
        (folder / "request.json").write_text(json.dumps(request))
        start = f"import sys; sys.path.insert(0, {str(folder)!r}); from nst.classroom import referee; referee.main()"
        environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NST_SOURCE")}
        try:
            run = subprocess.run([sys.executable, "-I", "-c", start, "request.json", "result.json"], cwd=folder,
                                 capture_output=True, text=True, timeout=timeout * 40,
                                 env=environment | {"TF_CPP_MIN_LOG_LEVEL": "3"})
        except subprocess.TimeoutExpired:
            return {"scores": {}, "written": {}, "notes": [f"grading took longer than {timeout * 40} s"],
                    "graded": False}
        if run.returncode or not (folder / "result.json").is_file():
            last = (run.stderr.strip().splitlines() or ["?"])[-1]
            return {"scores": {}, "written": {}, "notes": [f"could not be graded: {last}"[:300]], "graded": False}
        return json.loads((folder / "result.json").read_text())


def grade(folder: Path, output: Path, jobs: int = 2, timeout: int = 600, memory_gb: float = 8.0,
          source_folder: Path = SOURCE) -> tuple[list[dict[str, str]], list[Path]]:
    """Grade every notebook under ``folder`` to the CSV ``output``; returns its rows and the files skipped.

    Each call to a student's function gets ``timeout`` seconds, the process that runs them ``memory_gb``."""
    check_output(output)
    notebooks, skipped = submissions(folder)
    all_sources = sources(source_folder)
    plan = {source.stem: questions(source) for source in all_sources}
    package = _package()
    handed_in = [path.read_bytes() for path in notebooks]  # all of them before any runs
    columns = list(dict.fromkeys(q.name for qs in plan.values() for q in qs))
    manual = [q for qs in plan.values() for q in qs if q.manual]

    def graded(notebook: bytes) -> dict:
        result = _grade_one(notebook, package, source_folder, timeout, memory_gb)
        changed = _restore(package)
        if changed:
            result["notes"].append(f"tampering: nst's files changed while it was graded ({', '.join(changed)}), "
                                   f"put back")
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(graded, handed_in))
    rows = []
    for path, result in zip(notebooks, results):
        scores = result["scores"]
        row = {"file": path.relative_to(folder).as_posix()}
        row |= {question: _number(scores.get(question, 0.0)) for question in columns}
        row |= {q.name: "by hand" if result["written"].get(str(i)) else "0" for i, q in enumerate(manual)}
        row |= {"total": _number(sum(scores.values())), "note": "; ".join(result["notes"]),
                "graded": result["graded"]}
        rows.append(row)
    _write_csv(output, rows, ["file", *columns, "total", "note"])
    return rows, skipped


def _write_csv(output: Path, rows: list[dict], fieldnames: list[str]) -> None:
    """All rows at once, through a temporary file beside ``output``: never a half-written CSV."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", newline="", dir=output.parent, suffix=".csv", delete=False) as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(f.name, output)


def _number(value: float) -> str:
    return f"{value:g}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nst.classroom", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generating = commands.add_parser("generate", help="write the student notebooks, their public tests and the "
                                                      "autograder zips from the source notebooks")
    generating.add_argument("--source", type=Path, default=SOURCE, help="folder of source notebooks "
                            "(default: notebooks/assignments/source; a course keeps its own private copy)")
    generating.add_argument("--student", type=Path, default=STUDENT, help="where the student versions go")
    generating.add_argument("--autograder", type=Path, default=AUTOGRADER, help="where the autograder zips go")
    grading = commands.add_parser("grade", help="grade every .ipynb under FOLDER into a CSV (CPU is enough)")
    grading.add_argument("folder", type=Path, help="folder of submitted notebooks (subfolders too)")
    grading.add_argument("-o", "--output", type=Path, default=Path("grades.csv"), help="the CSV to write")
    grading.add_argument("-j", "--jobs", type=int, default=min(4, os.cpu_count() or 1),
                         help="notebooks graded at once (default: the cores, at most 4)")
    grading.add_argument("--timeout", type=int, default=600,
                         help="seconds a call to a student's function may run before its notebook is given 0 "
                              "with a note (default: 600)")
    grading.add_argument("--memory", type=float, default=8.0,
                         help="GB of memory for a notebook's functions; more gives it 0 with a note (default: 8)")
    grading.add_argument("--source", type=Path, default=SOURCE, help="folder of source notebooks, whose tests "
                         "grade (default: notebooks/assignments/source)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.command == "generate":
        for path in generate(args.source, args.student, args.autograder):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        return
    try:
        rows, skipped = grade(args.folder, args.output, args.jobs, args.timeout, args.memory, args.source)
    except BadArgument as e:
        print(f"nst.classroom grade: {e}", file=sys.stderr)
        sys.exit(2)
    if skipped:
        print(f"skipped {len(skipped)} files that are not notebooks: "
              + ", ".join(p.relative_to(args.folder).as_posix() for p in skipped))
    failed = sum(1 for row in rows if not row["graded"])
    print(f"graded {len(rows)} notebooks in {time.perf_counter() - start:.0f} s to {args.output}"
          + (f"; {failed} could not be graded (see the note column)" if failed else ""))
    sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
