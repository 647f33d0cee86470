"""The command line's video mode: ``python -m nst clip.mp4 painting.jpg -o out.mp4``, or
``python -m nst frames/ painting.jpg -o out/ --video`` for a folder of frames taken as one clip.

A video is stylised into the folder ``OUTPUT.frames/`` (one PNG per frame and metrics.json), then encoded
at the input's frame rate with its audio track, written to a temporary file and renamed; the folder is
removed and its metrics kept as ``--metrics`` (default ``OUTPUT.json``). A folder of frames is stylised
straight into ``-o``. Run the same command again after a stop and it goes on from the first frame missing.
Exit codes as for stills: 0 done, 2 bad input (one line, nothing written), 3 the loss became NaN or Inf,
130 stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

from tqdm.auto import tqdm

from nst.config import Config
from nst.images import SAVE_FORMATS, load_image, write_atomically
from nst.jobs import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED
from nst.progress import ProgressBar, clock, interactive
from nst.video import is_video
from nst.video.clip import METRICS, stylize_video
from nst.video.frames import ENCODINGS, Clip, open_clip, write_video
from nst.weights import WeightsError


class FrameBar:
    """The clip's progress where it prints, counted in frames (a frame counts in parts as its steps go), with the
    time left for the clip. In a terminal or Jupyter a tqdm bar whose postfix says the frame, its step and its
    loss; where the output goes to a file or a pipe (a log, CI, nohup), a plain line as each frame ends and every
    30 s within one (``nst.progress.ProgressBar``'s rule). The callback of ``stylize_video``."""

    LINE_SECONDS = ProgressBar.LINE_SECONDS

    def __init__(self, clip: Clip, done: int, file: TextIO | None = None) -> None:
        self.file, self.count, self.done_before = file, len(clip.names), done
        self.bar = None if not interactive(file) else tqdm(
            total=self.count, initial=done, unit="frame", desc="video", file=file,
            bar_format="{desc}: {n:.1f}/{total} frames |{bar}| [{elapsed}<{remaining}{postfix}]")
        self.index, self.most, self.first_step = done, 1, None
        self.started = self.last_line = time.perf_counter()
        self.later: list[float] = []  # the seconds of each later frame ended: the pace of the rest of the clip

    def start_frame(self, index: int, count: int, steps: int) -> None:
        self.index, self.most, self.first_step = index, steps, None

    def __call__(self, step: int, losses: dict, image) -> None:
        self.first_step = step if self.first_step is None else self.first_step
        done = min(step - self.first_step, self.most)
        where = f"frame {self.index + 1}/{self.count}, step {done}/{self.most}, loss {losses['total']:.3g}"
        self._show(self.index + done / max(self.most, 1), where, time.perf_counter() - self.last_line
                   >= self.LINE_SECONDS)

    def end_frame(self, index: int, entry: dict) -> None:
        if index > 0:
            self.later.append(entry["seconds"])
        error = "" if entry["warping_error"] is None else f", warping error {entry['warping_error']:.2g}"
        steps = entry["steps_at_size"]
        self._show(index + 1, f"frame {index + 1}/{self.count} done: {steps} step{'s' * (steps != 1)} in "
                              f"{clock(entry['seconds'])}{error}", True)

    def _show(self, n: float, where: str, line: bool) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(where, refresh=False)
            self.bar.update(n - self.bar.n)
        elif line:
            now = time.perf_counter()
            pace = (sum(self.later) / len(self.later) if self.later  # the first frame costs several later ones
                    else (now - self.started) / (n - self.done_before) if n > self.done_before else 0.0)
            print(f"video: {n:.1f}/{self.count} frames, {where}, {clock(now - self.started)} elapsed, "
                  f"{clock(pace * (self.count - n))} left", file=self.file or sys.stderr, flush=True)
            self.last_line = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _paths(args: argparse.Namespace) -> tuple[Path, list[Path], Path, Path]:
    """The clip, the style images, the output (a video file, or a folder of frames) and the working folder;
    raises ``ValueError`` with one line for what cannot be a video run."""
    content = Path(args.content) if args.content else None
    styles = [Path(s) for s in (args.styles or args.style_flag or [])]
    if content is None or not styles:
        raise ValueError("video needs a clip (a video file, or a folder of frames with --video) and a style image")
    if args.mask or args.batch_size or args.save_every:
        raise ValueError("--mask, --batch-size and --save-every are for stills; leave them out for a video")
    if content.is_file() and not is_video(content):
        raise ValueError(f"'{content}' is a single image; --video takes a video file or a folder of frames")
    if content.is_dir():
        output = Path(args.output) if args.output else Path("outputs") / f"{content.name}_{styles[0].stem}"
        if output.suffix.lower() in (*ENCODINGS, *SAVE_FORMATS) or output.is_file():
            raise ValueError(f"with a folder of frames, -o must be a folder, not '{output}'")
        return content, styles, output, output
    output = Path(args.output) if args.output else Path("outputs") / f"{content.stem}_{styles[0].stem}.mp4"
    if output.suffix.lower() not in ENCODINGS:
        raise ValueError(f"output '{output}' must end in {', '.join(ENCODINGS)}")
    if output.resolve() == content.resolve():
        raise ValueError(f"output '{output}' is the input clip; choose another name")
    return content, styles, output, output.with_name(output.name + ".frames")


def run(args: argparse.Namespace, config: Config) -> int:
    """Stylise the clip ``args`` names with ``config`` and write it; returns the exit code."""
    try:
        content, styles, output, folder = _paths(args)
        if output != folder and output.exists() and not folder.exists():
            print(f"nst: note: {output} exists and has no {folder.name} folder: finished before; skipped",
                  file=sys.stderr)
            return 0
        clip = open_clip(content, config.size)  # decoded and checked before the network loads
        for style in styles:
            load_image(style, config.size)  # a bad style image fails now, not after the first frame's network
        done = sum((folder / name).exists() for name in clip.names)
        if done == len(clip.names) and output == folder:
            print(f"nst: note: {output} has all {done} frames: finished before; skipped", file=sys.stderr)
            return 0
        bar = FrameBar(clip, done)
        try:
            result = stylize_video(clip, styles, folder, config, callback=bar)
        finally:
            bar.close()
    except (ValueError, OSError, WeightsError) as e:
        print(f"nst: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        result = None
    if result is None or result.interrupted:
        print(f"interrupted: the frames finished are in {folder}; the same command goes on from the first "
              f"missing", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.error:
        print(f"nst: error: {result.error}; the frames before it are in {folder}", file=sys.stderr)
        return EXIT_FAILED
    metrics = Path(args.metrics) if args.metrics else output.with_suffix(".json") if output != folder else None
    if output != folder:
        write_video(result.frames, output, clip.fps, clip.audio)
    if metrics is not None:
        write_atomically(metrics, lambda f: f.write((folder / METRICS).read_bytes()))
    if output != folder:
        shutil.rmtree(folder)
    error = "" if result.warping_error is None else f", mean warping error {result.warping_error:.3g}"
    print(f"saved {output}: {len(result.frames)} frames in {result.metrics['seconds']:.1f} s{error}", file=sys.stderr)
    return 0
