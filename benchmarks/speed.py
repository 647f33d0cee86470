"""How fast nst reaches the TensorFlow tutorial's result: one run, same images, weights and objective.

    python benchmarks/speed.py            # 512 px, the tutorial's 1000 steps (about 65 min on 2 CPU cores)
    python benchmarks/speed.py --quick    # 256 px, 300 reference steps, no 2048 px run (about 8 min)

The reference is the recipe of the tutorial "Neural style transfer"
(tensorflow.org/tutorials/generative/style_transfer), written out below in its own terms: VGG19,
style layers block1_conv1..block5_conv1, content layer block5_conv2, Adam (0.02, beta_1 0.99,
epsilon 0.1), weights style 1e-2, content 1e4, TV 30, start from the content image, clip after each
step. nst runs the same objective (``nst.Config.preset("tutorial")``, L-BFGS, bfloat16 where the hardware has
it), with more steps allowed so that it can reach the reference's final objective; its usual run is the first
``steps`` of them (L-BFGS takes
the same path whatever its step limit).

Every objective below is the tutorial's, in float32 at the full size: nst's images (saved at each
step) are rescored with it after the run, since nst computes VGG19 in bfloat16 where it can. Each run
is a fresh process, so "peak memory" is that process's peak resident set (VmHWM; Linux only). The reference's
clock starts once its model and targets are built; nst's once its model is built (its targets are
inside). Results go to benchmarks/results/ and the side-by-side picture to docs/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONTENT, STYLE = ROOT / "data" / "content" / "china.jpg", ROOT / "data" / "style" / "great_wave.jpg"
STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
CONTENT_LAYERS = ["block5_conv2"]
TIMED, WARMUP = 5, 2  # forward+backward passes timed per variant, after untimed warm-up ones
CHECK_EVERY = 25  # steps between checks of nst's float32 objective against the reference's


def isolated(fn, *args):
    """``fn(*args)`` in a fresh Python process, its peak memory in MB added to the returned dict."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measured, fn, *args).result()


def _measured(fn, *args) -> dict:
    result = fn(*args)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report the parent's size.
    status = Path("/proc/self/status").read_text()
    result["peak_mb"] = int(status.split("VmHWM:")[1].split()[0]) / 1024  # kB
    return result


def images(size: int):
    import nst

    return nst.load_image(CONTENT, size), nst.load_image(STYLE, size)


class Tutorial:
    """The tutorial's StyleContentModel and loss: the objective every number here is measured in."""

    def __init__(self, content, style):
        import tensorflow as tf

        vgg = tf.keras.applications.VGG19(include_top=False, weights="imagenet")
        vgg.trainable = False
        self.model = tf.keras.Model([vgg.input], [vgg.get_layer(n).output for n in STYLE_LAYERS + CONTENT_LAYERS])
        self.style_targets = self.extract(style)[0]
        self.content_targets = self.extract(content)[1]

    def extract(self, image):
        import tensorflow as tf

        outputs = self.model(tf.keras.applications.vgg19.preprocess_input(image * 255.0))
        grams = [tf.einsum("bijc,bijd->bcd", o, o) / tf.cast(o.shape[1] * o.shape[2], tf.float32)
                 for o in outputs[: len(STYLE_LAYERS)]]
        return grams, outputs[len(STYLE_LAYERS):]

    def loss(self, image):
        import tensorflow as tf

        grams, features = self.extract(image)
        style = tf.add_n([tf.reduce_mean((g - t) ** 2) for g, t in zip(grams, self.style_targets)])
        content = tf.add_n([tf.reduce_mean((f - t) ** 2) for f, t in zip(features, self.content_targets)])
        return (1e-2 * style / len(STYLE_LAYERS) + 1e4 * content / len(CONTENT_LAYERS)
                + 30 * tf.reduce_sum(tf.image.total_variation(image)))


