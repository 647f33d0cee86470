"""The command line: ``python -m nst CONTENT STYLE -o OUT.png``, or ``python -m nst`` for the demo.

Every field of ``Config`` is a flag with the same default and help, so the two cannot drift.
Exit codes: 0 done; 2 bad input (one line on stderr); 3 the run failed: out of memory, or the loss
became NaN or Inf (the last finite image and its metrics are saved); 130 stopped by Ctrl-C and 143 by
SIGTERM (at the end of the current step; the best image so far, its metrics and a snapshot that
``--resume`` continues from are saved first). A second Ctrl-C stops at once, without a new snapshot.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import warnings
from pathlib import Path
from typing import Callable, NamedTuple

import tensorflow as tf

from nst.config import Config
from nst.features import FeatureExtractor
from nst.images import SAVE_FORMATS, load_image, save_image, write_atomically
from nst.progress import ProgressBar
from nst.snapshot import Snapshot
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

    @property
    def snapshot(self) -> Path:
        return self.output.with_suffix(".snapshot.npz")


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
                        help="every N steps, also save the current image as OUTPUT_stepN.png and a snapshot")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUTPUT.snapshot.npz, saved on Ctrl-C, SIGTERM and every --save-every "
                             "steps; --steps and --tolerance may change, the other settings come from the snapshot")
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


def config_from_args(args: argparse.Namespace, base: Config | None = None) -> Config:
    """``base`` (a snapshot's config), else ``--config``, else ``Config()``, with the flags given on top."""
    base = base or (Config.from_json(Path(args.config).read_text()) if args.config else Config())
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}
    return dataclasses.replace(base, **given)


def _load_snapshot(job: Job, args: argparse.Namespace) -> Snapshot:
    if not job.snapshot.exists():
        raise ValueError(f"no snapshot '{job.snapshot}' to resume from (it is saved on Ctrl-C, SIGTERM and every "
                         f"--save-every steps, and removed once the run ends); run without --resume")
    snapshot = Snapshot.load(job.snapshot)
    snapshot.check(config_from_args(args, snapshot.config), snapshot.inputs)  # a flag that would change the run
    return snapshot


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
            save_every: int, resume: Snapshot | None, stop_requested: Callable[[], bool]) -> int:
    """Stylise one pair and write the results. Returns the exit code: 0, or why it stopped early."""
    bar = ProgressBar(desc=f"{job.content.name} x {job.style.name}")

    def callback(step, losses, image):
        bar(step, losses, image)
        if save_every and step % save_every == 0 and step > 0:
            save_image(image, job.output.with_name(f"{job.output.stem}_step{step}{job.output.suffix}"))
        if stop_requested():
            raise KeyboardInterrupt  # here, between two steps, the run can be snapshot and resumed

    try:
        result = stylize(content, style, config, callback=callback, extractor=extractor, resume=resume,
                         snapshot_every=save_every, on_snapshot=lambda snapshot: snapshot.save(job.snapshot))
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
        resumable = ""
        if result.snapshot is not None:
            result.snapshot.save(job.snapshot)
            resumable = f"; the same command with --resume continues from {job.snapshot}"
        elif job.snapshot.exists():  # stopped mid-step: only an earlier --save-every snapshot can be continued
            resumable = f"; the same command with --resume continues from the earlier snapshot {job.snapshot}"
        print(f"interrupted: saved the best image so far (step {final['step']}) to {written}{resumable}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    job.snapshot.unlink(missing_ok=True)  # the run is complete: nothing left to resume
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
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with warnings.catch_warnings():  # restores the warnings machinery when main returns
            warnings.showwarning = _note
            return _main(args)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def _main(args: argparse.Namespace) -> int:
    stopped_by: dict[str, int | None] = {"code": None}

    def on_signal(signum, frame):
        if stopped_by["code"] is not None:
            raise KeyboardInterrupt  # asked twice: stop now
        stopped_by["code"] = EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED
        print("\nnst: stopping at the end of this step (Ctrl-C again to stop at once)", file=sys.stderr)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    config = Config()
    try:
        if args.save_every < 0:
            raise ValueError(f"--save-every must be 0 or more, got {args.save_every}")
        jobs = _jobs(args)
        snapshots = {}
        if args.resume:
            for job in jobs:
                if not job.snapshot.exists() and job.output.exists():
                    print(f"nst: note: {job.output} exists and has no snapshot: finished before; skipped",
                          file=sys.stderr)
                else:
                    snapshots[job] = _load_snapshot(job, args)
            jobs = list(snapshots)
        base = next(iter(snapshots.values())).config if snapshots else None
        config = config_from_args(args, base)
        # Check every path and decode every image before loading the network: a bad file fails in a second.
        images = []
        for job in jobs:
            _check_output(job.output, [job.content, job.style], tuple(SAVE_FORMATS))
            if job.metrics is not None:
                _check_output(job.metrics, [job.content, job.style, job.output], (".json",))
            images.append((load_image(job.content, config.size), load_image(job.style, config.size)))
        extractor = extractor_for(config) if jobs else None
        for job, (content, style) in zip(jobs, images):
            if stopped_by["code"] is not None:
                raise KeyboardInterrupt
            code = run_one(content, style, job, config, extractor, args.save_every, snapshots.get(job),
                           lambda: stopped_by["code"] is not None)
            if code:
                return (stopped_by["code"] or EXIT_INTERRUPTED) if code == EXIT_INTERRUPTED else code
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
        return stopped_by["code"] or EXIT_INTERRUPTED
    return 0
