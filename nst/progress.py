"""Callbacks that show a run while it goes: a progress bar, and a live view for notebooks.

Both are ``nst.recorder.Callback``s: ``stylize`` and friends call them after each step with
``(step, losses, image)``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import tensorflow as tf

from nst.recorder import Callback, RunState
from nst.result import Result


class ProgressBar(Callback):
    """The run's progress where it prints: a bar redrawn in place in a terminal, a widget in Jupyter, and a plain
    line every tenth of the work or every 30 s where the output goes to a file or a pipe (a log, CI, nohup). Each
    shows the share of the work done, the size (and tile) optimised, the loss and the time left for the whole run,
    and ends at 100 % with how the run ended.

    The bar counts work, not steps: a step costs in proportion to its pixels (4x per doubling of the size), so
    the time left stays right across the coarse-to-fine sizes; each tile of a tiled size counts for its share of
    the size. A size that stops early (``config.tolerance``) skips its remaining steps, and the bar jumps to the
    next. It reads where the run is from the run's state (``start``); called without it, it counts steps.
    """

    LINES = 10  # plain lines: one per tenth of the work ...
    LINE_SECONDS = 30.0  # ... or per 30 s, whichever comes first

    def __init__(self, desc: str | None = None, file: TextIO | None = None, **tqdm_kwargs) -> None:
        self.desc, self.file, self.tqdm_kwargs = desc or "nst", file, tqdm_kwargs
        self.state: RunState | None = None
        self.cost: list[float] = [1.0]  # each size's step, in steps at the last size
        self.n, self.total, self.postfix = 0.0, None, ""
        self.bar = None  # a tqdm bar in a terminal or Jupyter; None while there is none, and for plain lines
        self.plain = not interactive(file)
        self.started = self.last_line = time.perf_counter()
        self.lines = 0  # tenths of the work said so far, in plain lines

    def start(self, state: RunState) -> None:
        self.state, self.started = state, time.perf_counter()
        steps = state.config.steps
        if state.plan is not None:
            last = state.plan.sizes[-1][0] * state.plan.sizes[-1][1]
            self.cost = [height * width / last for height, width in state.plan.sizes]
        self.total = steps * sum(self.cost)
        if not self.plain:
            from tqdm.auto import tqdm  # here: tqdm.auto warns at import in a notebook without ipywidgets

            self.bar = tqdm(desc=self.desc, total=self.total, file=self.file, **self.tqdm_kwargs,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]")

    def __call__(self, step: int, losses: dict, image: tf.Tensor) -> None:
        done, where = self._position(step, image)
        self.postfix = f"{where}, loss {losses['total']:.3g}"
        self._show(done)

    def _position(self, step: int, image: tf.Tensor) -> tuple[float, str]:
        """The work done after ``step`` (in steps at the last size) and where the run is, in words."""
        state = self.state
        if state is None or state.plan is None:  # no plan: count steps
            return step, f"step {step} at {image.shape[2]}x{image.shape[1]}"
        index, steps, sizes = state.size_index, state.config.steps, state.plan.sizes
        height, width = sizes[index]
        tiles = state.plan.tile_count(index)
        tile = state.tile or 0
        done = steps * (sum(self.cost[:index]) + self.cost[index] * tile / tiles) + (
            step - state.first_step) * self.cost[index] / tiles
        where = f"step {step - state.first_step}/{steps} at {width}x{height}"
        if tiles > 1:
            where = f"tile {tile + 1}/{tiles}, {where}"
        if len(sizes) > 1:
            where += f" (size {index + 1} of {len(sizes)})"
        return done, where

    def _show(self, done: float) -> None:
        self.n = done
        if self.bar is not None:
            self.bar.set_postfix_str(self.postfix, refresh=False)
            self.bar.update(done - self.bar.n)  # draws the bar with the text above
            return
        now = time.perf_counter()
        tenths = int(10 * done / self.total) if self.total else 0
        if tenths > self.lines or now - self.last_line >= self.LINE_SECONDS:
            self.lines, self.last_line = max(tenths, self.lines), now
            self._line(f"{self._percent()}, {self.postfix}, {clock(now - self.started)} elapsed, "
                       f"{clock(self._left(now))} left")

    def _percent(self) -> str:
        return f"{100 * self.n / self.total:3.0f}%" if self.total else f"step {self.n:.0f}"

    def _left(self, now: float) -> float:
        return (now - self.started) * (self.total - self.n) / self.n if self.total and self.n else 0.0

    def _line(self, text: str) -> None:
        print(f"{self.desc}: {text}", file=self.file or sys.stderr, flush=True)

    def end(self, result: Result) -> None:
        """The bar at 100 % (a run that ended early skipped the rest), with how the run ended."""
        ended = ("interrupted" if result.interrupted else f"stopped: {result.error}" if result.error
                 else result.stopped_note or "done")
        self.n = self.total if self.total else self.n
        summary = f"{result.steps} steps in {clock(result.seconds)}; {ended}"
        if self.bar is not None:
            self.bar.set_postfix_str(summary, refresh=False)
            self.bar.update(self.n - self.bar.n)
        else:
            self._line(f"{self._percent()}, {summary}")
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def interactive(file: TextIO | None) -> bool:
    """True in a terminal, and in a Jupyter kernel when no file is given (its widget); False for a file or a pipe."""
    if file is None and _in_kernel():
        return True
    return bool(getattr(file or sys.stderr, "isatty", lambda: False)())


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel: IPython's shell there has a kernel (a process that only imported
    ipykernel, such as pytest with nbval, has none)."""
    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    return shell is not None and hasattr(shell, "kernel")


def clock(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"


class LiveView(Callback):
    """Redraws, every ``every`` steps, the loss curves (log scale) beside the current image.

    Like d2l's ``Animator``: the figure is replaced in place with ``clear_output(wait=True)``.
    """

    def __init__(self, every: int = 10, title: str = "") -> None:
        self.every, self.title = every, title
        self.steps: list[int] = []
        self.losses: dict[str, list[float]] = {}

    def __call__(self, step: int, losses: dict, image: tf.Tensor) -> None:
        self.steps.append(step)
        for name, value in losses.items():
            self.losses.setdefault(name, []).append(value)
        if step % self.every == 0:
            self.draw(image)

    def draw(self, image: tf.Tensor) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import clear_output, display

        from nst.images import to_uint8

        fig, (curves, picture) = plt.subplots(1, 2, figsize=(10, 4))
        for name, values in self.losses.items():
            if any(v > 0 for v in values):
                curves.plot(self.steps, values, label=name)
        curves.set(xlabel="step", ylabel="weighted loss", yscale="log", title=self.title)
        curves.legend()
        picture.imshow(to_uint8(image))
        picture.set_title(f"step {self.steps[-1]}, {image.shape[2]}x{image.shape[1]} px")
        picture.axis("off")
        fig.tight_layout()
        clear_output(wait=True)
        display(fig)
        plt.close(fig)


def plot_losses(histories: dict[str, list[dict]], term: str = "total", relative: bool = False, ax=None) -> None:
    """One curve of ``term`` per labelled history (``Result.history``), log scale.

    ``relative=True`` divides each curve by its first value, so runs with different weights compare.
    """
    import matplotlib.pyplot as plt

    show = ax is None
    if show:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, history in histories.items():
        values = [entry[term] for entry in history]
        if relative and values[0] > 0:
            values = [v / values[0] for v in values]
        ax.plot([entry["step"] for entry in history], values, label=label)
    ax.set(xlabel="step", ylabel=f"{term} loss" + (" / first" if relative else ""), yscale="log")
    ax.legend()
    if show:
        plt.show()
