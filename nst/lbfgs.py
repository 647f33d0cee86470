"""L-BFGS-B on the pixels: SciPy's Fortran-turned-C core, ``setulb``, driven one call at a time.

``scipy.optimize.minimize(method="L-BFGS-B")`` runs the whole optimisation in one call and keeps its state to
itself. nst needs to stop between two steps and continue later exactly where it was (``--resume``), so it
drives ``setulb`` as ``minimize`` itself does, holding every work array (``_lbfgs_start``) where a snapshot
can save it. ``setulb`` is private to SciPy: its signature is that of SciPy 1.15 to 1.17 (pyproject.toml pins
the range the tests ran on).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf
from scipy.optimize import _lbfgsb as scipy_lbfgsb  # L-BFGS-B's core, driven as SciPy's own minimize drives it

from nst.config import LBFGS_MEMORY, Config
from nst.recorder import Recorder

FG, NEW_X = 3, 1  # setulb's task codes: "evaluate f and g at x", "an iteration has ended"


def _lbfgs_start(x: np.ndarray) -> dict[str, np.ndarray]:
    """L-BFGS-B's whole state as arrays (SciPy's ``setulb`` keeps nothing else), so a snapshot can hold it."""
    n, m = x.size, LBFGS_MEMORY
    return {"x": x, "f": np.zeros(()), "g": np.zeros(n), "wa": np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m),
            "iwa": np.zeros(3 * n, np.int32), "task": np.zeros(2, np.int32), "ln_task": np.zeros(2, np.int32),
            "lsave": np.zeros(4, np.int32), "isave": np.zeros(44, np.int32), "dsave": np.zeros(29),
            "evaluations": np.zeros((), np.int64)}


def run_lbfgs(loss_fn: Callable, image: tf.Tensor, config: Config, record: Recorder,
              state: dict[str, np.ndarray] | None = None) -> None:
    """L-BFGS-B on the pixels, with the box [0, 1] as bounds (no clipping needed).

    This is SciPy's L-BFGS-B (``scipy.optimize.minimize(method="L-BFGS-B")`` with ``ftol = gtol = 0``),
    driven one call of its ``setulb`` routine at a time, as ``minimize`` itself does, so that its
    state can be saved and restored (``state``, from a snapshot). The loss and its gradient come from
    one traced function; SciPy works in float64 on the flattened image. Each step is one iteration;
    its line search may evaluate the loss more than once, and a size stops after ``config.evaluations``
    evaluations (twice ``config.steps`` if 0), once it has taken a step: near a minimum the line searches take
    more of them.
    """
    shape = image.shape

    @tf.function
    def value_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            terms = loss_fn(x)
        return terms, tape.gradient(terms["total"], x)

    s = state if state is not None else _lbfgs_start(image.numpy().ravel().astype(np.float64))
    record.watch(lambda: s)
    n = s["x"].size
    lower, upper, both_bounds = np.zeros(n), np.ones(n), np.full(n, 2, np.int32)
    iteration = max(len(record.state.totals) - 1, 0)  # step 0 is the starting image
    limit = config.evaluations or 2 * config.steps
    while iteration < config.steps or not record.state.totals:
        scipy_lbfgsb.setulb(LBFGS_MEMORY, s["x"], lower, upper, both_bounds, s["f"], s["g"], 0.0, 0.0, s["wa"],
                            s["iwa"], s["task"], s["lsave"], s["isave"], s["dsave"], 20, s["ln_task"])
        if s["task"][0] == FG:
            if s["evaluations"] >= limit and iteration > 0:  # every size takes a step; its best image is kept
                record.state.stopped = (f"L-BFGS-B evaluated the loss {limit} times, its limit "
                                        f"({'config.evaluations' if config.evaluations else 'twice config.steps'})")
                record.state.evaluations = int(s["evaluations"])  # the last line search's trial points too
                return
            x = tf.constant(s["x"].reshape(shape), tf.float32)
            terms, grad = value_and_grad(x)
            s["evaluations"][...] += 1
            record.check_finite(iteration + (s["evaluations"] > 1), float(terms["total"]))  # trial points too
            s["f"][...], s["g"][:] = float(terms["total"]), grad.numpy().ravel()
            last = terms, x
            if s["evaluations"] == 1:
                record(0, terms, x, 1)
        elif s["task"][0] == NEW_X:  # the line search ends on the point it accepts: the last one evaluated
            iteration += 1
            if record(iteration, *last, int(s["evaluations"])):
                return
        else:  # with ftol = gtol = 0: a step found no lower loss, or the line search could go no further
            record.state.stopped = ("L-BFGS-B found no lower loss: the loss's rounding is as large as a step's gain "
                                    "(bfloat16 rounds more than float32)")
            record.state.evaluations = int(s["evaluations"])
            return
