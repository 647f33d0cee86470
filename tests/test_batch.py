"""Batch mode (nst.batch): each image of a batch ends where ``stylize`` takes it alone, on one device or two.

The images are 40 px on the long side (27 x 40) and the runs 5 Adam steps, with the ImageNet weights.
"""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from nst import Config, load_image, stylize
from nst.batch import stylize_batch
from nst.objective import extractor_for

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
# No content floor here: its hinge (nst.balance) turns the 1e-7 rounding differences of a batched convolution into
# 4e-4 of a pixel after 5 Adam steps, where an image sits on the floor's edge. The weights are each pair's own.
CONFIG = Config(size=40, steps=5, optimizer="adam", start_size=0, tolerance=0.0, precision="float32",
                content_floor=0.0)

# Between a batch of 2 and single images the results differ in the last bit only: Grappler's constant folding
# folds the gradient's constant factors (loss weights, 1/N of the means) in a shape-dependent order, so the
# gradients of a (2, H, W, 3) and a (1, H, W, 3) graph round differently (observed: at most 1.2e-7, one ulp of
# values near 1, after 5 steps). 1e-6 leaves room for a few ulps more, and is far below any visible change.
ROUNDING = 1e-6


def _contents() -> list[tf.Tensor]:
    """Four 27 x 40 photos; the square astronaut is resized to the others' shape."""
    images = [load_image(DATA / "content" / f"{name}.jpg", 40) for name in ("china", "chelsea", "flower")]
    astronaut = tf.image.resize(load_image(DATA / "content" / "astronaut.jpg", 40), images[0].shape[1:3])
    return images + [tf.clip_by_value(astronaut, 0.0, 1.0)]


@pytest.fixture(scope="module")
def images() -> list[tf.Tensor]:
    return _contents()


@pytest.fixture(scope="module")
def style() -> tf.Tensor:
    return load_image(DATA / "style" / "great_wave.jpg", 40)


@pytest.fixture(scope="module")
def extractor():
    return extractor_for(CONFIG)


def test_each_image_of_a_batch_follows_its_own_stylize_run(images, style, extractor):
    contents = images[:2]
    calls = []
    results = stylize_batch(contents, style, CONFIG, extractor,
                            callback=lambda step, losses, imgs: calls.append((step, losses, imgs.shape)))
    batch = tf.concat([result.image for result in results], axis=0)
    assert batch.shape == (2, 27, 40, 3)
    assert 0.0 <= float(tf.reduce_min(batch)) and float(tf.reduce_max(batch)) <= 1.0
    assert [step for step, _, _ in calls] == list(range(CONFIG.steps + 1))  # as stylize: the start, then each update
    assert all(len(losses) == 2 and shape == (2, 27, 40, 3) for _, losses, shape in calls)

    for i, content in enumerate(contents):
        alone = stylize(content, style, CONFIG, extractor=extractor)
        np.testing.assert_allclose(batch[i].numpy(), alone.image[0].numpy(), rtol=0, atol=ROUNDING)
        assert not np.array_equal(batch[i].numpy(), content[0].numpy())  # it did optimise
        for (step, losses, _), entry in zip(calls, alone.history):
            assert step == entry["step"]
            # The per-image loss is the one stylize minimises, up to rounding: the Wasserstein distance's traces
            # nearly cancel (tr Σ + tr Σ_s - 2 tr(Σ_s^½ Σ Σ_s^½)^½), so the batched matrix products' different
            # rounding, 1e-7 of each trace, shows as up to 2e-4 of the distance (1.04e-4 measured with the weights
            # balanced to the pair, whose style term is then a larger share of the total).
            for term in ("content", "style", "tv", "total"):
                np.testing.assert_allclose(losses[i][term], entry[term], rtol=2e-4, atol=1e-3)
        assert calls[-1][1][i]["total"] < calls[0][1][i]["total"]
        assert [e["total"] for e in results[i].history] == [losses[i]["total"] for _, losses, _ in calls]

    # A batch of one image is the very same computation as stylize: bit for bit. Only the losses of the last
    # update may differ: stylize scores it eagerly, stylize_batch in a traced function, whose constant folding
    # can round differently (one ulp of the Gram loss; through the Wasserstein distance's nearly cancelling
    # traces, 1.5e-5 of the style term measured with the cropped Great Wave, 1.04e-4 of the total with the weights
    # balanced to the pair).
    one = stylize_batch([contents[0]], style, CONFIG, extractor)[0]
    alone = stylize(contents[0], style, CONFIG, extractor=extractor)
    np.testing.assert_array_equal(one.image.numpy(), alone.image.numpy())
    assert [e["step"] for e in one.history] == [e["step"] for e in alone.history]
    for mine, theirs in zip(one.history, alone.history):
        for term in ("content", "style", "tv", "total"):
            if mine["step"] < CONFIG.steps:
                assert mine[term] == theirs[term]
            else:
                assert mine[term] == pytest.approx(theirs[term], rel=2e-4)  # 1.04e-4 measured, weights balanced


