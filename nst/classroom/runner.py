"""Where a student's functions run during grading: a process of their own that answers the referee's calls.

This file imports no part of nst, so the grading process can start it alone (``python -I runner.py``),
in a sandbox where nst is not even on disk (``nst.classroom.sandbox``). Protocol, one JSON object a line:

- first line in: ``{"code": [[cell, source], ...], "reference": the source of nst/losses.py}``;
  answer: ``{"defined": [names], "not_done": [names], "failed": [notes]}``;
- then ``{"name": name, "call": true, "args": [...], "isolate": [names]}`` (the function's result) or
  ``{"name": name, "run": procedure, "args": [...]}`` (a procedure below, given the function);
  answer ``{"ok": value}`` or ``{"error": type name, "message": one line}``.

Tensors travel as ``{"tensor": dtype, "shape": [...], "data": base64 of float64 bytes}``; nothing is
unpickled. The answers are only the student's results: the referee computes every expected value itself.
The procedures are also what ``nst.classroom.checks`` runs when a student checks a function in the notebook.
"""

from __future__ import annotations

import base64
import dis
import json
import os
import re
import types
from typing import Callable

import numpy as np


def not_done(fn) -> bool:
    """True for a missing function or one whose body is still only a docstring and ``...``.

    Such a body compiles to "return None" alone (``...`` is a constant expression, dropped).
    """
    if not callable(fn):
        return True
    if not hasattr(fn, "__code__"):
        return False
    ops = [(i.opname, i.argval) for i in dis.get_instructions(fn) if i.opname not in ("RESUME", "NOP", "CACHE")]
    return ops in ([("LOAD_CONST", None), ("RETURN_VALUE", None)], [("RETURN_CONST", None)])


class StudentError(Exception):
    """An error the student's function raised in the runner, as ``describe`` put it there."""


USER_FRAME = re.compile(r'File "[^"]*", line (\d+), in (\w+)\s*\*?\s*\n\s*(.+)')


def describe(error: BaseException) -> str:
    """``Type: message`` in one line, with the student's own line when TensorFlow traced the function.

    A traced function's error reads ``in user code: File ..., line N, in f ... KeyError: 'x'``; the
    last of those frames is the student's line, the last line the original error.
    """
    text = str(error).strip()
    if isinstance(error, StudentError):
        return text
    frames = USER_FRAME.findall(text)
    if "in user code:" in text and frames:
        line, function, code = frames[-1]
        original = text.splitlines()[-1].strip()
        return f"{original} (in {function}, line {line}: {code.strip()})"[:400]
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}"[:400]


def checked_gram(gram_matrix: Callable) -> Callable:
    """``gram_matrix`` that says so when it is handed a Gram matrix: the style targets already are ones."""
    def gram(features):
        if len(features.shape) != 4:
            raise ValueError(f"gram_matrix was given a tensor of shape {tuple(features.shape)}, not activations "
                             f"(B, H, W, C): the targets are already Gram matrices; take gram_matrix of the "
                             f"features only")
        return gram_matrix(features)
    return gram


# -- procedures: what the checks ask of a feature model and of a training step --------------------------------


def model_report(feature_model: Callable, layers: list[str], image) -> dict:
    """What ``feature_model(layers)`` built: its type, whether it has trainable weights, its outputs for ``image``."""
    import keras

    model = feature_model(list(layers))
    report = {"type": type(model).__name__, "is_model": isinstance(model, keras.Model), "outputs": None}
    if model is None or not report["is_model"]:
        return report
    report["trainable"] = bool(model.trainable_weights)
    if report["trainable"]:
        return report
    outputs = model(image)
    report["outputs_type"] = type(outputs).__name__
    if isinstance(outputs, dict):
        report["outputs"] = {str(name): value for name, value in outputs.items()}
    return report


def adam(learning_rate: float):
    import keras

    # nst.optimizers.adam's settings, stated again: this file may import no nst (tests/test_grading.py compares them).
    return keras.optimizers.Adam(learning_rate, beta_1=0.99, epsilon=0.1)


