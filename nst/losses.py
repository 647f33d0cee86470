"""The three losses of Gatys et al., normalised as in the TensorFlow tutorial "Neural style transfer".

Gatys et al. (2016) write the content loss as ``1/2 Σ (F - P)²`` and the style loss of layer l as
``1/(4 N_l² M_l²) Σ (G - A)²`` with an unnormalised Gram matrix. Here, as in the tutorial, the Gram
matrix is divided by the number of positions H·W and each loss is a plain *mean* of squared
differences, so the weights of the tutorial (content 1e4, style 1e-2, total variation 30) mean the same
thing here. Only the constant factors differ from the paper; the minimisers are the same up to the
ratio of the weights.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import tensorflow as tf


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Channel correlations of a feature map, averaged over positions.

    ``G[b, c, d] = Σ_ij F[b, i, j, c] · F[b, i, j, d] / (H · W)`` for ``F`` of shape ``(B, H, W, C)``;
    returns ``(B, C, C)``.
    """
    features = tf.cast(features, tf.float32)
    gram = tf.einsum("bijc,bijd->bcd", features, features)  # (B, C, C)
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return gram / positions


def content_loss(features: dict[str, tf.Tensor], targets: dict[str, tf.Tensor]) -> tf.Tensor:
    """Mean over layers of ``mean((F_l - P_l)²)``: F the image's features, P the content image's."""
    return tf.add_n([tf.reduce_mean(tf.square(tf.cast(features[name], tf.float32) - target))
                     for name, target in targets.items()]) / len(targets)


def style_loss(features: dict[str, tf.Tensor], targets: dict[str, tf.Tensor],
               layer_weights: dict[str, float] | None = None) -> tf.Tensor:
    """``Σ_l w_l · mean((G_l - A_l)²)``: G the image's Gram matrices, A the style image's.

    ``targets`` holds the style Gram matrices ``A_l``. The layer weights ``w_l`` default to ``1/L``
    for ``L`` layers (the tutorial's average; Gatys et al. also use equal weights).
    """
    if layer_weights is None:
        layer_weights = {name: 1.0 / len(targets) for name in targets}
    return tf.add_n([layer_weights[name] * tf.reduce_mean(tf.square(gram_matrix(features[name]) - target))
                     for name, target in targets.items()])


class Region(NamedTuple):
    """One style for one part of the image (Gatys et al. 2017, "Controlling Perceptual Factors", spatial control)."""

    weight: float  # w_r: the share of the style loss this region's style gets
    mask: tf.Tensor  # (1, H, W, 1) in [0, 1] at the output image's size: where the style goes
    targets: dict[str, tf.Tensor]  # the style image's Gram matrices A_l, per layer


def guided_gram_matrix(features: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """The Gram matrix of the features inside a mask, averaged over the mask.

    ``G^m[b, c, d] = Σ_ij m_ij² F[b, i, j, c] F[b, i, j, d] / Σ_ij m_ij²``, the Gram matrix of the
    guided features ``F ∘ m``; the mask is first averaged down to the layer's positions. For a mask
    of ones this is ``gram_matrix``: a region's statistics are compared with a whole style image's.
    """
    mask = tf.image.resize(mask, tf.shape(features)[1:3], method="area")  # (B, H_l, W_l, 1): soft at edges
    weights = tf.square(mask)
    features = tf.cast(features, tf.float32)
    gram = tf.einsum("bijc,bijd->bcd", features * weights, features)  # (B, C, C)
    return gram / tf.maximum(tf.reduce_sum(weights, axis=[1, 2, 3]), 1e-8)[:, tf.newaxis, tf.newaxis]


def regional_style_loss(features: dict[str, tf.Tensor], regions: list[Region]) -> tf.Tensor:
    """``Σ_r w_r · 1/L Σ_l mean((G^m_r,l - A_r,l)²)``: each region matches its own style's Gram matrices."""
    total = tf.constant(0.0)
    for region in regions:
        per_layer = [tf.reduce_mean(tf.square(guided_gram_matrix(features[name], region.mask) - target))
                     for name, target in region.targets.items()]
        total += region.weight * tf.add_n(per_layer) / len(per_layer)
    return total


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """``Σ |x[i+1, j] - x[i, j]| + Σ |x[i, j+1] - x[i, j]|`` over pixels and channels, summed over the batch.

    This is ``tf.image.total_variation``: a sum, not a mean, so for the same picture it grows with
    the number of pixels (4x from 256 to 512 px).
    """
    return tf.reduce_sum(tf.image.total_variation(image))


def style_content_loss(image: tf.Tensor, features: dict[str, tf.Tensor],
                       content_targets: dict[str, tf.Tensor], style_targets: dict[str, tf.Tensor] | list[Region],
                       content_weight: float, style_weight: float, tv_weight: float) -> dict[str, tf.Tensor]:
    """The weighted terms and their sum: ``{"content", "style", "tv", "total"}``.

    ``total = α · content_loss + β · style_loss + γ · total_variation_loss`` with the weights
    ``α, β, γ`` already applied to each returned term. A term with weight 0 (or no targets) is 0.
    ``style_targets`` is one Gram matrix per layer, or a list of ``Region``s (``regional_style_loss``).
    """
    zero = tf.constant(0.0)
    regional = isinstance(style_targets, list)
    terms = {
        "content": content_weight * content_loss(features, content_targets) if content_targets else zero,
        "style": style_weight * (regional_style_loss(features, style_targets) if regional
                                 else style_loss(features, style_targets)) if style_targets else zero,
        "tv": tv_weight * total_variation_loss(image) if tv_weight else zero,
    }
    terms["total"] = terms["content"] + terms["style"] + terms["tv"]
    return terms


class Functions(NamedTuple):
    """The functions a run is built from, so that one's own can be swapped in (``nst.classroom`` hands
    a student's in). Each default is nst's own; a replacement takes the same arguments and returns the same.
    """

    gram_matrix: Callable[[tf.Tensor], tf.Tensor] = gram_matrix  # for the style targets A_l
    style_content_loss: Callable[..., dict[str, tf.Tensor]] = style_content_loss  # the weighted terms and total
    train_step: Callable | None = None  # one Adam update (nst.optimizers.adam_step); needs optimizer="adam"
