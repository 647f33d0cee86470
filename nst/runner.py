"""What the command line runs once its arguments and paths are checked (``nst.cli``, ``nst.jobs``): each job's
plan, its run, its files.

Each job is planned once (``nst.plan.plan_for``, within one memory budget resolved for them all), its plan is said
before it runs, and ``stylize`` follows that plan. Every output gets its metrics JSON beside it (or where
``--metrics`` says; ``--no-metrics`` writes none); images and metrics are written atomically.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from pathlib import Path
from typing import Callable

import tensorflow as tf
from nst.batch import stylize_batch
from nst.config import Config
from nst.features import FeatureExtractor
from nst.images import load_image, save_image, write_atomically
from nst.jobs import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED, Job
from nst.memory import resolve_budget
from nst.inputs import prepare
from nst.objective import Objective, extractor_for
from nst.plan import Plan, estimated_seconds, plan_for
from nst.progress import ProgressBar
from nst.recorder import Callback, NonFiniteLoss, RunState
from nst.result import Result
from nst.snapshot import Snapshot
from nst.transfer import stylize



class _Signals:
    """Ctrl-C and SIGTERM stop the run at the end of the current step; asked twice, at once."""

    def __init__(self) -> None:
        self.code: int | None = None
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self.on_signal)

    def on_signal(self, signum, frame) -> None:
        if self.code is not None:
            raise KeyboardInterrupt  # asked twice: stop now
        self.code = EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED
        print("\nnst: stopping at the end of this step (Ctrl-C again to stop at once)", file=sys.stderr)

    def stop_requested(self) -> bool:
        return self.code is not None

    def exit_code(self, code: int) -> int:
        return (self.code or EXIT_INTERRUPTED) if code == EXIT_INTERRUPTED else code


def main(jobs: list[Job], config: Config, flags: dict, args: argparse.Namespace) -> int:
    """Run the checked ``jobs`` with ``config``; returns the exit code. A resumed run takes its snapshot's config
    with ``flags`` (those given on the command line) on top. Bad input (an image that cannot be decoded) leaves
    as a ``ValueError``, for the command line to say."""
    signals = _Signals()
    try:
        jobs, snapshots = _to_run(jobs, flags, args)
        if snapshots:
            config = dataclasses.replace(next(iter(snapshots.values())).config, **flags)
        images = [(load_image(job.content, config.size), [load_image(s, config.size) for s in job.styles])
                  for job in jobs]  # all decoded before the network loads: a bad file fails in a second
        for job in jobs:
            for mask in job.masks:
                load_image(mask, 64)
        if args.batch_size > 1:
            return signals.exit_code(run_batches(jobs, images, config, args.batch_size, signals.stop_requested))
        budget = resolve_budget(config.max_memory)  # asked once, before any job allocates
        plans = [plan_for(tuple(content.shape[1:3]), config, _budget(snapshots.get(job), budget))
                 for job, (content, _) in zip(jobs, images)]  # a budget too small fails before the network loads
        extractor = extractor_for(config) if jobs else None
        if args.content is None and jobs:
            _announce_demo(jobs, plans[0], config, Objective(config, prepare(*images[0], config), extractor))
        for job, (content, styles), plan in zip(jobs, images, plans):
            if signals.stop_requested() and job is not jobs[0]:  # the first stops after its first step, kept
                raise KeyboardInterrupt
            print(f"nst: plan: {job.content.name}: {plan.describe()}", file=sys.stderr)
            code = run_one(content, styles, job, config, extractor, plan, args.save_every, snapshots.get(job),
                           signals.stop_requested)
            if code:
                return signals.exit_code(code)
    except (tf.errors.ResourceExhaustedError, MemoryError):
        print(f"nst: error: out of memory at --size {config.size}; lower --max-memory (now {config.max_memory}) so "
              f"that large sizes run in smaller tiles, or give a smaller --size", file=sys.stderr)
        return EXIT_FAILED
    except NonFiniteLoss as e:  # at the very first step: there is no finite image to keep
        print(f"nst: error: {e}; nothing was written", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("nst: interrupted before its next step; nothing more was written", file=sys.stderr)
        return signals.code or EXIT_INTERRUPTED
    return 0


def _budget(snapshot: Snapshot | None, budget: tuple[int, str]) -> tuple[int, str]:
    """A resumed run keeps the budget it was planned with, so that it is tiled as before."""
    return (snapshot.budget, "the snapshot's") if snapshot is not None and snapshot.budget else budget


def _to_run(jobs: list[Job], flags: dict, args: argparse.Namespace) -> tuple[list[Job], dict[Job, Snapshot]]:
    """The jobs still to run, and the snapshots of those to resume. A folder of photos always resumes: finished
    outputs are skipped, stopped ones continue."""
    resume = args.resume or (args.content is not None and Path(args.content).is_dir())
    snapshots, to_run = {}, []
    for job in jobs:
        if resume and job.output.exists() and not job.snapshot.exists():
            print(f"nst: note: {job.output} exists and has no snapshot: finished before; skipped", file=sys.stderr)
            continue
        if resume and (args.resume or job.snapshot.exists()):
            snapshots[job] = Snapshot.load(job.snapshot)
            snapshots[job].check(dataclasses.replace(snapshots[job].config, **flags), snapshots[job].inputs)
        to_run.append(job)
    return to_run, snapshots


def run_one(content: tf.Tensor, styles: list[tf.Tensor], job: Job, config: Config, extractor: FeatureExtractor,
            plan: Plan, save_every: int, resume: Snapshot | None, stop_requested: Callable[[], bool]) -> int:
    """Stylise one pair with ``plan`` and write the results. Returns the exit code: 0, or why it stopped early."""
    bar = ProgressBar(desc=f"{job.content.name} x {' + '.join(s.name for s in job.styles)}")

    class Watch(Callback):  # the bar, the --save-every images, and Ctrl-C between two steps
        def start(self, state: RunState) -> None:
            bar.start(state)

        def __call__(self, step, losses, image) -> None:
            bar(step, losses, image)
            if save_every and step % save_every == 0 and step > 0:
                save_image(image, job.output.with_name(f"{job.output.stem}_step{step}{job.output.suffix}"))
            if stop_requested():
                raise KeyboardInterrupt  # here, between two steps, the run can be snapshot and resumed

        def end(self, result: Result) -> None:
            bar.end(result)

    try:
        result = stylize(content, styles, config, callback=Watch(), extractor=extractor, resume=resume,
                         snapshot_every=save_every, on_snapshot=lambda snapshot: snapshot.save(job.snapshot),
                         masks=list(job.masks) or None, plan=plan)
    finally:
        bar.close()
    written = _save(job, result)
    if result.error:
        print(f"nst: error: {result.error}; saved the last finite image (step {result.final['step']}) to {written}",
              file=sys.stderr)
        return EXIT_FAILED
    if result.interrupted:
        resumable = ""
        if result.snapshot is not None:
            result.snapshot.save(job.snapshot)
            resumable = f"; the same command with --resume continues from {job.snapshot}"
        elif job.snapshot.exists():  # stopped mid-step: only an earlier --save-every snapshot can be continued
            resumable = f"; the same command with --resume continues from the earlier snapshot {job.snapshot}"
        print(f"interrupted: saved the best image so far (step {result.final['step']}) to {written}{resumable}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    job.snapshot.unlink(missing_ok=True)  # the run is complete: nothing left to resume
    _report(written, result)
    return 0


def run_batches(jobs: list[Job], images: list[tuple[tf.Tensor, list[tf.Tensor]]], config: Config, batch_size: int,
                stop_requested: Callable[[], bool]) -> int:
    """Folder mode with --batch-size: photos of one size, up to ``batch_size`` at a time, as one Adam batch
    (``nst.batch.stylize_batch``) spread over all visible GPUs. Returns the exit code."""
    if config.optimizer != "adam":
        raise ValueError("--batch-size optimises photos together with Adam (L-BFGS would couple them): "
                         "add --optimizer adam")
    if any(len(job.styles) > 1 or job.masks for job in jobs) or config.preserve_color != "none":
        raise ValueError("--batch-size takes one style image, without --mask or --preserve-color; "
                         "leave out --batch-size for those")
    extractor = extractor_for(config)
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    strategy = tf.distribute.MirroredStrategy(gpus) if len(gpus) > 1 else tf.distribute.get_strategy()
    by_shape: dict[tuple, list] = {}
    for job, (content, styles) in zip(jobs, images):
        by_shape.setdefault(tuple(content.shape), []).append((job, content, styles[0]))
    for (_, height, width, _), group in by_shape.items():
        print(f"nst: plan: {len(group)} photos of {width}x{height} whole, in batches of up to {batch_size} "
              f"(Adam, one size, {config.steps} steps)", file=sys.stderr)
        for chunk in (group[i:i + batch_size] for i in range(0, len(group), batch_size)):
            chunk_jobs, contents, styles = zip(*chunk)
            # A chunk that cannot be split evenly over the GPUs runs on one: the same images either way.
            spread = strategy if len(chunk) % strategy.num_replicas_in_sync == 0 else tf.distribute.get_strategy()
            bar = ProgressBar(desc=f"{len(chunk)} photos x {chunk_jobs[0].styles[0].name}")
            bar.start(RunState(config))

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
    print(f"saved {written}: {result.steps} steps in {result.seconds:.1f} s, best at step {final['step']}: "
          f"total loss {final['total']:.4g} (content {final['content']:.4g}, style {final['style']:.4g}, "
          f"tv {final['tv']:.4g})", file=sys.stderr)
    if result.stopped_note:
        print(f"nst: note: {result.stopped_note}", file=sys.stderr)


def _announce_demo(jobs: list[Job], plan: Plan, config: Config, objective: Objective) -> None:
    """The bare command's first line: what it does, about how long it takes here (from a timed step of the first
    pair's own loss), and how to stop it."""
    seconds, per_step = estimated_seconds(plan, config, objective.at_size(*plan.sizes[-1], None).loss())
    pairs = ", ".join(f"{job.content.name} x {job.styles[0].name}" for job in jobs)
    print(f"nst: demo: {len(jobs)} pairs of data/ ({pairs}) at {config.size} px, up to {config.steps} "
          f"{'Adam' if config.optimizer == 'adam' else 'L-BFGS'} steps each, into {jobs[0].output.parent}/; "
          f"about {max(1, round(len(jobs) * seconds / 60))} min on this machine ({per_step:.2f} s a step, measured). "
          f"Ctrl-C stops and keeps the best image so far.", file=sys.stderr, flush=True)
