"""The plan of a run, made once before it starts: its coarse-to-fine sizes, and which run whole and which in tiles.

``plan_for`` makes it; ``stylize`` follows the plan it is given (or makes one), the command line says it before the
run (``Plan.describe``), and the metrics publish it (``Plan.metrics``). Each size runs whole when the memory model
(``nst.memory.estimate``) fits it in the budget, and otherwise in the fewest tiles that fit (``nst.tiles``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import tensorflow as tf

from nst import memory
from nst.config import Config
from nst.tiles import tile_grid
from nst.vgg19 import MIN_SIZE


def coarse_to_fine_sizes(height: int, width: int, start_size: int, step: float = 2.0) -> list[tuple[int, int]]:
    """``(height, width)`` of each size, smallest first: each ``step`` times smaller than the one after it,
    down to where the long side would fall below ``start_size`` or the short side below ``MIN_SIZE``;
    just ``[(height, width)]`` for ``start_size=0``."""
    sizes = [(height, width)]
    while start_size:
        h, w = (round(side / step ** len(sizes)) for side in (height, width))
        if max(h, w) < start_size or min(h, w) < MIN_SIZE:
            break
        sizes.append((h, w))
    return sizes[::-1]


@dataclass(frozen=True)
class Plan:
    """How a run is processed: per coarse-to-fine size, whole (``None``) or the most a tile's side may be."""

    sizes: list[tuple[int, int]]
    tiles: list[int | None]
    peaks: list[float]  # the estimated peak of each size, bytes
    budget: int
    budget_source: str = "--max-memory"  # where the budget comes from, in words

    @property
    def peak(self) -> float:
        return max(self.peaks)

    def tile_count(self, index: int) -> int:
        """How many tiles size ``index`` is optimised in (1: whole)."""
        return 1 if self.tiles[index] is None else len(tile_grid(*self.sizes[index], self.tiles[index]))

    def metrics(self) -> dict:
        return {"budget": self.budget, "estimated_peak": round(self.peak),
                "sizes": [{"height": h, "width": w, "tile": t, "estimated_peak": round(p)}
                          for (h, w), t, p in zip(self.sizes, self.tiles, self.peaks)]}

    def describe(self) -> str:
        """One line: the sizes, how each runs, the estimated peak against the budget and where that comes from."""
        parts = []
        for (height, width), tile in zip(self.sizes, self.tiles):
            if tile is None:
                parts.append(f"{width}x{height} whole")
            else:
                grid = tile_grid(height, width, tile)
                parts.append(f"{width}x{height} in {len(grid)} tiles of {grid[0].width}x{grid[0].height}")
        return (f"{'; '.join(parts)}; estimated peak {memory.format_bytes(self.peak)} of the "
                f"{memory.format_bytes(self.budget)} memory budget ({self.budget_source})")


def plan(config: Config, sizes: list[tuple[int, int]], budget: int, budget_source: str = "--max-memory") -> Plan:
    """Each size whole if its estimate fits ``budget``, else in the fewest tiles that do: the largest tile side
    (in steps of ``TILE_STEP``, at least ``MIN_TILE``) that fits (``nst.tiles.tile_grid`` then shrinks the tiles
    to the least overlap). Raises ``ValueError`` naming the least budget that works if none does."""
    tiles, peaks = [], []
    for height, width in sizes:
        whole = memory.estimate(height, width, None, config)
        if whole <= budget or max(height, width) <= memory.MIN_TILE:
            tiles.append(None)
            peaks.append(whole)
            continue
        side = (max(height, width) - 1) // memory.TILE_STEP * memory.TILE_STEP
        while side > memory.MIN_TILE and memory.estimate(height, width, side, config) > budget:
            side -= memory.TILE_STEP
        side = max(side, memory.MIN_TILE)
        tiles.append(side)
        peaks.append(memory.estimate(height, width, side, config))
    if max(peaks) > budget:
        raise ValueError(f"a memory budget of {memory.format_bytes(budget)} is too small for {sizes[-1][1]}x"
                         f"{sizes[-1][0]} px: the least that works is {math.ceil(max(peaks) / 1e8) / 10:.1f} GB "
                         f"(tiles of {memory.MIN_TILE} px); raise --max-memory or lower --size")
    return Plan(sizes, tiles, peaks, budget, budget_source)


def plan_for(height_width: tuple[int, int], config: Config, budget: tuple[int, str] | None = None) -> Plan:
    """The plan of a run on an image of ``height_width`` with ``config``, within ``budget`` (bytes, and where it
    comes from in words; default ``config.max_memory``, resolved now: ``nst.memory.resolve_budget``)."""
    sizes = coarse_to_fine_sizes(*height_width, config.start_size, config.size_step)
    return plan(config, sizes, *(budget or memory.resolve_budget(config.max_memory)))


LBFGS_PASSES_PER_STEP = 1.1  # an L-BFGS step's line search sometimes needs a second pass (docs/speed.md)
# With the default tolerance a run stops early: the defaults' gallery at 512 px (benchmarks/results/quality_512.json)
# stopped after 173 of its 300 steps in the median.
TYPICAL_SHARE_OF_STEPS = 173 / 300


def seconds_per_step(loss: Callable[[tf.Tensor], dict], height_width: tuple[int, int], config: Config) -> float:
    """About how long one optimisation step takes here at ``height_width``, from one timed evaluation of ``loss``
    (the run's own: VGG19 and every term) and its gradient, after an untimed one that traces it."""
    image = tf.random.stateless_uniform((1, *height_width, 3), seed=[0, 0])

    @tf.function
    def value_and_grad(x: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = loss(x)["total"]
        return tape.gradient(total, x)

    value_and_grad(image).numpy()
    start = time.perf_counter()
    value_and_grad(image).numpy()
    passes = LBFGS_PASSES_PER_STEP if config.optimizer == "lbfgs" else 1.0
    return (time.perf_counter() - start) * passes


def estimated_seconds(plan: Plan, config: Config, loss: Callable[[tf.Tensor], dict]) -> tuple[float, float]:
    """About how long a run of ``plan`` minimising ``loss`` (at its last size) takes here, and one step there
    (``seconds_per_step``).

    A step costs in proportion to its pixels (a step at half the size, a quarter); a run with a tolerance takes
    ``TYPICAL_SHARE_OF_STEPS`` of ``config.steps`` at each size.
    """
    per_step = seconds_per_step(loss, plan.sizes[-1], config)
    share = TYPICAL_SHARE_OF_STEPS if config.tolerance else 1.0
    work = sum(h * w for h, w in plan.sizes) / (plan.sizes[-1][0] * plan.sizes[-1][1])  # in steps at the last size
    return per_step * config.steps * share * work, per_step
