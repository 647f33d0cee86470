"""Video without flicker: clips stylised with the temporal loss (``nst.stylize_video``) and frame by frame on
their own (``nst.stylize`` on each frame, the same Config), side by side.

    python benchmarks/video.py --size 256 --frames 6 --clips pan bunny --tag _256   # the defaults' 300 steps
    python benchmarks/video.py --size 512 --frames 4 --clips bunny --no-independent --tag _512
    python benchmarks/video.py --size 128 --steps 100 --temporal-weights 0 1e9 1e10  # choosing the weight

Three clips are made from data/ with motion known to the pixel, so the warping error is measured with the
true flow and the true mask as well as with DIS's; the fourth is real:

* **pan**: a crop of china.jpg moving right by size/64 px a frame;
* **zoom**: a crop of astronaut.jpg shrinking by 2 % a frame around its centre, resized to the same size;
* **crossing**: a patch of coffee.jpg crossing a still china.jpg by size/32 px a frame;
* **bunny**: the first frames of data/video/bunny.mp4 (data/SOURCES.md), DIS's flow only.

For each clip and method, per frame: the temporal warping error (mean squared difference over the kept
pixels between stylised frame t and stylised frame t-1 warped to t), the style loss (the weighted style
term of the objective at the frame's result) and the time; and the ratios the issue sets as targets:
warping error <= 0.5x independent, style loss <= 1.2x, the whole clip no slower, each later frame at most
1/3 of the first frame's time. Writes ``benchmarks/results/video<tag>.json`` and a sheet per clip,
``docs/video/<clip><tag>.jpg`` (rows: the content frames, independent, with the temporal loss).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import nst
from nst.images import load_image
from nst.objective import extractor_for
from nst.result import device_name, versions
from nst.video.clip import LATER_SHARE, TEMPORAL_WEIGHT, at_size
from nst.video.frames import open_clip
from nst.video.flow import consistency_mask, optical_flow, warping_error

ROOT = Path(__file__).resolve().parent.parent
CONTENT, STYLE = ROOT / "data" / "content", ROOT / "data" / "style" / "great_wave.jpg"
ZOOM = 0.98  # each frame shows this fraction of the one before, on each side


def pan(size: int, frames: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames, and for each frame t >= 1 the true flow from t to t-1 and the true mask."""
    shift = max(1, size // 64)
    photo = load_image(CONTENT / "china.jpg", 2 * size).numpy()[0]  # landscape: 2 size wide, 1.33 size high
    top = (photo.shape[0] - size) // 2
    clip = [photo[top:top + size, shift * t:shift * t + size] for t in range(frames)]
    flow = np.zeros((size, size, 2), np.float32)
    flow[..., 0] = shift  # frame t at p is frame t-1 at p + shift
    mask = np.ones((size, size), np.float32)
    mask[:, size - shift:] = 0  # came in from the right
    return clip, [flow] * (frames - 1), [mask] * (frames - 1)


def zoom(size: int, frames: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A crop of side ``2 size · ZOOM^t`` around the photo's centre, resized to ``size``: frame t at p shows the
    point that frame t-1 shows at ``c + (p - c) · ZOOM`` (c the centre), always inside it."""
    photo = load_image(CONTENT / "astronaut.jpg", 2 * size + 2).numpy()[0]
    centre = np.array(photo.shape[:2]) / 2
    clip = []
    for t in range(frames):
        half = size * ZOOM ** t
        box = (centre[1] - half, centre[0] - half, centre[1] + half, centre[0] + half)
        image = Image.fromarray(np.round(photo * 255).astype(np.uint8))
        clip.append(np.asarray(image.resize((size, size), Image.Resampling.LANCZOS, box=box), np.float32) / 255.0)
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size)), axis=-1).astype(np.float32)
    middle = (size - 1) / 2
    flow = (grid - middle) * (ZOOM - 1.0)
    return clip, [flow] * (frames - 1), [np.ones((size, size), np.float32)] * (frames - 1)


def crossing(size: int, frames: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A square patch moving right over a still background: the background behind it is uncovered."""
    background = load_image(CONTENT / "china.jpg", size).numpy()[0][:, :size]
    side, step = size // 4, max(1, size // 32)
    patch = load_image(CONTENT / "coffee.jpg", 2 * side).numpy()[0][:side, side // 2:side // 2 + side]
    top = (background.shape[0] - side) // 2
    clip, flows, masks = [], [], []
    for t in range(frames):
        frame = background.copy()
        left = size // 8 + step * t
        frame[top:top + side, left:left + side] = patch
        clip.append(frame)
        if t:
            flow = np.zeros(frame.shape[:2] + (2,), np.float32)
            flow[top:top + side, left:left + side, 0] = -step  # the patch was step px to the left
            mask = np.ones(frame.shape[:2], np.float32)
            mask[top:top + side, left - step:left] = 0  # under the patch at t-1, seen at t
            flows.append(flow)
            masks.append(mask)
    return clip, flows, masks


def bunny(size: int, frames: int) -> tuple[list[np.ndarray], None, None]:
    """The first frames of a real clip (data/video/bunny.mp4: the bunny climbs out of his burrow; a still camera,
    24 fps). Its motion is not known: no true flow, no true mask."""
    clip = open_clip(ROOT / "data" / "video" / "bunny.mp4", size)
    return [frame for _, frame in zip(range(frames), clip.read())], None, None


CLIPS = {"pan": pan, "zoom": zoom, "crossing": crossing, "bunny": bunny}


def errors(stylised: list[np.ndarray], clip: list[np.ndarray], flows, masks) -> dict[str, list[float]]:
    """The warping error of frames 2.. with the true flow and mask (none for a real clip), and with DIS's."""
    true, dis = [], []
    for t in range(1, len(clip)):
        if flows is not None:
            true.append(warping_error(stylised[t], stylised[t - 1], flows[t - 1], masks[t - 1]))
        backward = optical_flow(clip[t], clip[t - 1])
        mask = consistency_mask(optical_flow(clip[t - 1], clip[t]), backward)
        dis.append(warping_error(stylised[t], stylised[t - 1], backward, mask))
    return {"warping_error_true": true if flows is not None else None, "warping_error_dis": dis}


def independent(clip: list[np.ndarray], config: nst.Config, extractor) -> tuple[list[np.ndarray], list[dict]]:
    """Each frame stylised on its own, as folder mode does."""
    images, frames = [], []
    for frame in clip:
        result = nst.stylize(frame, str(STYLE), config, extractor=extractor)
        images.append(np.round(result.image.numpy()[0] * 255) / 255)  # as saved in 8 bits
        steps, evaluations = at_size(result)
        frames.append({"seconds": result.seconds, "steps": steps, "evaluations": evaluations,
                       "style": result.final["style"]})
    return images, frames


def temporal(clip: list[np.ndarray], config: nst.Config, extractor, weight: float) -> tuple[list[np.ndarray], list]:
    with tempfile.TemporaryDirectory() as folder:
        result = nst.stylize_video(clip, str(STYLE), folder, config, temporal_weight=weight, extractor=extractor)
        images = [np.asarray(Image.open(path), np.float32) / 255.0 for path in result.frames]
    frames = [{"seconds": f["seconds"], "steps": f["steps_at_size"], "evaluations": f["evaluations_at_size"],
               "style": f["style"]}
              for f in result.metrics["frames"]]
    return images, frames


def summary(method: dict, baseline: dict | None) -> dict:
    seconds = [f["seconds"] for f in method["frames"]]
    true = method["warping_error_true"]
    out = {"warping_error_true": None if true is None else float(np.mean(true)),
           "warping_error_dis": float(np.mean(method["warping_error_dis"])),
           "style": float(np.mean([f["style"] for f in method["frames"]])), "seconds": float(sum(seconds)),
           "later_over_first": float(max(seconds[1:]) / seconds[0])}
    if baseline is not None:
        base = summary(baseline, None)
        out["vs_independent"] = {
            "warping_error_true": None if true is None else out["warping_error_true"] / base["warping_error_true"],
            "warping_error_dis": out["warping_error_dis"] / base["warping_error_dis"],
            "style_worst_frame": max(f["style"] / g["style"] for f, g in zip(method["frames"], baseline["frames"])),
            "seconds": out["seconds"] / base["seconds"]}
    return out


def _number(value: float | None, spec: str, unit: str = "") -> str:
    """A table's number, or "n/a" where the clip has no true flow."""
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def table(record: dict) -> str:
    """One row per clip and method: the means over frames, the times, and the ratios to the independent frames.
    "later / first" is the slowest later frame over the first; "later / independent" the mean later frame over
    the mean independent frame, steadier on a shared machine, where the first frame's time alone varies."""
    lines = ["| clip | method | warping error (true flow) | warping error (DIS) | style loss | seconds | "
             "later / first | later / independent | vs independent: warping error (true, DIS) | worst style ratio "
             "| time |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for clip, entry in record["clips"].items():
        independent = entry["methods"].get("independent")
        for method, s in entry["summary"].items():
            ratios = s.get("vs_independent")
            compared = ("| | | |" if ratios is None else
                        f"| {_number(ratios['warping_error_true'], '.3f', 'x')}, {ratios['warping_error_dis']:.3f}x "
                        f"| {ratios['style_worst_frame']:.2f}x | {ratios['seconds']:.2f}x |")
            later = [f["seconds"] for f in entry["methods"][method]["frames"][1:]]
            per_frame = ("" if independent is None or method == "independent" else
                         f"{np.mean(later) / np.mean([f['seconds'] for f in independent['frames']]):.2f}")
            lines.append(f"| {clip} | {method} | {_number(s['warping_error_true'], '.2e')} | {s['warping_error_dis']:.2e} | "
                         f"{s['style']:.3g} | {s['seconds']:.0f} | {s['later_over_first']:.2f} | {per_frame} "
                         f"{compared}")
    return "\n".join(lines)


def sheet(rows: list[list[np.ndarray]], path: Path) -> None:
    """The frames in rows, one picture."""
    picture = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(picture * 255).astype(np.uint8)).save(path, quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--steps", type=int, default=nst.Config().steps,
                        help="most steps of the first frame and of each independent one")
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    parser.add_argument("--temporal-weights", nargs="+", type=float, default=[TEMPORAL_WEIGHT])
    parser.add_argument("--no-independent", action="store_true", help="skip the independent frames (tuning)")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    config = nst.Config(size=args.size, steps=args.steps, start_size=0)
    extractor = extractor_for(config)
    # The load average says how much else ran: times on a shared machine are only comparable within one record.
    record = {"command": "python " + " ".join(sys.argv), "device": device_name(), "versions": versions(),
              "load_average_at_start": os.getloadavg(), "config": dataclasses.asdict(config),
              "frames": args.frames, "later_share": LATER_SHARE, "clips": {}}
    for name in args.clips:
        clip, flows, masks = CLIPS[name](args.size, args.frames)
        methods, rows = {}, [clip]
        if not args.no_independent:
            images, frames = independent(clip, config, extractor)
            methods["independent"] = {"frames": frames, **errors(images, clip, flows, masks)}
            rows.append(images)
        for weight in args.temporal_weights:
            started = time.perf_counter()
            images, frames = temporal(clip, config, extractor, weight)
            methods[f"temporal_{weight:g}"] = {"frames": frames, "wall_seconds": time.perf_counter() - started,
                                               **errors(images, clip, flows, masks)}
            rows.append(images)
        base = methods.get("independent")
        record["clips"][name] = {"methods": methods,
                                 "summary": {m: summary(v, None if m == "independent" else base)
                                             for m, v in methods.items()}}
        sheet(rows, ROOT / "docs" / "video" / f"{name}{args.tag}.jpg")
        record["load_average_at_end"] = os.getloadavg()
        out = ROOT / "benchmarks" / "results" / f"video{args.tag}.json"
        out.write_text(json.dumps(record, indent=1))  # after each clip: a long run stopped keeps what it did
        print(table(record), flush=True)


if __name__ == "__main__":
    main()
