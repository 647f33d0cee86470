"""Loading any image file as (1, H, W, 3) floats in [0, 1], and writing images atomically."""

import os
import stat

import numpy as np
import pytest
from PIL import Image

from nst import load_image, save_image
from nst.images import write_atomically


def _save(image: Image.Image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def test_load_resizes_the_long_side_and_keeps_the_aspect_ratio(content_path):
    image = load_image(content_path, max_dim=128)
    assert image.shape == (1, 85, 128, 3)  # 640x427 -> 128x85
    assert image.dtype == "float32"
    assert 0.0 <= float(np.min(image)) and float(np.max(image)) <= 1.0
    assert load_image(content_path, max_dim=None).shape == (1, 427, 640, 3)


@pytest.mark.parametrize("mode, fill, expected", [
    ("L", 128, (128, 128, 128)),
    ("LA", (128, 255), (128, 128, 128)),
    ("RGBA", (255, 0, 0, 255), (255, 0, 0)),
    ("RGBA", (255, 0, 0, 0), (255, 255, 255)),  # fully transparent becomes white
    ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
    ("I;16", 65535, (255, 255, 255)),  # 16-bit white stays white, not clipped garbage
    ("I;16", 32896, (128, 128, 128)),
])
def test_every_pillow_mode_becomes_rgb(tmp_path, mode, fill, expected):
    suffix = ".jpg" if mode == "CMYK" else ".png"
    path = _save(Image.new(mode, (20, 20), fill), tmp_path / f"x{suffix}")
    pixel = np.round(load_image(path, max_dim=None).numpy()[0, 10, 10] * 255)
    np.testing.assert_allclose(pixel, expected, atol=1)


def test_palette_png_with_transparency(tmp_path):
    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 0, 255] + [0, 0, 0] * 255)
    path = _save(image, tmp_path / "p.png", transparency=0)
    np.testing.assert_allclose(load_image(path, None).numpy()[0, 0, 0], [1, 1, 1])  # transparent blue -> white


def test_exif_orientation_is_applied(tmp_path):
    # Stored 40 wide and 20 tall, with a left half that is black; orientation 6 = rotate 90° clockwise.
    image = Image.new("RGB", (40, 20), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation tag
    loaded = load_image(_save(image, tmp_path / "r.jpg", exif=exif, quality=100), max_dim=None).numpy()[0]
    assert loaded.shape == (40, 20, 3)  # upright: now tall
    assert loaded[5, 10].mean() < 0.1 and loaded[35, 10].mean() > 0.9  # the black half is on top


def test_png_round_trip_is_exact(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(1, 17, 23, 3)).astype(np.float32) / 255
    save_image(pixels, tmp_path / "x.png")
    np.testing.assert_array_equal(load_image(tmp_path / "x.png", None).numpy(), pixels)


def test_save_replaces_a_file_only_when_the_new_one_is_complete(tmp_path):
    path = tmp_path / "out.png"
    save_image(np.zeros((1, 8, 8, 3)), path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_image(np.zeros((1, 8, 8, 3), dtype=object) + None, path)  # fails while encoding
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temporary file left


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_bytes(b""), "not an image"),
    (lambda p: p.write_text("hello, I am text"), "not an image"),
])
def test_unusable_files_raise_one_clear_error(tmp_path, make, message):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_image(path)


def test_truncated_file(tmp_path, content_path):
    path = tmp_path / "cut.jpg"
    path.write_bytes(content_path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="could not be decoded"):
        load_image(path)


def test_an_image_too_thin_for_vgg19_is_refused(tmp_path):
    path = _save(Image.new("RGB", (1000, 10)), tmp_path / "thin.png")
    with pytest.raises(ValueError, match="at least 16 px"):
        load_image(path, max_dim=512)


def test_save_rejects_unknown_extensions(tmp_path):
    with pytest.raises(ValueError, match=r"\.png, \.jpg"):
        save_image(np.zeros((1, 8, 8, 3)), tmp_path / "x.gif")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    """A shared lab machine: classmates and teachers read outputs unless the user's umask says no."""
    old = os.umask(umask)
    try:
        image = save_image(np.zeros((1, 8, 8, 3)), tmp_path / "out.png")
        metrics = write_atomically(tmp_path / "out.json", lambda f: f.write(b"{}"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(image.stat().st_mode) == mode
    assert stat.S_IMODE(metrics.stat().st_mode) == mode
