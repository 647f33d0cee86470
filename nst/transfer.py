"""Optimising the pixels of an image: style transfer and its two subproblems.

Only the image changes; VGG19 stays frozen. Each *step* is one forward and backward pass through
VGG19 for Adam, and one L-BFGS iteration (usually one pass, sometimes a few) for L-BFGS.

Coarse-to-fine: the image is first optimised at a fraction of the size (``config.start_size``), where
a step is 4x cheaper per halving, then upsampled and refined at each doubling up to ``config.size``.
The coarse sizes lay out the large strokes, which VGG19's receptive fields cannot see at 2048 px; the
upsampled image loses fine strokes, so each larger size still needs many steps (README, Speed).
Each size stops early once the loss stops falling (``config.tolerance``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import scipy.optimize
import tensorflow as tf

from nst.config import MIN_SIZE, Config
from nst.features import FeatureExtractor
from nst.images import load_image
from nst.losses import gram_matrix, style_content_loss

Callback = Callable[[int, dict, tf.Tensor], None]
"""``callback(step, losses, image)``: losses is ``{"content", "style", "tv", "total"}`` as floats."""

ImageLike = tf.Tensor | np.ndarray | str | os.PathLike


@dataclass
class Result:
    """What a run produced: the lowest-loss image seen and the losses of every step."""

    image: tf.Tensor  # (1, H, W, 3) in [0, 1]
    history: list[dict]  # per step: step, size (long side), seconds since the start, content, style, tv, total
    model: dict  # FeatureExtractor.describe()
    config: Config
    seconds: float
    interrupted: bool = False  # stopped by Ctrl-C (or SIGTERM in the CLI)
    error: str | None = None  # why the run stopped early when the loss became NaN or Inf

    @property
    def final(self) -> dict:
        """The losses of ``image``: the best entry at the last size optimised."""
        last_size = self.history[-1]["size"]
        return min((e for e in self.history if e["size"] == last_size), key=lambda entry: entry["total"])

    def metrics(self) -> dict:
        """Everything worth publishing about the run, JSON-serialisable."""
        steps = self.history[-1]["step"] if self.history else 0
        return {
            "model": self.model,
            "config": dataclasses.asdict(self.config),
            "image_size": {"height": int(self.image.shape[1]), "width": int(self.image.shape[2])},
            "device": device_name(),
            "versions": versions(),
            "final": {k: self.final[k] for k in ("step", "size", "content", "style", "tv", "total")},
            "steps": steps,
            "seconds": round(self.seconds, 3),
            "steps_per_second": round(steps / self.seconds, 3) if self.seconds > 0 else None,
            "interrupted": self.interrupted,
            "error": self.error,
            "history": self.history,
        }


def device_name() -> str:
    """The GPU's name if TensorFlow sees one, else the CPU's."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return "GPU: " + tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {cpu} ({os.cpu_count()} cores)"


def versions() -> dict:
    import nst

    return {"python": sys.version.split()[0], "tensorflow": tf.__version__, "keras": keras.__version__,
            "nst": nst.__version__}


TOLERANCE_WINDOW = 10  # steps over which config.tolerance is judged


def converged(totals: list[float], tolerance: float) -> bool:
    """True once the lowest loss fell by less than ``tolerance`` (relative) over the last ``TOLERANCE_WINDOW`` steps.

    ``totals`` are the losses of one size, one per step; ``tolerance=0`` never stops.
    """
    if not tolerance or len(totals) <= TOLERANCE_WINDOW:
        return False
    before, now = min(totals[:-TOLERANCE_WINDOW]), min(totals)
    return before - now < tolerance * abs(now)


class NonFiniteLoss(FloatingPointError):
    """The loss became NaN or Inf: the run stops and keeps the last finite image."""


class _Recorder:
    """Keeps the history and the best image of the current size, and passes each step to the callback.

    Calling it returns True once the run at this size should stop (``converged``).
    """

    def __init__(self, callback: Callback | None, tolerance: float) -> None:
        self.callback = callback
        self.tolerance = tolerance
        self.history: list[dict] = []
        self.start = time.perf_counter()
        self.start_size(0)

    def start_size(self, size: int) -> None:
        """A new size starts: the step count goes on, the best image and the stopping rule start afresh."""
        self.size, self.offset = size, self.history[-1]["step"] if self.history else 0
        self.best_image: tf.Tensor | None = None
        self.totals: list[float] = []

    def check_finite(self, step: int, total: float) -> None:
        if not math.isfinite(total):
            raise NonFiniteLoss(f"the loss became {total} at step {step + self.offset} ({self.size} px); "
                                f"lower the weights or the Adam learning rate")

    def __call__(self, step: int, terms: dict[str, tf.Tensor], image: tf.Tensor) -> bool:
        losses = {name: float(value) for name, value in terms.items()}
        self.check_finite(step, losses["total"])
        step += self.offset
        entry = {"step": step, "size": self.size, "seconds": round(time.perf_counter() - self.start, 4), **losses}
        if not self.totals or losses["total"] < min(self.totals):
            self.best_image = tf.convert_to_tensor(image)
        self.totals.append(losses["total"])
        self.history.append(entry)
        if self.callback is not None:
            self.callback(step, losses, image)
        return converged(self.totals, self.tolerance)


