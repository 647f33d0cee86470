"""The images a run starts from: the photo and paintings as tensors, the masks, and the starting image."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import tensorflow as tf

from nst.color import luminance, match_color_histogram, match_luminance, mixture_statistics
from nst.config import Config
from nst.images import frame_widths, load_image
from nst.snapshot import fingerprint
from nst.vgg19 import MIN_SIZE

ImageLike = tf.Tensor | str | os.PathLike  # a file path, or an array or tensor (1, H, W, 3) or (H, W, 3) in [0, 1]


def as_image(image: ImageLike, size: int) -> tf.Tensor:
    """A path loaded with its long side ``size``, or an array or tensor used at its own size: ``(1, H, W, 3)``
    float32, checked to be one RGB image with finite values."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, size)
    image = tf.convert_to_tensor(image, tf.float32)
    if image.shape.rank == 3:
        image = image[tf.newaxis]
    if image.shape.rank != 4 or image.shape[0] != 1 or image.shape[-1] != 3:
        raise ValueError(f"expected an image of shape (1, H, W, 3) or (H, W, 3), got {tuple(image.shape)}")
    if not bool(tf.reduce_all(tf.math.is_finite(image))):
        raise ValueError("the image contains NaN or Inf values")
    return image


def style_image(style: ImageLike, config: Config, index: int) -> tf.Tensor:
    """A style image as ``as_image`` takes it, less its uniform border (``frame_widths``) if it has one
    and ``config.trim_frame`` is on; a warning (a ``nst: note:`` line in the CLI) says what was trimmed."""
    image = as_image(style, config.size)
    top, right, bottom, left = frame_widths(image) if config.trim_frame else (0, 0, 0, 0)
    if not top:
        return image
    name = f"'{style}'" if isinstance(style, (str, os.PathLike)) else f"style image {index + 1}"
    warnings.warn(f"{name} has a uniform border (a frame or mount): trimmed {top}, {right}, {bottom} and {left} px "
                  f"(top, right, bottom, left) before its statistics are taken (trim_frame=False, --no-trim-frame, "
                  f"keeps it)", stacklevel=4)
    height, width = image.shape[1:3]
    return image[:, top:height - bottom, left:width - right]


def as_mask(mask: ImageLike, height_width: tuple[int, int], index: int) -> tf.Tensor:
    """A mask image or array as ``(1, H, W, 1)`` in [0, 1] at the content's size: white is where the style goes."""
    if isinstance(mask, (str, os.PathLike)):
        mask = load_image(mask, None)
    mask = tf.convert_to_tensor(mask, tf.float32)
    if mask.shape.rank == 2:
        mask = mask[..., tf.newaxis]  # (H, W, 1)
    if mask.shape.rank == 3:
        mask = mask[tf.newaxis]  # (1, H, W, C)
    if mask.shape.rank != 4 or mask.shape[0] != 1 or mask.shape[-1] not in (1, 3):
        raise ValueError(f"mask {index + 1} must be an image, or an array (H, W), (H, W, 1|3) or (1, H, W, 1|3)")
    if not bool(tf.reduce_all((mask >= 0) & (mask <= 1))):
        raise ValueError(f"mask {index + 1} must have values in [0, 1]")
    mask = tf.reduce_mean(mask, axis=-1, keepdims=True)  # grey: (1, H, W, 1)
    if not float(tf.reduce_max(mask)) > 0:
        raise ValueError(f"mask {index + 1} is empty (all black): its style would go nowhere")
    return tf.image.resize(mask, height_width, method="bilinear", antialias=True)


def blend_weights(config: Config, count: int) -> list[float]:
    """The styles' weights, summing to 1: ``config.style_blend`` normalised, or equal."""
    if not config.style_blend:
        return [1.0 / count] * count
    if len(config.style_blend) != count:
        raise ValueError(f"style_blend has {len(config.style_blend)} weights for {count} style images; give one each")
    return [w / sum(config.style_blend) for w in config.style_blend]


def resize(image: tf.Tensor, height_width: tuple[int, int]) -> tf.Tensor:
    return tf.clip_by_value(tf.image.resize(image, height_width, method="bilinear", antialias=True), 0.0, 1.0)


def scaled(image: tf.Tensor, scale: float, what: str) -> tf.Tensor:
    """``image`` resized by ``scale``; a ValueError names ``what`` if it would be too small for VGG19."""
    height, width = (round(side * scale) for side in image.shape[1:3])
    if min(height, width) < MIN_SIZE:
        raise ValueError(f"the {what} would be {width}x{height} px at this size and style scale, below the "
                         f"{MIN_SIZE} px VGG19 needs; raise style_scale or size")
    return resize(image, (height, width))


