"""Reading, writing and showing images as float32 tensors ``(1, H, W, 3)`` with values in [0, 1]."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps

from nst.imagefile import opened
from nst.vgg19 import MIN_SIZE

EXIF_ORIENTATION = 0x0112
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparent pixels become white, 16-bit greys keep their range."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(image, dtype=np.float64)
        top = 65535.0 if grey.max() > 255 else 255.0
        image = Image.fromarray(np.clip(grey / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image.convert("RGB")


def fit_size(width: int, height: int, max_dim: int) -> tuple[int, int]:
    """The ``(width, height)`` whose long side is ``max_dim``, aspect ratio kept (rounded)."""
    scale = max_dim / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_image(path: str | os.PathLike, max_dim: int | None = 512) -> tf.Tensor:
    """Read an image file as a float32 tensor ``(1, H, W, 3)`` in [0, 1].

    The EXIF orientation is applied, every Pillow mode becomes RGB, and the image is resized
    (Lanczos) so that its long side is ``max_dim`` (``None`` keeps the file's size).
    Raises ``ValueError`` (or ``FileNotFoundError``) with a one-line reason for anything unusable: the header's
    checks are ``nst.imagefile.opened``'s.
    """
    path = Path(path)
    with opened(path) as image:
        width, height = image.size
        try:
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                warnings.warn(f"'{path}' has {frames} frames; using the first", stacklevel=2)
            if image.getexif().get(EXIF_ORIENTATION) in (5, 6, 7, 8):  # rotated by 90 degrees
                width, height = height, width
            if max_dim is not None:
                width, height = fit_size(width, height, max_dim)
                # JPEGs can decode straight to a smaller size: far less memory for big photos.
                image.draft("RGB", (max_dim, max_dim))
            image = ImageOps.exif_transpose(image)
            image.load()
            rgb = _to_rgb(image)
        except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt data
            raise ValueError(f"'{path}' could not be decoded ({e})") from None
    if max_dim is not None and min(width, height) < MIN_SIZE:
        raise ValueError(f"'{path}' would be {width}x{height} px at size {max_dim}; "
                         f"VGG19 needs at least {MIN_SIZE} px on each side: use a less elongated image")
    if (width, height) != rgb.size:
        rgb = rgb.resize((width, height), Image.Resampling.LANCZOS)
    array = np.asarray(rgb, dtype=np.float32) / 255.0  # (H, W, 3)
    return tf.constant(array[np.newaxis])  # (1, H, W, 3)


FRAME_FLATNESS = 0.04  # a frame's row or column varies less than this (standard deviation, pixels in [0, 1])
FRAME_MOST = 0.1  # the most of each side taken as frame: a flat sky along one edge is not eaten away


def frame_widths(image: tf.Tensor | np.ndarray) -> tuple[int, int, int, int]:
    """The widths ``(top, right, bottom, left)`` of a uniform border around a painting, or zeros.

    Scans of paintings and photographs taken in museums carry a frame, a mount or an edge line, which
    the style losses would read as part of the painting. Rows and columns are peeled from the edges
    while each is flat (every channel's standard deviation along it below ``FRAME_FLATNESS``), each
    side within the rows and columns still left, so a black frame and the light canvas edge inside it
    come off one after the other. It counts as a frame only if all four sides had such a band and the
    inside is not flat itself; then no side loses more than ``FRAME_MOST`` of the image.
    """
    array = np.asarray(image, dtype=np.float32)
    array = array[0] if array.ndim == 4 else array  # (H, W, 3)
    height, width = array.shape[:2]
    top, bottom, left, right = 0, height, 0, width
    most_rows, most_cols = int(height * FRAME_MOST), int(width * FRAME_MOST)

    def flat(band: np.ndarray) -> bool:
        return bool(band.std(axis=0).max() < FRAME_FLATNESS)

    peeled = True
    while peeled:
        peeled = False
        if top < most_rows and flat(array[top, left:right]):
            top, peeled = top + 1, True
        if height - bottom < most_rows and flat(array[bottom - 1, left:right]):
            bottom, peeled = bottom - 1, True
        if left < most_cols and flat(array[top:bottom, left]):
            left, peeled = left + 1, True
        if width - right < most_cols and flat(array[top:bottom, right - 1]):
            right, peeled = right - 1, True
    widths = (top, width - right, height - bottom, left)
    inside = array[top:bottom, left:right]
    if min(widths) == 0 or min(inside.shape[:2]) < MIN_SIZE or inside.reshape(-1, 3).std(axis=0).max() < FRAME_FLATNESS:
        return 0, 0, 0, 0
    return widths


def to_uint8(image: tf.Tensor | np.ndarray) -> np.ndarray:
    """``(1, H, W, 3)`` or ``(H, W, 3)`` floats in [0, 1] to an ``(H, W, 3)`` uint8 array."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 4:
        array = array[0]
    if not np.isfinite(array).all():  # NaN would silently become black pixels
        raise ValueError("the image contains NaN or Inf values; it was not converted")
    return np.clip(np.round(array * 255.0), 0, 255).astype(np.uint8)


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``.

    Readers never see a half-written file, and an existing ``path`` is replaced only once the new
    content is complete; on any error (Ctrl-C included) the temporary file is removed. The file gets
    the mode any new file gets (``0o666`` less the umask): the temporary file's own ``0o600`` would
    hide outputs from classmates and teachers on a shared machine.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def save_image(image: tf.Tensor | np.ndarray, path: str | os.PathLike) -> Path:
    """Write a PNG or JPEG (by the file's extension) atomically."""
    fmt = SAVE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot save '{path}': use a .png, .jpg or .jpeg file name")
    options = {"quality": 95} if fmt == "JPEG" else {}
    return write_atomically(path, lambda f: Image.fromarray(to_uint8(image)).save(f, format=fmt, **options))


def show_images(images: list, titles: list[str] | None = None, width: float = 4.0,
                save: str | os.PathLike | None = None) -> None:
    """Show images in one row with titles (matplotlib, inline in notebooks); ``save`` also writes the figure."""
    import matplotlib.pyplot as plt

    titles = titles or [""] * len(images)
    fig, axes = plt.subplots(1, len(images), figsize=(width * len(images), width), squeeze=False)
    for ax, image, title in zip(axes[0], images, titles):
        ax.imshow(to_uint8(image))
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    if save is not None:
        fig.savefig(save, dpi=100, bbox_inches="tight",
                    pil_kwargs={"quality": 85} if str(save).endswith(".jpg") else None)
    plt.show()
