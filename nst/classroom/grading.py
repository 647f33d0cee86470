"""``python -m nst.classroom generate`` and ``python -m nst.classroom grade FOLDER -o grades.csv``.

Both stand on Otter-Grader 7: ``otter assign`` turns a teacher's source notebook into the student
version, its public tests and an autograder (all tests, hidden ones too); Otter's non-containerised
runner (``otter.api.grade_submission``, what ``otter run`` does) executes a submitted notebook and runs
the tests. ``otter grade`` itself needs Docker; that is the route for untrusted code (README).

What is added on top:

- ``generate`` is deterministic: Otter gives new cells random ids and stamps the autograder's name
  with the time, so the student notebook's cell ids are renumbered, its badge and clone line come from
  ``nst.repo``, and the autograder zip goes to an ignored folder. Running it twice on unchanged
  sources writes the same bytes.
- ``grade`` grades a whole folder to one CSV (``file``, one column per question, ``total``, ``note``):
  a notebook that cannot be read or run gets a row that says why, with 0 points, and the others are
  still graded. Cells tagged ``otter_ignore`` (the long optimisations) are not run. A written question
  reads ``by hand`` when answered, 0 when its answer cell was left as handed out.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import nbformat
import yaml

from nst import repo

ROOT = Path(__file__).resolve().parent.parent.parent
ASSIGNMENTS = ROOT / "notebooks" / "assignments"
SOURCE, STUDENT, AUTOGRADER = ASSIGNMENTS / "source", ASSIGNMENTS / "student", ASSIGNMENTS / "autograder"
ANSWER_PROMPT = "_Type your answer here, replacing this text._"  # Otter's placeholder in a written answer cell
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")


class Question(NamedTuple):
    name: str
    points: float
    manual: bool  # graded by hand


def questions(source: Path) -> list[Question]:
    """The questions of a source notebook, from its ``# BEGIN QUESTION`` cells, in order."""
    found = []
    for cell in nbformat.read(source, as_version=4).cells:
        if cell.cell_type == "raw" and re.match(r"#\s*BEGIN\s+QUESTION", cell.source, re.IGNORECASE):
            config = yaml.safe_load(cell.source.split("\n", 1)[1])
            found.append(Question(config["name"], float(config.get("points", 0)), bool(config.get("manual", False))))
    return found


def sources(folder: Path = SOURCE) -> list[Path]:
    found = sorted(folder.glob("*.ipynb"))
    if not found:
        raise SystemExit(f"nst.classroom: no source notebooks in {folder}")
    return found


@contextlib.contextmanager
def _quiet():
    """Otter prints its progress and kernels' warnings; a teacher needs only the result."""
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
            shutil.copy(next((dist / "autograder").glob("*-autograder_*.zip")), zip_path)
            written += [notebook, *sorted(tests.glob("*.py")), zip_path]
    return written


def _limit_cells(seconds: int) -> None:
    """Otter runs the notebook with nbconvert's ExecutePreprocessor and no time limit, so one endless loop
    would stall a whole class: in this worker, each cell gets ``seconds`` (exceeding it raises CellTimeoutError)."""
    import nbconvert.preprocessors
    from traitlets import Integer

    class TimedExecutePreprocessor(nbconvert.preprocessors.ExecutePreprocessor):
        timeout = Integer(seconds, allow_none=True).tag(config=True)

    nbconvert.preprocessors.ExecutePreprocessor = TimedExecutePreprocessor  # Otter imports it when it grades


