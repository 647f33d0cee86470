"""The quality gallery's metrics (benchmarks/quality.py) measure what they say, on images made for the purpose."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quality():
    spec = importlib.util.spec_from_file_location("quality_benchmark", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def photo():
    image = Image.open(ROOT / "data" / "content" / "astronaut.jpg").convert("RGB").resize((256, 256), Image.LANCZOS)
    return np.asarray(image, np.float64) / 255


def lattice(period: int, size: int = 256) -> np.ndarray:
    """Lines one pixel wide every ``period`` pixels, both ways: the grid strided pooling leaves."""
    lines = np.zeros((size, size))
    lines[::period] = lines[:, ::period] = 1.0
    return lines[..., None]


def test_a_photo_and_noise_have_no_grid(quality, photo):
    noise = np.random.default_rng(0).random(photo.shape)
    assert 0.8 < quality.grid_peaks(photo, photo) < 1.2 and 0.8 < quality.grid_peaks(noise, photo) < 1.2
    assert quality.grid(photo, photo) == 1.0


@pytest.mark.parametrize("period, levels", [(2, 1), (4, 2), (8, 3), (16, 6)])
def test_a_faint_grid_at_a_pooling_period_is_found(quality, photo, period, levels):
    """Lines a few grey levels bright every 2, 4, 8 or 16 px lift the metric above the 1.2 the gallery allows
    (a coarser grid spreads its power over more harmonics, so it takes brighter lines)."""
    assert quality.grid(photo + lattice(period) * levels / 255, photo) > 1.2


def test_a_grid_at_another_period_is_not_counted(quality, photo):
    """Every 5 px is not a period of VGG19's pooling: its frequencies fall between the lattice's."""
    assert quality.grid(photo + lattice(5) / 255, photo) < 1.1


def test_the_grid_is_looked_for_where_the_photo_is_flat(quality, photo):
    """The same faint grid counts more in the photo's flattest patches than spread over busy ones."""
    busy = np.zeros_like(photo[..., 0])
    detail = np.abs(photo.mean(-1) - np.roll(photo.mean(-1), 1, axis=1))
    busy[detail > np.quantile(detail, 0.7)] = 1.0
    flat_grid = photo + lattice(4) * (1 - busy[..., None]) * 2 / 255
    busy_grid = photo + lattice(4) * busy[..., None] * 2 / 255
    assert quality.grid(flat_grid, photo) > quality.grid(busy_grid, photo)