def _run_adam(loss_fn: Callable, image: tf.Tensor, config: Config, record: _Recorder) -> None:
    """Adam on the pixels, one traced ``train_step`` per update, clipped to [0, 1] after each.

    beta_1 = 0.99 and epsilon = 0.1 are the TensorFlow tutorial's: a large epsilon damps the
    first steps, when the second-moment estimate is still tiny.
    """
    image = tf.Variable(image)
    optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=0.99, epsilon=0.1)
    optimizer.build([image])  # its slots now, not inside train_step: that would trace it twice

    @tf.function
    def train_step():
        before = tf.identity(image)  # the image the returned losses belong to
        with tf.GradientTape() as tape:
            terms = loss_fn(image)
        grad = tape.gradient(terms["total"], image)
        optimizer.apply_gradients([(grad, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return terms, before

    for step in range(config.steps):
        terms, before = train_step()
        if record(step, terms, before):
            break
    else:
        record(config.steps, loss_fn(image), tf.identity(image))  # score the last update too (eagerly: no trace)


def _run_lbfgs(loss_fn: Callable, image: tf.Tensor, config: Config, record: _Recorder) -> None:
    """SciPy's L-BFGS-B on the pixels, with the box [0, 1] as bounds (no clipping needed).

    The loss and its gradient come from one traced function; SciPy works in float64 on the
    flattened image.
    """
    shape = image.shape

    @tf.function
    def value_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            terms = loss_fn(x)
        return terms, tape.gradient(terms["total"], x)

    last: dict = {"iteration": 0}

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        x = tf.constant(x.reshape(shape), tf.float32)
        terms, grad = value_and_grad(x)
        record.check_finite(last["iteration"] + ("terms" in last), float(terms["total"]))  # trial points too
        if "terms" not in last:  # the first evaluation is the starting image: step 0
            record(0, terms, x)
        last.update(terms=terms, image=x)
        return float(terms["total"]), grad.numpy().ravel().astype(np.float64)

    def on_iteration(_xk: np.ndarray) -> None:
        # L-BFGS-B's line search ends on the point it accepts, so the last evaluation is the new iterate.
        last["iteration"] += 1
        if record(last["iteration"], last["terms"], last["image"]):
            raise StopIteration  # SciPy ends the minimisation cleanly

    if config.steps == 0:
        fun(image.numpy().ravel().astype(np.float64))
        return
    scipy.optimize.minimize(
        fun, image.numpy().ravel().astype(np.float64), jac=True, method="L-BFGS-B",
        bounds=scipy.optimize.Bounds(0.0, 1.0), callback=on_iteration,
        options={"maxiter": config.steps, "maxfun": 2 * config.steps, "ftol": 0.0, "gtol": 0.0},
    )


def _as_image(image: ImageLike, size: int) -> tf.Tensor:
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, size)
    image = tf.convert_to_tensor(image, tf.float32)
    if image.shape.rank == 3:
        image = image[tf.newaxis]
    if image.shape.rank != 4 or image.shape[0] != 1 or image.shape[-1] != 3:
        raise ValueError(f"expected an image of shape (1, H, W, 3) or (H, W, 3), got {tuple(image.shape)}")
    if not bool(tf.reduce_all(tf.math.is_finite(image))):
        raise ValueError("the image contains NaN or Inf values")
    return image


def _initial_image(config: Config, shape: tf.TensorShape, content: tf.Tensor | None,
                   style: tf.Tensor | None) -> tf.Tensor:
    if config.init == "content" and content is not None:
        return content
    if config.init == "style" and style is not None:
        return _resize(style, shape[1:3])
    if config.init == "noise":
        return tf.random.stateless_uniform(shape, seed=[config.seed, 0])  # (1, H, W, 3) in [0, 1)
    raise ValueError(f"init='{config.init}' needs a {config.init} image")


def _resize(image: tf.Tensor, height_width) -> tf.Tensor:
    return tf.clip_by_value(tf.image.resize(image, height_width, method="bilinear", antialias=True), 0.0, 1.0)


def coarse_to_fine_sizes(height: int, width: int, start_size: int) -> list[tuple[int, int]]:
    """``(height, width)`` of each size, smallest first: halved until the long side would fall below
    ``start_size`` or the short side below ``MIN_SIZE``; just ``[(height, width)]`` for ``start_size=0``."""
    sizes = [(height, width)]
    while start_size:
        h, w = sizes[-1]
        if max(h, w) // 2 < start_size or min(h, w) // 2 < MIN_SIZE:
            break
        sizes.append((round(h / 2), round(w / 2)))
    return sizes[::-1]


def extractor_for(config: Config, content: bool = True, style: bool = True) -> FeatureExtractor:
    """The extractor a run with ``config`` needs: its content and style layers whose weight is not 0."""
    layers = ((config.content_layers if content and config.content_weight > 0 else ())
              + (config.style_layers if style and config.style_weight > 0 else ()))
    return FeatureExtractor(layers or config.content_layers, config.weights, config.pooling, config.precision)


def _transfer(content: ImageLike | None, style: ImageLike | None, config: Config,
              callback: Callback | None, extractor: FeatureExtractor | None) -> Result:
    content = None if content is None else _as_image(content, config.size)
    style = None if style is None else _as_image(style, config.size)
    use_content = content is not None and config.content_weight > 0
    use_style = style is not None and config.style_weight > 0
    extractor = extractor or extractor_for(config, use_content, use_style)
    layers = (config.content_layers if use_content else ()) + (config.style_layers if use_style else ())
    missing = [name for name in layers if name not in extractor.layer_names]
    if missing:
        raise ValueError(f"the extractor does not compute layer '{missing[0]}'")

    reference = content if content is not None else style
    full_height, full_width = reference.shape[1:3]
    record = _Recorder(callback, config.tolerance)
    run = _run_lbfgs if config.optimizer == "lbfgs" else _run_adam
    image, interrupted, error = None, False, None
    for height, width in coarse_to_fine_sizes(full_height, full_width, config.start_size):
        scale = height / full_height  # the style image is scaled like the content, keeping their ratio
        level_content = None if content is None else _resize(content, (height, width))
        level_style = None if style is None else _resize(
            style, (max(1, round(style.shape[1] * scale)), max(1, round(style.shape[2] * scale))))

        # The targets are computed once per size: P_l for content, A_l = Gram of the style image for style.
        content_targets = {}
        if use_content:
            features = extractor(level_content)
            content_targets = {name: features[name] for name in config.content_layers}
        style_targets = {}
        if use_style:
            features = extractor(level_style)
            style_targets = {name: gram_matrix(features[name]) for name in config.style_layers}

        def loss_fn(image: tf.Tensor) -> dict[str, tf.Tensor]:
            return style_content_loss(image, extractor(image), content_targets, style_targets,
                                      config.content_weight, config.style_weight, config.tv_weight)

        shape = (1, height, width, 3)
        image = (_initial_image(config, shape, level_content, level_style) if image is None
                 else _resize(image, (height, width)))
        record.start_size(max(height, width))
        try:
            run(loss_fn, image, config, record)
        except (KeyboardInterrupt, NonFiniteLoss) as stop:
            if not record.history:  # stopped before the first step: nothing to return
                raise
            interrupted = isinstance(stop, KeyboardInterrupt)
            error = None if interrupted else str(stop)
        if record.best_image is not None:  # else stopped before the first step at this size
            image = record.best_image
        if interrupted or error:
            break
    if image.shape[1:3] != (full_height, full_width):  # stopped early at a coarse size
        image = _resize(image, (full_height, full_width))
    return Result(image=image, history=record.history, model=extractor.describe(), config=config,
                  seconds=time.perf_counter() - record.start, interrupted=interrupted, error=error)


def stylize(content: ImageLike, style: ImageLike, config: Config = Config(), callback: Callback | None = None,
            extractor: FeatureExtractor | None = None) -> Result:
    """Render ``content`` in the style of ``style`` (Gatys et al. 2016).

    Minimises ``α·content_loss + β·style_loss + γ·total_variation_loss`` over the pixels of an
    image started from ``config.init``. Images are file paths (loaded at ``config.size``) or float
    tensors in [0, 1] (used at their own size). ``callback(step, losses, image)`` is called after each
    step. Ctrl-C stops the run early and returns the best image so far with ``interrupted=True``; a
    NaN or Inf loss stops it too, returning the last finite best image with the reason in ``error``.
    """
    return _transfer(content, style, config, callback, extractor)


def reconstruct_content(content: ImageLike, layers: tuple[str, ...] = ("block4_conv2",), config: Config = Config(),
                        callback: Callback | None = None, extractor: FeatureExtractor | None = None) -> Result:
    """From seeded noise, find an image whose features at ``layers`` match ``content``'s: content loss alone."""
    config = dataclasses.replace(config, content_layers=tuple(layers), style_weight=0.0, tv_weight=0.0,
                                 init="noise", start_size=0)
    return _transfer(content, None, config, callback, extractor)


def synthesize_style(style: ImageLike, layers: tuple[str, ...] = Config.style_layers, config: Config = Config(),
                     callback: Callback | None = None, extractor: FeatureExtractor | None = None) -> Result:
    """From seeded noise, find an image whose Gram matrices at ``layers`` match ``style``'s: style loss alone.

    The result has the style image's size (long side ``config.size``) and its texture, but no layout.
    """
    config = dataclasses.replace(config, style_layers=tuple(layers), content_weight=0.0, tv_weight=0.0,
                                 init="noise", start_size=0)
    return _transfer(None, style, config, callback, extractor)
