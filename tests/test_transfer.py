"""The optimisation loop. Tests that use the real ImageNet weights run at 128 px or less."""

import dataclasses
import io

import numpy as np
import pytest
import tensorflow as tf

from nst import (Callback, Config, FeatureExtractor, ProgressBar, load_image, reconstruct_content, stylize,
                 synthesize_style)
from nst.balance import FLOOR_LAYER
from nst.losses import Functions, style_content_loss
from nst.objective import extractor_for, objective_for, style_targets_for
from nst.plan import coarse_to_fine_sizes
from nst.recorder import TOLERANCE_WINDOW, Recorder, RunState

SMALL = Config(size=64, steps=5, precision="float32")


class Terminal(io.StringIO):
    """Where a progress bar is drawn in place, as in a terminal."""

    def isatty(self) -> bool:
        return True


class CountingExtractor(FeatureExtractor):
    """Counts Python-level calls: inside a tf.function they happen only while tracing."""

    calls = 0

    def __call__(self, *args, **kwargs):
        CountingExtractor.calls += 1
        return super().__call__(*args, **kwargs)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_each_step_reuses_one_traced_function(content_path, style_path, optimizer):
    config = dataclasses.replace(SMALL, optimizer=optimizer, steps=8, weights=None)
    extractor = CountingExtractor(config.content_layers + (FLOOR_LAYER,) + config.style_layers, weights=None,
                                  precision="float32")
    CountingExtractor.calls = 0
    result = stylize(content_path, style_path, config, extractor=extractor)
    # two eager calls for the pair's scales (nst.balance), two for the targets, one trace of the step, and for
    # Adam an eager score of the last update
    assert CountingExtractor.calls == 2 + 2 + 1 + (optimizer == "adam")
    assert [entry["step"] for entry in result.history] == list(range(9))


def test_coarse_to_fine_sizes_halve_down_to_the_start_size():
    assert coarse_to_fine_sizes(342, 512, 256) == [(171, 256), (342, 512)]
    assert coarse_to_fine_sizes(2048, 2048, 256) == [(256, 256), (512, 512), (1024, 1024), (2048, 2048)]
    assert coarse_to_fine_sizes(342, 512, 0) == [(342, 512)]  # 0: one size only
    assert coarse_to_fine_sizes(342, 512, 300) == [(342, 512)]  # 256 would be below the start size
    assert coarse_to_fine_sizes(30, 512, 128) == [(30, 512)]  # a short side of 15 px is too thin for VGG19


def test_each_size_stops_once_the_loss_stops_falling():
    def losses(total):
        return {"content": total, "style": 0.0, "tv": 0.0, "total": total}

    image = tf.zeros((1, 4, 4, 3))
    record = Recorder(RunState(Config(tolerance=1e-3)))
    record.state.start_size(0, 4)
    falling = [100.0 * 0.99 ** i for i in range(3 * TOLERANCE_WINDOW)]  # 1% a step: 10% per window
    assert not any(record(i, losses(total), image) for i, total in enumerate(falling))
    # Now 0.001% a step, 0.01% per window: the run stops once a whole window of it has been seen.
    flat = [falling[-1] * (1 - 1e-5) ** i for i in range(1, 2 * TOLERANCE_WINDOW)]
    stops = [record(len(falling) + i, losses(total), image) for i, total in enumerate(flat)]
    assert stops.index(True) == TOLERANCE_WINDOW - 1
    assert record.state.stopped == f"the loss fell by less than 0.001 (relative) over the last {TOLERANCE_WINDOW} steps"
    # A new size starts afresh: the steps count on, the stopping rule needs a new window.
    record.state.start_size(1, 8)
    assert record.state.stopped is None
    assert not record(0, losses(1.0), image) and record.state.history[-1]["step"] == record.state.history[-2]["step"]
    assert not Recorder(RunState(Config(tolerance=0.0)))(0, losses(1.0), image)


