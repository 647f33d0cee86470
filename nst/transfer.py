"""Optimising the pixels of an image: style transfer and its two subproblems.

Only the image changes; VGG19 stays frozen. Each *step* is one forward and backward pass through
VGG19 for Adam, and one L-BFGS iteration (usually one pass, sometimes a few) for L-BFGS.

Coarse-to-fine: the image is first optimised at a fraction of the size (``config.start_size``), where
a step is 4x cheaper per halving, then upsampled and refined at each doubling up to ``config.size``.
The coarse sizes lay out the large strokes, which VGG19's receptive fields cannot see at 2048 px; the
upsampled image loses fine strokes, so each larger size still needs many steps (README, Speed).
Each size stops early once the loss stops falling (``config.tolerance``). The optimisers themselves
are in ``nst.optimizers``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from nst import memory
from nst.color import luminance, match_color_histogram, match_luminance, mixture_statistics, recombine_luminance
from nst.config import MIN_SIZE, Config
from nst.features import FeatureExtractor, cpuinfo
from nst.images import frame_widths, load_image
from nst.losses import Functions, Region, gaussian_fit, gram_matrix
from nst.optimizers import Callback, NonFiniteLoss, Recorder, run_adam, run_lbfgs
from nst.snapshot import Snapshot, fingerprint
from nst.tiles import blend_mask, paste, tile_grid, tiled_moments

ImageLike = tf.Tensor | np.ndarray | str | os.PathLike


@dataclass
class Result:
    """What a run produced: the lowest-loss image seen and the losses of every step."""

    image: tf.Tensor  # (1, H, W, 3) in [0, 1]
    history: list[dict]  # per step: step, size (long side), seconds since the start, content, style, tv, total
    model: dict  # FeatureExtractor.describe()
    config: Config
    seconds: float
    interrupted: bool = False  # stopped by Ctrl-C (or SIGTERM in the CLI)
    error: str | None = None  # why the run stopped early when the loss became NaN or Inf
    snapshot: Snapshot | None = None  # where to resume from, when the callback stopped the run between steps
    stopped: str | None = None  # why the last size ended before config.steps: the tolerance, or L-BFGS-B
    sizes: list[tuple[int, int]] = dataclasses.field(default_factory=list)  # (height, width) of each size optimised
    plan: memory.Plan | None = None  # how each size was processed: whole or in tiles, and the memory budget

    @property
    def final(self) -> dict:
        """The losses of ``image``: the best entry at the last size optimised; at a size optimised in tiles,
        the sum over its tiles of each tile's best entry (the step is the last one)."""
        last_size = self.history[-1]["size"]
        entries = [e for e in self.history if e["size"] == last_size]
        if "tile" not in entries[-1]:
            return min(entries, key=lambda entry: entry["total"])
        best = [min((e for e in entries if e["tile"] == tile), key=lambda entry: entry["total"])
                for tile in dict.fromkeys(e["tile"] for e in entries)]
        return {"step": entries[-1]["step"], "size": last_size, "tiles": len(best),
                **{name: sum(e[name] for e in best) for name in ("content", "style", "tv", "total")}}

    def metrics(self) -> dict:
        """Everything worth publishing about the run, JSON-serialisable."""
        steps = self.history[-1]["step"] if self.history else 0
        return {
            "model": self.model,
            "config": dataclasses.asdict(self.config),
            "image_size": {"height": int(self.image.shape[1]), "width": int(self.image.shape[2])},
            "sizes": [{"height": int(height), "width": int(width)} for height, width in self.sizes],
            "device": device_name(),
            "versions": versions(),
            "final": {k: self.final[k] for k in ("step", "size", "content", "style", "tv", "total")},
            "steps": steps,
            "seconds": round(self.seconds, 3),
            "steps_per_second": round(steps / self.seconds, 3) if self.seconds > 0 else None,
            "interrupted": self.interrupted,
            "error": self.error,
            "stopped": self.stopped,
            "memory": {**self.plan.metrics(), "peak": memory.peak_memory()} if self.plan else None,
            "history": self.history,
        }


