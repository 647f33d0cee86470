"""The strength knob, the pair's scales and the content floor (nst.balance): the formulas by hand, then real runs."""

import dataclasses
import json
import statistics
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from nst import Config, load_image, stylize
from nst import balance
from nst.color import luminance
from nst.losses import feature_moments, gaussian_fit, wasserstein_distance
from nst.objective import extractor_for, pair_scales

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("strength, factors", [(0.0, (4.0, 0.0)), (0.25, (2.25, 0.25)), (0.5, (1.0, 1.0)),
                                               (0.75, (0.25, 2.25)), (1.0, (0.0, 4.0))])
def test_strength_factors_by_hand(strength, factors):
    """``(2(1-s))²`` and ``(2s)²``: 1 and 1 in the middle, the ratio 9x either side at 0.25 and 0.75."""
    assert balance.strength_factors(strength) == pytest.approx(factors)


def test_fixed_weights_are_the_configs_times_the_strength():
    config = Config(balance="fixed", strength=0.75, content_weight=10.0, style_weight=2.0, tv_weight=3.0)
    assert balance.balanced_weights(config, balance.Scales(5.0, 7.0)) == pytest.approx((2.5, 4.5, 3.0))


def test_smoothness_falls_with_the_style_below_the_middle():
    """``γ · min(1, 2s)²``: a quarter at strength 0.25, none at 0 (the photo comes back as it is), all above 0.5."""
    weights = [balance.balanced_weights(Config(strength=s, tv_weight=8.0), None)[2] for s in (0.0, 0.25, 0.5, 1.0)]
    assert weights == pytest.approx([0.0, 2.0, 8.0, 8.0])


def test_auto_weights_divide_by_the_pairs_scales():
    """A pair twice as detailed as the reference gets half the content weight; a painting three times as far
    from its photo gets a third of the style weight. The reference pair gets the weights as given."""
    c_ref, s_ref = balance.REFERENCE["wasserstein"]
    config = Config(content_weight=10.0, style_weight=2.0)
    assert balance.balanced_weights(config, balance.Scales(c_ref, s_ref))[:2] == pytest.approx((10.0, 2.0))
    assert balance.balanced_weights(config, balance.Scales(2 * c_ref, 3 * s_ref))[:2] == pytest.approx((5.0, 2 / 3))


def test_the_reference_is_the_gallerys_median():
    """``REFERENCE`` holds the medians of ``benchmarks/balance.py``'s record, to the digits it quotes."""
    record = json.loads((ROOT / "benchmarks" / "results" / "balance.json").read_text())
    for distance, entry in record["distances"].items():
        medians = [statistics.median(row[k] for row in entry["pairs"]) for k in ("content", "style")]
        assert balance.REFERENCE[distance] == pytest.approx(medians, rel=1e-5)
        assert len(entry["pairs"]) >= 18


def test_pair_scales_by_hand():
    """C is the mean square of the photo's content features; S the photo's style loss against the painting."""
    c, s1, s2 = "block5_conv2", "block1_conv1", "block2_conv1"
    config = Config(content_layers=(c,), style_layers=(s1, s2), style_layer_weights=(3.0, 1.0), precision="float32")
    rng = np.random.default_rng(0)
    photo_features = {c: rng.normal(size=(1, 4, 4, 2)), s1: rng.normal(size=(1, 4, 4, 3)),
                      s2: rng.normal(size=(1, 2, 2, 3))}
    painting_features = {k: rng.normal(1.0, 2.0, size=v.shape) for k, v in photo_features.items()}

    def extractor(image):  # the photo is all zeros, the painting all ones
        chosen = photo_features if float(tf.reduce_max(image)) == 0.0 else painting_features
        return {k: tf.constant(v, tf.float32) for k, v in chosen.items()}

    scales = pair_scales(extractor, tf.zeros((1, 16, 16, 3)), [tf.ones((1, 16, 16, 3))], [1.0], config)
    assert scales.content == pytest.approx(np.mean(photo_features[c] ** 2), rel=1e-5)
    expected = 0.0
    for name, weight in ((s1, 0.75), (s2, 0.25)):
        f = painting_features[name].reshape(-1, 3)
        target = gaussian_fit(tf.constant(f.mean(0)[None], tf.float32), tf.constant((f.T @ f / len(f))[None], tf.float32))
        expected += weight * float(wasserstein_distance(tf.constant(photo_features[name], tf.float32), target)[0])
    assert scales.style == pytest.approx(expected, rel=1e-4)
    # q: the black photo in the white painting's colours is white; SSIM of two flat images is its luminance term,
    # (2 μx μy + C1) / (μx² + μy² + C1) with C1 = 0.01², here C1 / (1 + C1).
    assert scales.tones == pytest.approx(1e-4 / (1 + 1e-4), rel=1e-3)


