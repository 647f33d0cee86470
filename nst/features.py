"""VGG19 activations at chosen layers, read with one multi-output Keras model."""

from __future__ import annotations

import functools

import keras
import tensorflow as tf

from nst import weights as vgg_weights
from nst.config import POOLINGS, VGG19_LAYERS


@functools.lru_cache(maxsize=2)
def _vgg19(keras_weights: str | None) -> keras.Model:
    """``keras.applications.VGG19`` without its classifier; cached so notebooks load it once."""
    try:
        model = keras.applications.VGG19(include_top=False, weights=keras_weights)
    except Exception as e:  # Keras raises a bare Exception for a failed download
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise vgg_weights.WeightsError(
            f"could not load the VGG19 weights ({first_line}); {vgg_weights.HOW_TO_FIX}") from None
    model.trainable = False
    return model


class FeatureExtractor(keras.Model):
    """Maps images ``(B, H, W, 3)`` in [0, 1] to ``{layer name: activation (B, h, w, c)}``.

    VGG19's own preprocessing runs inside (RGB in [0, 255] to BGR minus the ImageNet mean, the
    "caffe" mode of ``keras.applications.vgg19.preprocess_input``). The network stops at the deepest
    requested layer, its weights are frozen, and with ``pooling="avg"`` every max pooling is replaced
    by average pooling, as Gatys et al. recommend for image synthesis.
    """

    def __init__(self, layers: tuple[str, ...] | list[str], weights: str | None = "imagenet",
                 pooling: str = "max") -> None:
        super().__init__()
        unknown = [name for name in layers if name not in VGG19_LAYERS]
        if unknown or not layers:
            raise ValueError(f"unknown VGG19 layer '{unknown[0] if unknown else ''}'; "
                             f"choose from {', '.join(VGG19_LAYERS)}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}; got '{pooling}'")
        keras_weights, self.weights_source = vgg_weights.resolve(weights)
        vgg = _vgg19(keras_weights)
        self.layer_names = tuple(dict.fromkeys(layers))
        self.pooling = pooling
        deepest = max(self.layer_names, key=VGG19_LAYERS.index)

        inputs = keras.Input((None, None, 3))
        x, outputs = inputs, {}
        for layer in vgg.layers[1:]:  # VGG19 is a plain chain: rebuild it up to the deepest layer
            if pooling == "avg" and isinstance(layer, keras.layers.MaxPooling2D):
                layer = keras.layers.AveragePooling2D(layer.pool_size, layer.strides, name=layer.name)
            x = layer(x)
            if layer.name in self.layer_names:
                outputs[layer.name] = x
            if layer.name == deepest:
                break
        self.vgg = keras.Model(inputs, outputs, name="vgg19_features")
        self.vgg.trainable = False
        self.weights_md5 = self._md5(keras_weights)

    @staticmethod
    def _md5(keras_weights: str | None) -> str | None:
        if keras_weights is None:
            return None
        # Keras checks this md5 each time it reads the cached ImageNet file.
        return vgg_weights.MD5 if keras_weights == "imagenet" else vgg_weights.md5sum(keras_weights)

    def call(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        x = keras.applications.vgg19.preprocess_input(image * 255.0)  # (B, H, W, 3) BGR, mean removed
        return self.vgg(x)

    def describe(self) -> dict:
        """Model details to publish next to results."""
        return {
            "backbone": "VGG19 (keras.applications, include_top=False)",
            "layers": list(self.layer_names),
            "pooling": self.pooling,
            "weights": self.weights_source,
            "weights_md5": self.weights_md5,
            "parameters": int(self.vgg.count_params()),
        }