def device_name() -> str:
    """The GPU's name if TensorFlow sees one, else the CPU's."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return "GPU: " + tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    names = [line.split(":", 1)[1].strip() for line in cpuinfo().splitlines() if line.startswith("model name")]
    cpu = names[0] if names else platform.processor() or platform.machine()
    return f"CPU: {cpu} ({os.cpu_count()} cores)"


def versions() -> dict:
    import nst

    return {"python": sys.version.split()[0], "tensorflow": tf.__version__, "keras": keras.__version__,
            "nst": nst.__version__}


def _as_image(image: ImageLike, size: int) -> tf.Tensor:
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


def _style_image(style: ImageLike, config: Config, index: int) -> tf.Tensor:
    """A style image as ``_as_image`` takes it, less its uniform border (``frame_widths``) if it has one
    and ``config.trim_frame`` is on; a warning (a ``nst: note:`` line in the CLI) says what was trimmed."""
    image = _as_image(style, config.size)
    top, right, bottom, left = frame_widths(image) if config.trim_frame else (0, 0, 0, 0)
    if not top:
        return image
    name = f"'{style}'" if isinstance(style, (str, os.PathLike)) else f"style image {index + 1}"
    warnings.warn(f"{name} has a uniform border (a frame or mount): trimmed {top}, {right}, {bottom} and {left} px "
                  f"(top, right, bottom, left) before its statistics are taken (trim_frame=False, --no-trim-frame, "
                  f"keeps it)", stacklevel=4)
    height, width = image.shape[1:3]
    return image[:, top:height - bottom, left:width - right]


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


def _initial_image(config: Config, shape: tf.TensorShape, content: tf.Tensor | None, styles: list[tf.Tensor],
                   blend: list[float], masks: list[tf.Tensor] | None = None) -> tf.Tensor:
    if config.init == "content" and content is not None:
        return content
    if config.init == "palette" and content is not None and styles:
        return palette_start(content, styles, blend, masks)
    if config.init == "style" and styles:
        return _resize(styles[0], shape[1:3])
    if config.init == "noise":
        return tf.random.stateless_uniform(shape, seed=[config.seed, 0])  # (1, H, W, 3) in [0, 1)
    needs = "a content and a style image" if config.init == "palette" else f"a {config.init} image"
    raise ValueError(f"init='{config.init}' needs {needs}")


def _resize(image: tf.Tensor, height_width) -> tf.Tensor:
    return tf.clip_by_value(tf.image.resize(image, height_width, method="bilinear", antialias=True), 0.0, 1.0)


def _as_mask(mask: ImageLike, height_width: tuple[int, int], index: int) -> tf.Tensor:
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


def _blend(config: Config, count: int) -> list[float]:
    """The styles' weights, summing to 1: ``config.style_blend`` normalised, or equal."""
    if not config.style_blend:
        return [1.0 / count] * count
    if len(config.style_blend) != count:
        raise ValueError(f"style_blend has {len(config.style_blend)} weights for {count} style images; give one each")
    return [w / sum(config.style_blend) for w in config.style_blend]


def _scaled(image: tf.Tensor, scale: float, what: str) -> tf.Tensor:
    height, width = (round(side * scale) for side in image.shape[1:3])
    if min(height, width) < MIN_SIZE:
        raise ValueError(f"the {what} would be {width}x{height} px at this size and style scale, below the "
                         f"{MIN_SIZE} px VGG19 needs; raise style_scale or size")
    return _resize(image, (height, width))


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


def extractor_for(config: Config, content: bool = True, style: bool = True,
                  extractor: FeatureExtractor | None = None) -> FeatureExtractor:
    """The extractor a run with ``config`` needs: its content and style layers whose weight is not 0.

    A given ``extractor`` is returned as it is once it is checked to compute those layers.
    """
    layers = ((config.content_layers if content and config.content_weight > 0 else ())
              + (config.style_layers if style and config.style_weight > 0 else ()))
    if extractor is None:
        return FeatureExtractor(layers or config.content_layers, config.weights, config.pooling, config.precision,
                                config.padding)
    missing = [name for name in layers if name not in extractor.layer_names]
    if missing:
        raise ValueError(f"the extractor does not compute layer '{missing[0]}'")
    return extractor


