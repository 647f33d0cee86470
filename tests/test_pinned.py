"""The images of four seeded 64 px runs, pinned: a change to how the loop is organised must not move a bit.

L-BFGS and Adam, each whole and in tiles, with the defaults of version 0.2 (two coarse-to-fine sizes, real weights,
float32; the weights as given, no content floor).
``tests/data/pinned_64.npz`` holds the images the code made before the loop was reorganised, and the CPU it
ran on: there they must come out bit for bit. oneDNN picks its kernels by CPU, so on another CPU model the
rounding of the convolutions may differ; there the images must agree to 1e-4 (a rounding error, far below
the 1/255 of a saved pixel). ``python tests/test_pinned.py`` writes the file anew.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from nst import Config, memory, stylize
from nst.features import cpuinfo

PINNED = Path(__file__).resolve().parent / "data" / "pinned_64.npz"
DATA = Path(__file__).resolve().parent.parent / "data"
CASES = [(optimizer, tiled) for optimizer in ("lbfgs", "adam") for tiled in (False, True)]


def cpu_model() -> str:
    names = [line.split(":", 1)[1].strip() for line in cpuinfo().splitlines() if line.startswith("model name")]
    return names[0] if names else "unknown"


def run(optimizer: str, tiled: bool) -> np.ndarray:
    # The weights as given (no balance to the pair, no content floor): the objective the images were pinned with.
    config = Config(size=64, start_size=32, steps=10, tolerance=0.0, precision="float32", optimizer=optimizer,
                    balance="fixed", content_floor=0.0)
    if tiled:  # 43x64 in tiles of at most 48 px (the fixture lets tiles be that small)
        config = dataclasses.replace(config, max_memory=str(int(memory.estimate(43, 64, 48, config)) + 1))
    result = stylize(DATA / "content" / "china.jpg", DATA / "style" / "great_wave.jpg", config)
    assert (result.plan.tiles[-1] is not None) == tiled
    return result.image.numpy()


@pytest.fixture
def small_tiles(monkeypatch):
    monkeypatch.setattr(memory, "MIN_TILE", 32)
    monkeypatch.setattr(memory, "TILE_STEP", 16)


@pytest.mark.parametrize("optimizer, tiled", CASES)
def test_a_seeded_run_makes_the_pinned_image(small_tiles, optimizer, tiled):
    with np.load(PINNED) as pinned:
        expected, made_on = pinned[f"{optimizer}_{'tiled' if tiled else 'whole'}"], str(pinned["cpu"])
    image = run(optimizer, tiled)
    if made_on == cpu_model():
        np.testing.assert_array_equal(image, expected)
    else:
        np.testing.assert_allclose(image, expected, atol=1e-4)


if __name__ == "__main__":
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memory, "MIN_TILE", 32)
        patch.setattr(memory, "TILE_STEP", 16)
        images = {f"{o}_{'tiled' if t else 'whole'}": run(o, t) for o, t in CASES}
    np.savez(PINNED, cpu=np.array(cpu_model()), **images)
    print(f"wrote {PINNED} on {cpu_model()}")
