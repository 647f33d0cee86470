"""Paintings with a uniform border (a frame, a mount, an edge line) have it trimmed; nothing else does."""

import dataclasses
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from nst import Config, load_image, stylize
from nst.cli import main
from nst.images import frame_widths, save_image

PICTURES = sorted((Path(__file__).resolve().parent.parent / "data").glob("*/*.jpg"))


def _painting(height=120, width=160, seed=0) -> np.ndarray:
    """A textured stand-in for a painting: smooth colour blobs plus brush-like noise, (H, W, 3) in [0, 1]."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (height // 20 + 1, width // 20 + 1, 3)).repeat(20, 0).repeat(20, 1)[:height, :width]
    return np.clip(0.7 * coarse + 0.3 * rng.uniform(0, 1, (height, width, 3)), 0, 1).astype(np.float32)


def _framed(inner: np.ndarray, widths, value) -> np.ndarray:
    top, right, bottom, left = widths
    return np.pad(inner, ((top, bottom), (left, right), (0, 0)), constant_values=value)


@pytest.mark.parametrize("widths, value", [((6, 6, 6, 6), 0.0), ((10, 4, 12, 3), 1.0), ((5, 5, 5, 5), 0.82)],
                         ids=["black frame", "white, uneven", "grey mount"])
def test_a_uniform_border_is_found_to_the_pixel(widths, value):
    assert frame_widths(_framed(_painting(), widths, value)) == widths


def test_a_frame_and_the_edge_line_inside_it_come_off_together():
    """A black frame around a 2 px light line around the painting, as the old Starry Night scan had."""
    lined = _framed(_framed(_painting(), (2, 2, 2, 2), 0.9), (7, 7, 7, 7), 0.0)
    assert frame_widths(lined) == (9, 9, 9, 9)


@pytest.mark.parametrize("path", PICTURES, ids=lambda p: p.name)
def test_unframed_pictures_lose_nothing(path):
    """The cropped paintings and the photos of data/, at the size runs load them, and at their own size."""
    for size in (512, None):
        assert frame_widths(load_image(path, size)) == (0, 0, 0, 0)


# The near-black Hubble field, the storm's flat dark road and the flat plank of wood have edges nearly as uniform as
# a frame: framed, the trimmer goes on into them (1 to 18 px more; unframed, they lose nothing, as above).
FLAT_EDGED = {"hubble_deep_field.jpg", "storm.jpg", "wood.jpg"}


@pytest.mark.parametrize("path", [p for p in PICTURES if p.name not in FLAT_EDGED], ids=lambda p: p.name)
def test_the_same_pictures_framed_lose_exactly_the_frame(path):
    image = load_image(path, 256).numpy()[0]
    assert frame_widths(_framed(image, (8, 5, 8, 5), 0.0)) == (8, 5, 8, 5)


def test_flat_along_one_edge_is_not_a_frame():
    """A flat sky along the top (or a flat image) is part of the picture: a frame has all four sides."""
    sky = _painting()
    sky[:30] = [0.4, 0.6, 0.9]
    assert frame_widths(sky) == (0, 0, 0, 0)
    assert frame_widths(np.full((64, 64, 3), 0.5, np.float32)) == (0, 0, 0, 0)
    assert frame_widths(_framed(np.full((64, 64, 3), 0.5, np.float32), (4, 4, 4, 4), 0.0)) == (0, 0, 0, 0)


def test_no_side_loses_more_than_a_tenth():
    assert frame_widths(_framed(_painting(100, 100), (30, 30, 30, 30), 0.0)) == (16, 16, 16, 16)  # 160 px: 10%


def test_stylize_trims_the_style_and_says_so(tmp_path):
    painting = _painting(48, 64)
    framed = _framed(painting, (4, 4, 4, 4), 0.0)
    content = _painting(48, 64, seed=1)
    config = Config(size=64, steps=2, precision="float32", weights=None, tolerance=0)
    with pytest.warns(UserWarning, match=r"style image 1 has a uniform border .* trimmed 4, 4, 4 and 4 px"):
        trimmed = stylize(content, framed, config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no note for an unframed painting, nor with trim_frame off
        plain = stylize(content, painting, config)
        kept = stylize(content, framed, dataclasses.replace(config, trim_frame=False))
    # Trimmed, the framed painting gives the run of the unframed one; kept, another run.
    np.testing.assert_allclose(trimmed.image.numpy(), plain.image.numpy(), atol=1e-6)
    assert np.abs(kept.image.numpy() - plain.image.numpy()).max() > 1e-3


def test_the_command_line_notes_the_trim_and_can_turn_it_off(tmp_path, capsys):
    content, style = tmp_path / "photo.png", tmp_path / "framed.png"
    save_image(_painting(48, 64, seed=1), content)
    save_image(_framed(_painting(48, 64), (6, 6, 6, 6), 0.0), style)
    args = [str(content), str(style), "--size", "64", "--steps", "1"]
    assert main(args + ["-o", str(tmp_path / "a.png")]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^nst: note: style image 1 has a uniform border \(a frame or mount\): trimmed 5, 5, 5 and 5 px",
                     err.replace("\r", "\n"), re.MULTILINE)  # 6 px at 76 px wide, loaded at 64 px; on a line of its own
    assert main(args + ["-o", str(tmp_path / "b.png"), "--no-trim-frame"]) == 0
    assert "uniform border" not in capsys.readouterr().err
