"""Adam on the pixels, and the step it takes (what a student writes as ``train_step``).

``run_adam`` minimises a loss function of the image; after each step it hands the losses and the image to a
``Recorder`` (``nst.recorder``), which keeps the history and the best image and says when to stop. L-BFGS-B,
the default optimiser, is in ``nst.lbfgs``.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from nst.config import Config
from nst.recorder import Recorder

BETA_1, EPSILON = 0.99, 0.1  # the TensorFlow tutorial's: a large epsilon damps the first steps


def adam(learning_rate: float) -> keras.optimizers.Adam:
    """The Adam of every pixel optimisation here: ``beta_1 = 0.99``, ``epsilon = 0.1`` (the TensorFlow tutorial's;
    while the second-moment estimate is still tiny, a large epsilon keeps the first steps small)."""
    return keras.optimizers.Adam(learning_rate, beta_1=BETA_1, epsilon=EPSILON)


def adam_step(image: tf.Variable, optimizer: keras.optimizers.Optimizer,
              loss_fn: Callable[[tf.Tensor], dict[str, tf.Tensor]]) -> dict[str, tf.Tensor]:
    """One update of the pixels: ``x ← clip(x - Adam(∂total/∂x), 0, 1)``; returns the loss terms at ``x`` before it.

    The image is a ``tf.Variable``, so the tape watches it without ``tape.watch``; clipping after
    each update keeps the pixels a valid image (Adam itself knows no bounds).
    """
    with tf.GradientTape() as tape:
        terms = loss_fn(image)
    grad = tape.gradient(terms["total"], image)
    optimizer.apply_gradients([(grad, image)])
    image.assign(tf.clip_by_value(image, 0.0, 1.0))
    return terms


def run_adam(loss_fn: Callable, image: tf.Tensor, config: Config, record: Recorder,
             state: dict[str, np.ndarray] | None = None, train_step: Callable | None = None) -> None:
    """Adam (``adam``) on the pixels, one traced ``train_step`` per update, clipped to [0, 1] after each.

    ``state`` (from a snapshot) holds
    the image and Adam's variables (step count, moments) to continue from. ``train_step`` replaces
    ``adam_step`` (same arguments and result): a student's own step runs inside this loop.
    """
    step_fn = adam_step if train_step is None else train_step
    image = tf.Variable(image)
    optimizer = adam(config.learning_rate)
    optimizer.build([image])  # its slots now, not inside train_step: that would trace it twice
    if state is not None:
        image.assign(state["image"])
        for i, variable in enumerate(optimizer.variables):
            variable.assign(state[f"adam{i}"])
    record.watch(lambda: {"image": image.numpy(), **{f"adam{i}": v.numpy() for i, v in enumerate(optimizer.variables)}})

    @tf.function
    def traced_step():
        before = tf.identity(image)  # the image the returned losses belong to
        return step_fn(image, optimizer, loss_fn), before

    start = len(record.state.totals)  # steps already taken at this size when resuming
    for step in range(start, config.steps):
        terms, before = traced_step()
        if record(step, terms, before):
            return
    if start <= config.steps:
        record(config.steps, loss_fn(image), tf.identity(image))  # score the last update too (eagerly: no trace)
