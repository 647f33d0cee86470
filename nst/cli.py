"""The command line: ``python -m nst CONTENT STYLE -o OUT.png``, or ``python -m nst`` for the demo.

Every field of ``Config`` is a flag with the same default and help, so the two cannot drift.
Exit codes: 0 done, 2 bad input (one line on stderr), 130 stopped by Ctrl-C or SIGTERM (the best
image so far and its metrics are saved first).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from pathlib import Path

from nst.config import Config
from nst.images import SAVE_FORMATS, load_image, save_image, write_atomically
from nst.progress import ProgressBar
from nst.transfer import stylize
from nst.weights import WeightsError

DATA = Path(__file__).resolve().parent.parent / "data"
DEMO = (("china.jpg", "great_wave.jpg"), ("chelsea.jpg", "starry_night.jpg"))  # (content, style) in data/
EXIT_BAD_INPUT, EXIT_INTERRUPTED = 2, 130


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


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt  # handled like Ctrl-C: keep the best image so far


def run_one(content: Path, style: Path, output: Path, metrics: Path | None, config: Config, save_every: int) -> bool:
    """Stylise one pair and write the results. Returns False when the run was interrupted."""
    _check_output(output, [content, style], tuple(SAVE_FORMATS))
    if metrics is not None:
        _check_output(metrics, [content, style, output], (".json",))
    # Load both images before the network: a bad file fails in a second, not after the model loads.
    content_image, style_image = load_image(content, config.size), load_image(style, config.size)

    bar = ProgressBar(config.steps, desc=f"{content.name} x {style.name}")

    def callback(step, losses, image):
        bar(step, losses, image)
        if save_every and step % save_every == 0 and 0 < step < config.steps:
            save_image(image, output.with_name(f"{output.stem}_step{step}{output.suffix}"))

    try:
        result = stylize(content_image, style_image, config, callback=callback)
    finally:
        bar.close()
    save_image(result.image, output)
    if metrics is not None:
        record = {"content": str(content), "style": str(style), "output": str(output), **result.metrics()}
        write_atomically(metrics, lambda f: f.write(json.dumps(record, indent=1).encode()))
    final = result.final
    written = f"{output}" + (f" and {metrics}" if metrics else "")
    if result.interrupted:
        print(f"interrupted: saved the best image so far (step {final['step']}) to {written}", file=sys.stderr)
        return False
    print(f"saved {written}: {final['step']} steps in {result.seconds:.1f} s, "
          f"total loss {final['total']:.4g} (content {final['content']:.4g}, style {final['style']:.4g}, "
          f"tv {final['tv']:.4g})", file=sys.stderr)
    return True


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        config = config_from_args(args)
        if args.save_every < 0:
            raise ValueError(f"--save-every must be 0 or more, got {args.save_every}")
        if (args.content is None) != (args.style is None):
            raise ValueError("give both a content and a style image, or neither for the demo")
        if args.content is None:
            if not DATA.is_dir():
                raise ValueError(f"the demo needs the data/ folder of a clone of the repository ({DATA} is missing)")
            jobs = [(DATA / "content" / c, DATA / "style" / s,
                     Path("outputs") / f"{Path(c).stem}_{Path(s).stem}.png") for c, s in DEMO]
            jobs = [(c, s, out, out.with_suffix(".json")) for c, s, out in jobs]
        else:
            content, style = Path(args.content), Path(args.style)
            output = Path(args.output or Path("outputs") / f"{content.stem}_{style.stem}.png")
            jobs = [(content, style, output, Path(args.metrics) if args.metrics else None)]
        for content, style, output, metrics in jobs:
            if not run_one(content, style, output, metrics, config, args.save_every):
                return EXIT_INTERRUPTED
    except (ValueError, OSError, WeightsError) as e:
        print(f"nst: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("nst: interrupted before the first step; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0