def run_steps(train_step: Callable, start, target, steps: int) -> dict:
    """``steps`` traced calls of ``train_step(image, optimizer, loss_fn)`` from ``start``, with a loss that pulls
    each pixel towards ``target``: the image after them and the ``total`` each call returned."""
    import tensorflow as tf

    def loss_fn(image):
        total = 100.0 * tf.reduce_mean(tf.square(image - target))
        return {"content": total, "style": tf.constant(0.0), "tv": tf.constant(0.0), "total": total}

    image, optimizer = tf.Variable(start), adam(0.1)
    optimizer.build([image])
    traced = tf.function(lambda: train_step(image, optimizer, loss_fn))  # as nst runs it: traced
    totals = []
    for _ in range(steps):
        terms = traced()
        if not isinstance(terms, dict) or "total" not in terms:
            return {"image": image.value(), "totals": totals, "returned": type(terms).__name__}
        totals.append(float(terms["total"]))
    return {"image": image.value(), "totals": totals, "returned": "dict"}


PROCEDURES = {"model_report": model_report, "run_steps": run_steps}


# -- the wire format -------------------------------------------------------------------------------------------


def encode(value):
    """JSON-ready: tensors and arrays as base64 float64 with their dtype's name; dicts, lists, numbers as they are."""
    if hasattr(value, "dtype") and hasattr(value, "shape") and not isinstance(value, (float, int)):
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        name = getattr(getattr(value, "dtype", None), "name", str(array.dtype))
        data = np.ascontiguousarray(array, dtype=np.float64).tobytes()
        return {"tensor": str(name), "shape": list(array.shape), "data": base64.b64encode(data).decode()}
    if isinstance(value, dict):
        return {"dict": [[str(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"object": type(value).__name__}


def decode(value):
    """The inverse of ``encode``: tensors come back as ``tf.Tensor`` of their dtype, other objects as ``Unknown``."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "dict" in value:
        return {k: decode(v) for k, v in value["dict"]}
    if "tensor" in value:
        import tensorflow as tf

        array = np.frombuffer(base64.b64decode(value["data"]), dtype=np.float64).reshape(value["shape"])
        return tf.cast(tf.constant(array), value["tensor"])
    return Unknown(value.get("object", "?"))


class Unknown:
    """What a student's function returned that is neither a tensor, a number nor a container: only its type's name."""

    def __init__(self, name: str) -> None:
        self.name = name


# -- the process -----------------------------------------------------------------------------------------------


def _define(code: list[list], reference: str) -> tuple[dict, dict]:
    """The student's namespace (their definitions, executed in order) and the reference losses, loaded first."""
    import keras
    import tensorflow as tf

    losses = types.ModuleType("reference_losses")
    exec(compile(reference, "nst/losses.py", "exec"), losses.__dict__)  # before any student code
    references = {"gram_matrix": checked_gram(losses.gram_matrix), "content_loss": losses.content_loss,
                  "style_loss": losses.style_loss, "total_variation_loss": losses.total_variation_loss}
    namespace = {"__name__": "__student__", "tf": tf, "keras": keras, "np": np}
    failed = []
    for cell, source in code:
        try:
            exec(compile(source, f"<cell {cell}>", "exec"), namespace)
        except Exception as e:
            failed.append(f"cell {cell}: {describe(e)}")
    return namespace, {"references": references, "failed": failed}


def serve(inbox, outbox) -> None:
    first = json.loads(inbox.readline())
    namespace, loaded = _define(first["code"], first["reference"])
    functions = {k: v for k, v in namespace.items() if isinstance(v, types.FunctionType) and not k.startswith("_")}
    outbox.write(json.dumps({"defined": sorted(functions), "not_done": sorted(k for k, v in functions.items()
                                                                             if not_done(v)),
                             "failed": loaded["failed"]}) + "\n")
    outbox.flush()
    for line in inbox:
        request = json.loads(line)
        fn = namespace.get(request["name"])
        saved = {name: namespace.get(name) for name in request.get("isolate", [])}
        namespace.update({name: loaded["references"][name] for name in saved})  # as checks._isolated does
        try:
            args = decode(request["args"])
            result = (fn(*args) if "call" in request else PROCEDURES[request["run"]](fn, *args))
            answer = {"ok": encode(result)}
        except Exception as e:
            answer = {"error": type(e).__name__, "message": describe(e)}
        finally:
            namespace.update(saved)
        outbox.write(json.dumps(answer) + "\n")
        outbox.flush()


def main() -> None:
    """Serve on copies of stdin and stdout; the descriptors 0 and 1 then lead nowhere, so what the student's
    code prints cannot garble an answer."""
    inbox, outbox = os.fdopen(os.dup(0), "r"), os.fdopen(os.dup(1), "w")
    nowhere = os.open(os.devnull, os.O_RDWR)
    os.dup2(nowhere, 0)
    os.dup2(nowhere, 1)
    serve(inbox, outbox)


if __name__ == "__main__":
    main()
