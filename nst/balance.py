"""How hard the photo and the painting pull: one strength, and weights scaled to the pair.

Gatys et al. weigh the content loss against the style loss with one fixed ratio ``α/β``. The same ratio does not
mean the same on every pair. A near-black, sparse painting (the Hubble deep field) is so far from any photo in
VGG19's statistics that its style loss starts orders of magnitude above a pastel's and drowns the content term:
the photo disappears. A dark, low-contrast photo has weak features, so losing it costs little. So before a run,
``nst.objective.pair_scales`` measures both on the pair itself, at ``ANALYSIS_SIZE``:

* ``C``: the photo's own feature energy, ``mean_l mean(P_l²)`` over the content layers: the content loss of an
  image that kept nothing of the photo;
* ``S``: the style loss of the photo itself: how far the painting is from it.

and ``balanced_weights`` uses (``balance="auto"``, the default)

    α' = α · (2(1 - s))^k · C_ref / C,        β' = β · (2s)^k · S_ref / S

where ``C_ref, S_ref`` are the median of those scales over the gallery's pairs (``REFERENCE``, measured by
``benchmarks/balance.py``), so that on a typical pair ``α, β`` are the weights as given. The style loss is then
measured in units of how far the painting was, and the content loss in units of the photo's own detail.

A content floor keeps the subject when the balance alone would not. VGG19's top layers (``block5_conv2``, the
content layer) still see a cat in a field of stars where no eye can: on the gallery, the content loss there was the
same on the pair whose photo had vanished as on the others. Two blocks down it was not: of the layers tried, the
share of the photo's features lost at ``block3_conv2`` followed the output's SSIM to the photo most closely
(``benchmarks/results/floor_512.json``). So the objective adds

    floor = φ · α' · C_ref · max(0, r - ρ)²,        r = mean((F - P)²) / mean(P²) at ``FLOOR_LAYER``

``r`` is the share of the photo's detail lost, and ``ρ = ρ₀ · √q · √(2s)`` the most a run may lose: ``ρ₀`` is
``Config.content_floor``, and ``q`` the SSIM to the photo of the photo in the painting's colours (the start
``init="palette"`` makes, taken whatever the init). ``q`` is near 1 where the painting's colours leave the photo's
tones alone, and low where they crush them (a near-black field of stars: 0.3; a near-white plank of wood: 0.4);
there the photo needs every bit of detail kept to stay readable, so the floor is higher. On most pairs ``r`` ends
near ``ρ`` or below, and the floor changes little; where the painting would wipe the photo out it grows steeply
(``φ = FLOOR_STIFFNESS``) and holds it. It moves with the strength (``√(2s)``, 1 at the default): a floor that held
at every strength would stop the pictures above 0.5 from taking more of the painting. It is a share of the content
weight, so strength 1 (no content) has no floor.

``s`` is ``Config.strength``, from 0 (the photo: content alone) to 1 (the painting's statistics: style alone); at
0.5 both factors are 1. The ratio ``β'/α' ∝ (s / (1 - s))^k`` moves evenly on a log scale, 0.25 and 0.75 as far
either side of 0.5, ``k = SHARPNESS``. With ``balance="fixed"`` (the tutorial preset) the pair's scales are left
out and ``α, β`` are used as given, times the strength's factors. Below 0.5 the smoothness weight ``γ`` falls
with the style's, and the start takes only part of the painting's colours (``nst.inputs.initial_image``).
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from nst.config import Config

FLOOR_LAYER = "block3_conv2"  # where the floor measures the photo's detail: below block5's semantics
FLOOR_STIFFNESS = 100.0  # φ: 0.1 past the floor costs as much as a typical pair's whole content term
ANALYSIS_SIZE = 256  # the long side at which a pair's scales are measured: the same for every output size
SHARPNESS = 2.0  # k: the ratio of style to content at strength 0.25 and 0.75 is 1/9 and 9 times the one at 0.5
# C_ref, S_ref per style distance: the median over the gallery of benchmarks/quality.py at ANALYSIS_SIZE, for
# nst's layers and pooling (benchmarks/results/balance.json).
REFERENCE = {"wasserstein": (188.749, 21052.1), "gram": (188.749, 1.03322e+09)}


class Scales(NamedTuple):
    """A pair's own scales: ``C``, the photo's feature energy, ``S``, the photo's style loss, and ``q``, how much of
    the photo's tones the painting's colours keep (SSIM of the photo recoloured to them against the photo)."""

    content: float
    style: float
    tones: float = 1.0


def strength_factors(strength: float) -> tuple[float, float]:
    """``((2(1 - s))^k, (2s)^k)``: what the strength multiplies the content and style weights by."""
    return (2 * (1 - strength)) ** SHARPNESS, (2 * strength) ** SHARPNESS


def floor_share(config: Config, scales: Scales | None) -> float:
    """``ρ = ρ₀ · √q · √(2s)``: the largest share of the photo's features at ``FLOOR_LAYER`` a run may lose (``q = 1``
    when the weights are fixed: no pair statistics)."""
    tones = scales.tones if config.balance == "auto" and scales is not None else 1.0
    return config.content_floor * (tones * 2 * config.strength) ** 0.5


def floor_weight(config: Config) -> float:
    """``φ · α · (2(1 - s))^k · C_ref``: the floor's weight, 0 when ``config.content_floor`` is 0 (off)."""
    if not config.content_floor:
        return 0.0
    return FLOOR_STIFFNESS * config.content_weight * strength_factors(config.strength)[0] * REFERENCE[config.style_loss][0]


def content_floor(features: dict[str, tf.Tensor], targets: dict[str, tf.Tensor], floor: float,
                  per_image: bool = False) -> tf.Tensor:
    """``max(0, r - ρ)²`` with ``r = mean((F - P)²) / mean(P²)`` at ``FLOOR_LAYER``, per image ``(B,)`` or their mean."""
    target = targets[FLOOR_LAYER]
    axes = tf.range(1, tf.rank(target))
    lost = tf.reduce_mean(tf.square(tf.cast(features[FLOOR_LAYER], tf.float32) - target), axis=axes)
    share = lost / tf.maximum(tf.reduce_mean(tf.square(target), axis=axes), 1e-12)
    penalty = tf.square(tf.nn.relu(share - floor))
    return penalty if per_image else tf.reduce_mean(penalty)


def balanced_weights(config: Config, scales: Scales | None) -> tuple[float, float, float]:
    """``(α', β', γ')``: the content, style and smoothness weights of a run, after the strength and, with
    ``scales``, the pair. The smoothness weight falls with the style below strength 0.5 (``min(1, 2s)²``): it
    is there to calm the painting's texture, and at strength 0 the photo comes back untouched."""
    content_factor, style_factor = strength_factors(config.strength)
    content_weight, style_weight = config.content_weight * content_factor, config.style_weight * style_factor
    if config.balance == "auto" and scales is not None:
        content_ref, style_ref = REFERENCE[config.style_loss]
        content_weight *= content_ref / max(scales.content, 1e-12)
        style_weight *= style_ref / max(scales.style, 1e-12)
    return content_weight, style_weight, config.tv_weight * min(1.0, 2 * config.strength) ** 2
