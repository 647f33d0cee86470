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
from pathlib import Path

from tqdm.auto import tqdm

from nst.config import Config
from nst.images import SAVE_FORMATS, load_image, write_atomically
from nst.jobs import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED
from nst.video import is_video
from nst.video.clip import METRICS, later_frames, stylize_video
from nst.video.frames import ENCODINGS, Clip, open_clip, write_video
from nst.weights import WeightsError


class FrameBar:
    """A tqdm bar over the clip's frames (a frame counts in parts as its steps go), with the time left for
    the clip; the postfix says the frame, its step and its loss. The callback of ``stylize_video``."""

    def __init__(self, clip: Clip, done: int, steps: int, later_steps: int) -> None:
        self.bar = tqdm(total=len(clip.names), initial=done, unit="frame", desc="video",
                        bar_format="{desc}: {n:.1f}/{total} frames |{bar}| [{elapsed}<{remaining}{postfix}]")
        self.steps, self.later_steps = steps, later_steps
        self.index, self.count, self.first_step = done, len(clip.names), None

    def start_frame(self, index: int, count: int) -> None:
        self.index, self.first_step = index, None

    def __call__(self, step: int, losses: dict, image) -> None:
        self.first_step = step if self.first_step is None else self.first_step
        most = self.steps if self.index == 0 else self.later_steps
        done = min(step - self.first_step, most) / max(most, 1)
        self.bar.set_postfix_str(f"frame {self.index + 1}/{self.count}, step {step - self.first_step}/{most}, "
                                 f"loss {losses['total']:.3g}", refresh=False)
        self.bar.update(self.index + done - self.bar.n)

    def end_frame(self, index: int, entry: dict) -> None:
        self.bar.update(index + 1 - self.bar.n)

    def close(self) -> None:
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
        bar = FrameBar(clip, done, config.steps, later_frames(config).steps)
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