def test_coarse_to_fine_continues_at_the_full_size(content_path, style_path):
    config = dataclasses.replace(SMALL, size=96, start_size=48, steps=4, tolerance=0.0, weights=None)
    out = io.StringIO()
    bar = ProgressBar(file=out, mininterval=0)
    seen = []
    result = stylize(content_path, style_path, config, callback=lambda *a: (bar(*a), seen.append(bar.n)))
    assert [(e["size"], e["step"]) for e in result.history] == [(48, s) for s in range(5)] + [(96, s) for s in
                                                                                              range(4, 9)]
    assert result.image.shape == (1, 64, 96, 3)
    assert result.final["size"] == 96 and result.metrics()["steps"] == 8
    assert result.metrics()["sizes"] == [{"height": 32, "width": 48}, {"height": 64, "width": 96}]
    assert bar.total is None  # a plain function has no start(): the bar counted steps
    assert seen == [e["step"] for e in result.history]


def test_the_progress_bar_counts_work_across_sizes(content_path, style_path):
    """A step at 48 px costs a quarter of one at 96 px: the total is 4 · (1/4 + 1) full-size steps."""
    config = dataclasses.replace(SMALL, size=96, start_size=48, steps=4, tolerance=0.0, weights=None)
    out = Terminal()
    bar = ProgressBar(desc="x", file=out, mininterval=0)
    done = []

    class Recording(Callback):  # the bar, and what it has counted after each step
        def start(self, state):
            bar.start(state)

        def __call__(self, step, losses, image):
            bar(step, losses, image)
            done.append(round(bar.n, 6))

    stylize(content_path, style_path, config, callback=Recording())
    assert bar.total == pytest.approx(5.0)
    assert done == [0, 0.25, 0.5, 0.75, 1.0] + [1.0, 2.0, 3.0, 4.0, 5.0]
    text = out.getvalue().replace("\r", "\n")
    assert "step 3/4 at 48x32 (size 1 of 2)" in text and "x: 100%" in text and "step 4/4 at 96x64 (size 2 of 2)" in text


def test_config_validation_and_json_round_trip():
    config = Config(size=256, style_layers=["block1_conv1", "block2_conv1"], optimizer="adam")
    assert Config.from_json(config.to_json()) == config
    for bad, message in [({"size": 0}, "size must be between"), ({"size": 100000}, "size must be between"),
                         ({"style_weight": -1}, "style_weight must be a finite number"),
                         ({"tv_weight": float("nan")}, "tv_weight must be"),
                         ({"content_layers": ["block6_conv1"]}, "unknown content layer 'block6_conv1'"),
                         ({"optimizer": "sgd"}, "optimizer must be one of lbfgs, adam"),
                         ({"precision": "float16"}, "precision must be one of auto, float32, bfloat16"),
                         ({"start_size": 8}, "start_size must be 0 or between 16 and 4096"),
                         ({"tolerance": -1}, "tolerance must be a finite number")]:
        with pytest.raises(ValueError, match=message):
            Config(**bad)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_same_seed_same_image(content_path, style_path, optimizer):
    config = dataclasses.replace(SMALL, optimizer=optimizer, init="noise", seed=3, weights=None)
    first, second = (stylize(content_path, style_path, config).image.numpy() for _ in range(2))
    np.testing.assert_array_equal(first, second)
    other = stylize(content_path, style_path, dataclasses.replace(config, seed=4)).image.numpy()
    assert not np.array_equal(first, other)


def test_ctrl_c_returns_the_best_image_so_far(content_path, style_path):
    def stop_at_3(step, losses, image):
        if step == 3:
            raise KeyboardInterrupt

    result = stylize(content_path, style_path, dataclasses.replace(SMALL, steps=50, weights=None), callback=stop_at_3)
    assert result.interrupted and [e["step"] for e in result.history] == [0, 1, 2, 3]
    assert result.final["total"] == min(e["total"] for e in result.history)


# --- with the real ImageNet weights -------------------------------------------------------------

@pytest.fixture(scope="module")
def real_extractor():
    """The defaults' VGG19 (average pooling), as ``stylize`` builds it from ``Config()``."""
    return extractor_for(Config())


