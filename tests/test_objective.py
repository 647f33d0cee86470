"""nst's default objective (Wasserstein style loss, L2 smoothness, replicate padding, palette start, √2 sizes)
against hand-computed values, and the tutorial preset against the TensorFlow tutorial's own code."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import linalg

import nst
from nst import Config
from nst.cli import build_parser, config_from_args
from nst.features import FeatureExtractor, _vgg19
from nst.losses import (feature_moments, gaussian_fit, guided_gram_matrix, smoothness_loss, style_content_loss,
                        wasserstein_distance)
from nst.color import match_color_histogram
from nst.inputs import initial_image, palette_start
from nst.objective import extractor_for, objective_for, style_targets_for
from nst.plan import coarse_to_fine_sizes

RNG = np.random.default_rng(0)


def _w2_by_hand(x: np.ndarray, y: np.ndarray, epsilon: float) -> float:
    """W₂² between Gaussian fits of two sets of feature vectors (N, C), each part over C, in float64."""
    channels = x.shape[1]
    mean_x, mean_y = x.mean(0), y.mean(0)
    cov_x = np.cov(x.T, bias=True) + epsilon * np.eye(channels)
    cov_y = np.cov(y.T, bias=True) + epsilon * np.eye(channels)
    root_y = linalg.sqrtm(cov_y).real
    cross = np.trace(linalg.sqrtm(root_y @ cov_x @ root_y).real)
    return float((np.sum((mean_x - mean_y) ** 2) + np.trace(cov_x) + np.trace(cov_y) - 2 * cross) / channels)


def test_wasserstein_distance_against_scipy():
    x, y = RNG.normal(size=(1, 6, 5, 4)), RNG.normal(1.0, 2.0, size=(1, 7, 3, 4))
    target = gaussian_fit(*feature_moments(tf.constant(y, tf.float32)))
    actual = float(wasserstein_distance(tf.constant(x, tf.float32), target)[0])
    assert actual == pytest.approx(_w2_by_hand(x.reshape(-1, 4), y.reshape(-1, 4), nst.losses.COVARIANCE_EPSILON),
                                   rel=1e-4)
    # zero against itself (up to the regularised square roots' rounding), and Σ^{1/2} Σ^{1/2} = Σ
    same = gaussian_fit(*feature_moments(tf.constant(x, tf.float32)))
    assert abs(float(wasserstein_distance(tf.constant(x, tf.float32), same)[0])) < 1e-4
    np.testing.assert_allclose((same.root @ same.root).numpy(), same.covariance.numpy(), atol=1e-5)


def test_wasserstein_distance_of_two_gaussians_with_equal_covariance_is_their_mean_shift():
    x = RNG.normal(size=(1, 8, 8, 3)).astype(np.float32)
    shifted = x + np.float32([1.0, 2.0, 2.0])  # same covariance, mean moved by (1, 2, 2): ‖Δμ‖² = 9
    target = gaussian_fit(*feature_moments(tf.constant(shifted)))
    assert float(wasserstein_distance(tf.constant(x), target)[0]) == pytest.approx(9 / 3, abs=1e-4)


def test_its_gradient_stays_finite_when_features_are_flat():
    flat = tf.ones((1, 4, 4, 8))  # covariance 0: every eigenvalue repeats
    target = gaussian_fit(*feature_moments(tf.constant(RNG.normal(size=(1, 4, 4, 8)), tf.float32)))
    with tf.GradientTape() as tape:
        tape.watch(flat)
        loss = wasserstein_distance(flat, target)
    assert np.isfinite(tape.gradient(loss, flat).numpy()).all()


def test_masked_moments_of_a_full_mask_are_the_plain_ones():
    features = tf.constant(RNG.normal(size=(1, 6, 4, 3)), tf.float32)
    mean, gram = feature_moments(features, tf.ones((1, 12, 8, 1)))
    np.testing.assert_allclose(mean.numpy(), tf.reduce_mean(features, [1, 2]).numpy(), atol=1e-6)
    np.testing.assert_allclose(gram.numpy(), nst.gram_matrix(features).numpy(), atol=1e-5)
    np.testing.assert_allclose(guided_gram_matrix(features, tf.ones((1, 6, 4, 1))).numpy(), gram.numpy(), atol=1e-5)


def test_smoothness_loss_by_hand():
    image = tf.constant([[[[0.0], [1.0]], [[0.0], [1.0]]]])  # (1, 2, 2, 1): 0 1 / 0 1, edges repeated
    # rows: differences 1, 0 and 1, 0 (the repeated edge): mean 1/2; columns: all 0;
    # ↘ over the padded 4x4 (0 0 1 1 in each row): mean 3/9 ... both diagonals 1/3 each
    x = np.pad(np.array([[0.0, 1.0], [0.0, 1.0]]), 1, mode="edge")
    rows = np.mean((x[1:-1, 2:] - x[1:-1, 1:-1]) ** 2)
    columns = np.mean((x[2:, 1:-1] - x[1:-1, 1:-1]) ** 2)
    down = np.mean((x[1:, 1:] - x[:-1, :-1]) ** 2)
    up = np.mean((x[1:, :-1] - x[:-1, 1:]) ** 2)
    assert (rows, columns, down, up) == (0.5, 0.0, 1 / 3, 1 / 3)
    assert float(smoothness_loss(image)) == pytest.approx(2 * (0.5 / 3 + 0 / 3 + (1 / 3) / 12 + (1 / 3) / 12))
    assert float(smoothness_loss(tf.fill((1, 5, 7, 3), 0.3))) == 0.0
    # a mean: the same picture at twice the size costs about the same, unlike the L1 sum (4x)
    ramp = tf.linspace(0.0, 1.0, 32)[tf.newaxis, tf.newaxis, :, tf.newaxis] * tf.ones((1, 32, 1, 3))
    big = tf.image.resize(ramp, (64, 64))
    assert float(smoothness_loss(big)) == pytest.approx(float(smoothness_loss(ramp)) / 4, rel=0.1)  # half the slope


def test_losses_per_image_reduce_to_the_batch_loss_and_equal_each_image_alone():
    images = tf.constant(RNG.uniform(size=(2, 6, 6, 3)), tf.float32)
    features = {"c": tf.constant(RNG.normal(size=(2, 3, 3, 4)), tf.float32),
                "s": tf.constant(RNG.normal(size=(2, 3, 3, 4)), tf.float32)}
    content = {"c": tf.constant(RNG.normal(size=(2, 3, 3, 4)), tf.float32)}
    style = {"s": gaussian_fit(*feature_moments(tf.constant(RNG.normal(size=(1, 5, 5, 4)), tf.float32)))}
    keywords = dict(content_weight=2.0, style_weight=3.0, tv_weight=4.0, style_distance="wasserstein", tv_norm="l2")
    per_image = style_content_loss(images, features, content, style, per_image=True, **keywords)
    batch = style_content_loss(images, features, content, style, **keywords)
    for i in range(2):
        alone = style_content_loss(images[i:i + 1], {k: v[i:i + 1] for k, v in features.items()},
                                   {"c": content["c"][i:i + 1]}, style, **keywords)
        for name in ("content", "style", "tv", "total"):
            assert float(per_image[name][i]) == pytest.approx(float(alone[name]), rel=1e-5)
    # over a batch, the means average the images' losses (the tutorial's reduction), the L1 TV adds them
    assert float(batch["total"]) == pytest.approx(float(tf.reduce_mean(per_image["total"])), rel=1e-6)
    l1 = style_content_loss(images, features, content, style, **{**keywords, "tv_norm": "l1"})
    l1_per_image = style_content_loss(images, features, content, style, per_image=True, **{**keywords, "tv_norm": "l1"})
    assert float(l1["tv"]) == pytest.approx(float(tf.reduce_sum(l1_per_image["tv"])), rel=1e-6)
    assert float(l1["content"]) == pytest.approx(float(tf.reduce_mean(l1_per_image["content"])), rel=1e-6)


def test_replicate_padding_leaves_no_border_on_a_flat_image():
    flat = tf.fill((1, 8, 8, 3), 0.7)
    replicate = FeatureExtractor(("block1_conv1",), weights=None, precision="float32", padding="replicate")
    zero = FeatureExtractor(("block1_conv1",), weights=None, precision="float32")
    assert replicate(flat)["block1_conv1"].shape == zero(flat)["block1_conv1"].shape == (1, 8, 8, 64)
    inside = zero(flat)["block1_conv1"][0, 3, 3]
    np.testing.assert_allclose(replicate(flat)["block1_conv1"][0].numpy(), np.broadcast_to(inside, (8, 8, 64)),
                               rtol=1e-5, atol=1e-5)
    assert not np.allclose(zero(flat)["block1_conv1"][0, 0, 0].numpy(), inside.numpy(), atol=1e-3)


def test_palette_start_is_the_photo_in_the_paintings_colours():
    photo = tf.constant(RNG.uniform(0.2, 0.6, size=(1, 12, 16, 3)), tf.float32)
    painting = tf.constant(RNG.uniform(0.3, 0.9, size=(1, 10, 10, 3)) * [1.0, 0.5, 0.2], tf.float32)
    start = initial_image(Config(init="palette"), photo.shape, photo, [painting], [1.0]).numpy().reshape(-1, 3)
    np.testing.assert_allclose(start.mean(0), painting.numpy().reshape(-1, 3).mean(0), atol=1e-3)
    assert np.corrcoef(start[:, 0], photo.numpy().reshape(-1, 3)[:, 0])[0, 1] > 0.9  # the photo's layout stays


def test_palette_start_of_several_styles():
    photo = tf.constant(RNG.uniform(0.3, 0.7, size=(1, 8, 12, 3)), tf.float32)
    # pale colours: the recoloured pixels stay inside [0, 1], so no clipping moves their mean
    red = tf.constant(RNG.uniform(0.0, 0.1, size=(1, 6, 6, 3)) + [0.55, 0.4, 0.4], tf.float32)
    blue = tf.constant(RNG.uniform(0.0, 0.1, size=(1, 9, 7, 3)) + [0.4, 0.4, 0.55], tf.float32)
    # a blend 3:1: the mixture's mean is 3/4 of red's and 1/4 of blue's
    blended = palette_start(photo, [red, blue], [0.75, 0.25]).numpy().reshape(-1, 3)
    mixed = 0.75 * red.numpy().reshape(-1, 3).mean(0) + 0.25 * blue.numpy().reshape(-1, 3).mean(0)
    np.testing.assert_allclose(blended.mean(0), mixed, atol=1e-3)
    # regions: the left half in red's palette, the right half in blue's
    left = tf.constant(np.concatenate([np.ones((1, 8, 6, 1)), np.zeros((1, 8, 6, 1))], axis=2), tf.float32)
    regions = palette_start(photo, [red, blue], [0.5, 0.5], [left, 1 - left]).numpy()
    np.testing.assert_allclose(regions[0, :, :6], match_color_histogram(photo, red).numpy()[0, :, :6], atol=1e-6)
    np.testing.assert_allclose(regions[0, :, 6:], match_color_histogram(photo, blue).numpy()[0, :, 6:], atol=1e-6)
    with pytest.raises(ValueError, match="init='palette' needs a content and a style image"):
        initial_image(Config(init="palette"), photo.shape, None, [red], [1.0])


def test_sizes_grow_by_root_two():
    assert coarse_to_fine_sizes(384, 512, 128, 2 ** 0.5) == [(96, 128), (136, 181), (192, 256), (272, 362),
                                                              (384, 512)]


def test_the_tutorial_preset_and_the_cli_flag():
    tutorial = Config.preset("tutorial")
    assert (tutorial.style_loss, tutorial.tv_norm, tutorial.pooling, tutorial.padding) == ("gram", "l1", "max", "zero")
    assert tutorial.content_layers == ("block5_conv2",)
    assert (tutorial.content_weight, tutorial.style_weight, tutorial.tv_weight) == (1e4, 1e-2, 30.0)
    assert Config.preset("tutorial", optimizer="adam", precision="float32").optimizer == "adam"  # stays selectable
    args = build_parser().parse_args(["a.jpg", "b.jpg", "--preset", "tutorial", "--steps", "5"])
    assert config_from_args(args) == Config.preset("tutorial", steps=5)
    with pytest.raises(ValueError, match="unknown preset 'fast'; choose from tutorial"):
        Config.preset("fast")


def test_the_tutorial_preset_computes_the_tutorials_loss():
    """The loss of the TensorFlow tutorial "Neural style transfer", in its own code, on a small image."""
    config = Config.preset("tutorial", size=48, weights=None, precision="float32")
    content = tf.constant(RNG.uniform(size=(1, 36, 48, 3)), tf.float32)
    style = tf.constant(RNG.uniform(size=(1, 40, 48, 3)), tf.float32)
    image = tf.constant(RNG.uniform(size=(1, 36, 48, 3)), tf.float32)

    # The tutorial, cell by cell (tensorflow.org/tutorials/generative/style_transfer), on the same VGG19.
    vgg = _vgg19(None)
    content_layers, style_layers = ["block5_conv2"], ["block1_conv1", "block2_conv1", "block3_conv1",
                                                      "block4_conv1", "block5_conv1"]
    model = keras.Model([vgg.input], [vgg.get_layer(name).output for name in style_layers + content_layers])

    def gram(input_tensor):
        result = tf.linalg.einsum("bijc,bijd->bcd", input_tensor, input_tensor)
        return result / tf.cast(tf.shape(input_tensor)[1] * tf.shape(input_tensor)[2], tf.float32)

    def outputs(inputs):
        values = model(keras.applications.vgg19.preprocess_input(inputs * 255.0))
        return ({name: gram(v) for name, v in zip(style_layers, values[:5])},
                {name: v for name, v in zip(content_layers, values[5:])})

    style_targets, content_targets = outputs(style)[0], outputs(content)[1]
    style_outputs, content_outputs = outputs(image)
    style_loss = tf.add_n([tf.reduce_mean((style_outputs[n] - style_targets[n]) ** 2) for n in style_outputs])
    content_loss = tf.add_n([tf.reduce_mean((content_outputs[n] - content_targets[n]) ** 2) for n in content_outputs])
    tutorial = (style_loss * 1e-2 / 5 + content_loss * 1e4 / 1 + 30 * tf.image.total_variation(image))[0]

    extractor = extractor_for(config)
    features = extractor(content)
    terms = style_content_loss(image, extractor(image), {n: features[n] for n in config.content_layers},
                               style_targets_for(extractor, [style], config, [1.0]), config.content_weight,
                               config.style_weight, config.tv_weight, **objective_for(config, nst.losses.Functions()))
    assert float(terms["total"]) == pytest.approx(float(tutorial), rel=1e-5)
    # and a run with the preset scores its first step with it: start from the same seeded noise
    run = nst.stylize(content, style, dataclasses.replace(config, init="noise", steps=0))
    noise = tf.random.stateless_uniform((1, 36, 48, 3), seed=[config.seed, 0])
    assert run.history[0]["total"] == pytest.approx(float(terms_at(noise, content, style, config)), rel=1e-5)


def terms_at(image, content, style, config):
    extractor = extractor_for(config)
    features = extractor(content)
    return style_content_loss(image, extractor(image), {n: features[n] for n in config.content_layers},
                              style_targets_for(extractor, [style], config, [1.0]), config.content_weight,
                              config.style_weight, config.tv_weight)["total"]
