"""The command line: ``python -m nst CONTENT STYLE -o OUT.png``, or ``python -m nst`` for the demo.

Every field of ``Config`` is a flag with the same default and help, so the two cannot drift. The arguments, the
paths (``nst.jobs``) and the settings are checked before TensorFlow is imported (``nst.runner`` then runs the jobs),
so a bad one is refused in a fraction of a second. Exit codes: 0 done; 2 bad input (one line on stderr); 3 the run failed:
out of memory, or the loss became NaN or Inf (the last finite image and its metrics are saved); 130 stopped by
Ctrl-C and 143 by SIGTERM (at the end of the current step; the best image so far, its metrics and a snapshot that
``--resume`` continues from are saved first). A second Ctrl-C stops at once, without a new snapshot.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import warnings
from pathlib import Path

from nst import weights
from nst.config import PRESETS, Config
from nst.jobs import EXIT_BAD_INPUT, check_jobs, make_jobs, note
from nst.video import is_video, run_video  # nst.video itself loads no OpenCV or ffmpeg


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"nst: error: {message} (see python -m nst --help)\n")


EXAMPLES = """examples:
  python -m nst                                             the demo: two pairs of data/ into outputs/
  python -m nst photo.jpg painting.jpg -o out.png           512 px, the defaults; out.json holds the metrics
  python -m nst photo.jpg painting.jpg -o small.png --size 256 --steps 100
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
    parser.add_argument("--metrics", help="where to write the model details, config, losses per step and timing "
                        "(default: beside the output, OUTPUT.json)")
    parser.add_argument("--no-metrics", action="store_true", help="write no metrics file")
    parser.add_argument("--save-every", type=int, default=0, metavar="N",
                        help="every N steps, also save the current image as OUTPUT_stepN.png and a snapshot")
    parser.add_argument("--batch-size", type=int, default=0, metavar="N",
                        help="with a folder of photos: optimise up to N photos of one size together, with Adam "
                             "(whatever --optimizer says), spread over all visible GPUs")
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


def flags_given(args: argparse.Namespace) -> dict:
    """The ``Config`` fields the command line sets: those of the flags given, which override any base."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}


def config_from_args(args: argparse.Namespace) -> Config:
    """``--config``, else ``--preset``, else ``Config()``, with the flags given on top (``flags_given``)."""
    if args.config and args.preset:
        raise ValueError("give --config or --preset, not both")
    base = (Config.from_json(Path(args.config).read_text()) if args.config
            else Config.preset(args.preset) if args.preset else Config())
    return dataclasses.replace(base, **flags_given(args))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with warnings.catch_warnings():  # restores the warnings machinery when main returns
            warnings.showwarning = note
            return _main(args)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def _main(args: argparse.Namespace) -> int:
    try:
        if args.save_every < 0:
            raise ValueError(f"--save-every must be 0 or more, got {args.save_every}")
        if args.batch_size < 0 or (args.batch_size and not (args.content and Path(args.content).is_dir())):
            raise ValueError("--batch-size needs a folder of photos and a number >= 0")
        config = config_from_args(args)  # a resumed run's comes from its snapshot, with the same flags on top
        weights.resolve(config.weights)
        if args.video or (args.content and is_video(args.content, args.output)):
            return run_video(args, config)
        jobs = make_jobs(args)
        check_jobs(jobs, args)
        from nst import runner  # only now: TensorFlow, which everything above is refused without

        return runner.main(jobs, config, flags_given(args), args)
    except (ValueError, OSError, weights.WeightsError) as e:  # also what nst.runner finds: an image it cannot decode
        print(f"nst: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