def _distances(extractor, image, content, style, config):
    """Unweighted content loss to ``content`` and style loss to ``style``, in ``config``'s objective."""
    content_features = extractor(content)
    terms = style_content_loss(image, extractor(image), {n: content_features[n] for n in config.content_layers},
                               style_targets_for(extractor, [style], config, [1.0]), 1.0, 1.0, 0.0,
                               **objective_for(config, Functions()))
    return float(terms["content"]), float(terms["style"])


@pytest.mark.parametrize("preset, optimizer, style_drop, content_margin", [
    ("defaults", "lbfgs", 5, 2), ("tutorial", "lbfgs", 10, 4), ("tutorial", "adam", 5, 4)])
def test_style_moves_toward_the_painting_while_the_content_stays(content_path, style_path, preset, optimizer,
                                                                 style_drop, content_margin):
    content, style = load_image(content_path, 128), load_image(style_path, 128)
    base = Config() if preset == "defaults" else Config.preset("tutorial")
    config = dataclasses.replace(base, size=128, steps=50, optimizer=optimizer)
    extractor = extractor_for(config)
    result = stylize(content, style, config, extractor=extractor)

    content_before, style_before = _distances(extractor, content, content, style, config)
    content_after, style_after = _distances(extractor, result.image, content, style, config)
    style_image_content, _ = _distances(extractor, tf.image.resize(style, content.shape[1:3]), content, style, config)
    assert content_before == 0.0
    # The style statistics move most of the way to the painting's (L-BFGS on the Gram matrices, 10x in 50 steps;
    # Adam at the tutorial's learning rate is slower; the Wasserstein distance, 6.3x measured, keeps the part
    # of the painting's covariance the photo's layout cannot take on) ...
    assert style_after < style_before / style_drop
    # ... while the features stay far closer to the photo's than the painting's are: 4x for the tutorial's
    # objective; 2x for the defaults, whose stronger style and palette start move block5_conv2 further
    # (0.40 of the painting's distance, measured at 128 px).
    assert content_after < style_image_content / content_margin


def test_content_reconstruction_from_noise(real_extractor, content_path):
    result = reconstruct_content(content_path, ["block2_conv2"], Config(size=64, steps=40), extractor=None)
    assert result.history[-1]["content"] < result.history[0]["content"] / 20
    assert result.history[0]["style"] == result.history[0]["tv"] == 0.0
    assert result.image.shape == (1, 43, 64, 3)


def test_style_synthesis_from_noise_has_the_style_images_shape(real_extractor, style_path):
    result = synthesize_style(style_path, ["block1_conv1", "block2_conv1"], Config(size=64, steps=40),
                              extractor=real_extractor)
    assert result.image.shape == load_image(style_path, 64).shape
    assert result.history[-1]["style"] < result.history[0]["style"] / 20
    assert result.history[0]["content"] == 0.0


def test_a_start_image_and_a_term_of_ones_own_join_the_loop_untouched():
    """``start`` replaces config.init; each of ``terms`` is traced with the loss, added to the total and recorded."""
    content = tf.random.stateless_uniform((1, 48, 64, 3), seed=[1, 2])
    style = tf.random.stateless_uniform((1, 48, 48, 3), seed=[3, 4])
    start = tf.fill((1, 48, 64, 3), 0.5)
    config = dataclasses.replace(SMALL, start_size=0, weights=None, tolerance=0.0)

    def pull(image: tf.Tensor) -> tf.Tensor:
        return 10.0 * tf.reduce_mean(tf.square(image - start))

    result = stylize(content, style, config, start=start, terms={"pull": pull})
    first, last = result.history[0], result.history[-1]
    assert first["pull"] == 0.0  # the run started from `start` itself
    assert last["pull"] > 0.0
    for entry in result.history:
        parts = entry["content"] + entry["style"] + entry["tv"] + entry["pull"]
        assert entry["total"] == pytest.approx(parts, rel=1e-6)
