"""Checks of a student's functions against nst's own, with messages that name the likely mistake.

Every expected value is computed when the check runs, by nst's own implementation (``nst.losses``,
``nst.features``, ``nst.optimizers``) on seeded random tensors: no stored number can drift from
the code. A check returns nothing when the function is right and raises ``AssertionError`` with one
message otherwise: "not done yet" while the body is still ``...``, else what is wrong and the
classic mistake its numbers match (e.g. the Gram matrix not divided by H·W). Each question is
checked on its own: while ``style_loss`` is checked, the ``gram_matrix`` it calls is nst's.

When grading, the function a check is given is a stand-in (``nst.classroom.referee.Remote``) whose calls
run in the student's sandboxed process; everything else a check computes, here, in the referee. The
parts that build or run something of the student's (a model, a traced step) are ``runner``'s procedures.

Closeness is relative, ``‖actual - expected‖ ≤ rtol · ‖expected‖``, with ``rtol`` set by the
precision the student's function answers in: 1e-4 for float32, 3e-2 for bfloat16 or float16 (8 and
11 bits of mantissa; sums of many rounded products). Every classic mistake is off by far more.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from nst import losses
from nst.classroom.runner import PROCEDURES, Unknown, checked_gram, describe, not_done, run_steps
from nst.features import FeatureExtractor
from nst.optimizers import adam_step

RTOL = {"float32": 1e-4, "float64": 1e-4, "bfloat16": 3e-2, "float16": 3e-2}
__all__ = ["not_done", "relative_error"]  # and the check_… functions


def _call(name: str, fn: Callable, *args, **kwargs):
    """``fn(*args)``, with "not done yet" for an empty body and the student's exception as one line."""
    if not_done(fn):
        raise AssertionError(f"not done yet: write the body of {name} (replace the ...)")
    try:
        result = fn(*args, **kwargs)
    except Exception as e:  # the student's bug: say which and where, not a traceback
        raise AssertionError(f"{name} raised {describe(e)}"[:400]) from None
    if result is None:
        raise AssertionError(f"not done yet: {name} returns None; end it with `return ...` of the result")
    return result


def _procedure(name: str, fn: Callable, procedure: str, *args):
    """``runner.<procedure>(fn, *args)``, where the student's function runs (this process or, when grading,
    the runner: ``fn.run``); the student's exception as one line."""
    if not_done(fn):
        raise AssertionError(f"not done yet: write the body of {name} (replace the ...)")
    try:
        return fn.run(procedure, *args) if hasattr(fn, "run") else PROCEDURES[procedure](fn, *args)
    except Exception as e:
        raise AssertionError(f"{name} raised {describe(e)}"[:400]) from None


@contextlib.contextmanager
def _isolated(fn: Callable, **references: Callable):
    """Within the block, the functions ``fn`` calls by these names are nst's: each question is graded on
    its own (a wrong ``gram_matrix`` costs its own points, not ``style_loss``'s too)."""
    if hasattr(fn, "isolated"):  # a function in the runner: the runner swaps its own copies of nst's
        with fn.isolated(*references):
            yield
        return
    names = getattr(fn, "__globals__", {})
    saved = {name: names[name] for name in references if name in names}
    names.update({name: ref for name, ref in references.items() if name in saved})
    try:
        yield
    finally:
        names.update(saved)


def _rtol(value) -> float:
    return RTOL.get(tf.as_dtype(value.dtype).name, 1e-4)


def relative_error(actual, expected) -> float:
    """``‖actual - expected‖ / ‖expected‖`` in float64."""
    actual, expected = (np.asarray(tf.cast(t, tf.float64)) for t in (actual, expected))
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-30))


