"""An image file as Pillow opens it, its header checked before any pixel is decoded (no TensorFlow needed).

``nst.images.load_image`` decodes what ``opened`` lets through; the command line calls ``opened`` on every input
first, so that a missing file, a text file or an image too small or too large is refused in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Iterator

from PIL import Image, UnidentifiedImageError

from nst.vgg19 import MIN_SIZE


@contextlib.contextmanager
def opened(path: str | os.PathLike) -> Iterator[Image.Image]:
    """The file opened by Pillow (its header read, nothing decoded), or a ``ValueError`` (``FileNotFoundError``)
    with a one-line reason: no such file, a folder, not an image, under ``MIN_SIZE`` or above Pillow's
    decompression-bomb limit on a side."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"'{path}' does not exist")
    if path.is_dir():
        raise ValueError(f"'{path}' is a directory, not an image file")
    try:
        with warnings.catch_warnings():  # Pillow warns above 89 MP; such images are refused below instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as e:
        raise ValueError(f"'{path}' is refused as a possible decompression bomb: {e}") from None
    except UnidentifiedImageError:
        raise ValueError(f"'{path}' is not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:  # a header Pillow recognises but cannot parse
        raise ValueError(f"'{path}' could not be decoded ({e})") from None
    with image:
        width, height = image.size
        if min(width, height) < MIN_SIZE:
            raise ValueError(f"'{path}' is {width}x{height} px; an image needs at least {MIN_SIZE} px on each side "
                             f"to carry content or style")
        if width * height > Image.MAX_IMAGE_PIXELS:
            raise ValueError(f"'{path}' is {width}x{height} = {width * height / 1e6:.0f} megapixels, above the "
                             f"{Image.MAX_IMAGE_PIXELS / 1e6:.0f} MP that Pillow accepts as a guard against "
                             f"decompression bombs; downscale it first")
        yield image
