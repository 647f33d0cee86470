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
from tqdm import tqdm

from nst.config import PRESETS, Config
from nst.features import FeatureExtractor
from nst.images import SAVE_FORMATS, load_image, save_image, write_atomically
from nst.progress import ProgressBar
from nst.snapshot import Snapshot
from nst.batch import stylize_batch
from nst.optimizers import NonFiniteLoss
from nst.memory import Plan, resolve_budget
from nst.video import is_video, run_video  # video (issue 24): needs no OpenCV or ffmpeg until a clip is run
from nst.transfer import Result, coarse_to_fine_sizes, extractor_for, plan_for, seconds_per_step, stylize
from nst.weights import WeightsError

DATA = Path(__file__).resolve().parent.parent / "data"
DEMO = (("china.jpg", "great_wave.jpg"), ("chelsea.jpg", "starry_night.jpg"))  # (content, style) in data/
EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 3, 130, 143
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")  # what a photo folder may hold


class Job(NamedTuple):
    content: Path
    styles: tuple[Path, ...]
    output: Path
    metrics: Path | None
    masks: tuple[Path, ...] = ()

    @property
    def snapshot(self) -> Path:
        return self.output.with_suffix(".snapshot.npz")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"nst: error: {message} (see python -m nst --help)\n")


EXAMPLES = """examples:
  python -m nst                                             the demo: two pairs of data/ into outputs/
  python -m nst photo.jpg painting.jpg -o out.png           512 px, the defaults
  python -m nst photo.jpg painting.jpg -o small.png --size 256 --steps 100 --metrics small.json
  python -m nst photos/ painting.jpg -o stylised/           every image of a folder (run again to resume)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m nst", description="Neural style transfer (Gatys et al. 2016) with VGG19.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("content", nargs="?", help="content photograph (omit both images for the demo on data/)")
    parser.add_argument("styles", nargs="*", metavar="style", help="style painting, or several to blend")
    parser.add_argument("--style", nargs="+", dest="style_flag", metavar="STYLE",
                        help="the style images, as a flag: --style a.jpg b.jpg --style-blend 0.7 0.3")
    parser.add_argument("--mask", nargs="+", metavar="MASK", help="one mask image per style, white where that style "
                        "goes (Gatys et al. 2017 spatial control); the content's size is used")
    parser.add_argument("-o", "--output", help="output .png or .jpg (default: outputs/CONTENT_STYLE.png)")
    parser.add_argument("--metrics", help="write model details, config, losses per step and timing to this JSON file")
    parser.add_argument("--save-every", type=int, default=0, metavar="N",
                        help="every N steps, also save the current image as OUTPUT_stepN.png and a snapshot")
    parser.add_argument("--batch-size", type=int, default=0, metavar="N",
                        help="with a folder of photos: optimise up to N photos of one size together with Adam "
                             "(--optimizer adam), spread over all visible GPUs")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUTPUT.snapshot.npz, saved on Ctrl-C, SIGTERM and every --save-every "
                             "steps; --steps and --tolerance may change, the other settings come from the snapshot")
    # video (nst.video, issue 24): a folder of frames taken as one clip; a video file is one without the flag
    parser.add_argument("--video", action="store_true", help="with a folder of frames (sorted by name): stylise "
                        "them as one clip, without flicker (Ruder et al. 2016); a video file is always a clip")
    parser.add_argument("--config", help="start from a Config saved as JSON; flags override its values")
    parser.add_argument("--preset", choices=list(PRESETS), help="start from a named set of settings; flags override "
                        "them. tutorial: the objective of the TensorFlow tutorial (Gram matrices, max pooling, "
                        "content block5_conv2, L1 total variation, its weights), as nst's defaults before 0.2")
    options = parser.add_argument_group("optimisation (nst.Config)")
    defaults = Config()
    for f in dataclasses.fields(Config):
        default = getattr(defaults, f.name)
        if isinstance(default, tuple):
            kind = dict(nargs="+", type=f.metadata.get("item_type", str), metavar=f.metadata.get("metavar", "LAYER"))
            shown = " ".join(map(str, default)) or "equal"
        elif isinstance(default, bool):  # --trim-frame / --no-trim-frame
            kind, shown = dict(action=argparse.BooleanOptionalAction), "on" if default else "off"
        else:
            kind, shown = dict(type=type(default)), default
        # default=None: only flags the user gives override --config; the help shows Config's default.
        options.add_argument(f"--{f.name.replace('_', '-')}", default=None, choices=f.metadata.get("choices"),
                             help=f"{f.metadata['help']} (default: {shown})", **kind)
    return parser


def config_from_args(args: argparse.Namespace, base: Config | None = None) -> Config:
    """``base`` (a snapshot's config), else ``--config``, else ``--preset``, else ``Config()``, with the flags given
    on top."""
    if args.config and args.preset:
        raise ValueError("give --config or --preset, not both")
    base = base or (Config.from_json(Path(args.config).read_text()) if args.config
                    else Config.preset(args.preset) if args.preset else Config())
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
    tqdm.write(f"nst: note: {message}", file=sys.stderr)  # on its own line, above a progress bar if one is drawn


def run_one(content: tf.Tensor, styles: list[tf.Tensor], job: Job, config: Config, extractor: FeatureExtractor,
            save_every: int, resume: Snapshot | None, stop_requested: Callable[[], bool]) -> int:
    """Stylise one pair and write the results. Returns the exit code: 0, or why it stopped early."""
    bar = ProgressBar(desc=f"{job.content.name} x {' + '.join(s.name for s in job.styles)}")

    def callback(step, losses, image):
        bar(step, losses, image)
        if save_every and step % save_every == 0 and step > 0:
            save_image(image, job.output.with_name(f"{job.output.stem}_step{step}{job.output.suffix}"))
        if stop_requested():
            raise KeyboardInterrupt  # here, between two steps, the run can be snapshot and resumed

    callback.start = bar.start  # stylize tells the bar the sizes and steps: a total and the time left
    callback.start_tile = bar.start_tile
    try:
        result = stylize(content, styles, config, callback=callback, extractor=extractor, resume=resume,
                         snapshot_every=save_every, on_snapshot=lambda snapshot: snapshot.save(job.snapshot),
                         masks=list(job.masks) or None)
    finally:
        bar.close()
    written = _save(job, result)
    final = result.final
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
    _report(written, result)
    return 0


def run_batches(jobs: list[Job], images: list[tuple[tf.Tensor, list[tf.Tensor]]], config: Config,
                extractor: FeatureExtractor, batch_size: int, stop_requested: Callable[[], bool]) -> int:
    """Folder mode with --batch-size: photos of one size, up to ``batch_size`` at a time, as one Adam batch
    (``nst.batch.stylize_batch``) spread over all visible GPUs. Returns the exit code."""
    if config.optimizer != "adam":
        raise ValueError("--batch-size optimises photos together with Adam (L-BFGS would couple them): "
                         "add --optimizer adam")
    if any(len(job.styles) > 1 or job.masks for job in jobs) or config.preserve_color != "none":
        raise ValueError("--batch-size takes one style image, without --mask or --preserve-color; "
                         "leave out --batch-size for those")
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    strategy = tf.distribute.MirroredStrategy(gpus) if len(gpus) > 1 else tf.distribute.get_strategy()
    by_shape: dict[tuple, list] = {}
    for job, (content, styles) in zip(jobs, images):
        by_shape.setdefault(tuple(content.shape), []).append((job, content, styles[0]))
    for group in by_shape.values():
        for chunk in (group[i:i + batch_size] for i in range(0, len(group), batch_size)):
            chunk_jobs, contents, styles = zip(*chunk)
            # A chunk that cannot be split evenly over the GPUs runs on one: the same images either way.
            spread = strategy if len(chunk) % strategy.num_replicas_in_sync == 0 else tf.distribute.get_strategy()
            bar = ProgressBar(desc=f"{len(chunk)} photos x {chunk_jobs[0].styles[0].name}")
            bar.start([tuple(contents[0].shape[1:3])], config.steps)

            def callback(step, losses, batch):
                bar(step, {name: sum(image[name] for image in losses) for name in losses[0]}, batch[:1])
                if stop_requested():
                    raise KeyboardInterrupt

            try:
                results = stylize_batch(list(contents), styles[0], config, extractor, strategy=spread,
                                        callback=callback)
            except KeyboardInterrupt:
                print(f"interrupted: the {len(chunk)} photos of this batch were not saved (batches keep no "
                      f"snapshot); the same command continues with them", file=sys.stderr)
                return EXIT_INTERRUPTED
            finally:
                bar.close()
            for job, result in zip(chunk_jobs, results):
                _report(_save(job, result), result)
    return 0


def _save(job: Job, result: Result) -> str:
    """Write the image and its metrics (atomically); returns what was written, for the message."""
    save_image(result.image, job.output)
    if job.metrics is not None:
        record = {"content": str(job.content), "styles": list(map(str, job.styles)), "masks": list(map(str, job.masks)),
                  "output": str(job.output), **result.metrics()}
        write_atomically(job.metrics, lambda f: f.write(json.dumps(record, indent=1).encode()))
    return f"{job.output}" + (f" and {job.metrics}" if job.metrics else "")


def _report(written: str, result: Result) -> None:
    final = result.final
    print(f"saved {written}: {final['step']} steps in {result.seconds:.1f} s, "
          f"total loss {final['total']:.4g} (content {final['content']:.4g}, style {final['style']:.4g}, "
          f"tv {final['tv']:.4g})", file=sys.stderr)
    if result.stopped:
        tile = result.history[-1].get("tile")
        last = [e for e in result.history if e["size"] == final["size"] and e.get("tile") == tile]
        where = f"{final['size']} px" + ("" if tile is None else f", tile {tile + 1} of {final['tiles']},")
        print(f"nst: note: {where} ended after {last[-1]['step'] - last[0]['step']} of its "
              f"{result.config.steps} steps: {result.stopped}", file=sys.stderr)


def _announce_demo(jobs: list[Job], images: list, config: Config, extractor: FeatureExtractor) -> None:
    """The bare command's first line: what it does, about how long it takes here, and how to stop it."""
    _, height, width, _ = images[0][0].shape
    seconds = seconds_per_step(extractor, (1, height, width, 3), config)
    # Coarse-to-fine sizes cost in proportion to their pixels: a step at half the size costs a quarter.
    sizes = coarse_to_fine_sizes(height, width, config.start_size, config.size_step)
    total = len(jobs) * config.steps * seconds * sum(h * w for h, w in sizes) / (height * width)
    pairs = ", ".join(f"{job.content.name} x {job.styles[0].name}" for job in jobs)
    print(f"nst: demo: {len(jobs)} pairs of data/ ({pairs}) at {config.size} px, up to {config.steps} "
          f"{'Adam' if config.optimizer == 'adam' else 'L-BFGS'} steps each, into {jobs[0].output.parent}/; "
          f"about {max(1, round(total / 60))} min on this machine ({seconds:.2f} s a step, measured). "
          f"Ctrl-C stops and keeps the best image so far.", file=sys.stderr)


def _plan_line(job: Job, plan: Plan, config: Config, resume: Snapshot | None) -> str:
    """The line said before a run: its sizes, which run whole and which in tiles, and the estimated peak memory."""
    source = "the snapshot's" if resume is not None and resume.budget else resolve_budget(config.max_memory)[1]
    return f"nst: plan: {job.content.name}: {plan.describe()} ({source})"


def _default_output(content: Path, styles: tuple[Path, ...]) -> Path:
    return Path("outputs") / f"{content.stem}_{'+'.join(s.stem for s in styles)}.png"


def _jobs(args: argparse.Namespace) -> list[Job]:
    if args.styles and args.style_flag:
        raise ValueError("give the style images either after the content image or with --style, not both")
    styles = tuple(map(Path, args.styles or args.style_flag or ()))
    if (args.content is None) != (not styles):
        raise ValueError("give both a content and a style image, or neither for the demo")
    if args.content is None:
        if not DATA.is_dir():
            raise ValueError(f"the demo needs the data/ folder of a clone of the repository ({DATA} is missing)")
        pairs = [(DATA / "content" / c, (DATA / "style" / s,)) for c, s in DEMO]
        return [Job(c, s, _default_output(c, s), _default_output(c, s).with_suffix(".json")) for c, s in pairs]
    content, masks = Path(args.content), tuple(map(Path, args.mask or ()))
    if content.is_dir():
        return _folder_jobs(content, styles, masks, args)
    output = Path(args.output) if args.output else _default_output(content, styles)
    metrics = Path(args.metrics) if args.metrics else None
    return [Job(content, styles, output, metrics, masks)]


def _folder_jobs(folder: Path, styles: tuple[Path, ...], masks: tuple[Path, ...],
                 args: argparse.Namespace) -> list[Job]:
    """One job per image of ``folder``, into the folder ``-o`` (default outputs/), each with its metrics."""
    out = Path(args.output) if args.output else Path("outputs")
    if out.suffix.lower() in SAVE_FORMATS or (out.exists() and not out.is_dir()):
        raise ValueError(f"with a folder of photos, -o must be a folder, not '{out}'")
    if args.metrics:
        raise ValueError("with a folder of photos, each output gets its metrics beside it; leave out --metrics")
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not photos:
        raise ValueError(f"'{folder}' has no images ({', '.join(IMAGE_SUFFIXES)})")
    outputs = [out / _default_output(photo, styles).name for photo in photos]
    return [Job(photo, styles, output, output.with_suffix(".json"), masks) for photo, output in zip(photos, outputs)]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with warnings.catch_warnings():  # restores the warnings machinery when main returns
            warnings.showwarning = _note
            if args.video or (args.content and is_video(args.content)):  # video (nst.video, issue 24)
                return run_video(args)
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
        if args.batch_size < 0 or (args.batch_size and not (args.content and Path(args.content).is_dir())):
            raise ValueError("--batch-size needs a folder of photos and a number >= 0")
        jobs = _jobs(args)
        snapshots, to_run = {}, []
        # A folder of photos always resumes: finished outputs are skipped, stopped ones continue.
        resume = args.resume or (args.content is not None and Path(args.content).is_dir())
        for job in jobs:
            if resume and job.output.exists() and not job.snapshot.exists():
                print(f"nst: note: {job.output} exists and has no snapshot: finished before; skipped", file=sys.stderr)
                continue
            if resume and (args.resume or job.snapshot.exists()):
                snapshots[job] = _load_snapshot(job, args)
            to_run.append(job)
        jobs = to_run
        base = next(iter(snapshots.values())).config if snapshots else None
        config = config_from_args(args, base)
        # Check every path and decode every image before loading the network: a bad file fails in a second.
        images = []
        for job in jobs:
            inputs = [job.content, *job.styles, *job.masks]
            _check_output(job.output, inputs, tuple(SAVE_FORMATS))
            if job.metrics is not None:
                _check_output(job.metrics, [*inputs, job.output], (".json",))
            if job.masks and len(job.masks) != len(job.styles):
                raise ValueError(f"give one --mask per style image: {len(job.masks)} for {len(job.styles)} styles")
            for mask in job.masks:
                load_image(mask, 64)  # decoded now so that a bad mask fails before the network loads
            images.append((load_image(job.content, config.size), [load_image(s, config.size) for s in job.styles]))
        # How each will be processed: planned before the network loads (a budget too small fails at once), said
        # as each run starts (a bad weights file is then the only line, and the demo's own line comes first).
        plans = [_plan_line(job, plan_for(tuple(content.shape[1:3]), config, snapshots.get(job)), config,
                            snapshots.get(job)) for job, (content, _) in zip(jobs, images)]
        extractor = extractor_for(config) if jobs else None
        if args.content is None and jobs:
            _announce_demo(jobs, images, config, extractor)

        def stop_requested() -> bool:
            return stopped_by["code"] is not None

        if args.batch_size > 1:
            print("\n".join(plans), file=sys.stderr)
            code = run_batches(jobs, images, config, extractor, args.batch_size, stop_requested)
            return (stopped_by["code"] or EXIT_INTERRUPTED) if code == EXIT_INTERRUPTED else code
        for job, (content, styles), plan in zip(jobs, images, plans):
            if stopped_by["code"] is not None:
                raise KeyboardInterrupt
            print(plan, file=sys.stderr)
            code = run_one(content, styles, job, config, extractor, args.save_every, snapshots.get(job), stop_requested)
            if code:
                return (stopped_by["code"] or EXIT_INTERRUPTED) if code == EXIT_INTERRUPTED else code
    except (tf.errors.ResourceExhaustedError, MemoryError):
        print(f"nst: error: out of memory at --size {config.size}; lower --max-memory (now {config.max_memory}) so "
              f"that large sizes run in smaller tiles, or give a smaller --size", file=sys.stderr)
        return EXIT_FAILED
    except NonFiniteLoss as e:  # at the very first step: there is no finite image to keep
        print(f"nst: error: {e}; nothing was written", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, OSError, WeightsError) as e:
        print(f"nst: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("nst: interrupted before its next step; nothing more was written", file=sys.stderr)
        return stopped_by["code"] or EXIT_INTERRUPTED
    return 0
