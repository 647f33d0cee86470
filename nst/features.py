"""VGG19 activations at chosen layers, read with one multi-output Keras model."""

from __future__ import annotations

import functools
from pathlib import Path

import keras
import tensorflow as tf

from nst import weights as vgg_weights
from nst import vgg19
from nst.config import PADDINGS, POOLINGS, PRECISIONS, TUTORIAL, Config


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


def cpuinfo() -> str:
    """The text of ``/proc/cpuinfo`` (the CPU's model name and flags), or "" where there is none (not Linux)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _has_bfloat16_hardware() -> bool:
    """A GPU of compute capability 8.0 or more (Ampere on), or a CPU with AVX-512 BF16 or AMX."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
        return tuple(capability) >= (8, 0)
    flags = cpuinfo()  # empty where there is none: no cheap way to ask, so stay exact
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    """``auto`` becomes ``bfloat16`` where the hardware computes it natively, else ``float32``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got '{precision}'")
    if precision == "auto":
        return "bfloat16" if _has_bfloat16_hardware() else "float32"
    return precision


class ReplicatePadding(keras.layers.Layer):
    """Pads height and width by one pixel that repeats the edge (``tf.pad``'s SYMMETRIC mode, for one pixel)."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")


class FeatureExtractor(keras.Model):
    """Maps images ``(B, H, W, 3)`` in [0, 1] to ``{layer name: activation (B, h, w, c)}``.

    VGG19's own preprocessing runs inside (RGB in [0, 255] to BGR minus the ImageNet mean, the
    "caffe" mode of ``keras.applications.vgg19.preprocess_input``). The network stops at the deepest
    requested layer, its weights are frozen, and with ``pooling="avg"`` every max pooling is replaced
    by average pooling, as Gatys et al. recommend for image synthesis. With ``padding="replicate"`` the
    first convolution sees the edge pixels repeated instead of Keras' zeros (after VGG19's mean is
    removed, a frame of the ImageNet mean colour, a mid grey, around every image).

    Its defaults are the tutorial's network (max pooling, Keras' zero padding: ``nst.config.TUTORIAL``), the one
    the lessons read; ``stylize`` builds it with ``Config``'s.

    With ``precision="bfloat16"`` the convolutions compute in bfloat16 (Keras' ``mixed_bfloat16``
    policy: weights stay float32); the activations are returned as float32 either way, so the Gram
    matrices and losses are always float32. ``"auto"`` picks bfloat16 on hardware that has it.
    """

    def __init__(self, layers: tuple[str, ...] | list[str], weights: str | None = Config.weights,
                 pooling: str = TUTORIAL.pooling, precision: str = Config.precision,
                 padding: str = TUTORIAL.padding) -> None:
        super().__init__()
        if not layers:
            raise ValueError(f"give at least one VGG19 layer; choose from {', '.join(vgg19.LAYERS)}")
        for name in layers:
            vgg19.block(name)  # a ValueError for an unknown layer
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}; got '{pooling}'")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {', '.join(PADDINGS)}; got '{padding}'")
        keras_weights, self.weights_source = vgg_weights.resolve(weights)
        vgg = _vgg19(keras_weights)
        self.layer_names = tuple(dict.fromkeys(layers))
        self.pooling, self.padding = pooling, padding
        self.precision = resolve_precision(precision)
        policy = "mixed_bfloat16" if self.precision == "bfloat16" else "float32"
        deepest = max(self.layer_names, key=vgg19.LAYERS.index)

        inputs = keras.Input((None, None, 3))
        x, outputs = inputs, {}
        copies = []
        for layer in vgg.layers[1:]:  # VGG19 is a plain chain: rebuild it up to the deepest layer
            if pooling == "avg" and isinstance(layer, keras.layers.MaxPooling2D):
                copy = keras.layers.AveragePooling2D(layer.pool_size, layer.strides, name=layer.name, dtype=policy)
            elif padding == "replicate" and not copies:  # block1_conv1: its 3x3 kernel needs one pixel each side
                x = ReplicatePadding(dtype=policy)(x)
                copy = type(layer).from_config({**layer.get_config(), "dtype": policy, "padding": "valid"})
            else:  # a copy under our dtype policy, so the cached VGG19 stays untouched
                copy = type(layer).from_config({**layer.get_config(), "dtype": policy})
            x = copy(x)
            copies.append((copy, layer))
            if layer.name in self.layer_names:
                outputs[layer.name] = x
            if layer.name == deepest:
                break
        for copy, layer in copies:
            copy.set_weights(layer.get_weights())
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
        return {name: tf.cast(value, tf.float32) for name, value in self.vgg(x).items()}

    def describe(self) -> dict:
        """Model details to publish next to results."""
        return {
            "backbone": "VGG19 (keras.applications, include_top=False)",
            "layers": list(self.layer_names),
            "pooling": self.pooling,
            "padding": self.padding,
            "precision": self.precision,
            "weights": self.weights_source,
            "weights_md5": self.weights_md5,
            "parameters": int(self.vgg.count_params()),
        }
