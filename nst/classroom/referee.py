"""Grades one notebook: a process of its own, started from a private copy of nst made for this notebook.

It loads nst, its checks and the assignment's tests, then reads the notebook's definitions
(``nst.classroom.answers``) and starts the runner (``nst.classroom.runner``) in the sandbox
(``nst.classroom.sandbox``) with them. Each test runs here, with stand-ins (``Remote``) for the
student's functions that forward each call to the runner: every expected value is computed here, in a
process no student code has run in, and the runner sends back only results. Usage (by ``grading``):
``python -I -c "...; referee.main()" REQUEST.json RESULT.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from nst.classroom import answers as answers_module, assignment, runner, sandbox

STARTUP = 120  # seconds the runner may take to start
ANSWER_PROMPT = "_Type your answer here, replacing this text._"  # Otter's placeholder in a written answer cell


class Stopped(BaseException):
    """The runner broke a limit or ended: the notebook gets 0. Not an ``Exception``: the checks, which turn a
    student's exceptions into messages, must let it through."""


class Runner:
    """The student's process: started once per notebook, asked one call at a time, each within ``timeout`` s."""

    def __init__(self, code: list, reference: str, folder: Path, hidden: list[Path], timeout: float,
                 memory_gb: float) -> None:
        script, scratch = folder / "runner" / "runner.py", folder / "scratch"
        script.parent.mkdir()
        scratch.mkdir()
        script.write_text(Path(runner.__file__).read_text())
        self.timeout, self.memory_gb, self.refused = timeout, memory_gb, []  # refused: writes the sandbox stopped
        keras = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))  # VGG19's weights: read, never written
        environment = {"HOME": str(scratch), "TMPDIR": str(scratch), "TF_CPP_MIN_LOG_LEVEL": "3",
                       "KERAS_HOME": str(scratch / ".keras" if sandbox.available() else keras), "PATH": "/usr/bin:/bin"}
        command = sandbox.command(script, scratch, hidden, {".keras/models": keras / "models"})
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=scratch,
                                        env=environment, preexec_fn=sandbox.limits(memory_gb))
        # The start (TensorFlow's import, the definitions) gets at least STARTUP s: on a busy machine the
        # import alone can take longer than a short --timeout.
        self.loaded = self._ask({"code": code, "reference": reference}, max(timeout, STARTUP))

    def _ask(self, request: dict, timeout: float | None = None) -> dict:
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self._ended() from None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout or self.timeout)
        if not ready:
            self.close()
            raise Stopped(f"a call ran longer than {timeout or self.timeout:g} s: 0 for the notebook (grade it "
                          f"again with a larger --timeout)")
        line = self.process.stdout.readline()
        if not line:
            raise self._ended()
        return json.loads(line)

    def _ended(self) -> Stopped:
        code = self.process.wait()
        return Stopped(f"its functions ended the grading process (exit status {code}; the memory limit is "
                       f"{self.memory_gb:g} GB): 0 for the notebook")

    def ask(self, request: dict):
        answer = self._ask(request)
        if "error" in answer:
            if any(word in answer["message"] for word in ("Read-only file system", "Permission denied")):
                self.refused.append(request["name"])
            raise runner.StudentError(answer["message"])
        return runner.decode(answer["ok"])

    def close(self) -> None:
        """Ends the runner and everything it started: its process group (``sandbox.limits`` made it one)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Remote:
    """A student's function as the checks see it: calls and procedures run in the runner."""

    def __init__(self, process: Runner, name: str) -> None:
        self.process, self.name, self.isolate = process, name, ()

    def __call__(self, *args):
        return self.process.ask({"name": self.name, "call": True, "args": runner.encode(args),
                                 "isolate": list(self.isolate)})

    def run(self, procedure: str, *args):
        return self.process.ask({"name": self.name, "run": procedure, "args": runner.encode(args)})

    @contextlib.contextmanager
    def isolated(self, *names: str):
        """While the check runs, the names given are nst's own in the student's namespace (``checks._isolated``)."""
        self.isolate = names
        try:
            yield
        finally:
            self.isolate = ()


