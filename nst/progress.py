"""Callbacks that show a run while it goes: a progress bar, and a live view for notebooks.

Both have the signature ``callback(step, losses, image)`` that ``stylize`` and friends call.
"""

from __future__ import annotations

import tensorflow as tf


class ProgressBar:
    """A tqdm bar (text in a terminal, a widget in Jupyter) showing the size being optimised and the losses.

    ``steps=None`` (the default) counts steps without a total: with coarse-to-fine sizes and early
    stopping, the number of steps is known only at the end.
    """

    def __init__(self, steps: int | None = None, desc: str | None = None, **tqdm_kwargs) -> None:
        # Imported here: tqdm.auto warns at import in a notebook without ipywidgets, even if no bar is used.
        from tqdm.auto import tqdm

        self.bar = tqdm(total=steps, desc=desc, unit="step", **tqdm_kwargs)

    def __call__(self, step: int, losses: dict, image: tf.Tensor) -> None:
        self.bar.update(step - self.bar.n)
        size = f"{image.shape[2]}x{image.shape[1]}"
        self.bar.set_postfix({"size": size, **{name: f"{value:.3g}" for name, value in losses.items()}},
                             refresh=False)

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