def palette_start(content: tf.Tensor, styles: list[tf.Tensor], blend: list[float],
                  masks: list[tf.Tensor] | None = None) -> tf.Tensor:
    """The photo recoloured to the paintings' colour mean and covariance (``match_color_histogram``).

    Several styles: to the statistics of their pixels mixed in the proportions ``blend``
    (``mixture_statistics``); with ``masks``, each region ``Σ_k m_k x_k / Σ_k m_k`` in its own style's
    colours, ``x_k`` the photo recoloured to style k. Starting in the painting's palette, the optimiser
    need not move every pixel's colour through VGG19's features, which it does slowly and with speckle.
    """
    if masks is None:
        return match_color_histogram(content, mixture_statistics(styles, blend))
    masks = [tf.image.resize(mask, content.shape[1:3], method="area") for mask in masks]
    recoloured = tf.add_n([mask * match_color_histogram(content, style) for mask, style in zip(masks, styles)])
    return recoloured / tf.maximum(tf.add_n(masks), 1e-6)


def initial_image(config: Config, shape: tuple[int, ...], content: tf.Tensor | None, styles: list[tf.Tensor],
                  blend: list[float], masks: list[tf.Tensor] | None = None) -> tf.Tensor:
    """The image ``config.init`` names, of ``shape`` ``(1, H, W, 3)``: the photo, the photo in the paintings'
    palette (``palette_start``; below strength 0.5 mixed with the photo), the first painting, or seeded noise."""
    if config.init == "content" and content is not None:
        return content
    if config.init == "palette" and content is not None and styles:
        # The painting's colours are part of the painting: below strength 0.5 the start takes a share of them
        # (none at strength 0, where the photo is the answer), from 0.5 up all of them.
        share = min(1.0, 2 * config.strength)
        start = palette_start(content, styles, blend, masks)
        return start if share == 1.0 else share * start + (1 - share) * content
    if config.init == "style" and styles:
        return resize(styles[0], shape[1:3])
    if config.init == "noise":
        return tf.random.stateless_uniform(shape, seed=[config.seed, 0])  # (1, H, W, 3) in [0, 1)
    needs = "a content and a style image" if config.init == "palette" else f"a {config.init} image"
    raise ValueError(f"init='{config.init}' needs {needs}")


@dataclass
class Inputs:
    """A run's images, prepared once: what ``stylize`` and friends were given, as tensors at ``config.size``."""

    content: tf.Tensor | None  # (1, H, W, 3); grey with preserve_color="luminance"
    styles: list[tf.Tensor]  # (1, h, w, 3) each, frames trimmed, recoloured if preserve_color asks
    blend: list[float]  # the styles' weights, summing to 1
    masks: list[tf.Tensor] | None  # (1, H, W, 1) each, one per style
    colored_content: tf.Tensor | None  # the photo in colour, for preserve_color="luminance"
    fingerprint: str  # of the images as given: a snapshot continues only a run on the same ones

    @property
    def height(self) -> int:
        return int((self.content if self.content is not None else self.styles[0]).shape[1])

    @property
    def width(self) -> int:
        return int((self.content if self.content is not None else self.styles[0]).shape[2])


def prepare(content: ImageLike | None, style: ImageLike | list[ImageLike] | None, config: Config,
            masks: list[ImageLike] | None = None) -> Inputs:
    """Load and check the images; apply ``config.preserve_color`` (Gatys et al. 2017): recolour the styles to
    the photo's colours (``histogram``), or work on luminance only (``luminance``)."""
    content = None if content is None else as_image(content, config.size)
    styles = style if isinstance(style, list) else [] if style is None else [style]
    styles = [style_image(s, config, i) for i, s in enumerate(styles)]
    if masks is not None:
        if content is None or len(masks) != len(styles):
            raise ValueError(f"give one mask per style image: {len(masks)} masks for {len(styles)} styles")
        masks = [as_mask(mask, content.shape[1:3], i) for i, mask in enumerate(masks)]
    given = fingerprint(content, *styles, *(masks or []))
    colored_content = content
    if config.preserve_color != "none" and content is None:
        raise ValueError("preserve_color needs a content image")
    if config.preserve_color == "histogram":
        styles = [match_color_histogram(s, content) for s in styles]
    elif config.preserve_color == "luminance":
        styles = [match_luminance(s, content) for s in styles]
        content = luminance(content)
    blend = blend_weights(config, len(styles)) if styles else []
    return Inputs(content, styles, blend, masks, colored_content, given)