def _not_written(*args):
    """A function the notebook does not define, or has left as handed out."""
    ...


def _one_line(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"[:200]


def written(book: nbformat.NotebookNode) -> dict[str, bool]:
    """For each written answer cell, in order: whether it was answered (Otter's markers around it)."""
    answered, inside = {}, False
    for cell in book.cells:
        if cell.cell_type == "markdown" and "<!-- BEGIN QUESTION -->" in cell.source:
            inside = True
        elif cell.cell_type == "markdown" and "<!-- END QUESTION -->" in cell.source:
            inside = False
        elif inside and "otter_answer_cell" in cell.metadata.get("tags", []):
            answered.setdefault(str(len(answered)), cell.source.strip() not in ("", ANSWER_PROMPT))
    return answered


def grade(submission: Path, sources: Path, hidden: list[Path], timeout: float, memory_gb: float) -> dict:
    """``{"scores": {question: points}, "written": {i: answered}, "notes": [...], "graded": bool}``."""
    try:
        book = nbformat.read(submission, as_version=4)
        nbformat.validate(book)
    except Exception as e:
        return {"scores": {}, "written": {}, "notes": [f"not a readable notebook: {_one_line(e)}"], "graded": False}
    name = book.metadata.get("otter", {}).get("assignment_name") or min(p.stem for p in sources.glob("*.ipynb"))
    if not (sources / f"{name}.ipynb").is_file():
        return {"scores": {}, "written": {}, "notes": [f"assignment '{name}' has no source notebook"], "graded": False}
    tests = assignment.tests(sources / f"{name}.ipynb")
    found = answers_module.read(book, {f for test in tests for f in test.asks})
    notes = [f"tampering (not run): {note}" for note in dict.fromkeys(found.tampering)]
    notes += [f"delegation: {f} hands its work to nst ({what}): 0 for it"
              for f, what in sorted(found.delegated.items())]
    notes += [f"tampering: {f} reaches for {what}: 0 for it" for f, what in sorted(found.escapes.items())]
    scores: dict[str, float] = {}
    reference = (Path(answers_module.__file__).parent.parent / "losses.py").read_text()
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        process, stand_in = None, {}
        try:
            if found.written - set(found.delegated) - set(found.escapes):  # else nothing to run: no runner
                process = Runner(found.code, reference, Path(folder), hidden, timeout, memory_gb)
                stack.callback(process.close)
                notes += [f"failed: {note}" for note in process.loaded.get("failed", [])]
                stand_in = {n: _not_written if n in process.loaded["not_done"] else Remote(process, n)
                            for n in process.loaded["defined"]}
            for test in tests:
                scores.setdefault(test.question, 0.0)
                if any(f in found.delegated or f in found.escapes for f in test.asks):
                    continue
                namespace: dict = {}
                exec(test.function, namespace)
                try:
                    namespace[test.function.split("(")[0][4:]](*[stand_in.get(f, _not_written) for f in test.asks])
                except AssertionError:
                    continue
                except Exception as e:  # e.g. a result the check cannot read: a failed test, noted
                    notes.append(f"{test.question}: its check stopped at {_one_line(e)}")
                    continue
                scores[test.question] += test.points
            notes += [f"tampering: {function} tried to write outside its folder (refused)"
                      for function in dict.fromkeys(process.refused if process else [])]
        except Stopped as e:
            return {"scores": {}, "written": written(book), "notes": notes + [str(e)], "graded": True}
    return {"scores": scores, "written": written(book), "notes": notes, "graded": True}


def main() -> None:
    request = json.loads(Path(sys.argv[1]).read_text())
    result = grade(Path(request["submission"]), Path(request["sources"]), [Path(p) for p in request["hidden"]],
                   request["timeout"], request["memory_gb"])
    Path(sys.argv[2]).write_text(json.dumps(result))