DISTRIBUTED = r"""
import json, sys
from pathlib import Path

import numpy as np
import tensorflow as tf

# Logical devices must be set before TensorFlow initialises its devices, hence a fresh process.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, sys.argv[2])
import tests.test_batch as t
from nst import load_image
from nst.batch import stylize_batch
from nst.objective import extractor_for

out = Path(sys.argv[1])
images, style = t._contents(), load_image(t.DATA / "style" / "great_wave.jpg", 40)
extractor = extractor_for(t.CONFIG)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
report = {"replicas": strategy.num_replicas_in_sync, "devices": list(strategy.extended.worker_devices)}
try:
    stylize_batch(images[:3], style, t.CONFIG, extractor, strategy=strategy)
except ValueError as e:
    report["odd_batch_error"] = str(e)

run = lambda contents, **kw: np.concatenate([r.image.numpy() for r in stylize_batch(contents, style, t.CONFIG,
                                                                                    extractor, **kw)])
np.save(out / "mirrored4.npy", run(images, strategy=strategy))  # 2 images per replica
np.save(out / "single4.npy", run(images))
np.save(out / "mirrored2.npy", run(images[:2], strategy=strategy))  # 1 image per replica
np.save(out / "single2.npy", run(images[:2]))
np.save(out / "alone2.npy", np.concatenate([run(images[i:i + 1]) for i in range(2)]))
(out / "report.json").write_text(json.dumps(report))
"""


def test_mirrored_strategy_on_two_logical_cpus_equals_one_device(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", DISTRIBUTED, str(tmp_path), str(ROOT)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["replicas"] == 2 and len(report["devices"]) == 2
    assert "cannot be split evenly over 2 replicas" in report["odd_batch_error"]

    def load(name: str) -> np.ndarray:
        return np.load(tmp_path / f"{name}.npy")

    # Each replica runs what one device runs on a batch of its size, and the other replica adds exact zeros
    # to its images' gradients: bit for bit equal.
    np.testing.assert_array_equal(load("mirrored4"), load("single4"))
    np.testing.assert_array_equal(load("mirrored2"), load("alone2"))
    # One image per replica against a batch of 2 on one device: the batch sizes differ (see ROUNDING).
    np.testing.assert_allclose(load("mirrored2"), load("single2"), rtol=0, atol=ROUNDING)
    assert load("mirrored4").shape == (4, 27, 40, 3)


def test_bad_batches_are_refused(images, style, extractor):
    square = load_image(DATA / "content" / "astronaut.jpg", 40)  # 40 x 40, the others 27 x 40
    with pytest.raises(ValueError, match="one shape"):
        stylize_batch([images[0], square], style, CONFIG, extractor)
    with pytest.raises(ValueError, match="starts from the content images"):
        stylize_batch(images[:2], style, dataclasses.replace(CONFIG, init="noise"), extractor)
    with pytest.raises(ValueError, match="at least one"):
        stylize_batch([], style, CONFIG, extractor)


def test_a_folder_of_photos_skips_what_is_done(tmp_path, monkeypatch, capsys):
    from nst import cli, runner

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("china", "chelsea", "flower"):
        (photos / f"{name}.jpg").write_bytes((DATA / "content" / f"{name}.jpg").read_bytes())
    (photos / "notes.txt").write_text("not a photo: ignored")
    out, style = tmp_path / "stylised", DATA / "style" / "great_wave.jpg"
    args = [str(photos), str(style), "-o", str(out), "--size", "32", "--steps", "2"]
    assert cli.main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{name}_great_wave.{ext}" for name in ("chelsea", "china", "flower") for ext in ("png", "json"))

    (out / "china_great_wave.png").unlink()  # as if the run had stopped before this photo
    calls = []
    real = runner.stylize
    monkeypatch.setattr(runner, "stylize", lambda content, *a, **k: calls.append(content) or real(content, *a, **k))
    capsys.readouterr()
    assert cli.main(args) == 0
    assert len(calls) == 1 and (out / "china_great_wave.png").exists()
    assert capsys.readouterr().err.count("finished before; skipped") == 2
    assert cli.main([str(photos), str(style), "-o", str(out / "x.png")]) == 2  # -o must be a folder


def test_a_folder_in_batches_gives_the_pictures_of_one_at_a_time(tmp_path, capsys):
    from nst import cli

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("china", "chelsea", "flower"):  # all 27 x 40 at 40 px: one shape, so batches of 2 and 1
        (photos / f"{name}.jpg").write_bytes((DATA / "content" / f"{name}.jpg").read_bytes())
    style = DATA / "style" / "great_wave.jpg"
    common = [str(photos), str(style), "--size", "40", "--steps", "3", "--optimizer", "adam", "--precision", "float32"]
    assert cli.main([*common, "-o", str(tmp_path / "batched"), "--batch-size", "2"]) == 0
    assert cli.main([*common, "-o", str(tmp_path / "alone")]) == 0
    for name in ("china", "chelsea", "flower"):
        batched, alone = (load_image(tmp_path / folder / f"{name}_great_wave.png", None).numpy()
                          for folder in ("batched", "alone"))
        assert np.abs(batched - alone).max() <= 1 / 255 + 1e-6  # ROUNDING may flip one 8-bit level
        record = json.loads((tmp_path / "batched" / f"{name}_great_wave.json").read_text())
        assert record["steps"] == 3 and len(record["history"]) == 4
    capsys.readouterr()
    assert cli.main([*common[:-4], "-o", str(tmp_path / "x"), "--batch-size", "2"]) == 2
    assert "add --optimizer adam" in capsys.readouterr().err
    assert cli.main([str(DATA / "content" / "china.jpg"), str(style), "--batch-size", "2"]) == 2
    assert "--batch-size needs a folder of photos" in capsys.readouterr().err
