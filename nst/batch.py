"""Batch mode: stylise several content images in one style at once, on one device or on several.

``stylize`` optimises one image. Here the pixels of B images of one size form one variable of
shape ``(B, H, W, 3)``, and each Adam step runs VGG19 once on the whole batch: on a GPU that keeps
the device busy where a single small image would leave it half idle.

Why the images do not disturb each other
----------------------------------------
The batch objective is the *sum* of the per-image losses, ``L = Σ_i L_i(x_i)``, where ``L_i`` is
exactly the loss ``stylize`` minimises for image ``i`` alone (content, style and total variation of
that image, against its own content targets and the shared style targets). Since ``L_i``
depends only on the pixels ``x_i``, ``∂L/∂x_i = ∂L_i/∂x_i``; and Adam is elementwise (each pixel has
its own moments), so every image follows the trajectory it would follow alone. A *mean* over the
batch would divide each gradient by B, which Adam mostly, but not exactly, cancels (its epsilon is
not scaled); hence the sum. The losses of ``nst.losses`` average a batch (the L1 total variation adds it),
so here they are asked for per image (``per_image=True``): each image's own loss, for its history, summed.

Distribution
------------
With a ``tf.distribute`` strategy the image variable is created under ``strategy.scope()``: a
mirrored variable, every replica holding a copy of the whole batch. Each step, ``strategy.run``
calls the replica function on every device; replica r of R takes its slice of the batch, images
``r·B/R … (r+1)·B/R - 1``, and computes the summed loss of that slice and its gradient with respect
to the *whole* variable (zeros outside its slice). Keras' ``apply_gradients``, called in replica
context, sums the gradients over the replicas (an all-reduce, as in the TensorFlow tutorial "Custom
training with tf.distribute.Strategy") and then applies the same Adam update to every copy. Because
the other replicas contribute exact zeros to image i's pixels, the summed gradient is the one a
single device computes, and the results equal the single-device results.

Equal how exactly? Each replica runs the same graph a single device runs on a batch of its size, so
R replicas of b images give bit for bit what one device gives for a batch of b images at a time (a
batch of 4 on 2 replicas equals a batch of 4 on one device too, on the CPU). Between batch sizes,
though, the last bit can differ: Grappler's constant folding folds the constant factors of the
gradient (loss weights, 1/N of the means) in a different order depending on the tensors' shapes, so
a batch of 2 and two runs of 1 image (or ``stylize``) may differ by a rounding error (about 1e-7
after a few steps in float32; in bfloat16, where batched convolutions round differently too, such
differences grew to 0.034 of the pixel range after 100 steps at 256 px, invisible in the picture).
A batch of one image, and so each replica holding one image, reproduces ``stylize`` exactly.

The same code runs

* on one device, with no strategy (``tf.distribute.get_strategy()``, the default, a no-op);
* on several GPUs of one machine: ``tf.distribute.MirroredStrategy()``;
* on several machines: ``tf.distribute.MultiWorkerMirroredStrategy()``, with ``TF_CONFIG`` set on each
  worker (the cluster's addresses and this worker's index) and the same script started on every
  worker. Each worker must load the same images; this path is not tested here.

What batch mode leaves out
--------------------------
Adam only, started from the content images (``init="content"``, or ``"palette"``: recoloured), at one
size (no coarse-to-fine: ``start_size`` is ignored) and for exactly ``config.steps`` updates (no early
stop: ``tolerance`` is ignored, since the images would stop at different steps). No snapshots.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

from nst.balance import content_floor
from nst.config import Config
from nst.features import FeatureExtractor
from nst.losses import Functions, style_content_loss
from nst.inputs import ImageLike, Inputs, as_image, initial_image, resize, style_image
from nst.objective import Objective, extractor_for, objective_for, style_targets_for
from nst.optimizers import adam
from nst.recorder import NonFiniteLoss, Recorder, RunState
from nst.result import Result

BatchCallback = Callable[[int, list[dict], tf.Tensor], None]
"""``callback(step, losses, images)``: one ``{"content", "style", "tv", "total"}`` dict of floats per image."""

def _stack_contents(contents: list[ImageLike] | tf.Tensor, size: int) -> tf.Tensor:
    """The content images as one float32 batch ``(B, H, W, 3)``; a ValueError if their shapes differ.

    Each image is taken as ``stylize`` takes it (``nst.inputs.as_image``): a path is loaded at ``size``, a tensor
    is used at its own size and must be finite.
    """
    if not isinstance(contents, (list, tuple)):
        contents = tf.convert_to_tensor(contents, tf.float32)
        if contents.shape.rank != 4:
            raise ValueError(f"expected content images of shape (B, H, W, 3), got {tuple(contents.shape)}")
        contents = tf.unstack(contents)
    if not contents:
        raise ValueError("stylize_batch needs at least one content image")
    images = [as_image(image, size) for image in contents]  # (1, H, W, 3) each
    shapes = [tuple(image.shape) for image in images]
    if any(shape != shapes[0] for shape in shapes):
        raise ValueError(f"batch mode needs content images of one shape (1, H, W, 3); got "
                         f"{', '.join(map(str, shapes))}: resize them to one size first (e.g. tf.image.resize)")
    return tf.concat(images, axis=0)


def stylize_batch(contents: list[ImageLike] | tf.Tensor, style: ImageLike, config: Config = Config(),
                  extractor: FeatureExtractor | None = None, strategy: tf.distribute.Strategy | None = None,
                  callback: BatchCallback | None = None) -> list[Result]:
    """Render every content image in the style of ``style``, as one batch; returns one ``Result`` per image.

    ``contents`` is a list of images of one shape ``(1, H, W, 3)`` (or one ``(B, H, W, 3)`` tensor),
    ``style`` one image ``(1, h, w, 3)``; float32 in [0, 1] used at their own sizes, or file paths loaded at
    ``config.size``, as ``stylize`` takes them. Each image
    of the result is what ``stylize(content_i, style, config)`` returns with Adam, ``start_size=0`` and
    ``tolerance=0``: the lowest-loss image among the start and the ``config.steps`` Adam updates
    (``nst.optimizers.adam(config.learning_rate)``, pixels clipped to
    [0, 1] after each update), minimising ``α·content + β·style + γ·tv`` (+ the content floor) of that image
    alone, with the weights ``nst.balance`` gives that image's pair. Batch mode
    needs ``config.optimizer="adam"``, and runs one size with no early stop (module docstring).

    ``strategy`` spreads the batch over its replicas (default: ``tf.distribute.get_strategy()``, the
    current one, a no-op outside any scope); B must be a multiple of ``strategy.num_replicas_in_sync``.
    The same call works under ``MirroredStrategy`` (several GPUs of one machine) and
    ``MultiWorkerMirroredStrategy`` (several machines, ``TF_CONFIG`` set on each worker).

    Each ``Result`` holds the image's own history; ``seconds`` (there and in the history) is the batch's time.
    ``callback(step, losses, images)`` is called after each step as in ``stylize``: step 0 with the
    content images, step k with the images after k updates, up to ``config.steps``; ``losses`` holds one
    dict ``{"content", "style", "tv", "total"}`` of floats per image. Raises ``NonFiniteLoss`` if a
    loss becomes NaN or Inf.
    """
    contents = _stack_contents(contents, config.size)
    style = style_image(style, config, 0)
    strategy = strategy or tf.distribute.get_strategy()
    batch, replicas = int(contents.shape[0]), strategy.num_replicas_in_sync
    _check(config, batch, replicas)
    extractor = extractor_for(config, extractor=extractor)
    # resize to the same size is what stylize does at its one size; it keeps the values.
    height, width = contents.shape[1:3]
    contents = tf.concat([resize(contents[i:i + 1], (height, width)) for i in range(batch)], axis=0)
    style = resize(style, style.shape[1:3])
    loss_fn = _replica_losses(extractor, contents, style, config, batch // replicas)
    start = tf.concat([initial_image(config, (1, height, width, 3), contents[i:i + 1], [style], [1.0])
                       for i in range(batch)], axis=0)  # each photo's own start, as stylize makes it
    with strategy.scope():
        # Under the scope: a mirrored variable (one copy of the whole batch per replica) and Adam's moments
        # mirrored alongside; the optimiser remembers the strategy it was created under.
        image = tf.Variable(start, name="images")
        optimizer = adam(config.learning_rate)
        optimizer.build([image])  # its slots now, not inside the traced step
    train_step, score = _traced_steps(image, optimizer, strategy, loss_fn)

    # One RunState per image, as stylize keeps one: its history, its lowest-loss image, the NaN check. Their
    # stopping rule is not used: the images of a batch stop together.
    records = [Recorder(RunState(config)) for _ in range(batch)]
    for record in records:
        record.state.start_size(0, max(height, width))
    for step in range(config.steps):
        terms, before = train_step()
        _record(records, step, terms, before, callback)
    _record(records, config.steps, score(), tf.identity(image), callback)  # score the last update too
    return [Result(image=r.state.best_image, history=r.state.history, model=extractor.describe(), config=config,
                   seconds=r.state.seconds, final=r.state.final(), evaluations=r.state.evaluations) for r in records]


def _check(config: Config, batch: int, replicas: int) -> None:
    """What batch mode needs: Adam, a start from the photos, and a batch the replicas share evenly."""
    if config.optimizer != "adam":
        raise ValueError("batch mode optimises its images together with Adam (L-BFGS would couple them): "
                         "give a config with optimizer='adam'")
    if config.init not in ("content", "palette"):
        raise ValueError(f"batch mode starts from the content images (init='content' or 'palette'); "
                         f"got init='{config.init}'")
    if batch % replicas:
        raise ValueError(f"a batch of {batch} images cannot be split evenly over {replicas} replicas: "
                         f"give a multiple of {replicas} images")


def _record(records: list[Recorder], step: int, terms: dict[str, tf.Tensor], images: tf.Tensor,
            callback: BatchCallback | None) -> None:
    """Each image's losses to its own recorder, then all of them to the callback."""
    losses = [{name: float(terms[name][i]) for name in terms} for i in range(len(records))]
    for i, (record, image_losses) in enumerate(zip(records, losses)):
        try:
            record(step, image_losses, images[i:i + 1])
        except NonFiniteLoss as e:
            raise NonFiniteLoss(f"image {i}: {e}") from None
    if callback is not None:
        callback(step, losses, images)


