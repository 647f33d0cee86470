"""The three losses of Gatys et al., normalised as in the TensorFlow tutorial "Neural style transfer".

Gatys et al. (2016) write the content loss as ``1/2 Σ (F - P)²`` and the style loss of layer l as
``1/(4 N_l² M_l²) Σ (G - A)²`` with an unnormalised Gram matrix. Here, as in the tutorial, the Gram
matrix is divided by the number of positions H·W and each loss is a plain *mean* of squared
differences, so the weights of the tutorial (content 1e4, style 1e-2, total variation 30) mean the same
thing here. Only the constant factors differ from the paper; the minimisers are the same up to the
ratio of the weights.
"""

from __future__ import annotations

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


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """``Σ |x[i+1, j] - x[i, j]| + Σ |x[i, j+1] - x[i, j]|`` over pixels and channels, summed over the batch.

    This is ``tf.image.total_variation``: a sum, not a mean, so for the same picture it grows with
    the number of pixels (4x from 256 to 512 px).
    """
    return tf.reduce_sum(tf.image.total_variation(image))


def style_content_loss(image: tf.Tensor, features: dict[str, tf.Tensor],
                       content_targets: dict[str, tf.Tensor], style_targets: dict[str, tf.Tensor],
                       content_weight: float, style_weight: float, tv_weight: float) -> dict[str, tf.Tensor]:
    """The weighted terms and their sum: ``{"content", "style", "tv", "total"}``.

    ``total = α · content_loss + β · style_loss + γ · total_variation_loss`` with the weights
    ``α, β, γ`` already applied to each returned term. A term with weight 0 (or no targets) is 0.
    """
    zero = tf.constant(0.0)
    terms = {
        "content": content_weight * content_loss(features, content_targets) if content_targets else zero,
        "style": style_weight * style_loss(features, style_targets) if style_targets else zero,
        "tv": tv_weight * total_variation_loss(image) if tv_weight else zero,
    }
    terms["total"] = terms["content"] + terms["style"] + terms["tv"]
    return terms
