"""The classroom kit (nst.classroom): checks that teach, the generated student version, grading, and a
student notebook run as Colab runs it (alone in an empty folder, with a fresh environment).

Notebooks run in quick mode (NST_QUICK=1) with the real VGG19 weights.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import tensorflow as tf
from nbclient import NotebookClient

from kernels import run_in_kernel

import nst
from nst import classroom
from nst.classroom import checks, grading
from nst.features import FeatureExtractor
from nst.optimizers import adam_step

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ROOT / "notebooks" / "assignments"
SOURCE = ASSIGNMENTS / "source" / "style_transfer.ipynb"
STUDENT = ASSIGNMENTS / "student" / "style_transfer.ipynb"
SUBMISSIONS = ASSIGNMENTS / "submissions"


# -- the checks ------------------------------------------------------------------------------------------


def _nst_feature_model(layers):
    return FeatureExtractor(layers, precision="float32")


def test_nst_own_functions_pass_every_check_public_and_hidden():
    for kwargs in ({}, {"shape": (2, 5, 7, 6), "seed": 1}, {"shape": (3, 9, 4, 16), "seed": 2}):
        checks.check_gram_matrix(nst.gram_matrix, **kwargs)
    checks.check_content_loss(nst.content_loss)
    checks.check_content_loss(nst.content_loss, {"a": (2, 6, 3, 5), "b": (2, 3, 2, 8)}, seed=1)
    checks.check_style_loss(nst.style_loss)
    checks.check_style_loss(nst.style_loss, layer_weights={"block1_conv1": 0.75, "block2_conv1": 0.25})
    checks.check_total_variation_loss(nst.total_variation_loss)
    checks.check_total_variation_loss(nst.total_variation_loss, shape=(2, 5, 9, 3), seed=1)
    checks.check_style_content_loss(nst.style_content_loss)
    checks.check_train_step(adam_step)
    checks.check_train_step(adam_step, shape=(2, 5, 8, 3), steps=5, seed=1)
    checks.check_feature_model(_nst_feature_model, ("block1_conv2", "block3_conv4"), shape=(2, 48, 32, 3))


def _gram(features, reshape=(lambda f, b, hw, c: tf.reshape(f, (b, hw, c))), divide=True, first_only=False):
    b, h, w, c = features.shape
    if first_only:  # written for a batch of 1
        features, b = features[:1], 1
    flat = reshape(features, b, h * w, c)
    gram = tf.matmul(flat, flat, transpose_a=True)
    return gram / (h * w) if divide else gram


def _step(numpy=False, clip=True):
    def train_step(image, optimizer, loss_fn):
        with tf.GradientTape() as tape:
            terms = loss_fn(image)
        grad = tape.gradient(terms["total"], image)
        optimizer.apply_gradients([(grad, image)])
        if numpy:
            image.assign(np.clip(image, 0.0, 1.0))
        elif clip:
            image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return terms
    return train_step


def _step_with(gradient=lambda tape, terms, image: tape.gradient(terms["total"], image), update=None):
    """A train_step with the gradient taken, or the update made, another way (students' wrong rules)."""
    def train_step(image, optimizer, loss_fn):
        with tf.GradientTape() as tape:
            terms = loss_fn(image)
            extra = terms["total"] + 0.1 * tf.reduce_sum(image)  # only some rules use it
        grad = gradient(tape, terms | {"extra": extra}, image)
        if update:
            update(image, optimizer, grad)
        else:
            optimizer.apply_gradients([(grad, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return terms
    return train_step


def _typo_step(image, optimizer, loss_fn):
    with tf.GradientTape() as tape:
        terms = loss_fn(image)
    grad = tape.gradient(terms["totl"], image)
    optimizer.apply_gradients([(grad, image)])
    return terms


def _content_over_features(features, targets):
    return tf.add_n([tf.reduce_mean(tf.square(features[n] - targets[n])) for n in features]) / len(targets)


def _style_over_weight_sum(features, targets, layer_weights=None):
    return nst.style_loss(features, targets, layer_weights) / sum((layer_weights or {"": 1.0}).values())


def _gram_of_targets_too():
    """A style_loss that takes the Gram matrix of the targets too (they already are Gram matrices)."""
    namespace = {"tf": tf, "nst": nst}
    exec("gram_matrix = nst.gram_matrix\n"
         "def style_loss(features, targets, layer_weights=None):\n"
         "    weights = layer_weights or {n: 1 / len(targets) for n in targets}\n"
         "    return tf.add_n([weights[n] * tf.reduce_mean(tf.square(gram_matrix(features[n]) - gram_matrix(t)))"
         " for n, t in targets.items()])\n", namespace)
    return namespace["style_loss"]


def _swapped(image, features, content_targets, style_targets, content_weight, style_weight, tv_weight):
    terms = {"content": style_weight * nst.content_loss(features, content_targets) if content_targets else 0.0,
             "style": content_weight * nst.style_loss(features, style_targets) if style_targets else 0.0,
             "tv": tv_weight * nst.total_variation_loss(image)}
    return terms | {"total": terms["content"] + terms["style"] + terms["tv"]}


def _not_written(features):
    """Handed out like this: a docstring and ..."""
    ...


MISTAKES = {
    "not done": (lambda: checks.check_gram_matrix(_not_written), "not done yet: write the body of gram_matrix"),
    "no division by H·W": (lambda: checks.check_gram_matrix(lambda f: _gram(f, divide=False)),
                           "not divided by the number of positions H·W"),
    "reshape without transpose": (
        lambda: checks.check_gram_matrix(lambda f: _gram(f, reshape=lambda x, b, hw, c: tf.transpose(
            tf.reshape(x, (b, c, hw)), (0, 2, 1)))),
        "reshapes (B, H, W, C) straight to (B, C, H·W)"),
    "batch of 1, public shape": (
        lambda: checks.check_gram_matrix(lambda f: _gram(f)[0]), "it assumes a batch of 1"),
    "batch of 1, hidden batch": (
        lambda: checks.check_gram_matrix(lambda f: _gram(f, first_only=True), shape=(2, 5, 7, 6)),
        "it assumes a batch of 1"),
    "TV as a mean": (lambda: checks.check_total_variation_loss(
        lambda x: tf.reduce_mean(tf.abs(x[:, 1:] - x[:, :-1])) + tf.reduce_mean(tf.abs(x[:, :, 1:] - x[:, :, :-1]))),
        "it takes the mean of the differences"),
    "weights swapped": (lambda: checks.check_style_content_loss(_swapped), "the content and style weights are swapped"),
    "numpy in the traced step": (lambda: checks.check_train_step(_step(numpy=True)), "it uses NumPy"),
    "no clipping": (lambda: checks.check_train_step(_step(clip=False)), "pixels left [0, 1]"),
    "unequal layer weights ignored": (
        lambda: checks.check_style_loss(lambda f, t, w=None: nst.style_loss(f, t),
                                        layer_weights={"block1_conv1": 0.75, "block2_conv1": 0.25}),
        "it ignores layer_weights"),
    "q7: the gradient of the whole dict": (
        lambda: checks.check_train_step(_step_with(gradient=lambda tape, terms, image: tape.gradient(
            {k: v for k, v in terms.items() if k != "extra"}, image))), "tape.gradient(terms, image)"),
    "q7: plain gradient descent": (
        lambda: checks.check_train_step(_step_with(update=lambda image, optimizer, grad: image.assign_sub(
            0.1 * grad))), "plain gradient descent"),
    "q7: another term under the tape": (
        lambda: checks.check_train_step(_step_with(gradient=lambda tape, terms, image: tape.gradient(
            terms["extra"], image))), "is something else under the tape"),
    "q7: an error in the traced step shows the student's line": (
        lambda: checks.check_train_step(_typo_step),
        "train_step raised KeyError: 'totl' (in _typo_step, line "),
    "content loss over features": (lambda: checks.check_content_loss(_content_over_features),
                                   "it loops over features"),
    "content loss: ½ Σ over layers": (
        lambda: checks.check_content_loss(lambda f, t: 0.5 * tf.add_n(
            [tf.reduce_mean(tf.square(f[n] - t[n])) for n in t])), "it halves the sum of the layers' losses"),
    "style loss divided by the weights' sum": (
        lambda: checks.check_style_loss(_style_over_weight_sum, layer_weights={"block1_conv1": 0.75,
                                                                               "block2_conv1": 0.5}),
        "it divides by the sum of the weights"),
    "Gram matrix of the targets taken again": (lambda: checks.check_style_loss(_gram_of_targets_too()),
                                              "the targets are already Gram matrices"),
    "no preprocessing": (
        lambda: checks.check_feature_model(lambda layers: _nst_feature_model(layers).vgg), "VGG19 expects"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_classic_mistake_gets_a_message_that_names_it(mistake):
    check, message = MISTAKES[mistake]
    with pytest.raises(AssertionError, match=re.escape(message)):
        check()


def test_tolerance_is_relative_and_fits_bfloat16_but_not_a_one_percent_error():
    checks.check_gram_matrix(lambda f: _gram(tf.cast(f, tf.bfloat16)), shape=(2, 16, 16, 32))
    with pytest.raises(AssertionError, match=r"off by 1\.0%"):
        checks.check_gram_matrix(lambda f: 1.01 * _gram(f))


def test_style_loss_is_checked_with_nst_gram_matrix_not_the_students():
    """A wrong gram_matrix costs q1's points only: while style_loss is checked, the one it calls is nst's."""
    namespace = {"tf": tf, "nst": nst}
    exec("def gram_matrix(f):\n    return nst.gram_matrix(f) * 7.0\n"
         "def style_loss(features, targets, layer_weights=None):\n"
         "    layer_weights = layer_weights or {n: 1 / len(targets) for n in targets}\n"
         "    return tf.add_n([layer_weights[n] * tf.reduce_mean(tf.square(gram_matrix(features[n]) - t))"
         " for n, t in targets.items()])\n", namespace)
    checks.check_style_loss(namespace["style_loss"])
    assert namespace["gram_matrix"](tf.ones((1, 2, 2, 1))).numpy().item() == 7.0  # the student's is back


# -- the extension point: one's own functions in nst's loop ----------------------------------------------


def test_stylize_runs_its_loop_with_the_functions_and_extractor_it_is_given(content_path, style_path):
    """The student's functions are called by nst's own loop (not a copy of it), and give nst's result."""
    calls = {"gram_matrix": 0, "style_content_loss": 0, "train_step": 0, "extractor": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    config = nst.Config.preset("tutorial", size=32, steps=3, optimizer="adam", start_size=0, tolerance=0,
                               precision="float32", style_layers=("block1_conv1", "block2_conv1"),
                               content_layers=("block2_conv2",))
    layers = [*config.content_layers, *config.style_layers]
    reference = FeatureExtractor(layers, precision="float32")
    extractor = classroom.Extractor(counted("extractor", reference), layers)
    mine = classroom.functions(counted("gram_matrix", nst.gram_matrix),
                               counted("style_content_loss", nst.style_content_loss), counted("train_step", adam_step))
    result = nst.stylize(content_path, style_path, config, extractor=extractor, functions=mine)
    assert calls["gram_matrix"] == 2 and calls["style_content_loss"] >= 1 and calls["train_step"] >= 1
    assert calls["extractor"] >= 2 and len(result.history) == 4  # steps 0..3
    expected = nst.stylize(content_path, style_path, config, extractor=reference)
    assert checks.relative_error(result.image, expected.image) < 1e-5
    with pytest.raises(ValueError, match="needs optimizer='adam'"):
        nst.stylize(content_path, style_path, dataclasses.replace(config, optimizer="lbfgs"), extractor=extractor,
                    functions=mine)


def test_ready_names_what_is_still_to_write(capsys):
    assert classroom.ready(gram_matrix=nst.gram_matrix)
    assert not classroom.ready(gram_matrix=nst.gram_matrix, train_step=_not_written)
    assert capsys.readouterr().out.strip() == "not done yet: write train_step first; this picture needs them"


# -- the student version ----------------------------------------------------------------------------------


def test_generate_reproduces_the_committed_student_files_byte_for_byte(tmp_path):
    grading.generate(ASSIGNMENTS / "source", tmp_path / "student", tmp_path / "autograder")
    def files(folder: Path) -> list[Path]:  # not .OTTER_LOG, which Otter leaves where a notebook ran its checks
        return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))

    committed, generated = files(ASSIGNMENTS / "student"), files(tmp_path / "student")
    assert generated == committed
    for path in committed:
        assert (tmp_path / "student" / path).read_bytes() == (ASSIGNMENTS / "student" / path).read_bytes(), path
    assert (tmp_path / "autograder" / "style_transfer-autograder.zip").stat().st_size > 0


def _solution_lines(book: nbformat.NotebookNode) -> list[str]:
    lines, inside = [], False
    for cell in book.cells:
        if cell.cell_type == "raw":
            inside = {"# BEGIN SOLUTION": True, "# END SOLUTION": False}.get(cell.source.strip(), inside)
        elif cell.cell_type == "markdown" and inside:  # a written model answer
            lines += [line for line in cell.source.splitlines() if line.strip()]
        elif cell.cell_type == "code":
            body = re.findall(r"# BEGIN SOLUTION\n(.*?)# END SOLUTION", cell.source, re.S)
            lines += [line.strip() for block in body for line in block.splitlines() if line.strip()]
    return lines


def test_student_version_holds_no_solution_and_no_hidden_test():
    source = nbformat.read(SOURCE, as_version=4)
    student = nbformat.read(STUDENT, as_version=4)
    # The instructions quote a hint or two (e.g. optimizer.apply_gradients): look for solutions in the code.
    code = "".join(c.source + "\n" for c in student.cells if c.cell_type == "code")
    handed_out = code + "".join(p.read_text() for p in (ASSIGNMENTS / "student").rglob("*.py"))
    solutions = _solution_lines(source)
    assert len(solutions) > 30
    assert not [line for line in solutions if line in handed_out and len(line) > 12]
    written = [line for line in solutions if "block5_conv2` keeps only the layout" in line]
    assert written and written[0] not in STUDENT.read_text()
    cells = "".join(c.source + "\n" for c in source.cells)
    hidden = re.findall(r"hidden: true\n\"\"\" # END TEST CONFIG\ndef (\w+)", cells)
    assert len(hidden) == 10
    assert not [name for name in hidden if name in handed_out]
    assert "colab.research.google.com/github/nst-course/nst/blob/main/notebooks/assignments/student/" \
           "style_transfer.ipynb" in student.cells[0].source
    assert [c.source for c in student.cells if c.cell_type == "code"][0].startswith("# Setup.")


def test_colab_setup_advises_on_the_gpu_before_installing_and_asks_for_a_restart_when_the_install_moved_a_package():
    """A new Colab runtime loses what was installed: the GPU advice comes first. Otter's requirements can move a
    package the kernel has loaded (ipywidgets, wrapt): the cell compares versions and stops with what to do."""
    setup = next(c.source for c in nbformat.read(STUDENT, as_version=4).cells if c.cell_type == "code")
    assert setup.index("Runtime > Change runtime type") < setup.index('"pip", "install"')
    assert setup.index("before = ") < setup.index('"pip", "install"') < setup.index("Runtime > Restart session")


def _run(path: Path, cwd: Path, kernel: str = "python3", timeout: int = 600) -> nbformat.NotebookNode:
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=timeout, kernel_name=kernel, resources={"metadata": {"path": str(cwd)}}).execute()
    return book


def _text(cell) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def _errors(book) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for c in book.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error"]


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setenv("NST_QUICK", "1")
    monkeypatch.delenv("NST_SOURCE", raising=False)


def test_teacher_version_passes_all_its_own_tests(quick):
    """Each test cell of the source calls its test function: public and hidden tests run against the solutions."""
    book = _run(SOURCE, SOURCE.parent)
    assert _errors(book) == []
    calls = [c for c in book.cells if c.cell_type == "code" and re.search(r"^test_\w+\(", c.source, re.M)]
    assert len(calls) == 17
    pictures = [c for c in book.cells if "otter_ignore" in c.metadata.get("tags", [])]
    assert any(o.output_type == "display_data" and "image/jpeg" in o.get("data", {}) or "image/png" in o.get("data", {})
               for c in pictures for o in c.outputs)  # the solutions paint their pictures


def _check_outputs(book) -> dict[str, str]:
    return {re.search(r'check\("(q\d)"\)', c.source).group(1): _text(c) for c in book.cells
            if c.cell_type == "code" and "grader.check(" in c.source}


def test_student_version_runs_top_to_bottom_saying_not_done_yet(quick):
    book = _run(STUDENT, STUDENT.parent)
    assert _errors(book) == []
    results = _check_outputs(book)
    assert sorted(results) == [f"q{i}" for i in range(1, 8)]
    for question, text in results.items():
        assert "not done yet" in text and "Traceback" not in text, (question, text)
    assert "not done yet: write gram_matrix" in "".join(_text(c) for c in book.cells if c.cell_type == "code")


# -- grading ----------------------------------------------------------------------------------------------


# The grades themselves, with cheats among honest notebooks: tests/test_grading.py.


def _grade(*args: str, capsys) -> tuple[int, str, str]:
    """``python -m nst.classroom grade ARGS``, in this process: its exit status, stdout and stderr."""
    with pytest.raises(SystemExit) as end:
        grading.main(["grade", *args])
    out, err = capsys.readouterr()
    return end.value.code, out, err


def test_grade_refuses_a_missing_folder_in_one_line(tmp_path, capsys):
    status, out, err = _grade(str(tmp_path / "nope"), capsys=capsys)
    assert status == 2 and out == ""
    assert err.strip() == f"nst.classroom grade: {tmp_path / 'nope'} is not a folder"


@pytest.mark.parametrize("output", ["a folder", "under a file"])
def test_grade_checks_its_output_before_grading_anything(tmp_path, output, capsys, monkeypatch):
    (tmp_path / "class").mkdir()
    shutil.copy(SUBMISSIONS / "correct.ipynb", tmp_path / "class")
    (tmp_path / "grades").mkdir()
    (tmp_path / "file.txt").write_text("")
    path, reason = {"a folder": ("grades", "-o grades is a folder: give the CSV's file name, e.g. -o "
                                           "grades/grades.csv"),
                    "under a file": ("file.txt/grades.csv", "-o file.txt/grades.csv: file.txt is a file, not a "
                                                            "folder")}[output]
    monkeypatch.chdir(tmp_path)
    status, out, err = _grade("class", "-o", path, capsys=capsys)
    assert status == 2 and out == ""  # nothing graded
    assert err.strip() == f"nst.classroom grade: {reason}"
    assert sorted(p.name for p in (tmp_path / "grades").iterdir()) == []


def test_a_course_generates_its_student_version_from_a_private_source_the_same_bytes_every_time(tmp_path):
    """The route for a course that keeps its solutions private: its own copy of the sources, generate pointed at it.

    Nothing is written to the repository's student folder; two runs give the same bytes, the zip's too."""
    private = tmp_path / "private"
    private.mkdir()
    book = nbformat.read(SOURCE, as_version=4)
    book.cells[1].source = book.cells[1].source.replace("# Assignment:", "# Course 101 assignment:")
    nbformat.write(book, private / SOURCE.name)
    handed_out = {p: p.read_bytes() for p in (ASSIGNMENTS / "student").rglob("*") if p.is_file()}
    run = subprocess.run([sys.executable, "-m", "nst.classroom", "generate", "--source", str(private), "--student",
                          str(tmp_path / "a" / "student"), "--autograder", str(tmp_path / "a" / "zip")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    grading.generate(private, tmp_path / "b" / "student", tmp_path / "b" / "zip")
    first = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert first == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert Path("zip/style_transfer-autograder.zip") in first
    for path in first:
        assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes(), path
    assert "# Course 101 assignment:" in (tmp_path / "a" / "student" / SOURCE.name).read_text()
    assert {p: p.read_bytes() for p in (ASSIGNMENTS / "student").rglob("*") if p.is_file()} == handed_out


# -- as Colab sees it -------------------------------------------------------------------------------------


def test_student_notebook_alone_in_an_empty_folder_installs_nst_and_runs_its_checks(tmp_path, bare_python):
    """As Colab sees it: a kernel with TensorFlow and Otter but no nst, the notebook alone in its folder."""
    folder, home = tmp_path / "content", tmp_path / "home"
    folder.mkdir(), home.mkdir()
    cells = [cell.source for cell in nbformat.read(STUDENT, as_version=4).cells if cell.cell_type == "code"]
    # NST_SOURCE: clone this checkout (its last commit) instead of GitHub.
    book = run_in_kernel(bare_python, cells + ["print(nst.__file__, os.getcwd())"], folder,
                         {"NST_QUICK": "1", "NST_SOURCE": str(ROOT), "HOME": str(home),
                          "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert _errors(book) == []
    where = _text(book.cells[-1]).split()
    assert where[0].startswith(str(bare_python.parent.parent)), where  # installed into the bare environment
    assert where[1] == str(folder / "nst" / "notebooks" / "assignments" / "student")
    results = _check_outputs(book)
    assert len(results) == 7 and all("not done yet" in text for text in results.values()), results
