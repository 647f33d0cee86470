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
from scipy.optimize import _lbfgsb as scipy_lbfgsb  # L-BFGS-B's Fortran-turned-C core, as SciPy's minimize drives it
import tensorflow as tf

from nst.config import MIN_SIZE, Config
from nst.features import FeatureExtractor
from nst.images import load_image
from nst.losses import gram_matrix, style_content_loss
from nst.snapshot import Snapshot, fingerprint

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
    snapshot: Snapshot | None = None  # where to resume from, when the callback stopped the run between steps

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
    """Keeps the history and the best image of the current size, passes each step to the callback,
    and takes snapshots (every ``snapshot_every`` steps, and when the callback stops the run).

    Calling it returns True once the run at this size should stop (``converged``).
    """

    def __init__(self, callback: Callback | None, config: Config, inputs: str, snapshot_every: int = 0,
                 on_snapshot: Callable[[Snapshot], None] | None = None) -> None:
        self.callback, self.config, self.inputs = callback, config, inputs
        self.snapshot_every, self.on_snapshot = snapshot_every, on_snapshot
        self.history: list[dict] = []
        self.start = time.perf_counter()
        self.optimizer_state: Callable[[], dict[str, np.ndarray]] | None = None  # set by the running optimiser
        self.stopped_by_callback = False
        self.start_size(0, 0)

    def start_size(self, size: int, index: int) -> None:
        """A new size starts: the step count goes on, the best image and the stopping rule start afresh."""
        self.size, self.index, self.offset = size, index, self.history[-1]["step"] if self.history else 0
        self.best_image: tf.Tensor | None = None
        self.totals: list[float] = []

    def resume(self, snapshot: Snapshot, size: int) -> None:
        """Continue at the snapshot's size with its history, best image and clock."""
        self.history = list(snapshot.history)
        self.start = time.perf_counter() - snapshot.seconds
        at_size = [entry for entry in self.history if entry["size"] == size]
        self.size, self.index, self.offset = size, snapshot.size_index, at_size[0]["step"]
        self.best_image = tf.constant(snapshot.best_image)
        self.totals = [entry["total"] for entry in at_size]

    def snapshot(self) -> Snapshot:
        return Snapshot(config=self.config, inputs=self.inputs, size_index=self.index,
                        best_image=self.best_image.numpy(), state=self.optimizer_state(), history=list(self.history),
                        seconds=time.perf_counter() - self.start)

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
            try:
                self.callback(step, losses, image)
            except KeyboardInterrupt:  # between two steps: the optimiser's state is whole, a snapshot can be taken
                self.stopped_by_callback = True
                raise
        if self.snapshot_every and step % self.snapshot_every == 0 and step > 0:
            self.on_snapshot(self.snapshot())
        return converged(self.totals, self.config.tolerance)


