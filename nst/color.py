"""Keeping the content image's colours: the two methods of Gatys et al. (2017), section 5.

Plain style transfer copies the style image's colours along with its brush strokes. Gatys, Bethge,
Hertzmann and Shechtman, "Controlling Perceptual Factors in Neural Style Transfer" (CVPR 2017; first
posted as "Preserving Color in Neural Artistic Style Transfer", arXiv:1606.05897) give two ways to keep
the content's colours instead:

1. **Luminance-only transfer.** Transfer style between luminance (grey) images only: match the style
   luminance's mean and standard deviation to the content's (:func:`match_luminance`), stylise the
   content's luminance (:func:`luminance`) with it, then put the content's colour channels back on the
   result (:func:`recombine_luminance`). The colour space is YIQ (:func:`rgb_to_yiq`), where Y is the
   luminance and I, Q carry the colour.
2. **Colour histogram matching.** Before the transfer, recolour the style image with a linear map of its
   RGB pixels, ``x' = A x + b``, so that their mean and covariance become the content's
   (:func:`match_color_histogram`); then run the usual transfer with the recoloured style.

Images are float32 tensors ``(1, H, W, 3)`` or ``(H, W, 3)`` with RGB values in [0, 1]. Statistics
(means, standard deviations, covariances) are taken over every pixel of the tensor, which is one image here.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# NTSC YIQ: the rows give Y, I and Q from (R, G, B). Y's weights sum to 1 and I's and Q's to 0,
# so a grey pixel (R = G = B = v) has Y = v and no colour, I = Q = 0.
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                       [0.595716, -0.274453, -0.321263],
                       [0.211456, -0.522591, 0.311135]])
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)

# Added to both covariances in match_color_histogram: keeps Σ_s^{-1/2} finite for flat or grey styles.
COVARIANCE_EPSILON = 1e-5
# A luminance standard deviation below this counts as a flat (constant) image in match_luminance.
FLAT_STD = 1e-6


def _float32(image) -> tf.Tensor:
    return tf.convert_to_tensor(image, dtype=tf.float32)


def _apply_matrix(matrix: np.ndarray, image: tf.Tensor) -> tf.Tensor:
    """``out[..., i] = Σ_j M[i, j] · image[..., j]``: the 3×3 matrix applied to every pixel."""
    return tf.tensordot(_float32(image), tf.constant(matrix.T, dtype=tf.float32), axes=1)


def rgb_to_yiq(image: tf.Tensor) -> tf.Tensor:
    """RGB to NTSC YIQ along the last axis, any leading shape.

    ``Y = 0.299 R + 0.587 G + 0.114 B``,
    ``I = 0.595716 R - 0.274453 G - 0.321263 B``,
    ``Q = 0.211456 R - 0.522591 G + 0.311135 B``.
    """
    return _apply_matrix(RGB_TO_YIQ, image)


def yiq_to_rgb(image: tf.Tensor) -> tf.Tensor:
    """NTSC YIQ back to RGB along the last axis: ``(R, G, B) = M⁻¹ (Y, I, Q)``.

    ``M⁻¹`` is the inverse of the matrix of :func:`rgb_to_yiq`, computed with ``np.linalg.inv`` at import,
    so the round trip is exact up to float32 rounding. Values are not clipped: YIQ triples from
    different images can map outside [0, 1].
    """
    return _apply_matrix(YIQ_TO_RGB, image)


def _grey(channel: tf.Tensor) -> tf.Tensor:
    """One channel ``(..., 1)`` repeated into 3 equal ones and clipped to [0, 1]: a grey RGB image."""
    return tf.clip_by_value(tf.concat([channel] * 3, axis=-1), 0.0, 1.0)


def luminance(image: tf.Tensor) -> tf.Tensor:
    """The luminance ``Y = 0.299 R + 0.587 G + 0.114 B`` as a grey RGB image, same shape as ``image``.

    All three channels equal ``Y`` (clipped to [0, 1]) so that VGG19, which expects RGB, can take it.
    """
    return _grey(rgb_to_yiq(image)[..., :1])


def match_luminance(style: tf.Tensor, content: tf.Tensor) -> tf.Tensor:
    """The style's luminance with the content luminance's mean and standard deviation (Gatys et al. 2017).

    ``L_s' = σ_c / σ_s · (L_s - μ_s) + μ_c``, where ``L_s`` and ``L_c`` are the luminances (Y) of style and
    content, ``μ`` their means and ``σ`` their standard deviations over all pixels. Returned as a grey
    RGB image (3 equal channels) of the style's shape, clipped to [0, 1]. A flat style (``σ_s ≈ 0``)
    has no contrast to scale and becomes ``μ_c`` everywhere.
    """
    style_y = rgb_to_yiq(style)[..., :1]
    content_y = rgb_to_yiq(content)[..., :1]
    mean_s, std_s = tf.reduce_mean(style_y), tf.math.reduce_std(style_y)
    mean_c, std_c = tf.reduce_mean(content_y), tf.math.reduce_std(content_y)
    # The maximum keeps the unused branch of tf.where finite too: no inf or NaN for a flat style.
    scale = tf.where(std_s > FLAT_STD, std_c / tf.maximum(std_s, FLAT_STD), 0.0)
    return _grey(scale * (style_y - mean_s) + mean_c)


def recombine_luminance(stylized: tf.Tensor, content: tf.Tensor) -> tf.Tensor:
    """The stylised luminance with the content's colours: how luminance-only transfer ends.

    ``(Y, I, Q) = (Y_stylized, I_content, Q_content)``, converted back to RGB and clipped to [0, 1].
    ``content`` is resized (bilinear, antialiased) to ``stylized``'s height and width if they differ.
    """
    stylized = _float32(stylized)
    content = _float32(content)
    size = list(stylized.shape[-3:-1])
    if list(content.shape[-3:-1]) != size:
        content = tf.image.resize(content, size, method="bilinear", antialias=True)
    stylized_yiq = rgb_to_yiq(stylized)
    content_yiq = rgb_to_yiq(content)
    # Broadcasting lets an (H, W, 3) content go with a (1, H, W, 3) stylised image.
    y = stylized_yiq[..., :1] + tf.zeros_like(content_yiq[..., :1])
    iq = content_yiq[..., 1:] + tf.zeros_like(stylized_yiq[..., 1:])
    return tf.clip_by_value(yiq_to_rgb(tf.concat([y, iq], axis=-1)), 0.0, 1.0)


def _pixel_statistics(image: tf.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``μ = 1/N Σ x`` and covariance ``Σ = 1/N Σ (x - μ)(x - μ)ᵀ`` of the N RGB pixels, in float64."""
    pixels = np.asarray(image, dtype=np.float64).reshape(-1, 3)
    mean = pixels.mean(axis=0)
    centred = pixels - mean
    return mean, centred.T @ centred / len(pixels)


