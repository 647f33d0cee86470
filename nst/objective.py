"""What a run minimises, and its targets at each size: ``α·content + β·style + γ·tv``, plus terms of one's own.

``Objective`` is built once per run from the prepared images (``nst.inputs.Inputs``); ``Objective.at_size`` gives
the targets of one coarse-to-fine size, computed once there: the content image's features ``P_l`` and each style
image's statistics (Gram matrices ``A_l``, or Gaussian fits for the Wasserstein distance), and the loss function
of the image being optimised.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import tensorflow as tf

from nst.balance import (ANALYSIS_SIZE, FLOOR_LAYER, Scales, balanced_weights, content_floor, floor_share,
                         floor_weight)
from nst.color import luminance
from nst.config import TUTORIAL, Config
from nst.features import FeatureExtractor
from nst.inputs import Inputs, palette_start, resize, scaled
from nst.losses import STYLE_DISTANCES, Functions, Region, feature_moments, gaussian_fit, gram_matrix, style_loss
from nst.tiles import Tile, tiled_moments

Term = Callable[[tf.Tensor], tf.Tensor]  # a weighted scalar loss of the image (1, h, w, 3), traced with the others
LossFunction = Callable[[tf.Tensor], dict[str, tf.Tensor]]  # the image -> {"content", "style", "tv", ..., "total"}


def extractor_for(config: Config, content: bool = True, style: bool = True,
                  extractor: FeatureExtractor | None = None) -> FeatureExtractor:
    """The extractor a run with ``config`` needs: its content and style layers whose weight is not 0.

    A given ``extractor`` is returned as it is once it is checked to compute those layers.
    """
    layers = ((config.content_layers if content and config.content_weight > 0 else ())
              + ((FLOOR_LAYER,) if content and style and config.content_weight > 0 and config.content_floor else ())
              + (config.style_layers if style and config.style_weight > 0 else ()))
    if extractor is None:
        return FeatureExtractor(layers or config.content_layers, config.weights, config.pooling, config.precision,
                                config.padding)
    missing = [name for name in layers if name not in extractor.layer_names]
    if missing:
        raise ValueError(f"the extractor does not compute layer '{missing[0]}'")
    return extractor


def style_targets_for(extractor: FeatureExtractor, styles: list[tf.Tensor], config: Config, blend: list[float],
                      masks: list[tf.Tensor] | None = None, height_width: tuple[int, int] | None = None,
                      gram_fn: Callable = gram_matrix, tile: int | None = None) -> dict | list[Region]:
    """The style targets of each style layer: Gram matrices (``style_loss="gram"``) or ``GaussianFit``s.

    Several styles are blended as ``Σ_k w_k μ^k`` and ``Σ_k w_k G^k`` (means and Gram matrices, which
    combine linearly); with ``masks`` each style keeps its own targets in a ``Region`` of the image.
    With ``tile``, each painting's statistics are accumulated over tiles of that size (``tiled_moments``).
    ``gram_fn`` replaces ``nst.losses.gram_matrix`` (a student's own).
    """
    def target(mean: tf.Tensor, gram: tf.Tensor):
        return gaussian_fit(mean, gram) if config.style_loss == "wasserstein" else gram

    if tile is not None:
        moments = [tiled_moments(extractor, style, config.style_layers, tile) for style in styles]
    else:
        moments = [{name: feature_moments(features[name], gram_fn=gram_fn) for name in config.style_layers}
                   for features in map(extractor, styles)]
    if masks is None:
        return {name: target(tf.add_n([w * m[name][0] for w, m in zip(blend, moments)]),
                             tf.add_n([w * m[name][1] for w, m in zip(blend, moments)]))
                for name in config.style_layers}
    return [Region(w, tf.image.resize(mask, height_width, method="area"),
                   {name: target(*m[name]) for name in config.style_layers})
            for w, mask, m in zip(blend, masks, moments)]


def layer_weights(config: Config) -> dict[str, float]:
    """``w_l``: each style layer's weight, ``config.style_layer_weights`` (equal when empty) over their sum."""
    weights = config.style_layer_weights or (1.0,) * len(config.style_layers)
    return {name: w / sum(weights) for name, w in zip(config.style_layers, weights)}


def pair_scales(extractor: FeatureExtractor, content: tf.Tensor, styles: list[tf.Tensor], blend: list[float],
                config: Config) -> Scales:
    """A pair's own scales (``nst.balance``): ``C = mean_l mean(P_l²)`` over the content layers, ``S = Σ_l w_l
    d(F_l(photo), A_l)`` the photo's style loss against the blended paintings, and ``q``, the SSIM of the photo's
    luminance in the paintings' colours (``palette_start``) against its own; for the photo ``(1, H, W, 3)``, its
    long side brought to ``ANALYSIS_SIZE`` and the paintings scaled with it."""
    scale = min(1.0, ANALYSIS_SIZE / max(content.shape[1:3]))
    photo = resize(content, (max(1, round(content.shape[1] * scale)), max(1, round(content.shape[2] * scale))))
    features = extractor(photo)
    energy = tf.add_n([tf.reduce_mean(tf.square(tf.cast(features[name], tf.float32)))
                       for name in config.content_layers]) / len(config.content_layers)
    targets = style_targets_for(extractor, [scaled(style, scale * config.style_scale, f"style image {i + 1}")
                                            for i, style in enumerate(styles)], config, blend)
    distance = style_loss(features, targets, layer_weights(config), STYLE_DISTANCES[config.style_loss])
    recoloured = palette_start(photo, styles, blend)
    tones = tf.image.ssim(luminance(recoloured)[..., :1], luminance(photo)[..., :1], max_val=1.0)[0]
    return Scales(float(energy), float(distance), float(tf.clip_by_value(tones, 0.0, 1.0)))


def objective_for(config: Config, functions: Functions) -> dict:
    """The keywords of ``style_content_loss`` that ``config`` asks for; none for functions of one's own,
    which compute the tutorial's objective, so they need its settings."""
    if functions._replace(train_step=None) == Functions():
        return {"style_distance": config.style_loss, "tv_norm": config.tv_norm, "layer_weights": layer_weights(config)}
    changed = [name for name in ("style_loss", "tv_norm", "style_layer_weights", "padding")
               if getattr(config, name) != getattr(TUTORIAL, name)]
    if changed:
        raise ValueError(f"functions of one's own compute the tutorial's objective: use Config.preset('tutorial') "
                         f"(this config has {changed[0]}={getattr(config, changed[0])!r})")
    return {}


class Level(NamedTuple):
    """One coarse-to-fine size: its images and its targets, computed once there."""

    objective: Objective
    content: tf.Tensor | None  # the photo at this size, (1, h, w, 3)
    styles: list[tf.Tensor]  # the paintings, scaled like the photo (times config.style_scale)
    content_targets: dict[str, tf.Tensor]  # P_l of the whole image (none at a size optimised in tiles)
    style_targets: dict | list[Region]  # A_l (or Gaussian fits) of the blended paintings, or one Region each

    def loss(self) -> LossFunction:
        """The loss of the whole image at this size."""
        return self.objective.loss_function(self.content_targets, self.style_targets)

    def loss_of_tile(self, tile: Tile) -> LossFunction:
        """The loss of one tile: its own content targets (the photo's features on the tile), the size's style."""
        return self.objective.loss_function(self.objective.content_targets(tile.crop(self.content)),
                                            self.style_targets)


class Objective:
    """``α'·content_loss + β'·style_loss + γ'·tv`` (``functions.style_content_loss`` with ``config``'s terms, and its
    weights after the strength and the pair's scales: ``nst.balance``) plus each of ``terms``, for the images
    ``inputs``; ``at_size`` computes its targets at one size."""

    def __init__(self, config: Config, inputs: Inputs, extractor: FeatureExtractor,
                 functions: Functions = Functions(), terms: dict[str, Term] | None = None) -> None:
        self.config, self.inputs, self.extractor = config, inputs, extractor
        self.functions, self.terms = functions, dict(terms or {})
        self.keywords = objective_for(config, functions)
        both = inputs.content is not None and inputs.styles and config.content_weight > 0 and config.style_weight > 0
        self.scales = (pair_scales(extractor, inputs.content, inputs.styles, inputs.blend, config)
                       if both and config.balance == "auto" else None)
        self.content_weight, self.style_weight, self.tv_weight = balanced_weights(config, self.scales)  # nst.balance
        self.use_content = inputs.content is not None and self.content_weight > 0
        self.use_style = bool(inputs.styles) and self.style_weight > 0
        self.floor_weight = floor_weight(config) if self.use_content and self.use_style else 0.0
        self.floor = floor_share(config, self.scales)  # ρ
        self.target_layers = config.content_layers + ((FLOOR_LAYER,) if self.floor_weight else ())

    def weights(self) -> dict:
        """The weights this objective uses, and the pair's scales they came from (``nst.balance``)."""
        scales = {} if self.scales is None else {"pair_content_scale": self.scales.content,
                                                 "pair_style_scale": self.scales.style, "pair_tones": self.scales.tones}
        return {"content": self.content_weight, "style": self.style_weight, "tv": self.tv_weight,
                "floor": self.floor_weight, "floor_share": self.floor if self.floor_weight else None, **scales}

    def content_targets(self, content: tf.Tensor | None) -> dict[str, tf.Tensor]:
        """``P_l``: the photo's features at the content layers only (the others are large at large sizes)."""
        if not self.use_content:
            return {}
        return {name: f for name, f in self.extractor(content).items() if name in self.target_layers}

    def loss_function(self, content_targets: dict, style_targets: dict | list[Region]) -> LossFunction:
        """The image's weighted terms and their sum, against these targets."""
        config, functions, extractor, terms = self.config, self.functions, self.extractor, self.terms

        content_only = {name: content_targets[name] for name in config.content_layers if name in content_targets}

        def loss(image: tf.Tensor) -> dict[str, tf.Tensor]:
            features = extractor(image)
            losses = functions.style_content_loss(image, features, content_only, style_targets,
                                                  self.content_weight, self.style_weight, self.tv_weight,
                                                  **self.keywords)
            if self.floor_weight:
                losses["floor"] = self.floor_weight * content_floor(features, content_targets, self.floor)
                losses["total"] = losses["total"] + losses["floor"]
            for name, term in terms.items():
                losses[name] = term(image)
                losses["total"] = losses["total"] + losses[name]
            return losses

        return loss

    def at_size(self, height: int, width: int, tile: int | None) -> Level:
        """The targets at ``height x width``, optimised whole (``tile=None``) or in tiles of at most ``tile`` px."""
        config, inputs = self.config, self.inputs
        scale = height / inputs.height  # the style images are scaled like the content, keeping their ratio
        content = None if inputs.content is None else resize(inputs.content, (height, width))
        styles = [scaled(s, scale * config.style_scale, f"style image {i + 1}") for i, s in enumerate(inputs.styles)]
        style_targets = {}
        if self.use_style:
            style_targets = style_targets_for(self.extractor, styles, config, inputs.blend, inputs.masks,
                                              (height, width), self.functions.gram_matrix, tile)
        content_targets = self.content_targets(content) if tile is None else {}
        return Level(self, content, styles, content_targets, style_targets)
