"""Callbacks that show a run while it goes: a progress bar, and a live view for notebooks.

Both have the signature ``callback(step, losses, image)`` that ``stylize`` and friends call.
"""

from __future__ import annotations

import tensorflow as tf


class ProgressBar:
    """A tqdm bar (text in a terminal, a widget in Jupyter): the step out of the most the run takes, the
    size being optimised, the loss, and the time left for the whole run.

    ``stylize`` calls ``start(sizes, steps)`` before the first step. The bar then counts work, not
    steps: a step costs in proportion to its pixels (4x per doubling of the size), so the time left
    stays right across the coarse-to-fine sizes. A size that stops early (``config.tolerance``) skips
    its remaining steps, and the bar jumps to the next size. At a size optimised in tiles, ``stylize`` calls
    ``start_tile(size_index, tile, tiles)`` as each tile starts; each tile's steps count for its share of
    the size. Without ``start`` it just counts steps.
    """

    def __init__(self, desc: str | None = None, **tqdm_kwargs) -> None:
        # Imported here: tqdm.auto warns at import in a notebook without ipywidgets, even if no bar is used.
        from tqdm.auto import tqdm

        self.bar = tqdm(desc=desc, unit="step", **tqdm_kwargs)
        self.sizes: list[tuple[int, int]] = []
        self.steps = 0
        self.first_step: dict = {}  # size index, or (size index, tile), -> the step it started at
        self.tiling: tuple[int, int, int] | None = None  # (size index, tile, tiles) at a tiled size

    def start(self, sizes: list[tuple[int, int]], steps: int) -> None:
        """The run's plan: ``(height, width)`` of each size, smallest first, and the most steps at each."""
        self.sizes, self.steps = list(sizes), steps
        last = sizes[-1][0] * sizes[-1][1]
        self.cost = [height * width / last for height, width in sizes]  # in steps at the full size
        self.bar.bar_format = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"
        self.bar.reset(total=steps * sum(self.cost))

    def start_tile(self, size_index: int, tile: int, tiles: int) -> None:
        self.tiling = (size_index, tile, tiles)

    def __call__(self, step: int, losses: dict, image: tf.Tensor) -> None:
        height, width = image.shape[1:3]
        where, done = f"{width}x{height}", step
        if self.tiling is not None:  # the image is a tile
            index, tile, tiles = self.tiling
            first = self.first_step.setdefault(self.tiling[:2], step)
            done = self.steps * (sum(self.cost[:index]) + self.cost[index] * tile / tiles) + (
                step - first) * self.cost[index] / tiles
            height, width = self.sizes[index]
            where = (f"tile {tile + 1}/{tiles}, step {step - first}/{self.steps} at {width}x{height} "
                     f"(size {index + 1} of {len(self.sizes)})")
        elif (height, width) in self.sizes:  # else no plan: count steps
            index = self.sizes.index((height, width))
            first = self.first_step.setdefault(index, step)  # steps go on across sizes; count from 0 at each
            done = self.steps * sum(self.cost[:index]) + (step - first) * self.cost[index]
            where = f"step {step - first}/{self.steps} at {where}"
            if len(self.sizes) > 1:
                where += f" (size {index + 1} of {len(self.sizes)})"
        self.bar.set_postfix_str(f"{where}, loss {losses['total']:.3g}", refresh=False)
        self.bar.update(done - self.bar.n)  # draws the bar with the text above

    def close(self) -> None:
        self.bar.close()


class LiveView:
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
