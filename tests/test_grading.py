"""Grading a class that cheats: one run of ``python -m nst.classroom grade`` over a folder that mixes the
committed honest submissions with notebooks that try to fake, share or break a grade (issue 21).

Each cheat starts from the handed-out notebook (0 points when honest) or from a correct one, and
tries one trick. None may score on what it faked, each must be noted, the honest notebooks must get
``expected.csv`` exactly, and nst's files must be byte for byte what they were.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nst.classroom import sandbox

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ROOT / "notebooks" / "assignments"
STUDENT = ASSIGNMENTS / "student" / "style_transfer.ipynb"
SUBMISSIONS = ASSIGNMENTS / "submissions"
CHECKS = ROOT / "nst" / "classroom" / "checks.py"
TIMEOUT = 20  # seconds a call may run in the mixed run: the endless notebook waits this long

PATCH_CHECKS = """from nst.classroom import checks
for name in dir(checks):
    if name.startswith("check_"):
        setattr(checks, name, lambda *args, **kwargs: None)"""
NST_ANSWERS = """from nst.losses import gram_matrix, content_loss, style_loss, style_content_loss
from nst.optimizers import adam_step as train_step
tv = nst.losses.total_variation_loss

def total_variation_loss(image):
    return tv(image)

def feature_model(layers):
    return nst.FeatureExtractor(layers, precision="float32")"""
REWRITE_TESTS = """import glob, os
folder = otter.Notebook._tests_dir_override or "tests/style_transfer"
for path in glob.glob(os.path.join(folder, "*.py")):
    with open(path, "w") as f:
        f.write("OK_FORMAT = False\\n")"""
REWRITE_ZIP = """import glob, tempfile
for path in glob.glob(tempfile.gettempdir() + "/**/*autograder*.zip", recursive=True):
    open(path, "wb").close()"""
APPEND_CHECKS = """import nst.classroom.checks
open(nst.classroom.checks.__file__, "a").write("\\ncheck_gram_matrix = lambda *a, **k: None\\n")"""
WRITE_INSIDE = f'''def gram_matrix(features):
    """Twice too large; on the way it tries to switch the installed check off."""
    tf.io.write_file({str(CHECKS)!r}, "check_gram_matrix = lambda *a, **k: None\\n")
    flat = tf.reshape(features, (tf.shape(features)[0], -1, tf.shape(features)[3]))
    return 2.0 * tf.matmul(flat, flat, transpose_a=True) / tf.cast(tf.shape(flat)[1], features.dtype)'''
BEND_TF = '''def style_loss(features, targets, layer_weights=None):
    """Returns 0, after making every mean 0 in its own process."""
    tf.reduce_mean = lambda *args, **kwargs: tf.constant(0.0)
    return tf.constant(0.0)'''
ENDLESS = '''def total_variation_loss(image):
    while True:
        pass'''


def _cheat(base: Path, extra: str = "", replace: str = "") -> nbformat.NotebookNode:
    """``base`` with a last cell ``extra``, and the answer cell that defines ``replace``'s function replaced by it."""
    book = nbformat.read(base, as_version=4)
    if replace:
        name = replace.split("(")[0].split()[-1]
        cell = next(c for c in book.cells if c.cell_type == "code" and c.source.startswith(f"def {name}("))
        cell.source = replace
    if extra:
        book.cells.append(nbformat.v4.new_code_cell(extra))
    return book


CHEATS = {  # file under the class folder -> (notebook, the questions it faked, words its note holds)
    "ann/patched_checks.ipynb": (lambda: _cheat(STUDENT, PATCH_CHECKS), "q1 q2 q3 q4 q5 q6 q7", "checks"),
    "ben/nst_answers.ipynb": (lambda: _cheat(STUDENT, NST_ANSWERS), "q1 q2 q3 q4 q5 q6 q7", "delegation"),
    "cat/rewritten_tests.ipynb": (lambda: _cheat(STUDENT, REWRITE_TESTS), "q1 q2 q3 q4 q5 q6 q7",
                                  "_tests_dir_override"),
    "dan/rewritten_zip.ipynb": (lambda: _cheat(STUDENT, REWRITE_ZIP), "q1 q2 q3 q4 q5 q6 q7", "open"),
    "eve/appended_checks.ipynb": (lambda: _cheat(STUDENT, APPEND_CHECKS), "q1 q2 q3 q4 q5 q6 q7", "checks"),
    "fay/writes_from_inside.ipynb": (lambda: _cheat(SUBMISSIONS / "correct.ipynb", replace=WRITE_INSIDE), "q1",
                                     "tried to write outside its folder"),
    "gus/bends_tensorflow.ipynb": (lambda: _cheat(SUBMISSIONS / "correct.ipynb", replace=BEND_TF), "q3",
                                   "reduce_mean"),
    "hal/endless.ipynb": (lambda: _cheat(SUBMISSIONS / "correct.ipynb", replace=ENDLESS),
                          "q1 q2 q3 q4 q5 q6 q7", f"longer than {TIMEOUT} s"),
}


