"""What a run produced, and the metrics published with it: model, config, losses per step, time, device."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from dataclasses import dataclass

import keras
import tensorflow as tf

from nst import memory
from nst.config import VERSION, Config
from nst.features import cpuinfo
from nst.plan import Plan
from nst.snapshot import Snapshot


@dataclass
class Result:
    """What a run produced: the lowest-loss image seen and the losses of every step."""

    image: tf.Tensor  # (1, H, W, 3) in [0, 1]
    history: list[dict]  # per step: step, size (long side), [tile], evaluations of the loss at that size so far,
    # seconds since the start, content, style, tv, total
    model: dict  # FeatureExtractor.describe()
    config: Config
    seconds: float
    final: dict  # the losses of `image` (nst.recorder.RunState.final): step, size, content, style, tv, total
    interrupted: bool = False  # stopped by Ctrl-C (or SIGTERM in the CLI)
    error: str | None = None  # why the run stopped early when the loss became NaN or Inf
    snapshot: Snapshot | None = None  # where to resume from, when the callback stopped the run between steps
    stopped: str | None = None  # why the last size ended before config.steps: the tolerance, or L-BFGS-B
    stopped_note: str | None = None  # the same, saying where and after how many steps
    sizes: list[tuple[int, int]] = dataclasses.field(default_factory=list)  # (height, width) of each size optimised
    plan: Plan | None = None  # how each size was processed: whole or in tiles, and the memory budget
    weights: dict | None = None  # the weights the run used: content and style after the strength and the pair's
    # scales (nst.balance), tv, and the pair's scales C and S when balance="auto"
    evaluations: int = 0  # of the loss at the last size (or tile), L-BFGS's line searches' trial points included

    @property
    def steps(self) -> int:
        """The optimiser steps taken, over all sizes and tiles: the last ``step`` of the history."""
        return self.history[-1]["step"] if self.history else 0

    def metrics(self) -> dict:
        """Everything worth publishing about the run, JSON-serialisable."""
        return {
            "model": self.model,
            "config": dataclasses.asdict(self.config),
            "image_size": {"height": int(self.image.shape[1]), "width": int(self.image.shape[2])},
            "sizes": [{"height": int(height), "width": int(width)} for height, width in self.sizes],
            "device": device_name(),
            "versions": versions(),
            "weights": self.weights,
            "final": {k: self.final[k] for k in ("step", "size", "content", "style", "tv", "total")},
            "steps": self.steps,
            "evaluations_at_last_size": self.evaluations,
            "seconds": round(self.seconds, 3),
            "steps_per_second": round(self.steps / self.seconds, 3) if self.seconds > 0 else None,
            "interrupted": self.interrupted,
            "error": self.error,
            "stopped": self.stopped,
            "memory": {**self.plan.metrics(), "peak": memory.peak_memory()} if self.plan else None,
            "history": self.history,
        }


def device_name() -> str:
    """The GPU's name if TensorFlow sees one, else the CPU's."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return "GPU: " + tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    names = [line.split(":", 1)[1].strip() for line in cpuinfo().splitlines() if line.startswith("model name")]
    cpu = names[0] if names else platform.processor() or platform.machine()
    return f"CPU: {cpu} ({os.cpu_count()} cores)"


def versions() -> dict:
    return {"python": sys.version.split()[0], "tensorflow": tf.__version__, "keras": keras.__version__,
            "nst": VERSION}