def _replica_losses(extractor: FeatureExtractor, contents: tf.Tensor, style: tf.Tensor, config: Config,
                    per_replica: int) -> Callable[[tf.Tensor], tuple[tf.Tensor, dict[str, tf.Tensor]]]:
    """The function of the batch variable that gives this replica's slice of it and the slice's per-image losses.

    The targets are computed once, as stylize computes them: each content image on its own (P_l, one row per
    image, so that a batched convolution cannot round them differently), the style targets once for all.
    """
    # Each image weighed as stylize weighs it alone (nst.balance): its own weights, content floor and targets.
    objectives = [Objective(config, Inputs(contents[i:i + 1], [style], [1.0], None, contents[i:i + 1], ""), extractor)
                  for i in range(int(contents.shape[0]))]
    first = objectives[0]  # the smoothness and floor weights depend on the config alone: the same for every image
    content_weights, style_weights, floors = (tf.constant([getattr(o, name) for o in objectives], tf.float32)
                                              for name in ("content_weight", "style_weight", "floor"))
    content_targets: dict[str, tf.Tensor] = {}
    if first.use_content:
        features = [extractor(contents[i:i + 1]) for i in range(int(contents.shape[0]))]
        content_targets = {name: tf.concat([f[name] for f in features], axis=0) for name in first.target_layers}
    style_targets = style_targets_for(extractor, [style], config, [1.0]) if first.use_style else {}
    keywords = objective_for(config, Functions())

    def replica_losses(images: tf.Tensor) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        # Replica r owns images r·b ... (r+1)·b - 1. The id is 0 under the default strategy, a per-replica
        # constant under MirroredStrategy; the slice is taken from this replica's copy of the variable.
        start = tf.distribute.get_replica_context().replica_id_in_sync_group * per_replica
        mine = images[start:start + per_replica]
        targets = {name: target[start:start + per_replica] for name, target in content_targets.items()}
        features = extractor(mine)
        losses = style_content_loss(mine, features, {name: targets[name] for name in config.content_layers
                                                     if name in targets}, style_targets,
                                    content_weights[start:start + per_replica],
                                    style_weights[start:start + per_replica], first.tv_weight, per_image=True,
                                    **keywords)
        if first.floor_weight:
            losses["floor"] = first.floor_weight * content_floor(features, targets, floors[start:start + per_replica],
                                                                 per_image=True)
            losses["total"] = losses["total"] + losses["floor"]
        return mine, losses

    return replica_losses


