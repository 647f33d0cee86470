"""Stylising a clip frame by frame without flicker (Ruder, Dosovitskiy and Brox, GCPR 2016).

The first frame is made like a still. Each later frame t starts from stylised frame t-1 warped to it by
the optical flow (``nst.video.flow``), the pixels the mask drops taken from content frame t, and adds the
temporal loss to Gatys et al.'s: the image is pulled towards the warped frame wherever the flows agree,
so strokes stay put on the things they paint instead of being redrawn at random every frame.

Frames stream through: only frame t-1 (content and stylised) is held, each stylised frame is written as it
ends, and a run started again skips the frames already written and goes on from the first one missing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image

from nst.config import Config
from nst.features import FeatureExtractor
from nst.images import save_image, write_atomically
from nst.snapshot import fingerprint
from nst.inputs import ImageLike
from nst.objective import extractor_for
from nst.result import device_name, versions
from nst.transfer import stylize
from nst.video.flow import consistency_mask, optical_flow, temporal_loss, warp, warping_error
from nst.video.frames import Clip, open_clip

# γ of the temporal loss, for images in [0, 1] and nst's default weights (content 3e4, style 3e3), from
# benchmarks/video.py (docs/video.md): on the pan, 1e9 cut the warping error to 0.03x that of independent
# frames with a style loss at most 1.07x theirs; 1e10 cut it to 0.004x but raised the style loss to 1.21x.
TEMPORAL_WEIGHT = 1e9
METRICS = "metrics.json"  # in the output folder, beside the frames


LATER_SHARE = 4  # a later frame may evaluate the loss a quarter as many times as the first frame did at its size


def later_frames(config: Config, first_evaluations: int, steps: int | None = None) -> Config:
    """The settings of the frames after the first: at the full size only (coarse-to-fine would blur the warm start),
    and at most a quarter of ``first_evaluations``, the evaluations of the loss the first frame made at its full size
    before its loss stopped falling: how far this pair's frames have to go, a later frame starting close to its
    result (and at least one step). Evaluations, not steps: each costs the same, and near a minimum a step's line
    search takes several. ``steps`` replaces that budget with a number of steps."""
    if steps is not None:
        return dataclasses.replace(config, start_size=0, steps=steps)
    return dataclasses.replace(config, start_size=0, evaluations=max(1, -(-first_evaluations // LATER_SHARE)))


def at_size(result) -> tuple[int, int]:
    """The steps a run (``nst.Result``) took at its last size, and the evaluations of the loss it made there."""
    last = result.history[-1]
    first = next(entry for entry in result.history if entry["size"] == last["size"])
    return last["step"] - first["step"], result.evaluations


@dataclass
class VideoResult:
    """What a clip produced: its frames' files, in order, and the per-frame metrics."""

    frames: list[Path]  # the stylised frames written so far, in order
    metrics: dict  # as in OUTPUT/metrics.json: settings, and per frame its losses, steps, time, warping error
    interrupted: bool = False  # stopped (Ctrl-C) during a frame: that frame was not written; run again to go on
    error: str | None = None  # why a frame's run failed (its loss became NaN or Inf): that frame was not written

    @property
    def warping_error(self) -> float | None:
        """The mean over frames 2.. of their temporal warping error (``nst.video.flow.warping_error``)."""
        errors = [f["warping_error"] for f in self.metrics["frames"] if f["warping_error"] is not None]
        return float(np.mean(errors)) if errors else None


@dataclass
class Previous:
    """Frame t-1: the content frame and the stylised frame as written (so a resumed run sees the same)."""

    content: np.ndarray  # (H, W, 3) in [0, 1]
    stylised: np.ndarray  # (H, W, 3) in [0, 1], 8-bit values


