"""run_lbfgs: the steps of SciPy's own L-BFGS-B, and why it ends before its step limit."""

import numpy as np
import pytest
import scipy.optimize
import tensorflow as tf

from nst import Config
from nst.lbfgs import run_lbfgs
from nst.optimizers import run_adam
from nst.recorder import Recorder, RunState

# Rosenbrock's valley along the pixels, plus a pull that puts part of its minimum outside [0, 1].
TARGET = tf.constant(np.random.default_rng(0).uniform(-0.5, 1.5, (1, 4, 5, 3)), tf.float32)
START = tf.fill(TARGET.shape, 0.5)


def rosenbrock(x: tf.Tensor) -> tf.Tensor:
    v = tf.reshape(x, [-1])
    return (tf.reduce_sum(100.0 * tf.square(v[1:] - tf.square(v[:-1])) + tf.square(0.7 - v[:-1]))
            + tf.reduce_sum(tf.square(x - TARGET)))


def as_terms(total: tf.Tensor) -> dict[str, tf.Tensor]:
    return {"content": total, "style": tf.constant(0.0), "tv": tf.constant(0.0), "total": total}


def test_lbfgs_takes_the_steps_of_scipys_minimize():
    def fun(x):
        x = tf.constant(x.reshape(TARGET.shape), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = rosenbrock(x)
        return float(total), tape.gradient(total, x).numpy().ravel().astype(np.float64)

    def on_step(intermediate_result):  # SciPy passes the OptimizeResult to a parameter of this name
        scipy_totals.append(intermediate_result.fun)

    scipy_totals = [fun(START.numpy().ravel())[0]]
    scipy.optimize.minimize(fun, START.numpy().ravel().astype(np.float64), jac=True, method="L-BFGS-B",
                            bounds=scipy.optimize.Bounds(0.0, 1.0), callback=on_step,
                            options={"maxiter": 8, "ftol": 0.0, "gtol": 0.0})
    config = Config(steps=8, tolerance=0.0)
    record = Recorder(RunState(config))
    run_lbfgs(lambda x: as_terms(rosenbrock(x)), START, config, record)
    assert len(scipy_totals) == 9 and scipy_totals[-1] < scipy_totals[0] / 2
    # rel=1e-5: float32 sums round differently in the traced function than eagerly
    assert [entry["total"] for entry in record.state.history] == pytest.approx(scipy_totals, rel=1e-5)


def test_lbfgs_says_why_it_ended_when_no_step_lowers_the_loss():
    # From step 5 on, every evaluation is 1000 above the one before: no step can lower the loss, as when
    # bfloat16's rounding outweighs what a step gains. The run ends there, with the reason.
    rising = tf.Variable(0.0)

    def loss_fn(x):
        return as_terms(rosenbrock(x) + rising.assign_add(1000.0 * tf.sign(rising)))  # 0 until step 5

    def callback(step, losses, image):
        if step == 5:
            rising.assign(1000.0)

    config = Config(steps=30, tolerance=0.0)
    record = Recorder(RunState(config), callback)
    run_lbfgs(loss_fn, START, config, record)
    assert len(record.state.history) < 10 and min(record.state.totals) == record.state.totals[5]
    assert record.state.stopped.startswith("L-BFGS-B found no lower loss")

    record = Recorder(RunState(config))
    run_lbfgs(lambda x: as_terms(rosenbrock(x)), START, config, record)
    assert len(record.state.history) == 31 and record.state.stopped is None  # it ran its 30 steps


def test_lbfgs_stops_at_its_limit_of_evaluations_and_counts_them_in_the_history():
    evaluations = tf.Variable(0)

    def loss_fn(x):
        evaluations.assign_add(1)  # the line searches' trial points too
        return as_terms(rosenbrock(x))

    config = Config(steps=30, evaluations=12, tolerance=0.0)
    record = Recorder(RunState(config))
    run_lbfgs(loss_fn, START, config, record)
    counts = [entry["evaluations"] for entry in record.state.history]  # up to each step accepted
    assert counts[0] == 1 and counts == sorted(counts) and len(counts) < 13
    assert record.state.evaluations == int(evaluations) == 12  # the unfinished line search's trial points too
    assert record.state.stopped == "L-BFGS-B evaluated the loss 12 times, its limit (config.evaluations)"
    evaluations.assign(0)
    record = Recorder(RunState(Config(steps=8, tolerance=0.0)))  # no limit of its own: twice the steps
    run_lbfgs(loss_fn, START, record.state.config, record)
    assert record.state.history[-1]["evaluations"] == record.state.evaluations == int(evaluations) <= 16


def test_adam_evaluates_the_loss_once_a_step():
    record = Recorder(RunState(Config(optimizer="adam", steps=3)))
    run_adam(lambda x: as_terms(rosenbrock(x)), START, record.state.config, record)
    assert [entry["evaluations"] for entry in record.state.history] == [1, 2, 3, 4]  # the last update scored too