LBFGS_PASSES_PER_STEP = 1.1  # measured at 512 px (README, Speed): the line search sometimes needs a second pass


def seconds_per_step(extractor: FeatureExtractor, shape: tuple[int, ...], config: Config) -> float:
    """About how long one optimisation step takes here at ``shape`` ``(1, H, W, 3)``, from one timed
    forward and backward pass through ``extractor`` (after an untimed one that traces it)."""
    image = tf.random.stateless_uniform(shape, seed=[0, 0])

    @tf.function
    def value_and_grad(x: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.add_n([tf.reduce_mean(tf.square(f)) for f in extractor(x).values()])
        return tape.gradient(loss, x)

    value_and_grad(image).numpy()
    start = time.perf_counter()
    value_and_grad(image).numpy()
    passes = LBFGS_PASSES_PER_STEP if config.optimizer == "lbfgs" else 1.0
    return (time.perf_counter() - start) * passes


def style_targets_for(extractor: FeatureExtractor, styles: list[tf.Tensor], config: Config, blend: list[float],
                      masks: list[tf.Tensor] | None = None, height_width: tuple[int, int] | None = None,
                      gram_fn: Callable = gram_matrix, tile: int | None = None) -> dict | list[Region]:
    """The style targets of each style layer: Gram matrices (``style_loss="gram"``) or ``GaussianFit``s.

    Several styles are blended as ``Σ_k w_k μ^k`` and ``Σ_k w_k G^k`` (means and Gram matrices, which
    combine linearly); with ``masks`` each style keeps its own targets in a ``Region`` of the image.
    With ``tile``, each painting's statistics are accumulated over tiles of that size (``tiled_moments``).
    """
    def target(mean: tf.Tensor, gram: tf.Tensor):
        return gaussian_fit(mean, gram) if config.style_loss == "wasserstein" else gram

    if tile is not None:
        moments = [tiled_moments(extractor, style, config.style_layers, tile) for style in styles]
    else:
        moments = [{name: (tf.reduce_mean(features[name], axis=[1, 2]), gram_fn(features[name]))
                    for name in config.style_layers} for features in map(extractor, styles)]
    if masks is None:
        return {name: target(tf.add_n([w * m[name][0] for w, m in zip(blend, moments)]),
                             tf.add_n([w * m[name][1] for w, m in zip(blend, moments)]))
                for name in config.style_layers}
    return [Region(w, tf.image.resize(mask, height_width, method="area"),
                   {name: target(*m[name]) for name in config.style_layers})
            for w, mask, m in zip(blend, masks, moments)]


def objective_for(config: Config, functions: Functions) -> dict:
    """The keywords of ``style_content_loss`` that ``config`` asks for; none for functions of one's own,
    which compute the tutorial's objective, so they need its settings."""
    if functions == Functions() or functions._replace(train_step=None) == Functions():
        weights = config.style_layer_weights or (1.0,) * len(config.style_layers)
        return {"style_distance": config.style_loss, "tv_norm": config.tv_norm,
                "layer_weights": {name: w / sum(weights) for name, w in zip(config.style_layers, weights)}}
    tutorial = Config.preset("tutorial")
    changed = [name for name in ("style_loss", "tv_norm", "style_layer_weights", "padding")
               if getattr(config, name) != getattr(tutorial, name)]
    if changed:
        raise ValueError(f"functions of one's own compute the tutorial's objective: use Config.preset('tutorial') "
                         f"(this config has {changed[0]}={getattr(config, changed[0])!r})")
    return {}


def _transfer(content: ImageLike | None, style: ImageLike | list[ImageLike] | None, config: Config,
              callback: Callback | None, extractor: FeatureExtractor | None, resume: Snapshot | None = None,
              snapshot_every: int = 0, on_snapshot: Callable[[Snapshot], None] | None = None,
              masks: list[ImageLike] | None = None, functions: Functions = Functions(),
              start: ImageLike | None = None, terms: dict[str, Callable] | None = None) -> Result:
    content = None if content is None else _as_image(content, config.size)
    styles = style if isinstance(style, list) else [] if style is None else [style]
    styles = [_style_image(s, config, i) for i, s in enumerate(styles)]
    use_content = content is not None and config.content_weight > 0
    use_style = bool(styles) and config.style_weight > 0
    blend = _blend(config, len(styles)) if styles else []
    if masks is not None:
        if content is None or len(masks) != len(styles):
            raise ValueError(f"give one mask per style image: {len(masks)} masks for {len(styles)} styles")
        masks = [_as_mask(mask, content.shape[1:3], i) for i, mask in enumerate(masks)]
    inputs = fingerprint(content, *styles, *(masks or []))

    # Gatys et al. 2017, colour: recolour the styles to the content's colours, or work on luminance only.
    colored_content = content
    if config.preserve_color != "none" and content is None:
        raise ValueError("preserve_color needs a content image")
    if config.preserve_color == "histogram":
        styles = [match_color_histogram(s, content) for s in styles]
    elif config.preserve_color == "luminance":
        styles = [match_luminance(s, content) for s in styles]
        content = luminance(content)

    extractor = extractor_for(config, content is not None, bool(styles), extractor)
    if resume is not None:
        resume.check(config, inputs)
    if functions.train_step is not None and config.optimizer != "adam":
        raise ValueError("a train_step of one's own needs optimizer='adam'")
    if snapshot_every and on_snapshot is None:
        raise ValueError("snapshot_every needs an on_snapshot function to receive the snapshots")

    objective = objective_for(config, functions)

    reference = content if content is not None else styles[0]
    full_height, full_width = reference.shape[1:3]
    record = Recorder(callback, config, inputs, snapshot_every, on_snapshot)
    run = run_lbfgs if config.optimizer == "lbfgs" else functools.partial(run_adam, train_step=functions.train_step)
    image, interrupted, error, snapshot = None, False, None, None
    plan = plan_for((full_height, full_width), config, resume)
    if any(plan.tiles) and (masks is not None or functions != Functions()):
        raise ValueError(f"{plan.sizes[-1][1]}x{plan.sizes[-1][0]} px needs tiles in a memory budget of "
                         f"{memory.format_bytes(plan.budget)}, and masks and functions of one's own run whole; "
                         f"raise max_memory or lower the size")
    record.budget = plan.budget
    sizes = plan.sizes
    if hasattr(callback, "start"):  # e.g. ProgressBar: the plan, for a total and the time left
        callback.start(sizes, config.steps)
    for index, ((height, width), tile) in enumerate(zip(sizes, plan.tiles)):
        if resume is not None and index < resume.size_index:
            continue  # done before the snapshot
        record.optimizer_state = None  # the size before ended: its optimiser state can go (L-BFGS-B's is large)
        memory.release_freed()
        scale = height / full_height  # the style images are scaled like the content, keeping their ratio
        level_content = None if content is None else _resize(content, (height, width))
        level_styles = [_scaled(s, scale * config.style_scale, f"style image {i + 1}") for i, s in enumerate(styles)]

        # The targets are computed once per size: P_l for content (per tile when tiled), each style image's
        # statistics for style.
        content_targets, style_targets = {}, {}
        if use_content and tile is None:  # only the content layers kept: the others are large at large sizes
            content_targets = {name: f for name, f in extractor(level_content).items() if name in config.content_layers}
        if use_style:
            style_targets = style_targets_for(extractor, level_styles, config, blend, masks, (height, width),
                                              functions.gram_matrix, tile)

        def loss_fn(image: tf.Tensor, content_targets: dict = content_targets) -> dict[str, tf.Tensor]:
            losses = functions.style_content_loss(image, extractor(image), content_targets, style_targets,
                                                  config.content_weight, config.style_weight, config.tv_weight,
                                                  **objective)
            for name, term in (terms or {}).items():
                losses[name] = term(image)
                losses["total"] = losses["total"] + losses[name]
            return losses

        resuming = resume is not None and index == resume.size_index
        if resuming:
            record.resume(resume, max(height, width))
            image = record.best_image
        else:
            if image is None and start is not None:
                image = _as_image(start, config.size)
            image = (_initial_image(config, (1, height, width, 3), level_content, level_styles, blend, masks)
                     if image is None else _resize(image, (height, width)))
            record.start_size(max(height, width), index)
        del level_styles  # at print sizes each is as large as the image
        canvas = None if tile is None else (resume.canvas.copy() if resuming else image.numpy())
        try:
            if tile is None:
                state = resume.state if resuming else None
                if not (state is not None and record.converged()):  # else it ended there
                    run(loss_fn, image, config, record, state)
            else:
                contents = None if not use_content else level_content
                _refine_in_tiles(canvas, tile, contents, config, extractor, loss_fn, run, record, callback, index,
                                 resume if resuming else None)
        except (KeyboardInterrupt, NonFiniteLoss) as stop:
            if not record.history:  # stopped before the first step: nothing to return
                raise
            interrupted = isinstance(stop, KeyboardInterrupt)
            error = None if interrupted else str(stop)
            if record.stopped_by_callback:  # between two steps: the run can go on from here
                snapshot = record.snapshot()
            if canvas is not None and record.best_image is not None:  # the current tile's best, in a copy
                canvas, grid = canvas.copy(), tile_grid(height, width, tile)
                paste(canvas, grid[record.tile], record.best_image.numpy(), blend_mask(grid[record.tile], grid))
        if canvas is not None:
            image = tf.constant(canvas)
        elif record.best_image is not None:  # else stopped before the first step at this size
            image = record.best_image
        if interrupted or error:
            break
    if image.shape[1:3] != (full_height, full_width):  # stopped early at a coarse size
        image = _resize(image, (full_height, full_width))
    if config.preserve_color == "luminance":
        image = recombine_luminance(image, colored_content)
    reached = {entry["size"] for entry in record.history}  # the long sides optimised, for Result.sizes
    return Result(image=image, history=record.history, model=extractor.describe(), config=config,
                  seconds=time.perf_counter() - record.start, interrupted=interrupted, error=error, snapshot=snapshot,
                  stopped=record.stopped, sizes=[s for s in sizes if max(s) in reached], plan=plan)


def plan_for(height_width: tuple[int, int], config: Config, resume: Snapshot | None = None) -> memory.Plan:
    """How a run on an image of ``height_width`` will be processed (``nst.memory.plan``): its coarse-to-fine
    sizes, which run whole and which in tiles, within ``config.max_memory`` (a resumed run: the snapshot's
    budget, so that it is tiled as before)."""
    sizes = coarse_to_fine_sizes(*height_width, config.start_size, config.size_step)
    budget = resume.budget if resume is not None and resume.budget else memory.resolve_budget(config.max_memory)[0]
    return memory.plan(config, sizes, budget)


def _refine_in_tiles(canvas: np.ndarray, tile: int, content: tf.Tensor | None, config: Config,
                     extractor: FeatureExtractor, loss_fn: Callable, run: Callable, record: Recorder,
                     callback: Callback | None, size_index: int, resume: Snapshot | None) -> None:
    """Optimise ``canvas`` ``(1, H, W, 3)`` tile by tile (``nst.tiles``), pasting each into it in place.

    Each tile starts from the canvas as the tiles before it left it, with its own content targets
    (``content``'s features on the tile) and the size's style targets (in ``loss_fn``). ``resume``
    continues the snapshot's tile from its optimiser state; the canvas is then the snapshot's.
    """
    height, width = canvas.shape[1:3]
    grid = tile_grid(height, width, tile)
    record.canvas = canvas
    for k, t in enumerate(grid):
        if resume is not None and k < resume.tile:
            continue
        memory.release_freed()
        state = None
        if resume is not None and k == resume.tile:
            state = resume.state
        else:
            record.start_tile(k)
        targets = {}
        if content is not None:
            targets = {name: f for name, f in extractor(t.crop(content)).items() if name in config.content_layers}
        if hasattr(callback, "start_tile"):
            callback.start_tile(size_index, k, len(grid))
        if not (state is not None and record.converged()):
            start = record.best_image if state is not None else tf.constant(t.crop(canvas))
            run(functools.partial(loss_fn, content_targets=targets), start, config, record, state)
        paste(canvas, t, record.best_image.numpy(), blend_mask(t, grid))
    record.canvas = None


def stylize(content: ImageLike, style: ImageLike | list[ImageLike], config: Config = Config(),
            callback: Callback | None = None, extractor: FeatureExtractor | None = None,
            resume: Snapshot | None = None, snapshot_every: int = 0,
            on_snapshot: Callable[[Snapshot], None] | None = None, masks: list[ImageLike] | None = None,
            functions: Functions = Functions(), start: ImageLike | None = None,
            terms: dict[str, Callable[[tf.Tensor], tf.Tensor]] | None = None) -> Result:
    """Render ``content`` in the style of ``style`` (Gatys et al. 2016), or of several styles.

    Minimises ``α·content_loss + β·style_loss + γ·tv`` (``nst.losses.style_content_loss``, with the style
    distance and the smoothness term ``config`` names) over the pixels of an image started from
    ``config.init``. Images are file paths (loaded at ``config.size``) or float tensors in [0, 1] (used at
    their own size). ``callback(step, losses, image)`` is called after each
    step. Ctrl-C stops the run early and returns the best image so far with ``interrupted=True``; a
    NaN or Inf loss stops it too, returning the last finite best image with the reason in ``error``.
    A run that ends before ``config.steps`` at its last size says why in ``Result.stopped``.

    Snapshots (``nst.snapshot``): ``on_snapshot(snapshot)`` is called every ``snapshot_every`` steps,
    and a run stopped by a ``KeyboardInterrupt`` raised in ``callback`` returns one in
    ``Result.snapshot``; ``stylize(..., resume=snapshot)`` with the same images and config continues
    it, and ends where the run that was never stopped would have.

    Controls (Gatys et al. 2017): a list of style images blends their feature statistics with weights
    ``config.style_blend``; with ``masks`` (one image per style, white where it goes) each style is
    matched only inside its mask (``regional_style_loss``); ``config.style_scale`` resizes the styles;
    ``config.preserve_color`` keeps the content's colours (``nst.color``). With ``luminance`` the run
    works on grey images (the callback sees them) and the colours are put back at the end.

    ``functions`` (``nst.losses.Functions``) swaps in one's own Gram matrix, loss or Adam step, and
    ``extractor`` one's own feature model: ``nst.classroom`` runs a student's functions this way.

    Extensions: ``start`` replaces ``config.init``'s starting image (resized to the first size); ``terms`` adds
    loss terms, ``{name: term}``, each ``term(image)`` a weighted scalar of the image being optimised
    ``(1, h, w, 3)`` (at each coarse-to-fine size), traced with the loss; it is added to ``total`` and kept in
    the history under its name.
    """
    if (start is not None or terms) and resume is not None:
        raise ValueError("start and terms are not kept in snapshots: resume a run without them")
    return _transfer(content, style, config, callback, extractor, resume, snapshot_every, on_snapshot, masks,
                     functions, start, terms)


def reconstruct_content(content: ImageLike, layers: tuple[str, ...] = ("block4_conv2",), config: Config = Config(),
                        callback: Callback | None = None, extractor: FeatureExtractor | None = None,
                        functions: Functions = Functions()) -> Result:
    """From seeded noise, find an image whose features at ``layers`` match ``content``'s: content loss alone."""
    config = dataclasses.replace(config, content_layers=tuple(layers), style_weight=0.0, tv_weight=0.0,
                                 init="noise", start_size=0)
    return _transfer(content, None, config, callback, extractor, functions=functions)


def synthesize_style(style: ImageLike, layers: tuple[str, ...] = Config.style_layers, config: Config = Config(),
                     callback: Callback | None = None, extractor: FeatureExtractor | None = None,
                     functions: Functions = Functions()) -> Result:
    """From seeded noise, find an image whose feature statistics at ``layers`` match ``style``'s: style loss alone.

    The result has the style image's size (long side ``config.size``) and its texture, but no layout.
    """
    layer_weights = config.style_layer_weights if tuple(layers) == config.style_layers else ()
    config = dataclasses.replace(config, style_layers=tuple(layers), style_layer_weights=layer_weights,
                                 content_weight=0.0, tv_weight=0.0, init="noise", start_size=0)
    return _transfer(None, style, config, callback, extractor, functions=functions)