def _matrix_power(symmetric: np.ndarray, power: float) -> np.ndarray:
    """``S^p = V diag(λ^p) Vᵀ`` from the eigendecomposition ``S = V diag(λ) Vᵀ`` of a symmetric matrix."""
    eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
    # Rounding can leave the eigenvalues of a regularised covariance a hair below epsilon, never zero.
    eigenvalues = np.maximum(eigenvalues, COVARIANCE_EPSILON)
    return eigenvectors @ np.diag(eigenvalues ** power) @ eigenvectors.T


def mixture_statistics(images: list[tf.Tensor], weights: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the pixels of several images mixed in proportions ``weights`` (summing to 1).

    ``μ = Σ_k w_k μ_k`` and ``Σ = Σ_k w_k (Σ_k + μ_k μ_kᵀ) - μ μᵀ``: each image's second moments are
    averaged, then centred on the mixed mean. For one image they are that image's statistics.
    """
    statistics = [_pixel_statistics(image) for image in images]
    mean = sum(w * m for w, (m, _) in zip(weights, statistics))
    second = sum(w * (c + np.outer(m, m)) for w, (m, c) in zip(weights, statistics))
    return mean, second - np.outer(mean, mean)


def match_color_histogram(style: tf.Tensor, content: tf.Tensor | tuple[np.ndarray, np.ndarray]) -> tf.Tensor:
    """The style image recoloured so that its pixels' mean and covariance are the content's (Gatys et al. 2017).

    Each style pixel ``x`` (an RGB vector) becomes ``x' = A x + b`` with
    ``A = Σ_c^{1/2} Σ_s^{-1/2}`` and ``b = μ_c - A μ_s``, so that the new pixels have mean
    ``A μ_s + b = μ_c`` and covariance ``A Σ_s Aᵀ = Σ_c``. This is the paper's symmetric-matrix-square-root
    variant (the other is the Cholesky one of "Image Analogies"); the square roots come from eigendecompositions.

    Both covariances get ``ε I`` added (``ε = 1e-5``) so that a flat or grey style, whose ``Σ_s`` is singular,
    gives a finite ``A``; the match is then exact up to terms of order ``ε``. The result is clipped to [0, 1],
    so for images whose recoloured pixels would leave that range (saturated colours) the match is only
    approximate. ``content`` may also be the target statistics themselves, ``(μ_c, Σ_c)``
    (``mixture_statistics``). Computed in float64; returns a float32 tensor of the style's shape.
    """
    mean_s, cov_s = _pixel_statistics(style)
    mean_c, cov_c = content if isinstance(content, tuple) else _pixel_statistics(content)
    # Regularising both keeps A = I when the two images already share their statistics.
    epsilon = COVARIANCE_EPSILON * np.eye(3)
    a = _matrix_power(cov_c + epsilon, 0.5) @ _matrix_power(cov_s + epsilon, -0.5)
    b = mean_c - a @ mean_s
    pixels = np.asarray(style, dtype=np.float64)
    recoloured = pixels @ a.T + b
    return tf.constant(np.clip(recoloured, 0.0, 1.0), dtype=tf.float32)