def _compare(name: str, actual, expected, mistakes: dict[str, tf.Tensor], what: str = "its result") -> None:
    """Pass if ``actual`` is ``expected``; else raise with the mistake whose value it matches, if any."""
    if not isinstance(actual, (tf.Tensor, tf.Variable, np.ndarray, float, int)):
        kind = actual.name if isinstance(actual, Unknown) else type(actual).__name__
        raise AssertionError(f"{name}: {what} should be a tensor, got {kind}")
    actual = tf.convert_to_tensor(actual)
    if not actual.dtype.is_floating:
        raise AssertionError(f"{name}: {what} should be a float tensor, got {actual.dtype.name}")
    if tuple(actual.shape) != tuple(expected.shape):
        raise AssertionError(f"{name}: {what} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
    rtol = _rtol(actual)
    error = relative_error(actual, expected)
    if error <= rtol:
        return
    for message, value in mistakes.items():
        if tuple(value.shape) == tuple(actual.shape) and relative_error(actual, value) <= rtol:
            raise AssertionError(f"{name}: {message}")
    raise AssertionError(f"{name}: {what} is off by {error:.1%} (relative) from nst's; compare it with the "
                         f"formula in the docstring")


def _features(shape: tuple[int, ...], seed: int) -> tf.Tensor:
    """Non-negative like ReLU activations, with an offset so that every channel differs."""
    return tf.abs(tf.random.stateless_normal(shape, seed=[seed, 1])) + 0.1 * tf.range(shape[-1], dtype=tf.float32)


# -- q1 ---------------------------------------------------------------------------------------------------


def check_gram_matrix(gram_matrix: Callable, shape: tuple[int, int, int, int] = (1, 4, 4, 3), seed: int = 0) -> None:
    """``gram_matrix(F)`` for ``F`` of ``shape`` (B, H, W, C) against ``nst.gram_matrix``."""
    features = _features(shape, seed)
    b, h, w, c = shape
    actual = _call("gram_matrix", gram_matrix, features)
    expected = losses.gram_matrix(features)  # (B, C, C)
    actual_shape = tuple(tf.convert_to_tensor(actual).shape)
    if actual_shape == (c, c) or (b > 1 and actual_shape[0] == 1):
        raise AssertionError(f"gram_matrix: it returns shape {actual_shape} for {b} image(s) of shape {shape[1:]}: "
                             f"it assumes a batch of 1. Keep the batch axis: one (C, C) matrix per image, "
                             f"{(b, c, c)} here")
    if actual_shape == (b, h * w, h * w):
        raise AssertionError(f"gram_matrix: it returns {actual_shape}, a matrix over positions: the product is the "
                             f"wrong way round. With F of shape (B, H·W, C), G = Fᵀ F is (B, C, C)")
    flat = tf.reshape(features, (b, c, h * w))  # the reshape without a transpose: positions and channels mixed
    mistakes = {
        "it is not divided by the number of positions H·W: divide by H·W (as a float) so that the style loss "
        "does not grow with the image size": expected * (h * w),
        "it is divided by H·W·C: divide by H·W only (nst's normalisation, the TensorFlow tutorial's)": expected / c,
        "it reshapes (B, H, W, C) straight to (B, C, H·W), which mixes positions and channels: reshape to "
        "(B, H·W, C), then take Fᵀ F (or use tf.einsum('bijc,bijd->bcd', F, F))":
            tf.matmul(flat, flat, transpose_b=True) / (h * w),
    }
    _compare("gram_matrix", actual, expected, mistakes)


# -- q2 ---------------------------------------------------------------------------------------------------


EXTRA = "block5_conv4"  # in features, in no targets: nst's features hold every layer its model reads


def _layer_pairs(shapes: dict[str, tuple[int, ...]], seed: int) -> tuple[dict, dict]:
    """Features and targets for the layers of ``shapes``; features also hold ``EXTRA``, first, so that a loss
    that loops over features (or zips the two dicts) shows it."""
    batch = next(iter(shapes.values()))[0]
    features = {EXTRA: _features((batch, 2, 2, 4), seed + 50)}
    features |= {name: _features(shape, seed + i) for i, (name, shape) in enumerate(shapes.items())}
    targets = {name: _features(shape, seed + 100 + i) for i, (name, shape) in enumerate(shapes.items())}
    return features, targets


def _call_over_targets(name: str, fn: Callable, *args):
    """``_call``, saying so when the function looped over ``features`` rather than ``targets``."""
    try:
        return _call(name, fn, *args)
    except AssertionError as e:
        if "KeyError" in str(e) and EXTRA in str(e):
            raise AssertionError(f"{name}: it loops over features, which hold every layer the model reads "
                                 f"({EXTRA} here): loop over targets, the layers this loss compares, and take "
                                 f"features[name] for each") from None
        raise


def check_content_loss(content_loss: Callable, shapes: dict[str, tuple[int, ...]] | None = None, seed: int = 0) -> None:
    """``content_loss(features, targets)`` over the layers of ``shapes`` against ``nst.content_loss``."""
    # three layers: ½ Σ (the paper's factor on a sum) and 1/L Σ agree for two
    shapes = shapes or {"block3_conv1": (1, 6, 6, 4), "block4_conv2": (1, 4, 4, 8), "block5_conv2": (1, 2, 2, 8)}
    features, targets = _layer_pairs(shapes, seed)
    actual = _call_over_targets("content_loss", content_loss, features, targets)
    expected = losses.content_loss(features, targets)
    per_layer = [tf.square(features[name] - targets[name]) for name in targets]
    mistakes = {
        "it sums the squared differences: take their mean (tf.reduce_mean), so the loss does not depend on the "
        "layer's size": tf.add_n([tf.reduce_sum(d) for d in per_layer]) / len(per_layer),
        "it has the paper's factor ½: nst's content loss is the plain mean of the squared differences": expected / 2,
        "it adds up the layers' losses: average them (divide by the number of layers)": expected * len(per_layer),
        "it halves the sum of the layers' losses: average them (divide by the number of layers L)":
            expected * len(per_layer) / 2,
        "it takes absolute differences: square them": tf.add_n(
            [tf.reduce_mean(tf.abs(features[n] - targets[n])) for n in targets]) / len(per_layer),
    }
    _compare("content_loss", actual, expected, mistakes)


# -- q3 ---------------------------------------------------------------------------------------------------


def check_style_loss(style_loss: Callable, shapes: dict[str, tuple[int, ...]] | None = None,
                     layer_weights: dict[str, float] | None = None, seed: int = 0) -> None:
    """``style_loss(features, targets, layer_weights)``; ``targets`` are the style image's Gram matrices."""
    shapes = shapes or {"block1_conv1": (1, 8, 8, 4), "block2_conv1": (1, 4, 4, 6)}
    features, style_features = _layer_pairs(shapes, seed)
    targets = {name: losses.gram_matrix(f) for name, f in style_features.items()}  # A_l
    with _isolated(style_loss, gram_matrix=checked_gram(losses.gram_matrix)):
        actual = _call_over_targets("style_loss", style_loss, features, targets, layer_weights)
    expected = losses.style_loss(features, targets, layer_weights)
    n = len(targets)
    weights = layer_weights or {name: 1.0 / n for name in targets}
    grams = {name: losses.gram_matrix(features[name]) for name in targets}

    def total(per_layer: Callable[[str], tf.Tensor], w: dict[str, float]) -> tf.Tensor:
        return tf.add_n([w[name] * per_layer(name) for name in targets])

    mistakes = {
        "it ignores layer_weights: multiply each layer's loss by its weight w_l": total(
            lambda name: tf.reduce_mean(tf.square(grams[name] - targets[name])), {name: 1.0 / n for name in targets}),
        "it adds the layers' losses without weights: with layer_weights=None each of the L layers gets 1/L": total(
            lambda name: tf.reduce_mean(tf.square(grams[name] - targets[name])), {name: 1.0 for name in targets}),
        "it sums the squared differences of the Gram matrices: take their mean": total(
            lambda name: tf.reduce_sum(tf.square(grams[name] - targets[name])), weights),
        "it divides by the sum of the weights: multiply each layer's loss by its w_l as given (they need not add "
        "up to 1)": expected / sum(weights.values()),
    }
    _compare("style_loss", actual, expected, mistakes)


# -- q4 ---------------------------------------------------------------------------------------------------


def check_total_variation_loss(total_variation_loss: Callable, shape: tuple[int, int, int, int] = (1, 6, 6, 3),
                               seed: int = 0) -> None:
    """``total_variation_loss(image)`` for a random image of ``shape`` against ``nst.total_variation_loss``."""
    image = tf.random.stateless_uniform(shape, seed=[seed, 2])
    actual = _call("total_variation_loss", total_variation_loss, image)
    expected = losses.total_variation_loss(image)
    dy, dx = image[:, 1:] - image[:, :-1], image[:, :, 1:] - image[:, :, :-1]
    actual_shape = tuple(tf.convert_to_tensor(actual).shape)
    if actual_shape == (shape[0],) and shape[0] > 1:
        raise AssertionError(f"total_variation_loss: it returns one value per image, shape {actual_shape}: "
                             f"sum over the batch too, to one number")
    mistakes = {
        "it takes the mean of the differences: the TV loss is their sum (as tf.image.total_variation), so for "
        "the same picture it grows with the number of pixels": tf.reduce_mean(tf.abs(dx)) + tf.reduce_mean(tf.abs(dy)),
        "it averages all differences together: the TV loss is their sum (as tf.image.total_variation)":
            tf.reduce_mean(tf.concat([tf.reshape(tf.abs(dx), [-1]), tf.reshape(tf.abs(dy), [-1])], 0)),
        "it squares the differences: the TV loss sums their absolute values":
            tf.reduce_sum(dx ** 2) + tf.reduce_sum(dy ** 2),
        "it only counts differences between rows: add those between columns": tf.reduce_sum(tf.abs(dy)),
        "it only counts differences between columns: add those between rows": tf.reduce_sum(tf.abs(dx)),
        "it counts only the first image: sum over every image of the batch":
            losses.total_variation_loss(image[:1]),
    }
    _compare("total_variation_loss", actual, expected, mistakes)


# -- q5 ---------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _reference(layers: tuple[str, ...]) -> FeatureExtractor:
    return FeatureExtractor(layers, precision="float32")


def check_feature_model(feature_model: Callable, layers: tuple[str, ...] = ("block1_conv1", "block3_conv1"),
                        shape: tuple[int, int, int, int] = (1, 32, 32, 3), seed: int = 0) -> None:
    """``feature_model(layers)(image)`` against ``nst.FeatureExtractor`` (float32) on a random image in [0, 1]."""
    image = tf.random.stateless_uniform(shape, seed=[seed, 3])
    report = _procedure("feature_model", feature_model, "model_report", list(layers), image)
    if report["type"] == "NoneType":
        raise AssertionError("not done yet: feature_model returns None; end it with `return ...` of the model")
    if not report["is_model"]:
        raise AssertionError(f"feature_model: it should return a keras.Model, got {report['type']}")
    if report["trainable"]:
        raise AssertionError("feature_model: its weights are trainable: freeze VGG19 (vgg.trainable = False); only "
                             "the image is optimised")
    outputs = report["outputs"]
    if outputs is None:
        raise AssertionError(f"feature_model: its model returns a {report['outputs_type']}: build it with "
                             f"outputs={{name: vgg.get_layer(name).output for name in layers}} to return a dict")
    if sorted(outputs) != sorted(layers):
        raise AssertionError(f"feature_model: its model returns the layers {sorted(outputs)}, "
                             f"expected {sorted(layers)}")
    reference = _reference(tuple(layers))
    expected = reference(image)
    raw = reference.vgg(image)  # VGG19 fed the [0, 1] image as it is
    unscaled = reference.vgg(keras.applications.vgg19.preprocess_input(image))  # preprocessed without × 255
    for name in layers:
        mistakes = {
            "it feeds the [0, 1] image to VGG19 as it is: VGG19 expects keras.applications.vgg19.preprocess_input"
            "(image * 255) (BGR, ImageNet mean removed)": raw[name],
            "it preprocesses the image without scaling it to [0, 255] first: preprocess_input(image * 255)":
                unscaled[name],
        }
        _compare("feature_model", tf.cast(outputs[name], tf.float32), expected[name], mistakes,
                 what=f"the activation of {name}")


# -- q6 ---------------------------------------------------------------------------------------------------


def check_style_content_loss(style_content_loss: Callable, seed: int = 0, weights: tuple[float, float, float] = (
        1e4, 1e-2, 30.0)) -> None:
    """``style_content_loss(image, features, content_targets, style_targets, α, β, γ)`` against nst's."""
    image = tf.random.stateless_uniform((1, 8, 8, 3), seed=[seed, 4])
    features, content = _layer_pairs({"block4_conv2": (1, 4, 4, 8), "block1_conv1": (1, 8, 8, 4)}, seed)
    content_targets = {"block4_conv2": content["block4_conv2"]}
    style_targets = {"block1_conv1": losses.gram_matrix(content["block1_conv1"] * 2.0)}
    alpha, beta, gamma = weights
    nst_losses = dict(content_loss=losses.content_loss, style_loss=losses.style_loss,
                      total_variation_loss=losses.total_variation_loss, gram_matrix=losses.gram_matrix)
    with _isolated(style_content_loss, **nst_losses):
        terms = _call("style_content_loss", style_content_loss, image, features, content_targets, style_targets,
                      alpha, beta, gamma)
    if not isinstance(terms, dict) or not {"content", "style", "tv", "total"} <= set(terms):
        raise AssertionError("style_content_loss: it should return a dict with the keys 'content', 'style', 'tv' "
                             "and 'total'")
    expected = losses.style_content_loss(image, features, content_targets, style_targets, alpha, beta, gamma)
    plain = {"content": losses.content_loss(features, content_targets),
             "style": losses.style_loss(features, style_targets),
             "tv": losses.total_variation_loss(image)}
    swapped = {"content": beta * plain["content"], "style": alpha * plain["style"]}
    for term, weight, question in (("content", "content_weight", "content_loss (q2)"),
                                   ("style", "style_weight", "style_loss (q3)"),
                                   ("tv", "tv_weight", "total_variation_loss (q4)")):
        mistakes = {f"its '{term}' term is not multiplied by {weight}": plain[term]}
        if term in swapped:
            mistakes["the content and style weights are swapped: α = content_weight multiplies the content loss, "
                     "β = style_weight the style loss"] = swapped[term]
        try:
            _compare("style_content_loss", terms[term], expected[term], mistakes, what=f"its '{term}' term")
        except AssertionError as e:
            if "off by" in str(e):  # none of the weighting mistakes: the loss itself is wrong
                raise AssertionError(f"style_content_loss: its '{term}' term is not {weight} × the {term} loss "
                                     f"(this check calls nst's {question.split()[0]} for yours, so that only the "
                                     f"weighting is checked)") from None
            raise
    _compare("style_content_loss", terms["total"], expected["total"],
             {"its 'total' is not the sum of the three weighted terms": expected["content"] + expected["style"]},
             what="its 'total'")
    # A run without a style image (content reconstruction) passes no style targets: that term is off.
    off = ("style_content_loss: with style_targets={} (no style image) its 'style' term should be 0: compute a "
           "loss only for the targets that are given")
    try:
        with _isolated(style_content_loss, **nst_losses):
            terms = _call("style_content_loss", style_content_loss, image, features, content_targets, {}, alpha,
                          0.0, gamma)
    except AssertionError as e:
        raise AssertionError(f"{off} ({e})") from None
    if not isinstance(terms, dict) or "style" not in terms or relative_error(terms["style"], tf.zeros(())) > 0:
        raise AssertionError(off)


# -- q7 ---------------------------------------------------------------------------------------------------


def _sgd_step(image: tf.Variable, optimizer, loss_fn) -> dict[str, tf.Tensor]:
    """A classic mistake: plain gradient descent at the optimizer's rate, not Adam's update."""
    with tf.GradientTape() as tape:
        terms = loss_fn(image)
    image.assign(tf.clip_by_value(image - optimizer.learning_rate * tape.gradient(terms["total"], image), 0.0, 1.0))
    return terms


def _dict_gradient_step(image: tf.Variable, optimizer, loss_fn) -> dict[str, tf.Tensor]:
    """A classic mistake: ``tape.gradient(terms, image)``, the gradient of the sum of every entry, total included."""
    with tf.GradientTape() as tape:
        terms = loss_fn(image)
    optimizer.apply_gradients([(tape.gradient(terms, image), image)])
    image.assign(tf.clip_by_value(image, 0.0, 1.0))
    return terms


STEP_MISTAKES = {
    "it takes tape.gradient(terms, image), the gradient of every entry of the dict added up (the total counted "
    "twice): take tape.gradient(terms[\"total\"], image)": _dict_gradient_step,
    "it moves the image by plain gradient descent: let the optimizer apply the gradient, "
    "optimizer.apply_gradients([(grad, image)])": _sgd_step,
}


def check_train_step(train_step: Callable, shape: tuple[int, int, int, int] = (1, 6, 6, 3), steps: int = 3,
                     seed: int = 0) -> None:
    """``steps`` traced calls of ``train_step(image, optimizer, loss_fn)`` against ``nst.optimizers.adam_step``.

    The loss pulls every pixel away from the middle grey towards a target outside [0, 1], so a step
    that does not clip shows it. A wrong result is diagnosed in the order students go wrong: NumPy in
    the traced step, no update, a rising loss, no clipping, the terms returned not those before the update,
    then the update rule (the gradient of the whole dict, plain gradient descent, another gradient).
    """
    start = tf.random.stateless_uniform(shape, seed=[seed, 6])
    target = start + tf.where(start > 0.5, 1.0, -1.0)
    try:
        result = _procedure("train_step", train_step, "run_steps", start, target, steps)
    except AssertionError as e:
        if any(word in str(e) for word in ("numpy", "NumPy", "symbolic", "__array__", "EagerTensor")):
            raise AssertionError("train_step: it uses NumPy (np.… or .numpy()) inside the step; nst runs the "
                                 "step traced by tf.function, where tensors have no values yet: use tf "
                                 "operations only (tf.clip_by_value, tape.gradient)") from None
        raise
    if result["returned"] != "dict":
        raise AssertionError(f"train_step: it returns a {result['returned']}: return the dict of loss terms that "
                             f"loss_fn(image) gave (before the update)")
    image, totals = result["image"], result["totals"]
    expected = run_steps(adam_step, start, target, steps)
    if float(tf.reduce_min(image)) < 0 or float(tf.reduce_max(image)) > 1:
        raise AssertionError("train_step: pixels left [0, 1]: clip them after the update, "
                             "image.assign(tf.clip_by_value(image, 0.0, 1.0))")
    if relative_error(image, start) == 0:
        raise AssertionError("train_step: the image did not change: apply the gradient, "
                             "optimizer.apply_gradients([(grad, image)])")
    if totals[-1] > totals[0]:
        raise AssertionError("train_step: the loss rose: apply the gradient itself, Adam subtracts it (no minus sign)")
    if abs(totals[0] - expected["totals"][0]) > 1e-4 * abs(expected["totals"][0]):
        raise AssertionError("train_step: the losses it returns are not those of the image before the update: "
                             "compute terms = loss_fn(image) inside the tape, then update, then return terms")
    if relative_error(image, expected["image"]) <= _rtol(image):
        if relative_error(tf.constant(totals), tf.constant(expected["totals"])) > 1e-4:
            raise AssertionError("train_step: the losses it returns are not those of the image before each "
                                 "update: compute terms = loss_fn(image) inside the tape, then update, then "
                                 "return terms")
        return
    for message, step in STEP_MISTAKES.items():
        if relative_error(image, run_steps(step, start, target, steps)["image"]) <= _rtol(image):
            raise AssertionError(f"train_step: {message}")
    raise AssertionError("train_step: the image after the steps is not Adam's update with the gradient of "
                         "terms[\"total\"]: is something else under the tape (another term, a second loss_fn call) "
                         "or applied twice?")
