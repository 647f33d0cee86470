"""The VGG19 feature extractor (random weights: shapes and structure only) and where weights come from."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nst import FeatureExtractor, WeightsError, features
from nst import weights as vgg_weights


@pytest.fixture(scope="module")
def extractor():
    return FeatureExtractor(["block1_conv1", "block3_conv1", "block5_conv2"], weights=None)


def test_returns_a_dict_of_the_requested_layers_with_their_shapes(extractor):
    features = extractor(tf.zeros((2, 64, 96, 3)))
    assert {name: tuple(f.shape) for name, f in features.items()} == {
        "block1_conv1": (2, 64, 96, 64),
        "block3_conv1": (2, 16, 24, 256),  # after two poolings
        "block5_conv2": (2, 4, 6, 512),  # after four
    }


def test_the_network_stops_at_the_deepest_requested_layer():
    shallow = FeatureExtractor(["block2_conv1"], weights=None)
    names = [layer.name for layer in shallow.vgg.layers]
    assert names[-1] == "block2_conv1" and "block3_conv1" not in names
    assert shallow.describe()["parameters"] == (3 * 3 * 3 + 1) * 64 + (3 * 3 * 64 + 1) * 64 + (3 * 3 * 64 + 1) * 128


def test_weights_are_frozen(extractor):
    assert extractor.trainable_weights == [] and extractor.vgg.trainable_weights == []


def test_preprocessing_is_vgg19_caffe_mode_inside_the_model():
    # A white pixel in [0, 1] becomes 255 minus the ImageNet mean, in BGR order.
    image = tf.ones((1, 1, 1, 3))
    expected = np.array([255 - 103.939, 255 - 116.779, 255 - 123.68])
    np.testing.assert_allclose(keras.applications.vgg19.preprocess_input(image * 255.0).numpy()[0, 0, 0],
                               expected, rtol=1e-6)
    # ... and the extractor applies it: the centre of a white 3x3 image sees exactly that input.
    first_layer = FeatureExtractor(["block1_conv1"], weights=None, precision="float32")
    kernel, bias = first_layer.vgg.get_layer("block1_conv1").get_weights()  # (3, 3, 3, 64), (64,)
    by_hand = np.maximum(np.einsum("c,ijcd->d", expected, kernel) + bias, 0)  # ReLU(Σ w·x + b)
    np.testing.assert_allclose(first_layer(tf.ones((1, 3, 3, 3)))["block1_conv1"].numpy()[0, 1, 1], by_hand,
                               rtol=1e-4, atol=1e-4)


def test_average_pooling_replaces_max_pooling():
    avg = FeatureExtractor(["block3_conv1"], weights=None, pooling="avg")
    kinds = {type(layer).__name__ for layer in avg.vgg.layers}
    assert "AveragePooling2D" in kinds and "MaxPooling2D" not in kinds


def test_bfloat16_computes_close_to_float32_and_returns_float32():
    layers = ["block1_conv1", "block3_conv1"]
    exact = FeatureExtractor(layers, weights=None, precision="float32")
    fast = FeatureExtractor(layers, weights=None, precision="bfloat16")  # same (cached) random weights
    assert {layer.compute_dtype for layer in fast.vgg.layers[1:]} == {"bfloat16"}
    assert fast.describe()["precision"] == "bfloat16"
    image = tf.random.stateless_uniform((1, 48, 48, 3), seed=[1, 2])
    for name in layers:
        a, b = exact(image)[name], fast(image)[name]
        assert b.dtype == tf.float32
        # bfloat16 keeps 8 significant bits (0.4% per rounding); errors partly cancel over a layer's sums.
        assert 1e-4 < float(tf.norm(a - b) / tf.norm(a)) < 2e-2


def test_auto_precision_is_bfloat16_only_on_hardware_that_has_it(monkeypatch):
    for has_it, expected in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(features, "_has_bfloat16_hardware", lambda has_it=has_it: has_it)
        assert features.resolve_precision("auto") == expected
    assert features.resolve_precision("float32") == "float32"
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bfloat16"):
        features.resolve_precision("float16")


@pytest.mark.parametrize("layers", [["block9_conv1"], ["block1_pool"], []])
def test_unknown_layers_are_refused(layers):
    with pytest.raises(ValueError, match="block1_conv1, block1_conv2"):
        FeatureExtractor(layers, weights=None)


def test_a_missing_weights_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(WeightsError, match=r"python -m nst.weights.*--weights PATH"):
        FeatureExtractor(["block1_conv1"], weights=str(tmp_path / "nope.h5"))


def test_nst_weights_environment_variable_replaces_imagenet(monkeypatch, tmp_path):
    path = tmp_path / "w.h5"
    path.write_bytes(b"not really weights")
    monkeypatch.setenv(vgg_weights.ENV_VAR, str(path))
    assert vgg_weights.resolve("imagenet") == (str(path), f"local file {path}")
    with pytest.raises(WeightsError, match="could not load the VGG19 weights"):
        FeatureExtractor(["block1_conv1"], weights="imagenet")
    monkeypatch.delenv(vgg_weights.ENV_VAR)
    assert vgg_weights.resolve("imagenet")[0] == "imagenet"
    assert vgg_weights.resolve(None)[0] is None