def test_the_floor_is_lower_where_the_paintings_colours_crush_the_photos_tones():
    """``ρ = ρ₀ √q``; with fixed weights there are no pair statistics, so ``ρ = ρ₀``."""
    config = Config(content_floor=0.8)
    assert balance.floor_share(config, balance.Scales(1.0, 1.0, 0.25)) == pytest.approx(0.4)
    assert balance.floor_share(config, None) == pytest.approx(0.8)
    assert balance.floor_share(dataclasses.replace(config, balance="fixed"), balance.Scales(1.0, 1.0, 0.25)) == 0.8


def test_the_floor_is_zero_above_it_and_quadratic_below():
    """``max(0, r - ρ)²`` of the share ``r`` of the target's mean square that the features lost."""
    target = tf.constant(np.full((1, 2, 2, 1), 2.0), tf.float32)  # mean(P²) = 4
    near, far = target * 0.5, target * -1.0  # lost 1/4 and 4 of 4: r = 0.25 and 4
    assert float(balance.content_floor({balance.FLOOR_LAYER: near}, {balance.FLOOR_LAYER: target}, 0.5)) == 0.0
    assert float(balance.content_floor({balance.FLOOR_LAYER: far}, {balance.FLOOR_LAYER: target}, 0.5)) == \
        pytest.approx(3.5 ** 2)


def test_strength_is_checked():
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="strength must be between 0"):
            Config(strength=bad)


def test_the_tutorial_preset_keeps_its_weights():
    """The tutorial's objective stays the tutorial's: weights as given, no floor."""
    tutorial = Config.preset("tutorial")
    assert (tutorial.balance, tutorial.strength, tutorial.content_floor) == ("fixed", 0.5, 0.0)
    assert balance.balanced_weights(tutorial, balance.Scales(1.0, 1.0)) == (1e4, 1e-2, 30.0)
    assert balance.floor_weight(tutorial) == 0.0


# --- with the real ImageNet weights -------------------------------------------------------------

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


@pytest.fixture(scope="module")
def by_strength():
    """One pair at 128 px, at five strengths: SSIM to the photo and style distance to the painting (at 64 px the
    strengths above 0.5 hardly differ: there the palette start alone brings most of the painting's statistics)."""
    content = load_image(ROOT / "data" / "content" / "china.jpg", 128)
    style = load_image(ROOT / "data" / "style" / "great_wave.jpg", 128)
    config = Config(size=128, steps=50, tolerance=0.0, precision="float32")
    extractor = extractor_for(config)
    targets = {name: gaussian_fit(*feature_moments(f)) for name, f in extractor(style).items()
               if name in config.style_layers}

    def style_distance(image):
        features = extractor(image)
        return float(tf.add_n([wasserstein_distance(features[n], t)[0] for n, t in targets.items()]))

    rows = {}
    for strength in STRENGTHS:
        image = stylize(content, style, dataclasses.replace(config, strength=strength), extractor=extractor).image
        rows[strength] = (float(tf.image.ssim(luminance(image)[..., :1], luminance(content)[..., :1], 1.0)[0]),
                          style_distance(image) / style_distance(content))
    return rows


def test_strength_zero_gives_back_the_photo(by_strength):
    """No style, no smoothness, the photo's own colours to start from: nothing moves."""
    assert by_strength[0.0] == (pytest.approx(1.0), pytest.approx(1.0))


def test_strength_one_gives_the_paintings_statistics(by_strength):
    """Style alone: the closest to the painting of the five, and far below the photo's distance (0.11 of it,
    measured: 50 steps at 128 px; the weakest strength, 0.25, keeps 0.31)."""
    assert by_strength[1.0][1] < 0.15 and by_strength[1.0][1] == min(row[1] for row in by_strength.values())


def test_strength_moves_evenly_from_the_photo_to_the_painting(by_strength):
    """Each step of 0.25 brings the style closer and, up to 0.75, loses structure; 0.25 and 0.75 lie about as far
    from 0.5 on a log scale of the style distance (within 3x of each other)."""
    ssim = [by_strength[s][0] for s in STRENGTHS]
    style = [by_strength[s][1] for s in STRENGTHS]
    assert all(a > b for a, b in zip(style, style[1:]))
    assert ssim[0] > ssim[1] > ssim[2] > ssim[3]
    steps = -np.diff(np.log(style[1:4]))
    assert max(steps) / min(steps) < 3
