"""The controls of Gatys et al. (2017): several styles, regions, style scale, colour preservation; API and CLI."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from nst import Config, load_image, stylize
from nst.cli import main
from nst.color import rgb_to_yiq
from nst.losses import gaussian_fit, gram_matrix, style_loss, wasserstein_distance
from nst.objective import extractor_for

CONTENT, STYLE_A, STYLE_B = "content/chelsea.jpg", "style/great_wave.jpg", "style/starry_night.jpg"
SMALL = Config(size=64, steps=20, tolerance=0.0, precision="float32")
TUTORIAL = Config.preset("tutorial", size=64, steps=20, tolerance=0.0, precision="float32")  # Gram matrices
# Texture synthesis (no content term) from noise: what the output takes from the styles is all there is.
SYNTHESIS = dataclasses.replace(SMALL, init="noise", content_weight=0.0, steps=30)


@pytest.fixture(scope="module")
def paths(content_path):
    data = content_path.parent.parent
    return {name: data / path for name, path in (("content", CONTENT), ("a", STYLE_A), ("b", STYLE_B))}


@pytest.fixture(scope="module")
def extractor():
    return extractor_for(SMALL)


@pytest.fixture(scope="module")
def tutorial_extractor():
    return extractor_for(TUTORIAL)


def _grams(extractor, image, layer="block2_conv1"):
    return gram_matrix(extractor(image)[layer])


def test_blend_weights_one_and_zero_give_the_single_style_result(paths, extractor):
    single = stylize(paths["content"], paths["a"], SMALL, extractor=extractor)
    blended = stylize(paths["content"], [paths["a"], paths["b"]], dataclasses.replace(SMALL, style_blend=(1.0, 0.0)),
                      extractor=extractor)
    np.testing.assert_array_equal(blended.image.numpy(), single.image.numpy())


def test_the_style_target_is_the_weighted_gram_matrices(paths, tutorial_extractor):
    config = dataclasses.replace(TUTORIAL, steps=0, style_blend=(7.0, 3.0))  # normalised to 0.7 and 0.3
    result = stylize(paths["content"], [paths["a"], paths["b"]], config, extractor=tutorial_extractor)
    content = load_image(paths["content"], 64)
    grams = [tutorial_extractor(load_image(paths[k], 64)) for k in "ab"]
    targets = {n: 0.7 * gram_matrix(grams[0][n]) + 0.3 * gram_matrix(grams[1][n]) for n in config.style_layers}
    by_hand = result.weights["style"] * float(style_loss(tutorial_extractor(content), targets))
    assert result.history[0]["style"] == pytest.approx(by_hand, rel=1e-5)
    with pytest.raises(ValueError, match="3 weights for 2 style images"):
        stylize(paths["content"], [paths["a"], paths["b"]], dataclasses.replace(SMALL, style_blend=(1, 1, 1)))


def test_the_wasserstein_target_of_a_blend_is_the_gaussian_of_the_blended_moments(paths, extractor):
    """Means and second moments combine linearly, covariances do not: the blend fits one Gaussian to
    ``Σ_k w_k μ^k`` and ``Σ_k w_k G^k``."""
    config = dataclasses.replace(SMALL, steps=0, init="content", style_blend=(7.0, 3.0))
    result = stylize(paths["content"], [paths["a"], paths["b"]], config, extractor=extractor)
    features = [extractor(load_image(paths[k], 64)) for k in "ab"]
    means = [{n: tf.reduce_mean(f[n], [1, 2]) for n in config.style_layers} for f in features]
    targets = {n: gaussian_fit(0.7 * means[0][n] + 0.3 * means[1][n],
                               0.7 * gram_matrix(features[0][n]) + 0.3 * gram_matrix(features[1][n]))
               for n in config.style_layers}
    by_hand = result.weights["style"] * float(style_loss(extractor(load_image(paths["content"], 64)), targets,
                                                     distance=wasserstein_distance))
    assert result.history[0]["style"] == pytest.approx(by_hand, rel=1e-4)


def test_masks_give_each_region_its_own_style(paths, extractor):
    height, width = load_image(paths["content"], 64).shape[1:3]
    left = np.zeros((height, width), np.float32)
    left[:, : width // 2] = 1.0
    result = stylize(paths["content"], [paths["a"], paths["b"]], SYNTHESIS, extractor=extractor,
                     masks=[left, 1.0 - left])
    style_grams = [_grams(extractor, load_image(paths[k], 64)) for k in "ab"]
    margin = 4  # pixels beside the border see both styles through VGG19's receptive fields
    halves = {"left": result.image[:, :, : width // 2 - margin], "right": result.image[:, :, width // 2 + margin:]}
    distance = {(half, k): float(tf.reduce_mean(tf.square(_grams(extractor, image) - style_grams[i])))
                for half, image in halves.items() for i, k in enumerate("ab")}
    # Measured at 30 steps: each half is 2.2-2.7x closer to its own style than to the other one.
    assert distance["left", "a"] < distance["left", "b"] / 1.5
    assert distance["right", "b"] < distance["right", "a"] / 1.5
    with pytest.raises(ValueError, match="mask 2 is empty"):
        stylize(paths["content"], [paths["a"], paths["b"]], SMALL, extractor=extractor, masks=[left, 0 * left])


def test_style_scale_resizes_the_style_image(paths, extractor, tutorial_extractor):
    config = dataclasses.replace(TUTORIAL, steps=0, style_scale=0.5)
    result = stylize(paths["content"], paths["a"], config, extractor=tutorial_extractor)
    style = load_image(paths["a"], 64)
    half = tf.clip_by_value(tf.image.resize(style, [round(s / 2) for s in style.shape[1:3]], antialias=True), 0, 1)
    targets = {n: gram_matrix(tutorial_extractor(half)[n]) for n in config.style_layers}
    content = load_image(paths["content"], 64)
    by_hand = result.weights["style"] * float(style_loss(tutorial_extractor(content), targets))
    assert result.history[0]["style"] == pytest.approx(by_hand, rel=1e-5)
    with pytest.raises(ValueError, match="below the 16 px"):
        stylize(paths["content"], paths["a"], dataclasses.replace(SMALL, style_scale=0.1), extractor=extractor)


def test_luminance_only_transfer_keeps_the_content_chrominance(paths, extractor):
    result = stylize(paths["content"], paths["a"], dataclasses.replace(SMALL, preserve_color="luminance"),
                     extractor=extractor)
    plain = stylize(paths["content"], paths["a"], SMALL, extractor=extractor)
    content = load_image(paths["content"], 64)
    yiq, content_yiq, plain_yiq = (rgb_to_yiq(x).numpy() for x in (result.image, content, plain.image))
    # Where no channel was clipped to [0, 1] by the recombination, I and Q are exactly the content's.
    unclipped = np.all((result.image.numpy() > 0.002) & (result.image.numpy() < 0.998), axis=-1)
    assert unclipped.mean() > 0.9
    np.testing.assert_allclose(yiq[..., 1:][unclipped], content_yiq[..., 1:][unclipped], atol=2e-3)
    assert np.abs(plain_yiq[..., 1:] - content_yiq[..., 1:]).mean() > 0.02  # the plain transfer changes colour
    assert np.abs(yiq[..., 0] - content_yiq[..., 0]).mean() > 0.02  # and luminance was stylised


def test_histogram_matching_gives_the_output_the_contents_colours(paths, extractor):
    content_mean = load_image(paths["content"], 64).numpy().mean(axis=(0, 1, 2))
    distances = {}
    for mode in ("none", "histogram"):
        result = stylize(paths["content"], paths["a"], dataclasses.replace(SYNTHESIS, preserve_color=mode),
                         extractor=extractor)
        distances[mode] = np.abs(result.image.numpy().mean(axis=(0, 1, 2)) - content_mean).max()
    # Measured: the synthesised texture's mean colour is within 0.1 of the photo's with the recoloured style,
    # 0.14 away with the painting's own colours.
    assert distances["histogram"] < 0.1 < distances["none"]


def test_cli_blends_masks_and_preserves_colour(tmp_path, paths):
    # Bad flags for these controls are rows of the table in test_cli.py.
    out, metrics = tmp_path / "out.png", tmp_path / "out.json"
    height, width = load_image(paths["content"], 64).shape[1:3]
    left = np.zeros((height, width, 3), np.uint8)
    left[:, : width // 2] = 255
    Image.fromarray(left).save(tmp_path / "left.png")
    Image.fromarray(255 - left).save(tmp_path / "right.png")
    assert main([str(paths["content"]), "--style", str(paths["a"]), str(paths["b"]), "--style-blend", "0.7", "0.3",
                 "--mask", str(tmp_path / "left.png"), str(tmp_path / "right.png"), "--preserve-color", "histogram",
                 "-o", str(out), "--metrics", str(metrics), "--size", "64", "--steps", "3"]) == 0
    record = json.loads(metrics.read_text())
    assert len(record["styles"]) == 2 and len(record["masks"]) == 2
    assert record["config"]["style_blend"] == [0.7, 0.3] and record["config"]["preserve_color"] == "histogram"
    assert load_image(out, None).shape == (1, height, width, 3)
