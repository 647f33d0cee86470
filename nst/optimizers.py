"""The two optimisers of the pixels, and the recorder that watches them.

``run_adam`` and ``run_lbfgs`` take a loss function of the image and minimise it; after each step
they hand the losses and the image to a ``Recorder``, which keeps the history and the best image,
applies the stopping rule (``converged``), calls the user's callback and takes snapshots. Each
optimiser can hand the recorder its whole state and start again from one (``nst.snapshot``).
"""

from __future__ import annotations

import math
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from scipy.optimize import _lbfgsb as scipy_lbfgsb  # L-BFGS-B's core, driven as SciPy's own minimize drives it

from nst.config import Config
from nst.snapshot import Snapshot

Callback = Callable[[int, dict, tf.Tensor], None]
"""``callback(step, losses, image)``: losses is ``{"content", "style", "tv", "total"}`` as floats.

A callback that also has a method ``start(sizes, steps)`` is told the plan before the first step:
the ``(height, width)`` of each size, smallest first, and the most steps at each (``ProgressBar``)."""

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


class Recorder:
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
        self.budget: int | None = None  # the run's memory budget, kept in snapshots (nst.memory)
        self.canvas: np.ndarray | None = None  # at a size optimised in tiles: the image the tiles are pasted into
        self.start_size(0, 0)

    def start_size(self, size: int, index: int) -> None:
        """A new size starts: the step count goes on, the best image and the stopping rule start afresh."""
        self.size, self.index = size, index
        self.start_tile(None)

    def start_tile(self, tile: int | None) -> None:
        """At a size optimised in tiles, tile number ``tile`` starts: like a new size, but the size stays."""
        self.tile, self.offset = tile, self.history[-1]["step"] if self.history else 0
        self.best_image: tf.Tensor | None = None
        self.totals: list[float] = []
        self.stopped: str | None = None  # why this size (or tile) ended before config.steps, if it did

    def resume(self, snapshot: Snapshot, size: int) -> None:
        """Continue at the snapshot's size (and tile) with its history, best image and clock."""
        self.history = list(snapshot.history)
        self.start = time.perf_counter() - snapshot.seconds
        at_size = [entry for entry in self.history if entry["size"] == size and entry.get("tile") == snapshot.tile]
        self.size, self.index, self.tile, self.offset = size, snapshot.size_index, snapshot.tile, at_size[0]["step"]
        self.best_image = tf.constant(snapshot.best_image)
        self.totals = [entry["total"] for entry in at_size]

    def snapshot(self) -> Snapshot:
        return Snapshot(config=self.config, inputs=self.inputs, size_index=self.index,
                        best_image=self.best_image.numpy(), state=self.optimizer_state(), history=list(self.history),
                        seconds=time.perf_counter() - self.start, tile=self.tile, canvas=self.canvas,
                        budget=self.budget)

    def check_finite(self, step: int, total: float) -> None:
        if not math.isfinite(total):
            raise NonFiniteLoss(f"the loss became {total} at step {step + self.offset} ({self.size} px); "
                                f"lower the weights or the Adam learning rate")

    def __call__(self, step: int, terms: dict[str, tf.Tensor], image: tf.Tensor) -> bool:
        losses = {name: float(value) for name, value in terms.items()}
        self.check_finite(step, losses["total"])
        step += self.offset
        entry = {"step": step, "size": self.size, **({} if self.tile is None else {"tile": self.tile}),
                 "seconds": round(time.perf_counter() - self.start, 4), **losses}
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
        return self.converged()

    def converged(self) -> bool:
        """The stopping rule (``converged``) on this size's losses; when it holds, ``stopped`` says so."""
        if not converged(self.totals, self.config.tolerance):
            return False
        self.stopped = (f"the loss fell by less than {self.config.tolerance:g} (relative) over the last "
                        f"{TOLERANCE_WINDOW} steps")
        return True


def adam_step(image: tf.Variable, optimizer: keras.optimizers.Optimizer,
              loss_fn: Callable[[tf.Tensor], dict[str, tf.Tensor]]) -> dict[str, tf.Tensor]:
    """One update of the pixels: ``x ← clip(x - Adam(∂total/∂x), 0, 1)``; returns the loss terms at ``x`` before it.

    The image is a ``tf.Variable``, so the tape watches it without ``tape.watch``; clipping after
    each update keeps the pixels a valid image (Adam itself knows no bounds).
    """
    with tf.GradientTape() as tape:
        terms = loss_fn(image)
    grad = tape.gradient(terms["total"], image)
    optimizer.apply_gradients([(grad, image)])
    image.assign(tf.clip_by_value(image, 0.0, 1.0))
    return terms


def run_adam(loss_fn: Callable, image: tf.Tensor, config: Config, record: Recorder,
             state: dict[str, np.ndarray] | None = None, train_step: Callable | None = None) -> None:
    """Adam on the pixels, one traced ``train_step`` per update, clipped to [0, 1] after each.

    beta_1 = 0.99 and epsilon = 0.1 are the TensorFlow tutorial's: a large epsilon damps the
    first steps, when the second-moment estimate is still tiny. ``state`` (from a snapshot) holds
    the image and Adam's variables (step count, moments) to continue from. ``train_step`` replaces
    ``adam_step`` (same arguments and result): a student's own step runs inside this loop.
    """
    step_fn = adam_step if train_step is None else train_step
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
    def traced_step():
        before = tf.identity(image)  # the image the returned losses belong to
        return step_fn(image, optimizer, loss_fn), before

    start = len(record.totals)  # steps already taken at this size when resuming
    for step in range(start, config.steps):
        terms, before = traced_step()
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


def run_lbfgs(loss_fn: Callable, image: tf.Tensor, config: Config, record: Recorder,
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
            if record(iteration, *last):
                return
            if s["evaluations"] > 2 * config.steps:
                record.stopped = f"L-BFGS-B's line searches took more than {2 * config.steps} evaluations"
                return
        else:  # with ftol = gtol = 0: a step found no lower loss, or the line search could go no further
            record.stopped = ("L-BFGS-B found no lower loss: the loss's rounding is as large as a step's gain "
                              "(bfloat16 rounds more than float32)")
            return