def _run_adam(loss_fn: Callable, image: tf.Tensor, config: Config, record: _Recorder,
              state: dict[str, np.ndarray] | None = None) -> None:
    """Adam on the pixels, one traced ``train_step`` per update, clipped to [0, 1] after each.

    beta_1 = 0.99 and epsilon = 0.1 are the TensorFlow tutorial's: a large epsilon damps the
    first steps, when the second-moment estimate is still tiny. ``state`` (from a snapshot) holds
    the image and Adam's variables (step count, moments) to continue from.
    """
    image = tf.Variable(image)
    optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=0.99, epsilon=0.1)
    optimizer.build([image])  # its slots now, not inside train_step: that would trace it twice
    if state is not None:
        image.assign(state["image"])
        for i, variable in enumerate(optimizer.variables):
            variable.assign(state[f"adam{i}"])
    record.optimizer_state = lambda: {"image": image.numpy(),
                                      **{f"adam{i}": v.numpy() for i, v in enumerate(optimizer.variables)}}

    @tf.function
    def train_step():
        before = tf.identity(image)  # the image the returned losses belong to
        with tf.GradientTape() as tape:
            terms = loss_fn(image)
        grad = tape.gradient(terms["total"], image)
        optimizer.apply_gradients([(grad, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return terms, before

    start = len(record.totals)  # steps already taken at this size when resuming
    for step in range(start, config.steps):
        terms, before = train_step()
        if record(step, terms, before):
            return
    if start <= config.steps:
        record(config.steps, loss_fn(image), tf.identity(image))  # score the last update too (eagerly: no trace)


LBFGS_MEMORY = 10  # past steps L-BFGS-B keeps (SciPy's default); 50 gained 2% per step for 5x the memory
FG, NEW_X = 3, 1  # setulb's task codes: "evaluate f and g at x", "an iteration has ended"


def _lbfgs_start(x: np.ndarray) -> dict[str, np.ndarray]:
    """L-BFGS-B's whole state as arrays (SciPy's ``setulb`` keeps nothing else), so a snapshot can hold it."""
    n, m = x.size, LBFGS_MEMORY
    return {"x": x, "f": np.zeros(()), "g": np.zeros(n), "wa": np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m),
            "iwa": np.zeros(3 * n, np.int32), "task": np.zeros(2, np.int32), "ln_task": np.zeros(2, np.int32),
            "lsave": np.zeros(4, np.int32), "isave": np.zeros(44, np.int32), "dsave": np.zeros(29),
            "evaluations": np.zeros((), np.int64)}


def _run_lbfgs(loss_fn: Callable, image: tf.Tensor, config: Config, record: _Recorder,
               state: dict[str, np.ndarray] | None = None) -> None:
    """L-BFGS-B on the pixels, with the box [0, 1] as bounds (no clipping needed).

    This is SciPy's L-BFGS-B (``scipy.optimize.minimize(method="L-BFGS-B")`` with ``ftol = gtol = 0``),
    driven one call of its ``setulb`` routine at a time, as ``minimize`` itself does, so that its
    state can be saved and restored (``state``, from a snapshot). The loss and its gradient come from
    one traced function; SciPy works in float64 on the flattened image. Each step is one iteration;
    its line search may evaluate the loss more than once.
    """
    shape = image.shape

    @tf.function
    def value_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            terms = loss_fn(x)
        return terms, tape.gradient(terms["total"], x)

    s = state if state is not None else _lbfgs_start(image.numpy().ravel().astype(np.float64))
    record.optimizer_state = lambda: s
    n = s["x"].size
    lower, upper, both_bounds = np.zeros(n), np.ones(n), np.full(n, 2, np.int32)
    iteration = max(len(record.totals) - 1, 0)  # step 0 is the starting image
    while iteration < config.steps or not record.totals:
        scipy_lbfgsb.setulb(LBFGS_MEMORY, s["x"], lower, upper, both_bounds, s["f"], s["g"], 0.0, 0.0, s["wa"],
                            s["iwa"], s["task"], s["lsave"], s["isave"], s["dsave"], 20, s["ln_task"])
        if s["task"][0] == FG:
            x = tf.constant(s["x"].reshape(shape), tf.float32)
            terms, grad = value_and_grad(x)
            s["evaluations"][...] += 1
            record.check_finite(iteration + (s["evaluations"] > 1), float(terms["total"]))  # trial points too
            s["f"][...], s["g"][:] = float(terms["total"]), grad.numpy().ravel()
            last = terms, x
            if s["evaluations"] == 1:
                record(0, terms, x)
        elif s["task"][0] == NEW_X:  # the line search ends on the point it accepts: the last one evaluated
            iteration += 1
            if record(iteration, *last) or s["evaluations"] > 2 * config.steps:
                return
        else:
            return  # converged, or the line search can go no further (rounding errors)


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


def _transfer(content: ImageLike | None, style: ImageLike | None, config: Config, callback: Callback | None,
              extractor: FeatureExtractor | None, resume: Snapshot | None = None, snapshot_every: int = 0,
              on_snapshot: Callable[[Snapshot], None] | None = None) -> Result:
    content = None if content is None else _as_image(content, config.size)
    style = None if style is None else _as_image(style, config.size)
    use_content = content is not None and config.content_weight > 0
    use_style = style is not None and config.style_weight > 0
    extractor = extractor or extractor_for(config, use_content, use_style)
    layers = (config.content_layers if use_content else ()) + (config.style_layers if use_style else ())
    missing = [name for name in layers if name not in extractor.layer_names]
    if missing:
        raise ValueError(f"the extractor does not compute layer '{missing[0]}'")
    inputs = fingerprint(content, style)
    if resume is not None:
        resume.check(config, inputs)
    if snapshot_every and on_snapshot is None:
        raise ValueError("snapshot_every needs an on_snapshot function to receive the snapshots")

    reference = content if content is not None else style
    full_height, full_width = reference.shape[1:3]
    record = _Recorder(callback, config, inputs, snapshot_every, on_snapshot)
    run = _run_lbfgs if config.optimizer == "lbfgs" else _run_adam
    image, interrupted, error, snapshot = None, False, None, None
    sizes = coarse_to_fine_sizes(full_height, full_width, config.start_size)
    for index, (height, width) in enumerate(sizes):
        if resume is not None and index < resume.size_index:
            continue  # done before the snapshot
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

        shape, state = (1, height, width, 3), None
        if resume is not None and index == resume.size_index:
            record.resume(resume, max(height, width))
            image, state = record.best_image, resume.state
        else:
            image = (_initial_image(config, shape, level_content, level_style) if image is None
                     else _resize(image, (height, width)))
            record.start_size(max(height, width), index)
        try:
            if not (state is not None and converged(record.totals, config.tolerance)):  # else it ended there
                run(loss_fn, image, config, record, state)
        except (KeyboardInterrupt, NonFiniteLoss) as stop:
            if not record.history:  # stopped before the first step: nothing to return
                raise
            interrupted = isinstance(stop, KeyboardInterrupt)
            error = None if interrupted else str(stop)
            if record.stopped_by_callback:  # between two steps: the run can go on from here
                snapshot = record.snapshot()
        if record.best_image is not None:  # else stopped before the first step at this size
            image = record.best_image
        if interrupted or error:
            break
    if image.shape[1:3] != (full_height, full_width):  # stopped early at a coarse size
        image = _resize(image, (full_height, full_width))
    return Result(image=image, history=record.history, model=extractor.describe(), config=config,
                  seconds=time.perf_counter() - record.start, interrupted=interrupted, error=error, snapshot=snapshot)


def stylize(content: ImageLike, style: ImageLike, config: Config = Config(), callback: Callback | None = None,
            extractor: FeatureExtractor | None = None, resume: Snapshot | None = None, snapshot_every: int = 0,
            on_snapshot: Callable[[Snapshot], None] | None = None) -> Result:
    """Render ``content`` in the style of ``style`` (Gatys et al. 2016).

    Minimises ``α·content_loss + β·style_loss + γ·total_variation_loss`` over the pixels of an
    image started from ``config.init``. Images are file paths (loaded at ``config.size``) or float
    tensors in [0, 1] (used at their own size). ``callback(step, losses, image)`` is called after each
    step. Ctrl-C stops the run early and returns the best image so far with ``interrupted=True``; a
    NaN or Inf loss stops it too, returning the last finite best image with the reason in ``error``.

    Snapshots (``nst.snapshot``): ``on_snapshot(snapshot)`` is called every ``snapshot_every`` steps,
    and a run stopped by a ``KeyboardInterrupt`` raised in ``callback`` returns one in
    ``Result.snapshot``; ``stylize(..., resume=snapshot)`` with the same images and config continues
    it, and ends where the run that was never stopped would have.
    """
    return _transfer(content, style, config, callback, extractor, resume, snapshot_every, on_snapshot)


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