def _hashes() -> dict[str, str]:
    """Every file grading reads: nst's and the assignments' (sources, tests, submissions)."""
    files = [p for folder in (ROOT / "nst", ASSIGNMENTS) for p in folder.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and ".OTTER_LOG" not in p.name]
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One grading run of the mixed class; the package's hashes before and after."""
    folder = tmp_path_factory.mktemp("class")
    for path in SUBMISSIONS.glob("*.ipynb"):
        shutil.copy(path, folder / path.name)
    for name, (make, _, _) in CHEATS.items():
        (folder / name).parent.mkdir(exist_ok=True)
        nbformat.write(make(), folder / name)
    (folder / "ann" / "feedback.pdf").write_bytes(b"%PDF")  # an LMS download holds other files too
    before = _hashes()
    run = subprocess.run([sys.executable, "-m", "nst.classroom", "grade", str(folder), "-o", "grades.csv",
                          "--timeout", str(TIMEOUT)], capture_output=True, text=True, cwd=folder, timeout=1200)
    rows = {row["file"]: row for row in csv.DictReader(open(folder / "grades.csv"))}
    return run, rows, before, _hashes()


def test_honest_notebooks_get_exactly_the_expected_grades_among_cheats(graded):
    run, rows, _, _ = graded
    expected = list(csv.DictReader(open(SUBMISSIONS / "expected.csv")))
    assert [rows[row["file"]] for row in expected] == expected


@pytest.mark.parametrize("name", CHEATS)
def test_a_cheat_scores_nothing_on_what_it_faked_and_is_noted(graded, name):
    _, rows, _, _ = graded
    row = rows[name]
    _, faked, words = CHEATS[name]
    assert {q: row[q] for q in faked.split()} == {q: "0" for q in faked.split()}
    assert words in row["note"], row["note"]
    if faked == "q1 q2 q3 q4 q5 q6 q7":
        assert row["total"] == "0"
    else:  # one trick costs its own question only
        assert row["total"] == str(18 - 3), row


def test_nst_and_the_assignments_are_byte_for_byte_what_they_were(graded):
    _, _, before, after = graded
    assert after == before


def test_the_run_lists_skipped_files_and_exits_1_for_the_unreadable_notebook(graded):
    run, rows, _, _ = graded
    assert run.returncode == 1, run.stderr[-2000:]
    assert "skipped 1 files that are not notebooks: ann/feedback.pdf" in run.stdout
    assert f"graded {len(rows)} notebooks" in run.stdout and "1 could not be graded" in run.stdout
    assert len(rows) == len(list(SUBMISSIONS.glob("*.ipynb"))) + len(CHEATS)


PROBE = f"""import json, socket
def attempt(action):
    try:
        action()
        return "done"
    except Exception as e:
        return type(e).__name__
print(json.dumps({{
    "network": attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=5)),
    "write into nst": attempt(lambda: open({str(CHECKS)!r}, "a")),
    "write into the repository": attempt(lambda: open({str(ROOT / "README.md")!r}, "a")),
    "import nst's code": attempt(lambda: __import__("nst.losses")),
    "write in its folder": attempt(lambda: open("scratch.txt", "w").write("x")),
    "take 2 GB": attempt(lambda: bytearray(2 * 2**30)),
}}))
"""


@pytest.mark.skipif(not sandbox.available(), reason="this machine refuses user namespaces: rlimits only")
def test_the_sandbox_has_no_network_no_nst_no_writable_file_but_its_folder_and_a_memory_limit(tmp_path):
    """What docs/teaching.md says of the runner's sandbox, tried by a script in the runner's place."""
    probe, scratch = tmp_path / "probe.py", tmp_path / "scratch"
    probe.write_text(PROBE)
    scratch.mkdir()
    run = subprocess.run(sandbox.command(probe, scratch, [ROOT / "nst"], {}), capture_output=True, text=True,
                         preexec_fn=sandbox.limits(1.0), timeout=120)
    assert json.loads(run.stdout) == {"network": "OSError", "write into nst": "FileNotFoundError",  # hidden
                                      "write into the repository": "OSError", "import nst's code": "ModuleNotFoundError",
                                      "write in its folder": "done", "take 2 GB": "MemoryError"}, run.stderr


def test_the_runners_adam_is_nsts():
    """The runner imports no nst, so it states Adam's settings again: they must stay nst.optimizers.adam's."""
    from nst.classroom import runner
    from nst.optimizers import adam

    settings = [{k: v for k, v in a.get_config().items() if k != "name"} for a in (runner.adam(0.02), adam(0.02))]
    assert settings[0] == settings[1] and settings[0]["beta_1"] == 0.99
