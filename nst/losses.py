"""The losses of style transfer: the tutorial's (Gatys et al.) and the sharper ones nst uses by default.

Gatys et al. (2016) write the content loss as ``1/2 Σ (F - P)²`` and the style loss of layer l as
``1/(4 N_l² M_l²) Σ (G - A)²`` with an unnormalised Gram matrix. Here, as in the TensorFlow tutorial
"Neural style transfer", the Gram matrix is divided by the number of positions H·W and each loss is a
plain *mean* of squared differences, so the tutorial's weights (content 1e4, style 1e-2, total
variation 30) mean the same thing here (``Config.preset("tutorial")``). Only the constant factors differ
from the paper; the minimisers are the same up to the ratio of the weights.

nst's defaults swap two terms for ones that give bolder colours and less colour speckle
(docs/quality.md): the Wasserstein-2 distance between Gaussian fits of the features (``wasserstein_distance``,
as in crowsonkb/style-transfer-pytorch) instead of Gram MSE, and an L2 total variation over a 9-point
stencil (``smoothness_loss``) instead of the L1 one.

For one image every loss is that image's loss. Over a batch, the content and style losses and the L2
smoothness average the images' losses (a mean over the whole tensor, as the tutorial's code takes it) and
the L1 total variation adds them (``tf.image.total_variation`` summed); ``per_image=True`` returns each
image's own loss, shape ``(B,)``, which batch mode (``nst.batch``) sums, so both modes compute the same
numbers for each image.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import tensorflow as tf

# This module imports no other part of nst: the grader's sandboxed runner loads it alone (nst.classroom.runner).
COVARIANCE_EPSILON = 1e-3  # added to feature covariances: keeps their square roots differentiable


def _reduce(values: tf.Tensor, per_image: bool) -> tf.Tensor:
    """``(B,)`` per-image values, or their mean (the mean over the whole batch, for losses that are means)."""
    return values if per_image else tf.reduce_mean(values)


def _mean_per_image(x: tf.Tensor) -> tf.Tensor:
    """The mean over every axis but the first (the batch): ``(B,)``."""
    return tf.reduce_mean(x, axis=tf.range(1, tf.rank(x)))


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Channel correlations of a feature map, averaged over positions.

    ``G[b, c, d] = Σ_ij F[b, i, j, c] · F[b, i, j, d] / (H · W)`` for ``F`` of shape ``(B, H, W, C)``;
    returns ``(B, C, C)``.
    """
    features = tf.cast(features, tf.float32)
    gram = tf.einsum("bijc,bijd->bcd", features, features)  # (B, C, C)
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return gram / positions


