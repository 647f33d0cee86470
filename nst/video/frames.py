"""Clips in and out: a video file (anything ffmpeg reads), a folder of frames, or arrays, streamed one
frame at a time so that memory does not grow with the clip's length.

Video goes through ffmpeg as imageio-ffmpeg ships it (its own binary: nothing to install system-wide).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import imageio_ffmpeg
import numpy as np
from PIL import Image

from nst.config import MIN_SIZE
from nst.images import fit_size, load_image

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")  # what a folder of frames may hold
# What each output suffix is encoded with: (video codec, pixel format, audio codec, or None: no audio).
ENCODINGS = {".mp4": ("libx264", "yuv420p", "aac"), ".mov": ("libx264", "yuv420p", "aac"),
             ".webm": ("libvpx-vp9", "yuv420p", "libopus"), ".gif": ("gif", "rgb8", None)}


@dataclass
class Clip:
    """A clip to stylise: how many frames, what each stylised frame is called, and how to read them."""

    names: list[str]  # file name of each stylised frame, in order
    size: tuple[int, int]  # (height, width) of the frames as read
    fps: float | None  # frames per second of a video file, else None
    audio: Path | None  # a video file with an audio track, to copy it from
    read: Callable[[], Iterator[np.ndarray]]  # a fresh iterator over the frames, (H, W, 3) float32 in [0, 1]


def _resized(frame: np.ndarray, size: int | None) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 or float frame as float32 in [0, 1], its long side ``size`` (area resampling)."""
    frame = np.asarray(frame)
    frame = frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float32)
    height, width = frame.shape[:2]
    if size is not None and max(height, width) != size:
        frame = cv2.resize(frame, fit_size(width, height, size), interpolation=cv2.INTER_AREA)
    return np.clip(frame, 0.0, 1.0)


def _checked_size(height: int, width: int, size: int | None, what: str) -> tuple[int, int]:
    if size is not None:
        width, height = fit_size(width, height, size)
    if min(height, width) < MIN_SIZE:
        raise ValueError(f"{what} would be {width}x{height} px; VGG19 needs at least {MIN_SIZE} px on each side")
    return height, width


# What ffmpeg's error says, and the line the user gets: the first match wins, else ffmpeg's own last line.
FFMPEG_ERRORS = (("Invalid data found", "is not a video file ffmpeg can read"),
                 ("no decoder found", "has a video codec this ffmpeg cannot decode"),
                 ("unknown codec", "has a video codec this ffmpeg cannot decode"),
                 ("does not contain any stream", "has no video frames"),
                 ("matches no streams", "has no video frames"))


def video_clip(path: Path, size: int | None) -> Clip:
    """A video file: its frame count (ffmpeg decodes it once to count), frame rate and audio track."""
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
        reader.close()
        count = imageio_ffmpeg.count_frames_and_secs(str(path))[0]
    except (OSError, RuntimeError) as e:
        message = str(e).strip()
        fallback = f"could not be read as a video ({message.splitlines()[-1] if message else 'ffmpeg failed'})"
        reason = next((why for clue, why in FFMPEG_ERRORS if clue in message), fallback)
        raise ValueError(f"'{path}' {reason}") from None
    if not count:
        raise ValueError(f"'{path}' has no video frames")
    width, height = meta["size"]
    shape = _checked_size(height, width, size, f"'{path}'")

    def read() -> Iterator[np.ndarray]:
        frames = imageio_ffmpeg.read_frames(str(path))
        next(frames)  # the meta data
        for raw in frames:
            yield _resized(np.frombuffer(raw, np.uint8).reshape(height, width, 3), size)

    names = [f"frame_{index + 1:05d}.png" for index in range(count)]
    return Clip(names, shape, float(meta["fps"]), path if meta.get("audio_codec") else None, read)


def folder_clip(folder: Path, size: int | None) -> Clip:
    """A folder of frames sorted by name; they must all have the same size (checked from their headers)."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith("."))
    if not paths:
        raise ValueError(f"'{folder}' has no frames ({', '.join(FRAME_SUFFIXES)})")
    sizes = {}
    for path in paths:
        try:
            with Image.open(path) as image:
                sizes[path] = image.size
        except OSError:
            raise ValueError(f"'{path}' is not an image Pillow can read") from None
    odd = next((p for p in paths if sizes[p] != sizes[paths[0]]), None)
    if odd is not None:
        raise ValueError(f"the frames of '{folder}' differ in size: {paths[0].name} is "
                         f"{'x'.join(map(str, sizes[paths[0]]))} px, {odd.name} is {'x'.join(map(str, sizes[odd]))} px")
    width, height = sizes[paths[0]]
    shape = _checked_size(height, width, size, f"the frames of '{folder}'")
    return Clip([p.with_suffix(".png").name for p in paths], shape, None, None,
                lambda: (load_image(p, size).numpy()[0] for p in paths))


def array_clip(frames: Sequence[np.ndarray], size: int | None) -> Clip:
    """Frames given as arrays ``(H, W, 3)``, uint8 or floats in [0, 1], all of one size."""
    if not len(frames):
        raise ValueError("the clip has no frames")
    shapes = {np.shape(frame) for frame in frames}
    if len(shapes) > 1 or len(next(iter(shapes))) != 3 or next(iter(shapes))[2] != 3:
        raise ValueError(f"the frames must all be arrays (H, W, 3) of one size; got shapes {sorted(shapes)}")
    height, width = next(iter(shapes))[:2]
    shape = _checked_size(height, width, size, "the frames")
    names = [f"frame_{index + 1:05d}.png" for index in range(len(frames))]
    return Clip(names, shape, None, None, lambda: (_resized(frame, size) for frame in frames))


def open_clip(source: str | os.PathLike | Sequence[np.ndarray] | Clip, size: int | None) -> Clip:
    """A video file, a folder of frames, or a sequence of arrays, read at long side ``size`` (a ``Clip``
    opened before is returned as it is)."""
    if isinstance(source, Clip):
        return source
    if not isinstance(source, (str, os.PathLike)):
        return array_clip(source, size)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"'{path}' does not exist")
    return folder_clip(path, size) if path.is_dir() else video_clip(path, size)


def write_video(frames: Sequence[Path], output: Path, fps: float, audio: Path | None = None) -> None:
    """Encode the frame files into ``output`` at ``fps``, with the audio track of ``audio`` if given and the
    format carries sound. Atomically: ffmpeg writes a hidden file beside it (ffmpeg picks the container from
    the suffix, which it keeps), renamed to ``output`` once complete; removed on any error."""
    codec, pixel_format, audio_codec = ENCODINGS[output.suffix.lower()]
    width, height = Image.open(frames[0]).size
    partial = output.with_name(f".{output.name}.partial{output.suffix}")
    try:
        writer = imageio_ffmpeg.write_frames(
            str(partial), (width, height), fps=fps, codec=codec, pix_fmt_out=pixel_format, macro_block_size=1,
            # 4:2:0 chroma needs even sides: ffmpeg pads an odd one with a black row or column
            output_params=["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"] if pixel_format == "yuv420p" else [],
            audio_path=str(audio) if audio and audio_codec else None, audio_codec=audio_codec,
            ffmpeg_log_level="error")
        writer.send(None)  # starts ffmpeg
        for path in frames:
            writer.send(np.asarray(Image.open(path).convert("RGB")))  # (H, W, 3) uint8
        writer.close()
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
