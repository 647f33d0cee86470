"""Snapshots: everything a stopped run needs to continue exactly where it was.

A snapshot holds the optimiser's whole state (Adam's image and moments, or every work array of
L-BFGS-B), the best image so far, the history and the config. Continuing from it with
``stylize(..., resume=snapshot)`` takes the same steps as the run that was never stopped, so with
the same inputs and device (and TensorFlow's determinism switch) it ends on the same image.

Saved as one uncompressed ``.npz``: L-BFGS-B keeps 2 x 10 past steps of float64 per pixel value, so
a snapshot of an L-BFGS run is about 700 bytes per pixel (140 MB at 512 x 384, 2.2 GB at 2048 x 1536);
an Adam snapshot is about 50 bytes per pixel.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst.config import Config
from nst.images import write_atomically

RESUMABLE_CHANGES = ("steps", "evaluations", "tolerance")  # the only settings a resumed run may change


def fingerprint(*images: tf.Tensor | None) -> str:
    """A short hash of the input images' pixels: a snapshot only continues the run on the same inputs."""
    digest = hashlib.sha256()
    for image in images:
        digest.update(b"-" if image is None else np.asarray(image, np.float32).tobytes())
    return digest.hexdigest()[:16]


@dataclass
class Snapshot:
    """The state of a run at the end of a step."""

    config: Config
    inputs: str  # fingerprint() of the content and style images
    size_index: int  # which coarse-to-fine size was running (0: the smallest)
    best_image: np.ndarray  # (1, h, w, 3): the lowest-loss image at that size
    state: dict[str, np.ndarray]  # the optimiser's: the current iterate and what it remembers
    history: list[dict]  # the run's history up to the snapshot
    seconds: float  # time spent so far
    tile: int | None = None  # at a size optimised in tiles (nst.tiles): which tile was running
    canvas: np.ndarray | None = None  # (1, H, W, 3) there: the image with the tiles before it pasted in
    budget: int | None = None  # the memory budget (bytes) the run was planned with, so it resumes tiled the same way

    @property
    def step(self) -> int:
        return self.history[-1]["step"]

    def check(self, config: Config, inputs: str) -> None:
        """Raise ``ValueError`` unless a run with ``config`` on ``inputs`` can continue from this snapshot."""
        if inputs != self.inputs:
            raise ValueError("the snapshot was made from other content or style images (or another --size)")
        for f in dataclasses.fields(Config):
            if f.name not in RESUMABLE_CHANGES and getattr(config, f.name) != getattr(self.config, f.name):
                raise ValueError(f"the snapshot was made with {f.name}={getattr(self.config, f.name)!r}, "
                                 f"not {getattr(config, f.name)!r}; only {', '.join(RESUMABLE_CHANGES[:-1])} and "
                                 f"{RESUMABLE_CHANGES[-1]} may change")

    def save(self, path: str | os.PathLike) -> Path:
        """Write the snapshot to ``path`` (.npz) atomically: a crash while saving keeps the previous one."""
        meta = {"config": dataclasses.asdict(self.config), "inputs": self.inputs, "size_index": self.size_index,
                "history": self.history, "seconds": self.seconds, "tile": self.tile, "budget": self.budget}
        arrays = {"meta": np.array(json.dumps(meta)), "best_image": self.best_image,
                  **({} if self.canvas is None else {"canvas": self.canvas}),
                  **{f"state/{name}": value for name, value in self.state.items()}}
        return write_atomically(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Snapshot:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                state = {name.split("/", 1)[1]: data[name] for name in data.files if name.startswith("state/")}
                best_image = data["best_image"]
                canvas = data["canvas"] if "canvas" in data.files else None
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"cannot read the snapshot '{path}': {e}") from None
        return cls(config=Config(**meta["config"]), inputs=meta["inputs"], size_index=meta["size_index"],
                   best_image=best_image, state=state, history=meta["history"], seconds=meta["seconds"],
                   tile=meta.get("tile"), canvas=canvas, budget=meta.get("budget"))
