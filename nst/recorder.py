"""A run's state, the Recorder that keeps it step by step, and the interface of callbacks.

``RunState`` is the one place that says where a run is (which size, which tile, the step each began at) and
what it has found (the history, the best image, why a size ended early). The ``Recorder`` updates it after
each step of an optimiser (``nst.optimizers``), snapshots are taken from it (``nst.snapshot``), and callbacks
read it (``nst.progress.ProgressBar``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import tensorflow as tf

from nst.config import Config
from nst.snapshot import Snapshot

if TYPE_CHECKING:
    from nst.plan import Plan
    from nst.result import Result

TOLERANCE_WINDOW = 10  # steps over which config.tolerance is judged
TERMS = ("content", "style", "tv", "total")


class Callback:
    """What a run calls as it goes: subclass it and override what you need.

    - ``start(state)``: before the first step. ``state`` (a ``RunState``) stays current as the run goes on: its
      plan (the sizes, which are tiled), the size and tile now optimised, and the step each began at.
    - ``callback(step, losses, image)``: after each step, with the losses ``{"content", "style", "tv", "total"}``
      (and any terms of one's own) as floats and the image ``(1, h, w, 3)`` they belong to.
    - ``end(result)``: once the run is over, however it ended (``Result.stopped``, ``interrupted``, ``error``).

    A plain function ``fn(step, losses, image)`` serves as a callback too (``as_callback``).
    Raising ``KeyboardInterrupt`` from ``__call__`` stops the run between two steps, where it can be resumed.
    """

    def start(self, state: RunState) -> None:
        pass

    def __call__(self, step: int, losses: dict[str, float], image: tf.Tensor) -> None:
        pass

    def end(self, result: Result) -> None:
        pass


class _Function(Callback):
    def __init__(self, function: Callable[[int, dict, tf.Tensor], None]) -> None:
        self.function = function

    def __call__(self, step: int, losses: dict[str, float], image: tf.Tensor) -> None:
        self.function(step, losses, image)


def as_callback(callback: Callback | Callable | None) -> Callback:
    """A ``Callback`` as it is; a plain function ``fn(step, losses, image)`` wrapped; None as one that does nothing."""
    if isinstance(callback, Callback):
        return callback
    return Callback() if callback is None else _Function(callback)


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


@dataclass
class RunState:
    """Where a run is and what it has found.

    Steps are counted once for the whole run: each size (and each tile of a tiled size) starts at the step the
    one before ended on, with its starting image, so the history's last ``step`` is the number of optimiser
    steps taken. ``first_step`` is where the current size or tile began.
    """

    config: Config
    plan: Plan | None = None
    inputs: str = ""  # nst.snapshot.fingerprint() of the input images
    history: list[dict] = field(default_factory=list)  # per step: step, size, [tile], evaluations, seconds, losses
    size_index: int = 0
    size: int = 0  # the long side now optimised
    tile: int | None = None  # at a size optimised in tiles: which tile
    first_step: int = 0
    best_image: tf.Tensor | None = None  # the lowest-loss image of this size (or tile)
    best: dict | None = None  # its history entry
    totals: list[float] = field(default_factory=list)  # this size's (or tile's) total losses, one per step
    tile_bests: list[dict] = field(default_factory=list)  # at a tiled size: the best entry of each tile done
    stopped: str | None = None  # why this size (or tile) ended before config.steps, if it did
    evaluations: int = 0  # of the loss at this size (or tile) so far, L-BFGS's line searches' trial points included
    canvas: np.ndarray | None = None  # at a tiled size: the image the tiles are pasted into
    optimizer_state: Callable[[], dict[str, np.ndarray]] | None = None  # the running optimiser's, for snapshots
    started: float = field(default_factory=time.perf_counter)

    @property
    def step(self) -> int:
        return self.history[-1]["step"] if self.history else 0

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def start_size(self, index: int, size: int) -> None:
        """Size ``index`` (long side ``size``) starts: the best image and the stopping rule start afresh, and what
        the size before kept (its optimiser's state, its canvas) is let go."""
        self.start_tile(None)
        self.size_index, self.size, self.tile_bests = index, size, []
        self.optimizer_state, self.canvas = None, None

    def start_tile(self, tile: int | None) -> None:
        """At a size optimised in tiles, tile ``tile`` starts: like a new size, but the size stays."""
        if self.tile is not None and self.best is not None:
            self.tile_bests.append(self.best)
        self.tile, self.first_step = tile, self.step
        self.best_image, self.best, self.totals, self.stopped, self.evaluations = None, None, [], None, 0

    def record(self, step: int, losses: dict[str, float], image: tf.Tensor) -> dict:
        """Add step ``step`` of this size (counted from 0 at its start) to the history; returns its entry."""
        where = {"size": self.size, **({} if self.tile is None else {"tile": self.tile})}
        entry = {"step": self.first_step + step, **where, "evaluations": self.evaluations,
                 "seconds": round(self.seconds, 4), **losses}
        if not self.totals or losses["total"] < min(self.totals):
            self.best_image, self.best = tf.convert_to_tensor(image), entry
        self.totals.append(losses["total"])
        self.history.append(entry)
        return entry

    def converged(self) -> bool:
        """The stopping rule (``converged``) on this size's losses; when it holds, ``stopped`` says so."""
        if not converged(self.totals, self.config.tolerance):
            return False
        self.stopped = (f"the loss fell by less than {self.config.tolerance:g} (relative) over the last "
                        f"{TOLERANCE_WINDOW} steps")
        return True

    def final(self) -> dict:
        """The losses of the run's image: the best entry of the last size; at a size optimised in tiles, the sum
        over its tiles of each tile's best entry (the step is the last one)."""
        if self.best is None:  # a NaN at the first step of a size: the image is the size before's
            return self.history[-1]
        if self.tile is None:
            return self.best
        bests = [*self.tile_bests, self.best]
        return {"step": self.step, "size": self.size, "tiles": len(bests),
                **{name: sum(best[name] for best in bests) for name in TERMS}}

    def where(self) -> str:
        """The size (and tile) now optimised, in words: ``512 px`` or ``1024 px, tile 3 of 4``."""
        if self.tile is None:
            return f"{self.size} px"
        return f"{self.size} px, tile {self.tile + 1} of {self.plan.tile_count(self.size_index)}"

    def snapshot(self) -> Snapshot:
        return Snapshot(config=self.config, inputs=self.inputs, size_index=self.size_index,
                        best_image=self.best_image.numpy(), state=self.optimizer_state(), history=list(self.history),
                        seconds=self.seconds, tile=self.tile, canvas=self.canvas, budget=self.plan.budget)

    def resume(self, snapshot: Snapshot) -> None:
        """Continue at the snapshot's size (and tile) with its history, best image and clock."""
        self.history, self.started = list(snapshot.history), time.perf_counter() - snapshot.seconds
        self.size_index, self.tile, self.optimizer_state = snapshot.size_index, snapshot.tile, None
        self.size = max(self.plan.sizes[snapshot.size_index])
        at_size = [entry for entry in self.history if entry["size"] == self.size]
        at_tile = [entry for entry in at_size if entry.get("tile") == snapshot.tile]
        self.first_step, self.totals = at_tile[0]["step"], [entry["total"] for entry in at_tile]
        # Older snapshots did not count evaluations: one a step is Adam's count, and L-BFGS restores its own.
        self.evaluations = at_tile[-1].get("evaluations", len(at_tile))
        self.best_image = tf.constant(snapshot.best_image)
        self.best = min(at_tile, key=lambda entry: entry["total"])
        self.tile_bests = [min((e for e in at_size if e.get("tile") == tile), key=lambda entry: entry["total"])
                           for tile in range(snapshot.tile or 0)]
        self.canvas = None if snapshot.canvas is None else snapshot.canvas.copy()


class Recorder:
    """Watches an optimiser: after each step it records the losses in the ``RunState``, checks they are finite,
    calls the callback and takes snapshots (every ``snapshot_every`` steps, and when the callback stops the run).

    Calling it returns True once the run at this size should stop (``RunState.converged``).
    """

    def __init__(self, state: RunState, callback: Callback | Callable | None = None, snapshot_every: int = 0,
                 on_snapshot: Callable[[Snapshot], None] | None = None) -> None:
        self.state, self.callback = state, as_callback(callback)
        self.snapshot_every, self.on_snapshot = snapshot_every, on_snapshot
        self.stopped_by_callback = False

    def watch(self, optimizer_state: Callable[[], dict[str, np.ndarray]]) -> None:
        """The running optimiser hands over how to read its whole state, for snapshots."""
        self.state.optimizer_state = optimizer_state

    def check_finite(self, step: int, total: float) -> None:
        if not math.isfinite(total):
            raise NonFiniteLoss(f"the loss became {total} at step {step + self.state.first_step} "
                                f"({self.state.size} px); lower the weights or the Adam learning rate")

    def __call__(self, step: int, terms: dict[str, tf.Tensor], image: tf.Tensor,
                 evaluations: int | None = None) -> bool:
        """Step ``step`` of this size ended with the losses ``terms`` at ``image``, after ``evaluations`` evaluations
        of the loss at this size (by default one more than the step before: Adam evaluates once a step)."""
        losses = {name: float(value) for name, value in terms.items()}
        self.check_finite(step, losses["total"])
        self.state.evaluations = self.state.evaluations + 1 if evaluations is None else evaluations
        entry = self.state.record(step, losses, image)
        try:
            self.callback(entry["step"], losses, image)
        except KeyboardInterrupt:  # between two steps: the optimiser's state is whole, a snapshot can be taken
            self.stopped_by_callback = True
            raise
        if self.snapshot_every and entry["step"] % self.snapshot_every == 0 and entry["step"] > 0:
            self.on_snapshot(self.state.snapshot())
        return self.state.converged()
