"""Print sizes in bounded memory: a size too large to optimise whole is optimised in overlapping tiles.

The tiles are at most ``tile`` px on a side (the fewest that cover the image, each as short as that
allows), overlap by at least ``overlap(tile)`` px and are all the same size, so one traced function serves
them all. They are taken
row by row; each starts from the image as the tiles before it left it, and is pasted back with a mask
that rises from 0 to 1 across its overlap with the tiles already done (above and to the left) and is 1
everywhere else:

    x ← (1 - m_t) · x + m_t · x_t

The first tile to cover a pixel has ``m = 1`` there, so after the last tile every pixel is a convex
combination of the tiles' results alone (``effective_weights``: they sum to 1). A tile's edge, where its
features see padding instead of the picture, lies under a neighbour's full weight or its own weight 0.

Every tile matches the same style statistics: those of the whole painting at that size, accumulated
over its own tiles (``tiled_moments``); each tile's content targets and smoothness are its own.

Where tiles overlap, a pixel is optimised by each of them in turn, so an overlap gets more steps than the
rest: with few steps per tile its strokes come out a little busier (``benchmarks/memory.py`` measures this
as its seam ratio). Showing each tile the picture around it as fixed context, tried and dropped, did not
change that, and made each step up to twice as costly.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from nst import vgg19

MARGIN = 96  # context around a painting's tile when its statistics are taken: past VGG19's padding effects
MOMENTS_TILE = 512  # the most a painting's tile owns: a forward pass of 704 px holds far less than a tile's step
ALIGN = vgg19.DEEPEST_STRIDE  # painting tiles start on it, so their feature maps line up


class Tile(NamedTuple):
    top: int
    left: int
    height: int
    width: int
    row: int
    col: int

    def crop(self, image):
        """The tile's part of ``(1, H, W, C)`` ``image``."""
        return image[:, self.top:self.top + self.height, self.left:self.left + self.width]


