"""Property-based tests of the image loader (hypothesis): any file gives a correct image or one clear line."""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from nst.config import MIN_SIZE
from nst.images import fit_size, load_image

MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK"]
FORMATS = ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]


def _encode(mode: str, fmt: str, width: int, height: int, seed: int) -> bytes | None:
    """A random image of ``mode`` in ``fmt``, or None where the format cannot store the mode."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    image = Image.fromarray(pixels).convert("RGB" if mode in ("I;16", "CMYK", "1", "P") else mode)  # from RGBA
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257)  # 16-bit grey
    elif mode in ("CMYK", "1", "P"):
        image = image.convert(mode)
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (OSError, KeyError, ValueError):
        return None
    return buffer.getvalue()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.sampled_from(MODES), fmt=st.sampled_from(FORMATS), width=st.integers(1, 200),
       height=st.integers(1, 200), max_dim=st.one_of(st.none(), st.integers(MIN_SIZE, 160)),
       cut=st.one_of(st.none(), st.floats(0.0, 0.95)), seed=st.integers(0, 2**16))
def test_any_file_loads_correctly_or_fails_in_one_line(tmp_path, mode, fmt, width, height, max_dim, cut, seed):
    data = _encode(mode, fmt, width, height, seed)
    assume(data is not None)
    if cut is not None:
        data = data[: int(len(data) * cut)]  # truncated, or empty
    path = tmp_path / f"image.{fmt.lower()}"
    path.write_bytes(data)
    try:
        image = load_image(path, max_dim)
    except ValueError as e:  # the only way load_image refuses a file
        assert "\n" not in str(e) and str(path) in str(e)
        assert cut is not None or min(width, height) < MIN_SIZE or (
            max_dim is not None and min(fit_size(width, height, max_dim)) < MIN_SIZE)
        return
    assert min(width, height) >= MIN_SIZE
    expected_width, expected_height = (width, height) if max_dim is None else fit_size(width, height, max_dim)
    assert image.shape == (1, expected_height, expected_width, 3) and image.dtype == np.float32
    values = image.numpy()
    assert np.isfinite(values).all() and values.min() >= 0.0 and values.max() <= 1.0


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_is_covered_by_some_format(mode):
    # Guards the property above against silently skipping a mode: each one can be written somewhere.
    assert any(_encode(mode, fmt, 20, 20, 0) is not None for fmt in FORMATS)
