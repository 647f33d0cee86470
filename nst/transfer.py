"""Optimising the pixels of an image: style transfer and its two subproblems.

Only the image changes; VGG19 stays frozen. A run follows its plan (``nst.plan``): from ``config.start_size`` up to
``config.size``, each size ``config.size_step`` times the one before, and at each size

    1. the targets: the photo's features P_l and the paintings' statistics A_l at that size (``Objective.at_size``);
    2. the starting image: ``config.init``'s at the first size, the size before it upsampled at the others;
    3. the optimiser (``nst.lbfgs``, ``nst.optimizers``) on the whole image, or tile by tile (``nst.tiles``),
       until ``config.steps`` steps or the loss stops falling (``config.tolerance``).

The coarse sizes lay out the large strokes, which VGG19's receptive fields cannot see at 2048 px; a step there
costs 4x less per halving. The ``Recorder`` keeps the run's state (``nst.recorder``) as the optimiser goes.

New terms and starting images plug in without touching the loop. A term is a weighted scalar of the image; it is
traced with the loss, added to the total and recorded under its name. The video capability (``nst.video``) makes
each frame like this::

    def temporal(image):  # (1, h, w, 3): keep the pixels the mask keeps where the previous frame put them
        return 200.0 * tf.reduce_mean(mask * tf.square(image - warped_previous))

    nst.stylize(frame, painting, config, start=warped_previous, terms={"temporal": temporal})
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable

import tensorflow as tf

from nst import memory
from nst.color import recombine_luminance
from nst.config import Config
from nst.features import FeatureExtractor
from nst.inputs import ImageLike, Inputs, as_image, initial_image, prepare, resize
from nst.lbfgs import run_lbfgs
from nst.losses import Functions
from nst.objective import Level, Objective, Term, extractor_for
from nst.optimizers import run_adam
from nst.plan import Plan, plan_for
from nst.recorder import Callback, NonFiniteLoss, Recorder, RunState
from nst.result import Result, device_name  # noqa: F401 (the notebooks handed out call nst.transfer.device_name)
from nst.snapshot import Snapshot
from nst.tiles import blend_mask, paste, tile_grid


@dataclass
class _Run:
    """What every size of one run shares."""

    config: Config
    inputs: Inputs
    objective: Objective
    plan: Plan
    record: Recorder
    optimize: Callable  # run_lbfgs, or run_adam with the train_step: (loss, image, config, record, state)
    resume: Snapshot | None
    start: tf.Tensor | None

    @property
    def state(self) -> RunState:
        return self.record.state

    def resumes(self, index: int) -> bool:
        return self.resume is not None and index == self.resume.size_index


def _optimize_size(run: _Run, index: int, image: tf.Tensor | None) -> tf.Tensor:
    """Size ``index`` of the plan: its targets, its starting image, then the optimiser. Returns the best image."""
    (height, width), tile = run.plan.sizes[index], run.plan.tiles[index]
    memory.release_freed()  # the size before ended: what it held can go before this one allocates
    level = run.objective.at_size(height, width, tile)
    if run.resumes(index):
        run.state.resume(run.resume)
        image = run.state.best_image
    else:
        start = image if image is not None else run.start
        image = (initial_image(run.config, (1, height, width, 3), level.content, level.styles, run.inputs.blend,
                               run.inputs.masks) if start is None else resize(start, (height, width)))
        run.state.start_size(index, max(height, width))
    level = level._replace(styles=[])  # at print sizes each painting is as large as the image
    if tile is None:
        optimizer_state = run.resume.state if run.resumes(index) else None
        if not (optimizer_state is not None and run.state.converged()):  # else it had ended there
            run.optimize(level.loss(), image, run.config, run.record, optimizer_state)
        return run.state.best_image
    run.state.canvas = run.state.canvas if run.resumes(index) else image.numpy()
    _refine_in_tiles(run, level, tile)
    return tf.constant(run.state.canvas)


def _refine_in_tiles(run: _Run, level: Level, tile: int) -> None:
    """Optimise ``run.state.canvas`` ``(1, H, W, 3)`` tile by tile (``nst.tiles``), pasting each into it in place.

    Each tile starts from the canvas as the tiles before it left it, with its own content targets and the
    size's style targets. A resumed run continues the snapshot's tile from its optimiser state.
    """
    state, canvas = run.state, run.state.canvas
    grid = tile_grid(*canvas.shape[1:3], tile)
    resuming = run.resumes(state.size_index)
    for k, t in enumerate(grid):
        if resuming and k < run.resume.tile:
            continue
        memory.release_freed()
        optimizer_state = run.resume.state if resuming and k == run.resume.tile else None
        if optimizer_state is None:
            state.start_tile(k)
        if not (optimizer_state is not None and state.converged()):
            start = state.best_image if optimizer_state is not None else tf.constant(t.crop(canvas))
            run.optimize(level.loss_of_tile(t), start, run.config, run.record, optimizer_state)
        paste(canvas, t, state.best_image.numpy(), blend_mask(t, grid))


def _stopped_early(run: _Run, image: tf.Tensor, stop: BaseException) -> tuple[tf.Tensor, Snapshot | None]:
    """The best image so far when a size was stopped (Ctrl-C, a callback, a NaN), and a snapshot if the run can go
    on from there (stopped by the callback, between two steps)."""
    state = run.state
    if not state.history:  # stopped before the first step: nothing to return
        raise stop
    snapshot = state.snapshot() if run.record.stopped_by_callback else None
    if state.canvas is not None:  # a tiled size: the canvas with the current tile's best pasted in, in a copy
        canvas, grid = state.canvas.copy(), tile_grid(*state.canvas.shape[1:3], run.plan.tiles[state.size_index])
        if state.best_image is not None:
            paste(canvas, grid[state.tile], state.best_image.numpy(), blend_mask(grid[state.tile], grid))
        return tf.constant(canvas), snapshot
    return (state.best_image if state.best_image is not None else image), snapshot


def _transfer(inputs: Inputs, config: Config, callback: Callback | Callable | None,
              extractor: FeatureExtractor | None, functions: Functions, start: ImageLike | None,
              terms: dict[str, Term] | None, plan: Plan | None, resume: Snapshot | None, snapshot_every: int,
              on_snapshot: Callable[[Snapshot], None] | None) -> Result:
    extractor = extractor_for(config, inputs.content is not None, bool(inputs.styles), extractor)
    if resume is not None:
        resume.check(config, inputs.fingerprint)
    if functions.train_step is not None and config.optimizer != "adam":
        raise ValueError("a train_step of one's own needs optimizer='adam'")
    if snapshot_every and on_snapshot is None:
        raise ValueError("snapshot_every needs an on_snapshot function to receive the snapshots")
    objective = Objective(config, inputs, extractor, functions, terms)
    if plan is None:
        budget = (resume.budget, "the snapshot's") if resume is not None and resume.budget else None
        plan = plan_for((inputs.height, inputs.width), config, budget)
    if any(plan.tiles) and (inputs.masks is not None or functions != Functions() or terms):
        raise ValueError(f"{plan.sizes[-1][1]}x{plan.sizes[-1][0]} px needs tiles in a memory budget of "
                         f"{memory.format_bytes(plan.budget)}, and masks, terms and functions of one's own run "
                         f"whole; raise max_memory or lower the size")
    record = Recorder(RunState(config, plan, inputs.fingerprint), callback, snapshot_every, on_snapshot)
    optimize = (run_lbfgs if config.optimizer == "lbfgs"
                else functools.partial(run_adam, train_step=functions.train_step))
    run = _Run(config, inputs, objective, plan, record, optimize, resume,
               None if start is None else as_image(start, config.size))
    record.callback.start(record.state)
    image, interrupted, error, snapshot = None, False, None, None
    for index in range(resume.size_index if resume is not None else 0, len(plan.sizes)):
        try:
            image = _optimize_size(run, index, image)
        except (KeyboardInterrupt, NonFiniteLoss) as stop:
            image, snapshot = _stopped_early(run, image, stop)
            interrupted = isinstance(stop, KeyboardInterrupt)
            error = None if interrupted else str(stop)
            break
    result = _result(run, image, interrupted, error, snapshot)
    record.callback.end(result)
    return result


def _result(run: _Run, image: tf.Tensor, interrupted: bool, error: str | None, snapshot: Snapshot | None) -> Result:
    state, config = run.state, run.config
    if image.shape[1:3] != (run.inputs.height, run.inputs.width):  # stopped early at a coarse size
        image = resize(image, (run.inputs.height, run.inputs.width))
    if config.preserve_color == "luminance":
        image = recombine_luminance(image, run.inputs.colored_content)
    note = None if state.stopped is None else (f"{state.where()} ended after {state.step - state.first_step} of its "
                                               f"{config.steps} steps: {state.stopped}")
    return Result(image=image, history=state.history, model=run.objective.extractor.describe(), config=config,
                  seconds=state.seconds, final=state.final(), interrupted=interrupted, error=error, snapshot=snapshot,
                  stopped=state.stopped, stopped_note=note, sizes=run.plan.sizes[:state.size_index + 1], plan=run.plan,
                  weights=run.objective.weights(), evaluations=state.evaluations)


def stylize(content: ImageLike, style: ImageLike | list[ImageLike], config: Config = Config(),
            callback: Callback | Callable | None = None, extractor: FeatureExtractor | None = None,
            resume: Snapshot | None = None, snapshot_every: int = 0,
            on_snapshot: Callable[[Snapshot], None] | None = None, masks: list[ImageLike] | None = None,
            functions: Functions = Functions(), start: ImageLike | None = None,
            terms: dict[str, Term] | None = None, plan: Plan | None = None) -> Result:
    """Render ``content`` in the style of ``style`` (Gatys et al. 2016), or of several styles.

    Minimises ``α·content_loss + β·style_loss + γ·tv`` (``nst.losses.style_content_loss``, with the style
    distance and the smoothness term ``config`` names) over the pixels of an image started from
    ``config.init``. Images are file paths (loaded at ``config.size``) or float tensors in [0, 1] (used at
    their own size). ``callback`` is a ``nst.recorder.Callback`` or a function ``callback(step, losses, image)``
    called after each step. Ctrl-C stops the run early and returns the best image so far with
    ``interrupted=True``; a NaN or Inf loss stops it too, returning the last finite best image with the reason in
    ``error``. A run that ends before ``config.steps`` at its last size says why in ``Result.stopped``.
    ``plan`` (``nst.plan.plan_for``) is the plan to follow; by default one is made from ``config.max_memory``.

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
    Extensions (module docstring): ``start`` replaces ``config.init``'s starting image (resized to the first
    size); ``terms`` adds loss terms ``{name: term}``, each ``term(image)`` a weighted scalar of the image being
    optimised ``(1, h, w, 3)`` at each size.
    """
    if (start is not None or terms) and resume is not None:
        raise ValueError("start and terms are not kept in snapshots: resume a run without them")
    return _transfer(prepare(content, style, config, masks), config, callback, extractor, functions, start, terms,
                     plan, resume, snapshot_every, on_snapshot)


def reconstruct_content(content: ImageLike, layers: tuple[str, ...] = ("block4_conv2",), config: Config = Config(),
                        callback: Callback | Callable | None = None, extractor: FeatureExtractor | None = None,
                        functions: Functions = Functions()) -> Result:
    """From seeded noise, find an image whose features at ``layers`` match ``content``'s: content loss alone."""
    config = dataclasses.replace(config, content_layers=tuple(layers), style_weight=0.0, tv_weight=0.0,
                                 init="noise", start_size=0)
    return _transfer(prepare(content, None, config), config, callback, extractor, functions, None, None, None, None,
                     0, None)


def synthesize_style(style: ImageLike, layers: tuple[str, ...] = Config.style_layers, config: Config = Config(),
                     callback: Callback | Callable | None = None, extractor: FeatureExtractor | None = None,
                     functions: Functions = Functions()) -> Result:
    """From seeded noise, find an image whose feature statistics at ``layers`` match ``style``'s: style loss alone.

    The result has the style image's size (long side ``config.size``) and its texture, but no layout.
    """
    layer_weights = config.style_layer_weights if tuple(layers) == config.style_layers else ()
    config = dataclasses.replace(config, style_layers=tuple(layers), style_layer_weights=layer_weights,
                                 content_weight=0.0, tv_weight=0.0, init="noise", start_size=0)
    return _transfer(prepare(None, style, config), config, callback, extractor, functions, None, None, None, None,
                     0, None)
