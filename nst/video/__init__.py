"""Video: a clip stylised frame by frame without flicker (Ruder, Dosovitskiy and Brox, GCPR 2016).

``nst.video.flow``: optical flow, warping, the consistency mask, the temporal loss; ``nst.video.frames``:
clips in and out; ``nst.video.clip``: ``stylize_video``; ``nst.video.cli``: the command line's video mode.
They need the ``video`` extra (OpenCV for the flow, imageio-ffmpeg to read and write video), which users
who only make stills can skip: this module imports neither, so the command line can ask it about a path.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

MISSING = "video needs OpenCV and ffmpeg, which the video extra installs: pip install 'nst[video]'"
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".gif")  # read as clips by the command line


def load(module: str) -> ModuleType:
    """``nst.video.<module>``, or ``ImportError(MISSING)`` when the video extra is not installed."""
    try:
        return importlib.import_module(f"nst.video.{module}")
    except ModuleNotFoundError as e:
        if e.name not in ("cv2", "imageio_ffmpeg"):
            raise
        raise ImportError(MISSING) from None


def is_video(path: str | os.PathLike, output: str | os.PathLike | None = None) -> bool:
    """Whether the command line takes ``path`` as a clip: a video file, or a GIF of more than one frame, unless
    ``output`` asks for a still image (a GIF of one frame, or one painted into a .png or .jpg, stays a still: its
    first frame)."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() not in VIDEO_SUFFIXES:
        return False
    if path.suffix.lower() != ".gif":
        return True
    if output is not None and Path(output).suffix.lower() in (".png", ".jpg", ".jpeg"):
        return False
    from PIL import Image

    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) > 1
    except OSError:
        return False  # not a GIF at all: the still's loader says so


def run_video(args: argparse.Namespace, config) -> int:
    """The command line's video mode (``nst.video.cli.run``) with ``config`` (``nst.Config``); exit 2 with one line
    when the extra is missing."""
    try:
        cli = load("cli")
    except ImportError as e:
        print(f"nst: error: {e}", file=sys.stderr)
        return 2
    return cli.run(args, config)