def overlap(tile: int) -> int:
    """The least overlap of two neighbouring tiles: a sixteenth of the tile in multiples of 16 px, at least 64 px
    (a quarter of the tile for tiles under 256 px, which only tests use): wide enough that each tile's edge,
    where its features see padding, lies where the blend gives it little weight. The work grows by about
    ``(tile / (tile - overlap))²``: 14 % at a sixteenth."""
    return max(tile // 16 // 16 * 16, min(64, tile // 4))


def tile_layout(length: int, tile: int, least_overlap: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of tiles of ``tile`` px covering ``range(length)``, neighbours overlapping by at
    least ``least_overlap``, spread evenly; one tile of ``length`` where ``tile >= length``."""
    if tile >= length:
        return [(0, length)]
    count = math.ceil((length - least_overlap) / (tile - least_overlap))
    starts = [round(i * (length - tile) / (count - 1)) for i in range(count)]
    return [(start, start + tile) for start in starts]


def _spans(length: int, tile: int) -> list[tuple[int, int]]:
    """The fewest tiles of at most ``tile`` px along a side, then as short as that many allow (in steps of 16 px),
    so that neighbours overlap no more than they must: less work and memory."""
    count = len(tile_layout(length, tile, overlap(tile)))
    while count > 1 and len(tile_layout(length, tile - 16, overlap(tile - 16))) == count:
        tile -= 16
    return tile_layout(length, tile, overlap(tile))


def tile_grid(height: int, width: int, tile: int) -> list[Tile]:
    """The tiles of a ``height x width`` image, at most ``tile`` px on a side (``_spans``), row by row (the order
    they are optimised in); all of one shape."""
    rows, cols = _spans(height, tile), _spans(width, tile)
    return [Tile(top, left, bottom - top, right - left, r, c)
            for r, (top, bottom) in enumerate(rows) for c, (left, right) in enumerate(cols)]


def _ramp(size: int, before_stop: int | None, start: int) -> np.ndarray:
    """1 along a tile side of ``size`` px, rising linearly from near 0 over the ``before_stop - start`` px it
    shares with the tile before it (none: ``before_stop`` is None)."""
    ramp = np.ones(size, np.float32)
    if before_stop is not None:
        shared = before_stop - start
        ramp[:shared] = (np.arange(shared, dtype=np.float32) + 0.5) / shared
    return ramp


def blend_mask(tile: Tile, grid: list[Tile]) -> np.ndarray:
    """``(1, h, w, 1)``: the weight ``m_t`` a tile is pasted with (module docstring)."""
    above = next((t for t in grid if t.row == tile.row - 1 and t.col == tile.col), None)
    left = next((t for t in grid if t.col == tile.col - 1 and t.row == tile.row), None)
    rows = _ramp(tile.height, above and above.top + above.height, tile.top)
    cols = _ramp(tile.width, left and left.left + left.width, tile.left)
    return (rows[:, np.newaxis] * cols[np.newaxis, :])[np.newaxis, :, :, np.newaxis]


def paste(canvas: np.ndarray, tile: Tile, image: np.ndarray, mask: np.ndarray) -> None:
    """``canvas ← (1 - m) · canvas + m · image`` on the tile, in place."""
    part = canvas[:, tile.top:tile.top + tile.height, tile.left:tile.left + tile.width]
    part += mask * (np.asarray(image, np.float32) - part)


def effective_weights(height: int, width: int, tile: int) -> np.ndarray:
    """``(T + 1, H, W)``: how much of each tile's result (and, last, of the starting image) every pixel ends
    up as, after all tiles are pasted: the coefficients of the convex combination; each pixel's sum to 1."""
    grid = tile_grid(height, width, tile)
    weights = np.zeros((len(grid) + 1, height, width), np.float32)
    weights[-1] = 1.0  # before any tile: all of it is the starting image
    for index, t in enumerate(grid):
        mask = blend_mask(t, grid)[0, :, :, 0]
        part = weights[:, t.top:t.top + t.height, t.left:t.left + t.width]
        part *= 1.0 - mask
        part[index] += mask
    return weights


def tiled_moments(extractor, image: tf.Tensor, layers: tuple[str, ...], tile: int) -> dict:
    """The mean and Gram matrix of each layer's features over a whole ``image`` ``(1, H, W, 3)``, as
    ``(mean (1, C), gram (1, C, C))``, taken one tile at a time so that memory stays that of a tile.

    ``μ = Σ F / N`` and ``G = Σ F Fᵀ / N`` are sums over positions: each tile adds those of the feature
    positions it owns, computed with ``MARGIN`` px of the image around it so that they see the picture
    where a whole-image pass would, not padding. Owned parts start on multiples of ``ALIGN``.
    """
    height, width = image.shape[1:3]
    side = max(ALIGN, min(tile - 2 * MARGIN, MOMENTS_TILE) // ALIGN * ALIGN)
    sums = {name: 0.0 for name in layers}
    products = {name: 0.0 for name in layers}
    counts = {name: 0 for name in layers}
    for top in range(0, height, side):
        for left in range(0, width, side):
            bottom, right = min(top + side, height), min(left + side, width)
            y0, x0 = max(0, top - MARGIN), max(0, left - MARGIN)
            y1, x1 = min(height, bottom + MARGIN), min(width, right + MARGIN)
            features = extractor(image[:, y0:y1, x0:x1])
            for name in layers:
                s = vgg19.stride(name)
                rows = slice((top - y0) // s, None if bottom == height else (bottom - y0) // s)
                cols = slice((left - x0) // s, None if right == width else (right - x0) // s)
                owned = tf.cast(features[name][:, rows, cols], tf.float32)
                flat = tf.reshape(owned, (-1, owned.shape[-1]))
                sums[name] += tf.reduce_sum(flat, axis=0)
                products[name] += tf.matmul(flat, flat, transpose_a=True)
                counts[name] += flat.shape[0]
    return {name: (sums[name][tf.newaxis] / counts[name], products[name][tf.newaxis] / counts[name])
            for name in layers}
