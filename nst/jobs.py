"""What each run of the command line reads and writes (a ``Job``), the checks of its paths, and how it ends.

Everything here works on paths alone, without TensorFlow, so that the command line refuses a missing file or a
bad output name in a fraction of a second (``nst.cli``); ``nst.runner`` then runs the jobs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from nst.imagefile import opened

DATA = Path(__file__).resolve().parent.parent / "data"
DEMO = (("china.jpg", "great_wave.jpg"), ("chelsea.jpg", "starry_night.jpg"))  # (content, style) in data/
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")  # what a photo folder may hold
SAVE_SUFFIXES = (".png", ".jpg", ".jpeg")  # what an output may be (nst.images.SAVE_FORMATS)
EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 3, 130, 143  # how a run of the command ends


def note(message, category, filename, lineno, file=None, line=None) -> None:
    """Python warnings, as the command line shows them: ``nst: note:`` lines, above a progress bar if one is drawn."""
    tqdm.write(f"nst: note: {message}", file=sys.stderr)


class Job(NamedTuple):
    content: Path
    styles: tuple[Path, ...]
    output: Path
    metrics: Path | None
    masks: tuple[Path, ...] = ()

    @property
    def snapshot(self) -> Path:
        return self.output.with_suffix(".snapshot.npz")


def _check_output(path: Path, inputs: list[Path], suffixes: tuple[str, ...]) -> None:
    if path.is_dir():
        raise ValueError(f"output '{path}' is a directory; give a file name such as {path / 'out.png'}")
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"output '{path}' must end in {', '.join(suffixes)}")
    if any(path.resolve() == p.resolve() for p in inputs):
        raise ValueError(f"output '{path}' is one of the input images; choose another name")


def check_jobs(jobs: list[Job], args: argparse.Namespace) -> None:
    """Every path and count that can be checked without decoding an image."""
    for job in jobs:
        if job.masks and len(job.masks) != len(job.styles):
            raise ValueError(f"give one --mask per style image: {len(job.masks)} for {len(job.styles)} styles")
        inputs = [job.content, *job.styles, *job.masks]
        for path in inputs:
            with opened(path):  # its header: a missing file or a text file is refused before TensorFlow loads
                pass
        _check_output(job.output, inputs, SAVE_SUFFIXES)
        if job.metrics is not None:
            _check_output(job.metrics, [*inputs, job.output], (".json",))
        if args.resume and not job.snapshot.exists() and not job.output.exists():  # an output alone: done, skipped
            raise ValueError(f"no snapshot '{job.snapshot}' to resume from (it is saved on Ctrl-C, SIGTERM and every "
                             f"--save-every steps, and removed once the run ends); run without --resume")


def _default_output(content: Path, styles: tuple[Path, ...]) -> Path:
    return Path("outputs") / f"{content.stem}_{'+'.join(s.stem for s in styles)}.png"


def make_jobs(args: argparse.Namespace) -> list[Job]:
    """The jobs the arguments ask for: the demo's pairs, one pair, or each photo of a folder."""
    if args.styles and args.style_flag:
        raise ValueError("give the style images either after the content image or with --style, not both")
    styles = tuple(map(Path, args.styles or args.style_flag or ()))
    if (args.content is None) != (not styles):
        raise ValueError("give both a content and a style image, or neither for the demo")
    if args.no_metrics and args.metrics:
        raise ValueError("give --metrics or --no-metrics, not both")
    if args.content is None:
        if not DATA.is_dir():
            raise ValueError(f"the demo needs the data/ folder of a clone of the repository ({DATA} is missing)")
        pairs = [(DATA / "content" / c, (DATA / "style" / s,)) for c, s in DEMO]
        return [_job(c, s, _default_output(c, s), None, (), args) for c, s in pairs]
    content, masks = Path(args.content), tuple(map(Path, args.mask or ()))
    if content.is_dir():
        return _folder_jobs(content, styles, masks, args)
    output = Path(args.output) if args.output else _default_output(content, styles)
    return [_job(content, styles, output, Path(args.metrics) if args.metrics else None, masks, args)]


def _job(content: Path, styles: tuple[Path, ...], output: Path, metrics: Path | None, masks: tuple[Path, ...],
         args: argparse.Namespace) -> Job:
    """A job whose metrics go to ``metrics``, or beside the output, or nowhere with --no-metrics."""
    return Job(content, styles, output, None if args.no_metrics else metrics or output.with_suffix(".json"), masks)


def _folder_jobs(folder: Path, styles: tuple[Path, ...], masks: tuple[Path, ...],
                 args: argparse.Namespace) -> list[Job]:
    """One job per image of ``folder``, into the folder ``-o`` (default outputs/), each with its metrics."""
    out = Path(args.output) if args.output else Path("outputs")
    if out.suffix.lower() in SAVE_SUFFIXES or (out.exists() and not out.is_dir()):
        raise ValueError(f"with a folder of photos, -o must be a folder, not '{out}'")
    if args.metrics:
        raise ValueError("with a folder of photos, each output gets its metrics beside it; leave out --metrics")
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not photos:
        raise ValueError(f"'{folder}' has no images ({', '.join(IMAGE_SUFFIXES)})")
    return [_job(photo, styles, out / _default_output(photo, styles).name, None, masks, args) for photo in photos]
