"""The VGG19 feature extractor (random weights: shapes and structure only) and where weights come from."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nst import FeatureExtractor, WeightsError
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
    first_layer = FeatureExtractor(["block1_conv1"], weights=None)
    kernel, bias = first_layer.vgg.get_layer("block1_conv1").get_weights()  # (3, 3, 3, 64), (64,)
    by_hand = np.maximum(np.einsum("c,ijcd->d", expected, kernel) + bias, 0)  # ReLU(Σ w·x + b)
    np.testing.assert_allclose(first_layer(tf.ones((1, 3, 3, 3)))["block1_conv1"].numpy()[0, 1, 1], by_hand,
                               rtol=1e-4, atol=1e-4)


def test_average_pooling_replaces_max_pooling():
    avg = FeatureExtractor(["block3_conv1"], weights=None, pooling="avg")
    kinds = {type(layer).__name__ for layer in avg.vgg.layers}
    assert "AveragePooling2D" in kinds and "MaxPooling2D" not in kinds


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