def run_reference(size: int, steps: int, keep: tuple[int, ...]) -> dict:
    """The tutorial's loop; keeps the loss at every step and the image after each step in ``keep``."""
    import tensorflow as tf

    content, style = images(size)
    tutorial = Tutorial(content, style)
    start = time.perf_counter()
    image = tf.Variable(content)
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = tutorial.loss(image)
        optimizer.apply_gradients([(tape.gradient(loss, image), image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return loss

    history, kept = [], {}
    for step in range(steps):
        if step in keep:
            kept[step] = image.numpy()
        loss = float(train_step())  # the loss of the image before this update
        history.append({"step": step, "seconds": time.perf_counter() - start, "total": loss})
    seconds = time.perf_counter() - start
    final = float(tutorial.loss(image))
    history.append({"step": steps, "seconds": seconds, "total": final})
    kept[steps] = image.numpy()
    return {"seconds": seconds, "final": final, "history": history, "images": kept}


def run_nst(size: int, target: float, steps: int, snapshots: Path) -> dict:
    """``nst.stylize`` on the tutorial's objective, up to ``steps`` steps, saving each full-size image in ``snapshots``.

    Runs at least the preset's number of steps, then stops once the tutorial's float32 objective,
    checked every ``CHECK_EVERY`` steps, is at or below ``target`` (nst's own loss, in bfloat16, is
    about 0.6% lower than the float32 objective). The time spent checking is taken out of the
    history's seconds. L-BFGS-B may also end by itself, when its line search finds no decrease.
    """
    import nst

    content, style = images(size)
    config = dataclasses.replace(nst.Config.preset("tutorial"), size=size, steps=steps, tolerance=0.0)
    extractor = nst.objective.extractor_for(config)
    tutorial = Tutorial(content, style)
    checking = {"seconds": 0.0}
    checking_before = {}  # step: seconds spent checking before it

    def keep(step, losses, image):
        if image.shape != content.shape:
            return
        np.save(snapshots / f"{step:05d}.npy", image.numpy())
        checking_before[step] = checking["seconds"]
        if step >= nst.Config.preset("tutorial").steps and step % CHECK_EVERY == 0:
            start = time.perf_counter()
            reached = float(tutorial.loss(image)) <= target
            checking["seconds"] += time.perf_counter() - start
            if reached:
                raise KeyboardInterrupt  # stylize returns what it has, marked interrupted

    result = nst.stylize(content, style, config, callback=keep, extractor=extractor)
    history = [{**e, "seconds": e["seconds"] - checking_before.get(e["step"], 0.0)} for e in result.history]
    return {"seconds": result.seconds - checking["seconds"], "history": history, "model": result.model}


def seconds_per_step(size: int, variant: str) -> dict:
    """One forward and backward pass through VGG19 and the loss, timed after warm-up."""
    import tensorflow as tf

    import nst

    content, style = images(size)
    if variant == "tutorial":
        tutorial = Tutorial(content, style)
        loss_fn, jit = tutorial.loss, False
    else:
        precision, _, xla = variant.partition("+")
        config = nst.Config(precision=precision)
        extractor = nst.objective.extractor_for(config)
        content_targets = {n: extractor(content)[n] for n in config.content_layers}
        style_targets = {n: nst.gram_matrix(extractor(style)[n]) for n in config.style_layers}

        def loss_fn(image):
            return nst.style_content_loss(image, extractor(image), content_targets, style_targets,
                                          config.content_weight, config.style_weight, config.tv_weight)["total"]
        jit = xla == "xla"

    @tf.function(jit_compile=jit)
    def value_and_grad(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            loss = loss_fn(image)
        return loss, tape.gradient(loss, image)

    for _ in range(WARMUP):
        value_and_grad(content)[1].numpy()
    start = time.perf_counter()
    for _ in range(TIMED):
        value_and_grad(content)[1].numpy()
    return {"seconds": (time.perf_counter() - start) / TIMED, "shape": list(content.shape[1:3])}


def run_large(size: int, steps: int) -> dict:
    """nst's defaults, ``steps`` per size, on a square ``size`` x ``size`` image: does it fit in memory?"""
    import tensorflow as tf

    import nst

    content, style = images(size)
    side = min(content.shape[1:3])
    square = tf.image.resize(tf.image.resize_with_crop_or_pad(content, side, side), (size, size), "bicubic")
    config = dataclasses.replace(nst.Config.preset("tutorial"), size=size, steps=steps)
    result = nst.stylize(tf.clip_by_value(square, 0.0, 1.0), style, config)
    return {"seconds": result.seconds, "shape": list(result.image.shape[1:3]), "steps": result.metrics()["steps"],
            "steps_per_size": {s: sum(1 for e in result.history if e["size"] == s) - 1
                               for s in dict.fromkeys(e["size"] for e in result.history)}}


def side_by_side(panels: list[tuple[str, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4))
    for ax, (title, image) in zip(axes, panels):
        ax.imshow(np.clip(image[0], 0, 1))
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110, pil_kwargs={"quality": 88})
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 px, 300 reference steps, no large run")
    args = parser.parse_args()
    size, steps = (256, 300) if args.quick else (512, 1000)
    sizes = [256, 512] if args.quick else [256, 512, 1024]
    large, large_steps = (None, 0) if args.quick else (2048, 20)
    fractions = (0.1, 0.2)  # equal budgets: these fractions of the reference's wall time
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)

    import tensorflow as tf

    import nst
    from nst.recorder import converged
    from nst.result import device_name

    content, style = images(size)
    shape = f"{content.shape[2]}x{content.shape[1]}"
    print(f"device: {device_name()}; TensorFlow {tf.__version__}; nst {nst.__version__}; "
          f"{CONTENT.name} x {STYLE.name} at {shape}", flush=True)

    reference = isolated(run_reference, size, steps, tuple(round(f * steps) for f in fractions))
    print(f"reference: {steps} steps in {reference['seconds']:.1f} s, objective {reference['final']:.4g}", flush=True)
    with tempfile.TemporaryDirectory() as snapshots:
        snapshots = Path(snapshots)
        fast = isolated(run_nst, size, reference["final"], 3 * steps, snapshots)
        tutorial = Tutorial(content, style)  # rescore nst's images in the tutorial's float32 objective
        seconds = {e["step"]: e["seconds"] for e in fast["history"] if e["size"] == max(content.shape[1:3])}
        scored = [{"step": int(path.stem), "seconds": seconds[int(path.stem)],
                   "total": float(tutorial.loss(tf.constant(np.load(path))))}
                  for path in sorted(snapshots.glob("*.npy"))]
        load = {e["step"]: np.load(snapshots / f"{e['step']:05d}.npy") for e in scored}
    print(f"nst: {scored[-1]['step']} steps in {fast['seconds']:.1f} s", flush=True)

    reached = next((e for e in scored if e["total"] <= reference["final"]), None)
    defaults = nst.Config.preset("tutorial")  # where nst's usual run stops: its step limit or its tolerance
    totals = [e["total"] for e in scored]
    default_end = next((e for i, e in enumerate(scored) if e["step"] >= defaults.steps
                        or converged(totals[: i + 1], defaults.tolerance)), scored[-1])
    rows = [("reference: wall time", f"{reference['seconds']:.1f} s ({steps} Adam steps, float32)"),
            ("reference: final objective", f"{reference['final']:.4g}"),
            ("nst: wall time to reach the reference's final objective",
             f"{reached['seconds']:.1f} s ({reached['step']} L-BFGS steps)" if reached else
             f"not reached in {scored[-1]['step']} steps ({fast['seconds']:.0f} s)"),
            ("speed-up (reference time / nst time)", f"{reference['seconds'] / reached['seconds']:.1f}x"
             if reached else "-"),
            ("nst run (Config.preset('tutorial'))", f"{default_end['seconds']:.1f} s, {default_end['step']} steps, "
                                                    f"objective {default_end['total']:.4g}")]
    for milestone in (100, 250, 500, 750):  # the reference's objective after this many steps
        if milestone < steps:
            theirs = reference["history"][milestone]
            ours = next((e for e in scored if e["total"] <= theirs["total"]), None)
            rows.append((f"time to the reference's objective after {milestone} steps ({theirs['total']:.4g}): "
                         f"reference / nst", f"{theirs['seconds']:.0f} s / " + (
                             f"{ours['seconds']:.0f} s ({theirs['seconds'] / ours['seconds']:.1f}x)" if ours
                             else "not reached")))
    panels = []
    for fraction in fractions:
        budget = fraction * reference["seconds"]
        ours = [e for e in scored if e["seconds"] <= budget][-1]
        theirs = [e for e in reference["history"] if e["seconds"] <= budget][-1]
        rows.append((f"objective at an equal budget of {budget:.0f} s: reference / nst",
                     f"{theirs['total']:.4g} (step {theirs['step']}) / {ours['total']:.4g} (step {ours['step']})"))
        if fraction == fractions[-1]:
            panels = [(f"reference at {budget:.0f} s: {theirs['total']:.3g}",
                       reference["images"][round(fraction * steps)]),
                      (f"nst at {budget:.0f} s: {ours['total']:.3g}", load[ours["step"]])]
    panels.append((f"reference at {reference['seconds']:.0f} s ({steps} steps): {reference['final']:.3g}",
                   reference["images"][steps]))
    rows.append(("peak memory: reference / nst (with the float32 model that checks it)",
                 f"{reference['peak_mb']:.0f} MB / {fast['peak_mb']:.0f} MB"))

    per_step = {}
    variants = ["tutorial", "float32", "bfloat16", "bfloat16+xla"]
    for s in sizes:
        per_step[s] = {v: isolated(seconds_per_step, s, v) for v in variants}
        print(f"seconds per step at {s}: " + ", ".join(f"{v} {r['seconds']:.3f}" for v, r in per_step[s].items()),
              flush=True)
    large_run = isolated(run_large, large, large_steps) if large else None

    print(f"\n| {shape}, {CONTENT.name} x {STYLE.name} | |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print("\nSeconds per forward+backward pass through VGG19 and the loss (peak memory of that process):\n")
    print("| size | " + " | ".join(variants) + " |\n| --- |" + " --- |" * len(variants))
    for results in per_step.values():
        h, w = results["tutorial"]["shape"]
        print(f"| {w}x{h} | " + " | ".join(f"{r['seconds']:.3f} s ({r['peak_mb'] / 1024:.1f} GB)"
                                          for r in results.values()) + " |")
    if large_run:
        print(f"\n{large}x{large}, tutorial preset, {large_steps} steps per size: {large_run['seconds']:.0f} s, "
              f"steps per size {large_run['steps_per_size']}, peak memory {large_run['peak_mb'] / 1024:.1f} GB")

    picture = ROOT / "docs" / f"speed_{size}.jpg"
    side_by_side(panels, picture)
    summary = {"device": device_name(), "tensorflow": tf.__version__, "nst": nst.__version__, "shape": shape,
               "steps": steps, "table": dict(rows), "seconds_per_step": per_step, "large": large_run,
               "nst_model": fast["model"], "reference_history": reference["history"], "nst_history": fast["history"],
               "nst_rescored": scored}
    (out / f"speed_{size}.json").write_text(json.dumps(summary, indent=1))
    print(f"\nwrote {out / f'speed_{size}.json'} and {picture}")


if __name__ == "__main__":
    main()
