"""The command line: ``python -m nst CONTENT STYLE -o OUT.png``, or ``python -m nst`` for the demo.

Every field of ``Config`` is a flag with the same default and help, so the two cannot drift.
Exit codes: 0 done; 2 bad input (one line on stderr); 3 the run failed: out of memory, or the loss
became NaN or Inf (the last finite image and its metrics are saved); 130 stopped by Ctrl-C and 143 by
SIGTERM (the best image so far and its metrics are saved first).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import tensorflow as tf

from nst.config import Config
from nst.features import FeatureExtractor
from nst.images import SAVE_FORMATS, load_image, save_image, write_atomically
from nst.progress import ProgressBar
from nst.transfer import NonFiniteLoss, extractor_for, stylize
from nst.weights import WeightsError

DATA = Path(__file__).resolve().parent.parent / "data"
DEMO = (("china.jpg", "great_wave.jpg"), ("chelsea.jpg", "starry_night.jpg"))  # (content, style) in data/
EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 3, 130, 143


class Job(NamedTuple):
    content: Path
    style: Path
    output: Path
    metrics: Path | None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"nst: error: {message} (see python -m nst --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m nst", description="Neural style transfer (Gatys et al. 2016) with VGG19.")
    parser.add_argument("content", nargs="?", help="content photograph (omit both images for the demo on data/)")
    parser.add_argument("style", nargs="?", help="style painting")
    parser.add_argument("-o", "--output", help="output .png or .jpg (default: outputs/CONTENT_STYLE.png)")
    parser.add_argument("--metrics", help="write model details, config, losses per step and timing to this JSON file")
    parser.add_argument("--save-every", type=int, default=0, metavar="N",
                        help="also save the current image every N steps, as OUTPUT_stepN.png")
    parser.add_argument("--config", help="start from a Config saved as JSON; flags override its values")
    options = parser.add_argument_group("optimisation (nst.Config)")
    defaults = Config()
    for f in dataclasses.fields(Config):
        default = getattr(defaults, f.name)
        if isinstance(default, tuple):
            kind, shown = dict(nargs="+", type=str, metavar="LAYER"), " ".join(default)
        else:
            kind, shown = dict(type=type(default)), default
        # default=None: only flags the user gives override --config; the help shows Config's default.
        options.add_argument(f"--{f.name.replace('_', '-')}", default=None, choices=f.metadata.get("choices"),
                             help=f"{f.metadata['help']} (default: {shown})", **kind)
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    base = Config.from_json(Path(args.config).read_text()) if args.config else Config()
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}
    return dataclasses.replace(base, **given)


def _check_output(path: Path, inputs: list[Path], suffixes: tuple[str, ...]) -> None:
    if path.is_dir():
        raise ValueError(f"output '{path}' is a directory; give a file name such as {path / 'out.png'}")
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"output '{path}' must end in {', '.join(suffixes)}")
    if any(path.resolve() == p.resolve() for p in inputs):
        raise ValueError(f"output '{path}' is one of the input images; choose another name")


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"nst: note: {message}", file=sys.stderr)  # e.g. "x.gif has 12 frames; using the first"


def run_one(content: tf.Tensor, style: tf.Tensor, job: Job, config: Config, extractor: FeatureExtractor,
            save_every: int) -> int:
    """Stylise one pair and write the results. Returns the exit code: 0, or why it stopped early."""
    bar = ProgressBar(desc=f"{job.content.name} x {job.style.name}")

    def callback(step, losses, image):
        bar(step, losses, image)
        if save_every and step % save_every == 0 and step > 0:
            save_image(image, job.output.with_name(f"{job.output.stem}_step{step}{job.output.suffix}"))

    try:
        result = stylize(content, style, config, callback=callback, extractor=extractor)
    finally:
        bar.close()
    save_image(result.image, job.output)
    if job.metrics is not None:
        record = {"content": str(job.content), "style": str(job.style), "output": str(job.output), **result.metrics()}
        write_atomically(job.metrics, lambda f: f.write(json.dumps(record, indent=1).encode()))
    final = result.final
    written = f"{job.output}" + (f" and {job.metrics}" if job.metrics else "")
    if result.error:
        print(f"nst: error: {result.error}; saved the last finite image (step {final['step']}) to {written}",
              file=sys.stderr)
        return EXIT_FAILED
    if result.interrupted:
        print(f"interrupted: saved the best image so far (step {final['step']}) to {written}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"saved {written}: {final['step']} steps in {result.seconds:.1f} s, "
          f"total loss {final['total']:.4g} (content {final['content']:.4g}, style {final['style']:.4g}, "
          f"tv {final['tv']:.4g})", file=sys.stderr)
    return 0


def _default_output(content: Path, style: Path) -> Path:
    return Path("outputs") / f"{content.stem}_{style.stem}.png"


def _jobs(args: argparse.Namespace) -> list[Job]:
    if (args.content is None) != (args.style is None):
        raise ValueError("give both a content and a style image, or neither for the demo")
    if args.content is None:
        if not DATA.is_dir():
            raise ValueError(f"the demo needs the data/ folder of a clone of the repository ({DATA} is missing)")
        pairs = [(DATA / "content" / c, DATA / "style" / s) for c, s in DEMO]
        return [Job(c, s, _default_output(c, s), _default_output(c, s).with_suffix(".json")) for c, s in pairs]
    content, style = Path(args.content), Path(args.style)
    output = Path(args.output) if args.output else _default_output(content, style)
    return [Job(content, style, output, Path(args.metrics) if args.metrics else None)]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():  # restores the warnings machinery when main returns
        warnings.showwarning = _note
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    stopped_by = {"code": EXIT_INTERRUPTED}

    def on_sigterm(signum, frame):
        stopped_by["code"] = EXIT_TERMINATED
        raise KeyboardInterrupt  # handled like Ctrl-C: the best image so far is kept

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        config = config_from_args(args)
        if args.save_every < 0:
            raise ValueError(f"--save-every must be 0 or more, got {args.save_every}")
        jobs = _jobs(args)
        # Check every path and decode every image before loading the network: a bad file fails in a second.
        images = []
        for job in jobs:
            _check_output(job.output, [job.content, job.style], tuple(SAVE_FORMATS))
            if job.metrics is not None:
                _check_output(job.metrics, [job.content, job.style, job.output], (".json",))
            images.append((load_image(job.content, config.size), load_image(job.style, config.size)))
        extractor = extractor_for(config)
        for job, (content, style) in zip(jobs, images):
            code = run_one(content, style, job, config, extractor, args.save_every)
            if code:
                return stopped_by["code"] if code == EXIT_INTERRUPTED else code
    except (tf.errors.ResourceExhaustedError, MemoryError):
        print(f"nst: error: out of memory at --size {config.size}; try a smaller --size, or for large outputs "
              f"keep --start-size at 512 or less so that most steps run small", file=sys.stderr)
        return EXIT_FAILED
    except NonFiniteLoss as e:  # at the very first step: there is no finite image to keep
        print(f"nst: error: {e}; nothing was written", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, OSError, WeightsError) as e:
        print(f"nst: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("nst: interrupted before the first step; nothing was written", file=sys.stderr)
        return stopped_by["code"]
    return 0
