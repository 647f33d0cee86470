"""Seconds per step: the TensorFlow tutorial's Adam train_step against nst's Adam and L-BFGS steps.

    python benchmarks/step_cost.py                 # 256 and 512 px, 20 timed steps each
    python benchmarks/step_cost.py --sizes 256 --steps 10

The reference is the tutorial "Neural style transfer" (tensorflow.org/tutorials/generative/style_transfer),
written out below in its own terms: the same layers, weights, optimiser and clipping. Every variant
runs on the same images with the same ImageNet weights; the first (tracing) steps are not timed.
"""

import argparse
import time
from pathlib import Path

import tensorflow as tf

import nst
from nst.transfer import device_name

DATA = Path(__file__).resolve().parent.parent / "data"
CONTENT_LAYERS = ["block5_conv2"]
STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
WARMUP = 3


def tutorial_seconds_per_step(content: tf.Tensor, style: tf.Tensor, steps: int) -> float:
    """The tutorial's StyleContentModel and train_step, timed over ``steps`` updates."""
    vgg = tf.keras.applications.VGG19(include_top=False, weights="imagenet")
    vgg.trainable = False
    model = tf.keras.Model([vgg.input], [vgg.get_layer(n).output for n in STYLE_LAYERS + CONTENT_LAYERS])

    def extract(image):
        outputs = model(tf.keras.applications.vgg19.preprocess_input(image * 255.0))
        style_outputs = [nst.gram_matrix(o) for o in outputs[: len(STYLE_LAYERS)]]
        return dict(zip(STYLE_LAYERS, style_outputs)), dict(zip(CONTENT_LAYERS, outputs[len(STYLE_LAYERS):]))

    style_targets, content_targets = extract(style)[0], extract(content)[1]
    image = tf.Variable(content)
    opt = tf.keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)

    @tf.function()
    def train_step(image):
        with tf.GradientTape() as tape:
            style_outputs, content_outputs = extract(image)
            style_loss = tf.add_n([tf.reduce_mean((style_outputs[n] - style_targets[n]) ** 2) for n in STYLE_LAYERS])
            content_loss = tf.add_n([tf.reduce_mean((content_outputs[n] - content_targets[n]) ** 2)
                                     for n in CONTENT_LAYERS])
            loss = 1e-2 * style_loss / len(STYLE_LAYERS) + 1e4 * content_loss / len(CONTENT_LAYERS)
            loss += 30 * tf.image.total_variation(image)
        grad = tape.gradient(loss, image)
        opt.apply_gradients([(grad, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))

    for _ in range(WARMUP):
        train_step(image)
    _ = image.numpy()  # wait for the warm-up to finish before the clock starts
    start = time.perf_counter()
    for _ in range(steps):
        train_step(image)
    _ = image.numpy()
    return (time.perf_counter() - start) / steps


def nst_seconds_per_step(content: tf.Tensor, style: tf.Tensor, steps: int, optimizer: str) -> float:
    """nst.stylize's time per step after the warm-up steps, from its own history."""
    config = nst.Config(steps=WARMUP + steps, optimizer=optimizer)
    history = nst.stylize(content, style, config).history
    timed = [e for e in history if WARMUP <= e["step"] <= WARMUP + steps]
    return (timed[-1]["seconds"] - timed[0]["seconds"]) / (timed[-1]["step"] - timed[0]["step"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    args = parser.parse_args()
    print(f"device: {device_name()}; TensorFlow {tf.__version__}; float32; {args.steps} timed steps after {WARMUP}")
    print("| size | tutorial Adam train_step | nst Adam | nst L-BFGS (per iteration) | nst Adam / tutorial |")
    print("| --- | --- | --- | --- | --- |")
    for size in args.sizes:
        content = nst.load_image(DATA / "content" / "china.jpg", size)
        style = nst.load_image(DATA / "style" / "great_wave.jpg", size)
        tutorial = tutorial_seconds_per_step(content, style, args.steps)
        adam = nst_seconds_per_step(content, style, args.steps, "adam")
        lbfgs = nst_seconds_per_step(content, style, args.steps, "lbfgs")
        shape = f"{content.shape[2]}x{content.shape[1]}"
        print(f"| {shape} | {tutorial:.3f} s | {adam:.3f} s | {lbfgs:.3f} s | {adam / tutorial:.2f} |", flush=True)


if __name__ == "__main__":
    main()
