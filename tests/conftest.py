"""Shared fixtures. Tests marked ``real_weights`` need the ImageNet VGG19 file (``python -m nst.weights``)."""

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # no display in CI

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="session")
def content_path() -> Path:
    return DATA / "content" / "china.jpg"


@pytest.fixture(scope="session")
def style_path() -> Path:
    return DATA / "style" / "great_wave.jpg"