def _grade_one(path: str, autograders: dict[str, str], default: str, timeout: int) -> tuple[dict[str, float], str]:
    """Scores by question of one submission, and a note; runs in a worker process (Otter changes the cwd)."""
    from otter.api import grade_submission

    _limit_cells(timeout)

    try:
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
    except Exception as e:
        return {}, f"not a readable notebook: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    name = book.metadata.get("otter", {}).get("assignment_name") or default
    if name not in autograders:
        return {}, f"assignment '{name}' has no source notebook"
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # this worker's kernels warn on stderr ("running over TCP"); the CSV's note says what failed
    os.environ.pop("NST_SOURCE", None)  # no install: the grading environment has nst already
    os.environ["NST_QUICK"] = "1"  # anything a student runs outside the ignored cells stays small
    try:
        with _quiet():
            results = grade_submission(path, autograders[name], quiet=True)
    except Exception as e:
        if type(e).__name__ == "CellTimeoutError":
            return {}, f"could not be run: a cell ran longer than {timeout} s (grade it again with a larger --timeout)"
        return {}, f"could not be run: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    scores = {question: float(result.score) for question, result in results.results.items()}
    answered = {}
    inside = None
    for cell in book.cells:  # written answers: Otter's answer cells between its question markers
        if cell.cell_type == "markdown" and "<!-- BEGIN QUESTION -->" in cell.source:
            inside = True
        elif cell.cell_type == "markdown" and "<!-- END QUESTION -->" in cell.source:
            inside = None
        elif inside and "otter_answer_cell" in cell.metadata.get("tags", []):
            answered.setdefault(len(answered), cell.source.strip() not in ("", ANSWER_PROMPT))
    return scores | {f"written {i}": done for i, done in answered.items()}, ""


def grade(folder: Path, output: Path, jobs: int = 2, timeout: int = 600,
          source_folder: Path = SOURCE) -> list[dict[str, str]]:
    """Grade every ``.ipynb`` in ``folder`` to the CSV ``output``, each cell given ``timeout`` seconds.

    Returns the rows written."""
    if not folder.is_dir():
        raise SystemExit(f"nst.classroom grade: {folder} is not a folder")
    submissions = sorted(folder.glob("*.ipynb"))
    if not submissions:
        raise SystemExit(f"nst.classroom grade: no .ipynb files in {folder}")
    all_sources = sources(source_folder)
    plan = {source.stem: questions(source) for source in all_sources}
    with tempfile.TemporaryDirectory() as tmp:
        autograders = {}
        for source in all_sources:  # from the sources now, so grading always uses the current tests
            assign(source, Path(tmp) / source.stem)
            autograders[source.stem] = str(next((Path(tmp) / source.stem / "autograder").glob("*.zip")))
        default = all_sources[0].stem
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            n = len(submissions)
            graded = list(pool.map(_grade_one, map(str, submissions), [autograders] * n, [default] * n, [timeout] * n))
    columns = list(dict.fromkeys(q.name for qs in plan.values() for q in qs))
    manual = [q for q in plan[default] if q.manual]
    rows = []
    for path, (scores, note) in zip(submissions, graded):
        row = {"file": path.name}
        for question in columns:
            row[question] = _number(scores.get(question, 0.0))
        for i, question in enumerate(manual):
            row[question.name] = "by hand" if scores.get(f"written {i}") else "0"
        row["total"] = _number(sum(v for k, v in scores.items() if not k.startswith("written")))
        row["note"] = note
        rows.append(row)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", *columns, "total", "note"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _number(value: float) -> str:
    return f"{value:g}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nst.classroom", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("generate", help="write the student notebooks, their public tests and the autograder zips "
                                         "from notebooks/assignments/source")
    grading = commands.add_parser("grade", help="grade every .ipynb in FOLDER into a CSV (no Docker, CPU is enough)")
    grading.add_argument("folder", type=Path, help="folder of submitted notebooks")
    grading.add_argument("-o", "--output", type=Path, default=Path("grades.csv"), help="the CSV to write")
    grading.add_argument("-j", "--jobs", type=int, default=min(4, os.cpu_count() or 1),
                         help="notebooks graded at once (default: the cores, at most 4)")
    grading.add_argument("--timeout", type=int, default=600,
                         help="seconds a cell may run before its notebook is given 0 with a note (default: 600)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.command == "generate":
        for path in generate():
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    else:
        rows = grade(args.folder, args.output, args.jobs, args.timeout)
        failed = sum(1 for row in rows if row["note"])
        print(f"graded {len(rows)} notebooks in {time.perf_counter() - start:.0f} s to {args.output}"
              + (f"; {failed} could not be graded (see the note column)" if failed else ""))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