def _read_back(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0  # (H, W, 3)


@dataclass
class Motion:
    """How frame t-1 maps onto frame t."""

    backward: np.ndarray  # (H, W, 2) the flow from frame t to frame t-1
    mask: np.ndarray  # (H, W) the consistency weights c: 1 where stylised frame t-1 carries over
    warped: np.ndarray  # (H, W, 3) stylised frame t-1 warped to frame t

    def start(self, frame: np.ndarray) -> np.ndarray:
        """Frame t's starting image: the warped frame where the mask keeps it, content frame t where it does not
        (disoccluded pixels, motion boundaries)."""
        return self.mask[..., None] * self.warped + (1.0 - self.mask[..., None]) * frame

    def term(self, weight: float) -> Callable[[tf.Tensor], tf.Tensor]:
        """The weighted temporal loss of an image ``(1, H, W, 3)``, for ``stylize(terms=...)``."""
        warped, mask = tf.constant(self.warped[None]), tf.constant(self.mask[None, ..., None])  # (1, H, W, 3|1)
        return lambda image: weight * temporal_loss(image, warped, mask)


def motion(frame: np.ndarray, previous: Previous) -> Motion:
    """The flows between content frames t-1 and t in both directions, the mask and the warped stylised frame."""
    forward, backward = optical_flow(previous.content, frame), optical_flow(frame, previous.content)
    return Motion(backward, consistency_mask(forward, backward), warp(previous.stylised, backward))


def _frame_entry(index: int, result, seconds: float, error: float | None) -> dict:
    final, (steps, evaluations) = result.final, at_size(result)
    return {"frame": index + 1, "steps": result.history[-1]["step"], "steps_at_size": steps,
            "evaluations_at_size": evaluations, "seconds": round(seconds, 3),
            **{name: final[name] for name in ("content", "style", "tv", "total")},
            "temporal": final.get("temporal", 0.0), "warping_error": error, "stopped": result.stopped}


def _settings(style, config: Config, later_steps: int | None, temporal_weight: float) -> dict:
    """What the frames of one clip must share, as ``metrics.json`` holds it (JSON types: tuples are lists)."""
    styles = style if isinstance(style, list) else [style]
    return json.loads(json.dumps({
        "style": [str(s) if isinstance(s, (str, os.PathLike)) else f"pixels {fingerprint(s)}" for s in styles],
        "temporal_weight": temporal_weight, "config": dataclasses.asdict(config),
        "later_frames": {"steps": later_steps} if later_steps is not None else
        {"evaluations": f"1/{LATER_SHARE} of the first frame's at its size"}}))


def _metrics(clip: Clip, settings: dict, frames: list[dict]) -> dict:
    return {**settings, "frames_total": len(clip.names), "fps": clip.fps,
            "size": {"height": clip.size[0], "width": clip.size[1]}, "device": device_name(), "versions": versions(),
            "seconds": round(sum(f["seconds"] for f in frames), 3), "frames": frames}


def _finished(output: Path, clip: Clip, settings: dict) -> list[dict]:
    """The metrics of the frames already written (a resumed run), from the first one on until one is missing.

    Raises ``ValueError`` if they were made with other ``settings`` (``_metrics``' first keys): a clip of
    two styles or two step counts would flicker where they meet."""
    record = json.loads((output / METRICS).read_text()) if (output / METRICS).exists() else {"frames": []}
    done = next((i for i, name in enumerate(clip.names) if not (output / name).exists()), len(clip.names))
    changed = [key for key, value in settings.items() if record["frames"] and record.get(key) != value]
    if done and changed:
        raise ValueError(f"'{output}' holds frames made with another {changed[0].replace('_', ' ')}; give another "
                         f"output, or delete it to start afresh")
    return record["frames"][:done] if len(record["frames"]) >= done else []  # frames without metrics are made again


def stylize_video(frames: str | os.PathLike | Sequence[np.ndarray] | Clip, style: ImageLike | list[ImageLike],
                  output: str | os.PathLike, config: Config = Config(), temporal_weight: float = TEMPORAL_WEIGHT,
                  later_steps: int | None = None, callback: Callable | None = None,
                  extractor: FeatureExtractor | None = None) -> VideoResult:
    """Stylise a clip into the folder ``output``: one PNG per frame and ``metrics.json``.

    ``frames`` is a video file (anything ffmpeg reads), a folder of frames (sorted by name), or a sequence
    of arrays ``(H, W, 3)``; frames are read at long side ``config.size``. The first frame is ``stylize``
    with ``config``; each later frame runs with ``later_frames(config, ..., later_steps)``, from the warped
    previous frame, with the temporal loss weighted by ``temporal_weight`` (0: frames are independent, but
    still warm-started). Frames already in ``output`` are kept and the run goes on from the first missing.

    ``callback(step, losses, image)`` is called after each step of each frame; ``callback.start_frame(index,
    count, steps)`` (if it has one) before each frame, ``steps`` the most that frame may take, and
    ``callback.end_frame(index, entry)`` after it.
    """
    clip = open_clip(frames, config.size)
    output = Path(output)
    extractor = extractor_for(config, extractor=extractor)
    settings = _settings(style, config, later_steps, temporal_weight)
    entries = _finished(output, clip, settings)
    written = [output / name for name in clip.names[:len(entries)]]
    previous = None
    for index, frame in enumerate(clip.read() if len(entries) < len(clip.names) else ()):
        if index < len(entries) - 1:
            continue
        if index == len(entries) - 1:  # the last frame written: the next one starts from it
            previous = Previous(frame, _read_back(written[-1]))
            continue
        frame_config = config if not entries else later_frames(config, entries[0]["evaluations_at_size"],
                                                               later_steps)
        if hasattr(callback, "start_frame"):
            callback.start_frame(index, len(clip.names), min(frame_config.steps,
                                                             frame_config.evaluations or frame_config.steps))
        started = time.perf_counter()
        moved = None if previous is None else motion(frame, previous)
        result = stylize(frame, style, frame_config, callback=callback, extractor=extractor,
                         start=None if moved is None else moved.start(frame),
                         terms=None if moved is None else {"temporal": moved.term(temporal_weight)})
        if result.interrupted or result.error:
            return VideoResult(written, _metrics(clip, settings, entries),
                               result.interrupted, result.error)
        written.append(save_image(result.image, output / clip.names[index]))
        stylised = _read_back(written[-1])
        error = None if moved is None else warping_error(stylised, previous.stylised, moved.backward, moved.mask)
        entries.append(_frame_entry(index, result, time.perf_counter() - started, error))
        record = _metrics(clip, settings, entries)
        write_atomically(output / METRICS, lambda f: f.write(json.dumps(record, indent=1).encode()))
        if hasattr(callback, "end_frame"):
            callback.end_frame(index, entries[-1])
        previous = Previous(frame, stylised)
    return VideoResult(written, _metrics(clip, settings, entries))