def _traced_steps(image: tf.Variable, optimizer: keras.optimizers.Optimizer, strategy: tf.distribute.Strategy,
                  replica_losses: Callable) -> tuple[Callable, Callable]:
    """``train_step()``, one Adam update of the whole batch returning the losses before it and the images they
    belong to, and ``score()``, the losses of the images as they are; both traced, each replica on its slice."""
    def replica_step() -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            _, terms = replica_losses(image)
            # The sum, not the mean, over this replica's images: each image keeps its own gradient ∂L_i/∂x_i.
            objective = tf.reduce_sum(terms["total"])
        # With respect to the whole variable: zeros outside this replica's slice.
        grad = tape.gradient(objective, image)
        # In replica context Keras all-reduces (SUM) the gradients over the replicas, then updates every copy.
        optimizer.apply_gradients([(grad, image)])
        return terms

    @tf.function
    def train_step() -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        before = tf.identity(image)  # the images the returned losses belong to
        terms = strategy.run(replica_step)
        # Once in cross-replica context, assigned to every copy: the box [0, 1] of valid pixels.
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        # Each replica's losses, concatenated in replica order: the batch's order.
        return {name: strategy.gather(terms[name], axis=0) for name in terms}, before

    @tf.function
    def score() -> dict[str, tf.Tensor]:
        terms = strategy.run(lambda: replica_losses(image)[1])
        return {name: strategy.gather(terms[name], axis=0) for name in terms}

    return train_step, score