def guided_gram_matrix(features: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """The Gram matrix of the features inside a mask, averaged over the mask.

    ``G^m[b, c, d] = Σ_ij m_ij² F[b, i, j, c] F[b, i, j, d] / Σ_ij m_ij²``, the Gram matrix of the
    guided features ``F ∘ m``; the mask is first averaged down to the layer's positions. For a mask
    of ones this is ``gram_matrix``: a region's statistics are compared with a whole style image's.
    """
    return feature_moments(features, mask)[1]


def feature_moments(features: tf.Tensor, mask: tf.Tensor | None = None,
                    gram_fn: Callable[[tf.Tensor], tf.Tensor] = gram_matrix) -> tuple[tf.Tensor, tf.Tensor]:
    """The mean ``μ = Σ_ij m_ij² F_ij / Σ_ij m_ij²`` ``(B, C)`` and the Gram matrix (second moment) of a
    feature map, over all positions (no mask: ``m = 1``, the Gram matrix is ``gram_fn``'s, ``gram_matrix``
    or one's own) or weighted by a mask ``(B, H, W, 1)``, first averaged down to the layer's positions."""
    if mask is None:
        return tf.reduce_mean(tf.cast(features, tf.float32), axis=[1, 2]), gram_fn(features)
    mask = tf.image.resize(mask, tf.shape(features)[1:3], method="area")  # (B, H_l, W_l, 1): soft at edges
    weights = tf.square(mask)
    features = tf.cast(features, tf.float32)
    total = tf.maximum(tf.reduce_sum(weights, axis=[1, 2]), 1e-8)  # (B, 1)
    mean = tf.reduce_sum(features * weights, axis=[1, 2]) / total
    gram = tf.einsum("bijc,bijd->bcd", features * weights, features) / total[:, :, tf.newaxis]
    return mean, gram


class GaussianFit(NamedTuple):
    """A style image's features at one layer as a Gaussian: the target of ``wasserstein_distance``."""

    mean: tf.Tensor  # μ_s, (1, C)
    covariance: tf.Tensor  # Σ_s, (1, C, C)
    root: tf.Tensor  # Σ_s^{1/2}, (1, C, C)


def _covariance(mean: tf.Tensor, gram: tf.Tensor) -> tf.Tensor:
    """``Σ = G - μ μᵀ + ε I``: the covariance from the second moment, regularised."""
    channels = tf.shape(gram)[-1]
    return gram - mean[:, :, tf.newaxis] * mean[:, tf.newaxis, :] + COVARIANCE_EPSILON * tf.eye(channels)


def gaussian_fit(mean: tf.Tensor, gram: tf.Tensor) -> GaussianFit:
    """The ``GaussianFit`` of features with mean ``μ`` and second moment ``G`` (``feature_moments``).

    Several styles are blended by averaging their ``μ`` and ``G`` first: unlike covariances, those
    combine linearly. ``Σ^{1/2} = V diag(√λ) Vᵀ`` from the eigendecomposition ``Σ = V diag(λ) Vᵀ``.
    """
    covariance = _covariance(mean, gram)
    eigenvalues, eigenvectors = tf.linalg.eigh(covariance)
    root = tf.einsum("bij,bj,bkj->bik", eigenvectors, tf.sqrt(tf.maximum(eigenvalues, 0.0)), eigenvectors)
    return GaussianFit(mean, covariance, root)


def gram_distance(features: tf.Tensor, target: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """``mean((G - A)²)`` per image, ``(B,)``: the tutorial's style distance of one layer."""
    gram = gram_matrix(features) if mask is None else guided_gram_matrix(features, mask)
    return _mean_per_image(tf.square(gram - target))


def wasserstein_distance(features: tf.Tensor, target: GaussianFit, mask: tf.Tensor | None = None) -> tf.Tensor:
    """The squared Wasserstein-2 distance between Gaussian fits of the features and the style's, per image.

    ``W₂² = ‖μ - μ_s‖² + tr(Σ + Σ_s - 2 (Σ_s^{1/2} Σ Σ_s^{1/2})^{1/2})``, each part divided by the number of
    channels C. Unlike Gram MSE it compares means and covariances separately, so a mean (a colour,
    an overall brightness) cannot be traded against a correlation. The trace of the square root is
    ``Σ √λ_k`` over the eigenvalues of ``Σ_s^{1/2} Σ Σ_s^{1/2}``, whose gradient (``V diag(1/(2√λ)) Vᵀ``) needs
    no eigenvector derivatives and so stays finite when eigenvalues repeat.
    """
    mean, gram = feature_moments(features, mask)
    covariance = _covariance(mean, gram)
    channels = tf.cast(tf.shape(mean)[-1], tf.float32)
    product = target.root @ covariance @ target.root
    product = (product + tf.linalg.matrix_transpose(product)) / 2  # symmetric up to rounding: eigvalsh wants it exact
    # eigvalsh fails outright on NaN or Inf; give it the identity there and return NaN, which the
    # optimisers' NaN guard then reports as a non-finite loss.
    finite = tf.reduce_all(tf.math.is_finite(product), axis=[-2, -1])  # (B,)
    product = tf.where(finite[:, tf.newaxis, tf.newaxis], product, tf.eye(tf.shape(product)[-1]))
    cross = tf.reduce_sum(tf.sqrt(tf.maximum(tf.linalg.eigvalsh(product), COVARIANCE_EPSILON ** 2)), axis=-1)
    cross = tf.where(finite, cross, float("nan"))
    traces = tf.linalg.trace(covariance) + tf.linalg.trace(target.covariance) - 2 * cross
    return (tf.reduce_sum(tf.square(mean - target.mean), axis=-1) + traces) / channels


def content_loss(features: dict[str, tf.Tensor], targets: dict[str, tf.Tensor], per_image: bool = False) -> tf.Tensor:
    """Mean over layers of ``mean((F_l - P_l)²)``: F the image's features, P the content image's."""
    per_layer = [_mean_per_image(tf.square(tf.cast(features[name], tf.float32) - target))
                 for name, target in targets.items()]
    return _reduce(tf.add_n(per_layer) / len(targets), per_image)


def style_loss(features: dict[str, tf.Tensor], targets: dict[str, tf.Tensor],
               layer_weights: dict[str, float] | None = None, distance: Callable = gram_distance,
               per_image: bool = False) -> tf.Tensor:
    """``Σ_l w_l · d(F_l, A_l)``: the image's features against the style image's targets, layer by layer.

    With the default ``distance=gram_distance``, ``d = mean((G_l - A_l)²)`` and ``targets`` hold the style
    Gram matrices ``A_l`` (the tutorial); with ``wasserstein_distance`` they hold ``GaussianFit``s. The
    layer weights ``w_l`` default to ``1/L`` for ``L`` layers (the tutorial's average).
    """
    if layer_weights is None:
        layer_weights = {name: 1.0 / len(targets) for name in targets}
    return _reduce(tf.add_n([layer_weights[name] * distance(features[name], target)
                             for name, target in targets.items()]), per_image)


class Region(NamedTuple):
    """One style for one part of the image (Gatys et al. 2017, "Controlling Perceptual Factors", spatial control)."""

    weight: float  # w_r: the share of the style loss this region's style gets
    mask: tf.Tensor  # (1, H, W, 1) in [0, 1] at the output image's size: where the style goes
    targets: dict[str, tf.Tensor]  # the style image's targets per layer (Gram matrices, or GaussianFits)


def regional_style_loss(features: dict[str, tf.Tensor], regions: list[Region],
                        layer_weights: dict[str, float] | None = None, distance: Callable = gram_distance,
                        per_image: bool = False) -> tf.Tensor:
    """``Σ_r w_r · Σ_l w_l d(F_l, A_r,l; m_r)``: each region matches its own style inside its mask.

    ``d`` is ``distance`` taken on the features inside the mask (``guided_gram_matrix``,
    ``feature_moments``); the layer weights ``w_l`` default to ``1/L``.
    """
    total = 0.0
    for region in regions:
        weights = layer_weights or {name: 1.0 / len(region.targets) for name in region.targets}
        total += region.weight * tf.add_n([weights[name] * distance(features[name], target, region.mask)
                                           for name, target in region.targets.items()])
    return _reduce(total, per_image)


def total_variation_loss(image: tf.Tensor, per_image: bool = False) -> tf.Tensor:
    """``Σ |x[i+1, j] - x[i, j]| + Σ |x[i, j+1] - x[i, j]|`` over pixels and channels, summed over the batch.

    This is ``tf.image.total_variation``: a sum, not a mean, so for the same picture it grows with
    the number of pixels (4x from 256 to 512 px).
    """
    per_image_sums = tf.image.total_variation(image)
    return per_image_sums if per_image else tf.reduce_sum(per_image_sums)


def smoothness_loss(image: tf.Tensor, per_image: bool = False) -> tf.Tensor:
    """The L2 total variation over a 9-point stencil, a mean, so the same at every size.

    ``2 · (mean(d_x²)/3 + mean(d_y²)/3 + mean(d_↘²)/12 + mean(d_↙²)/12)``, with ``d`` the differences
    of neighbours along rows, columns and both diagonals, the edges padded by repeating them
    (crowsonkb/style-transfer-pytorch's ``TVLoss``). Squares let a strong edge cost less than many
    faint ones, unlike the L1 form; the diagonals make the penalty nearly the same in every direction,
    which leaves no horizontal and vertical texture behind.
    """
    x = tf.pad(image, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")  # one pixel: repeats the edge
    centre = x[:, 1:-1, 1:-1]
    terms = [_mean_per_image(tf.square(x[:, 1:-1, 2:] - centre)) / 3,
             _mean_per_image(tf.square(x[:, 2:, 1:-1] - centre)) / 3,
             _mean_per_image(tf.square(x[:, 1:, 1:] - x[:, :-1, :-1])) / 12,
             _mean_per_image(tf.square(x[:, 1:, :-1] - x[:, :-1, 1:])) / 12]
    return _reduce(2 * tf.add_n(terms), per_image)


STYLE_DISTANCES = {"gram": gram_distance, "wasserstein": wasserstein_distance}
TV_LOSSES = {"l1": total_variation_loss, "l2": smoothness_loss}


def style_content_loss(image: tf.Tensor, features: dict[str, tf.Tensor],
                       content_targets: dict[str, tf.Tensor], style_targets: dict[str, tf.Tensor] | list[Region],
                       content_weight: float, style_weight: float, tv_weight: float, *,
                       style_distance: str = "gram", tv_norm: str = "l1",
                       layer_weights: dict[str, float] | None = None, per_image: bool = False) -> dict[str, tf.Tensor]:
    """The weighted terms and their sum: ``{"content", "style", "tv", "total"}``.

    ``total = α · content_loss + β · style_loss + γ · tv`` with the weights ``α, β, γ`` already applied
    to each returned term. A term with weight 0 (or no targets) is 0. ``style_targets`` is one target
    per layer, or a list of ``Region``s (``regional_style_loss``). The keywords choose the terms
    (``Config.style_loss``, ``Config.tv_norm``, ``Config.style_layer_weights``); their defaults are the
    tutorial's objective, ``nst.config.TUTORIAL``'s (tests/test_losses.py keeps them so).
    """
    zero = tf.zeros(tf.shape(image)[:1]) if per_image else tf.constant(0.0)
    distance, tv = STYLE_DISTANCES[style_distance], TV_LOSSES[tv_norm]
    regional = isinstance(style_targets, list)
    style = (regional_style_loss if regional else style_loss)
    terms = {
        "content": content_weight * content_loss(features, content_targets, per_image) if content_targets else zero,
        "style": style_weight * style(features, style_targets, layer_weights, distance, per_image)
                 if style_targets else zero,
        "tv": tv_weight * tv(image, per_image) if tv_weight else zero,
    }
    terms["total"] = terms["content"] + terms["style"] + terms["tv"]
    return terms


class Functions(NamedTuple):
    """The functions a run is built from, so that one's own can be swapped in (``nst.classroom`` hands
    a student's in). Each default is nst's own; a replacement takes the same arguments and returns the same.
    Replacements compute the tutorial's objective, so a run with any needs ``Config.preset("tutorial")``.
    """

    gram_matrix: Callable[[tf.Tensor], tf.Tensor] = gram_matrix  # for the style targets A_l
    style_content_loss: Callable[..., dict[str, tf.Tensor]] = style_content_loss  # the weighted terms and total
    train_step: Callable | None = None  # one Adam update (nst.optimizers.adam_step); needs optimizer="adam"
