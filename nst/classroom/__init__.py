"""Classroom kit: graded assignments on nst, built with Otter-Grader.

- ``notebooks/assignments/source/*.ipynb``: the teacher's versions (``otter assign`` format), with the
  solutions and every test, public and hidden.
- ``python -m nst.classroom generate`` writes the student versions to ``notebooks/assignments/student/``.
- ``python -m nst.classroom grade FOLDER -o grades.csv`` grades submitted notebooks (``nst.classroom.grading``).
- ``nst.classroom.checks``: what the tests call; expected values come from nst's own functions.

In a student notebook, ``Extractor`` and ``functions`` hand the student's code to nst's own loop
(``stylize(..., extractor=, functions=)``), and ``ready`` says what is still to write. There, ``grader.check``
runs the checks in the student's own kernel: feedback, not grades.

How ``grade`` keeps the points out of a student's reach, per notebook:

- a **referee** process (``referee``), started with ``python -I`` from a fresh private copy of nst and of the
  sources, loads nst, the checks and the tests, and computes every expected value; no student code ever runs in it;
- the notebook is never executed: its top-level definitions (``answers``) run in a **runner** process
  (``runner``) that answers calls with results only, under limits (``sandbox``): time, memory, files; and where
  Linux namespaces are allowed, no network, a read-only file system and no nst on disk;
- a student's code can reach its own functions, TensorFlow, Keras and NumPy in its runner, and a scratch folder.
  It cannot reach the referee, the checks, the tests, nst (a function that delegates to it scores 0 for its
  question, with a note), another notebook, or the teacher's files: each notebook gets its own copies, nst's files
  are compared byte for byte after each notebook (and put back where no sandbox stopped a write).
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from nst.classroom.checks import not_done
from nst.losses import Functions


class Extractor:
    """A student's feature model where nst expects a ``FeatureExtractor``: its layers named, activations float32."""

    def __init__(self, model: Callable, layers: list[str] | tuple[str, ...]) -> None:
        self.model, self.layer_names = model, tuple(layers)

    def __call__(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {name: tf.cast(value, tf.float32) for name, value in self.model(image).items()}

    def describe(self) -> dict:
        return {"backbone": "the student's feature_model (VGG19)", "layers": list(self.layer_names)}


def functions(gram_matrix: Callable, style_content_loss: Callable, train_step: Callable) -> Functions:
    """The student's functions in the form ``nst.stylize(..., functions=)`` takes."""
    return Functions(gram_matrix=gram_matrix, style_content_loss=style_content_loss, train_step=train_step)


def ready(**named: Callable) -> bool:
    """True once every function given is written; else prints which are not, so the cell can skip its run."""
    missing = [name for name, fn in named.items() if not_done(fn)]
    if missing:
        print(f"not done yet: write {', '.join(missing)} first; this picture needs them")
    return not missing
