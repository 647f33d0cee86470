"""Print sizes in bounded memory: measured peaks against nst.memory's estimate, seconds per megapixel, seams.

    python benchmarks/memory.py --cases whole_512 whole_1024 whole_2048   # the estimate's check (about 6 min)
    python benchmarks/memory.py                                          # every case (about 40 minutes on 2 cores)

Each case is ``python -m nst`` in a fresh process on ``data/`` (astronaut x starry_night), so "peak" is that whole
process's peak resident memory (VmHWM, read by nst at the end of the run and written to its metrics), against
the estimate the CLI announced (``nst.memory``). The ``whole_*`` cases run one size, whole, for 12 steps (L-BFGS-B
fills its memory of 10 steps by then; its arrays take pages only as they are written): they check the model.
The others run the default coarse-to-fine schedule from 512 px:

* ``tiled_2048_3GB``: ``--size 2048 --max-memory 3GB``, 10 steps at each size;
* ``tiled_2048_gpu16``: ``--size 2048`` with the default budget of a GPU with 16 GB free, simulated here, 10 steps;
* ``print_4096``: ``--size 4096`` with this machine's default budget, 15 steps at each size (about 30 min here).

For every size of a run: seconds per output megapixel and step (the size's wall time over its steps and
megapixels; a tiled size's steps are its tiles' mean, so the overlap's extra work counts). For tiled outputs,
the seam ratio: at each tile edge inside the image, the mean squared luminance step across the edge line over
its median on the lines 8 to 64 px to either side (1: the edge cannot be told from its surroundings).

Writes ``benchmarks/results/memory.json`` (each run adds its cases), ``memory.md`` (the table) and, for the
largest tiled output, ``docs/print/``: the picture at 1024 px and a 100 % crop of 768 px across a tile corner.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
# Square, so that the sizes are the targets' 2048 x 2048 and 4096 x 4096.
CONTENT, STYLE = ROOT / "data" / "content" / "astronaut.jpg", ROOT / "data" / "style" / "starry_night.jpg"
RESULTS, DOCS = ROOT / "benchmarks" / "results", ROOT / "docs" / "print"
OUT = ROOT / "outputs" / "memory"


def cases() -> dict[str, list[str]]:
    import nst.memory

    gpu16 = nst.memory.default_budget(gpu_free=16 * 10 ** 9)[0]
    whole = ["--start-size", "0", "--steps", "12", "--tolerance", "0", "--max-memory", "100GB"]
    return {
        "whole_512": ["--size", "512", *whole],
        "whole_1024": ["--size", "1024", *whole],
        "whole_2048": ["--size", "2048", *whole],
        "tiled_2048_3GB": ["--size", "2048", "--steps", "10", "--max-memory", "3GB"],
        "tiled_2048_gpu16": ["--size", "2048", "--steps", "10", "--max-memory", str(gpu16)],
        "print_4096": ["--size", "4096", "--steps", "15"],
    }


def run_case(name: str, flags: list[str]) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    output, metrics = OUT / f"{name}.png", OUT / f"{name}.json"
    command = [sys.executable, "-m", "nst", str(CONTENT), str(STYLE), "-o", str(output), "--metrics", str(metrics),
               *flags]
    print("$", " ".join(command[1:]), flush=True)
    process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ})
    plan_line = next((line for line in process.stderr.splitlines() if line.startswith("nst: plan:")), "")
    if process.returncode:
        raise SystemExit(f"{name} failed ({process.returncode}): {process.stderr.strip().splitlines()[-1]}")
    record = json.loads(metrics.read_text())
    memory = record["memory"]
    result = {"flags": flags, "plan": plan_line, "peak": memory["peak"], "estimated_peak": memory["estimated_peak"],
              "budget": memory["budget"], "seconds": record["seconds"], "sizes": per_size(record),
              "output": str(output.relative_to(ROOT))}
    result["estimate_error"] = round(memory["estimated_peak"] / memory["peak"] - 1, 3)
    tiled = [s for s in memory["sizes"] if s["tile"]]
    if tiled and tiled[-1]["height"] == record["image_size"]["height"]:
        result["seam_ratio"] = seam_ratio(np.asarray(Image.open(output), np.float32) / 255, tiled[-1]["tile"])
    print(json.dumps({k: v for k, v in result.items() if k != "flags"}), flush=True)
    return result


def per_size(record: dict) -> list[dict]:
    """Seconds per output megapixel and step at each size of a run, from its history."""
    rows, previous_end = [], 0.0
    for size in record["sizes"]:
        long_side = max(size["height"], size["width"])
        entries = [e for e in record["history"] if e["size"] == long_side]
        tiles = sorted({e.get("tile") for e in entries}, key=lambda t: -1 if t is None else t)
        steps = np.mean([sum(1 for e in entries if e.get("tile") == t) - 1 for t in tiles])  # less step 0 each
        seconds = entries[-1]["seconds"] - previous_end
        previous_end = entries[-1]["seconds"]
        megapixels = size["height"] * size["width"] / 1e6
        rows.append({"height": size["height"], "width": size["width"], "tiles": len(tiles) if tiles[0] is not None
                     else 0, "steps": round(float(steps), 1), "seconds": round(seconds, 1),
                     "seconds_per_mp_step": round(seconds / max(steps, 1) / megapixels, 3)})
    return rows


def _luminance(image: np.ndarray) -> np.ndarray:
    return image[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)


def seam_ratio(image: np.ndarray, tile: int) -> float:
    """The mean over tile edges inside the image of: the squared luminance step across the edge line, over its
    median on the parallel lines 8 to 64 px away (both sides); 1 means the edge is like its surroundings."""
    from nst.tiles import tile_grid

    luminance = _luminance(image)
    height, width = luminance.shape
    ratios = []
    for lum, grid_lines in ((luminance, _edges(tile_grid(height, width, tile), "left", width)),
                            (luminance.T, _edges(tile_grid(height, width, tile), "top", height))):
        steps = np.square(np.diff(lum, axis=1)).mean(axis=0)  # (W - 1,): the step between column x and x + 1
        for x in grid_lines:
            around = [steps[x + d] for d in [*range(-64, -7), *range(8, 65)] if 0 <= x + d < len(steps)]
            ratios.append(steps[x] / np.median(around))
    return round(float(np.mean(ratios)), 3)


def _edges(grid, side: str, length: int) -> list[int]:
    """The tiles' edge lines inside the image, across ``side``: each tile's first and last row or column."""
    starts = sorted({getattr(t, side) for t in grid} - {0})
    size = grid[0].width if side == "left" else grid[0].height
    ends = sorted({getattr(t, side) + size - 1 for t in grid} - {length - 1})
    return [x - 1 for x in starts] + ends  # the step from the line before each start, and after each end


def pictures(result: dict) -> None:
    """The largest tiled output at 1024 px, and a 768 px crop at 100 % centred on a tile corner."""
    from nst.tiles import tile_grid

    DOCS.mkdir(parents=True, exist_ok=True)
    image = Image.open(ROOT / result["output"]).convert("RGB")
    metrics = json.loads((OUT / Path(result["output"]).with_suffix(".json").name).read_text())
    tile = metrics["memory"]["sizes"][-1]["tile"]
    small = image.copy()
    small.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
    small.save(DOCS / "print_4096_small.jpg", quality=90)
    grid = tile_grid(image.height, image.width, tile)
    corner = next(t for t in grid if t.row == len({g.row for g in grid}) // 2 and t.col == len({g.col for g in grid})
                  // 2)
    left, top = max(0, corner.left - 384), max(0, corner.top - 384)
    image.crop((left, top, left + 768, top + 768)).save(DOCS / "print_4096_crop.png")
    (DOCS / "crop.json").write_text(json.dumps({"left": left, "top": top, "size": 768, "tile": [corner.width,
                                                corner.height], "corner": [corner.left, corner.top]}) + "\n")


def table(results: dict) -> str:
    lines = ["| case | plan | peak | estimate | error | per size: s / MP / step | seam |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in results.items():
        speeds = ", ".join(f"{s['width']}: {s['seconds_per_mp_step']}" + (f" ({s['tiles']} tiles)" * bool(s["tiles"]))
                           for s in r["sizes"])
        plan = r["plan"].removeprefix(f"nst: plan: {CONTENT.name}: ")
        lines.append(f"| {name} | {plan} | {r['peak'] / 1e9:.2f} GB | "
                     f"{r['estimated_peak'] / 1e9:.2f} GB | {r['estimate_error']:+.0%} | {speeds} | "
                     f"{r.get('seam_ratio', '')} |")
    return "\n".join(lines)


def refresh(results: dict) -> None:
    """Each case's plan and estimate from the model as it is now (``nst.memory``), against the peak measured when it
    ran: after the constants are fitted, the cases whose plan did not change need not run again."""
    import nst
    from nst.cli import build_parser, config_from_args
    from nst.plan import plan_for

    for r in results.values():
        config = config_from_args(build_parser().parse_args([str(CONTENT), str(STYLE), *r["flags"]]))
        plan = plan_for(tuple(nst.load_image(CONTENT, config.size).shape[1:3]), config)
        tiles = [s["tile"] for s in json.loads((OUT / Path(r["output"]).with_suffix(".json").name).read_text())
                 ["memory"]["sizes"]]
        if tiles != plan.tiles:
            raise SystemExit(f"{r['output']}: the plan changed since it ran ({tiles} -> {plan.tiles}); run it again")
        r["plan"] = f"nst: plan: {CONTENT.name}: {plan.describe()}"
        r["estimated_peak"] = round(plan.peak)
        r["estimate_error"] = round(plan.peak / r["peak"] - 1, 3)


def fit(results: dict) -> dict:
    """``nst.memory``'s constants BASE, ACTIVATION_FACTOR and IMAGE_BYTES by least squares on the measured peaks,
    each case's largest size taken as its peak: ``peak - L·P_tile = BASE + A·a·P_tile + I·P_size``."""
    import nst
    from nst.memory import activation_bytes, optimizer_bytes
    from nst.tiles import tile_grid

    config = nst.Config()
    a = activation_bytes(config.content_layers + config.style_layers, "bfloat16")
    rows, targets = [], []
    for r in results.values():
        last = json.loads((OUT / Path(r["output"]).with_suffix(".json").name).read_text())["memory"]["sizes"][-1]
        size = last["height"] * last["width"]
        first = tile_grid(last["height"], last["width"], last["tile"])[0] if last["tile"] else None
        at_once = size if first is None else first.height * first.width
        rows.append([1.0, a * at_once, size])
        targets.append(r["peak"] - optimizer_bytes("lbfgs") * at_once)
    (base, factor, image_bytes), *_ = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)
    return {"BASE": round(base / 1e7) * 1e7, "ACTIVATION_FACTOR": round(factor, 2), "IMAGE_BYTES": round(image_bytes)}


def main() -> None:
    all_cases = cases()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(all_cases), choices=list(all_cases))
    parser.add_argument("--fit", action="store_true", help="print nst.memory's constants fitted to the record's "
                        "measured peaks, and run nothing")
    parser.add_argument("--refresh", action="store_true", help="only recompute the record's plans and estimates with "
                        "the model as it is now, and its table")
    args = parser.parse_args()
    import nst.result

    path = RESULTS / "memory.json"
    record = json.loads(path.read_text()) if path.exists() else {"cases": {}}
    if args.fit:
        print(fit(record["cases"]))
        return
    if args.refresh:
        args.cases = []
    record.update(device=nst.result.device_name(), versions=nst.result.versions())
    for name in args.cases:
        record["cases"][name] = run_case(name, all_cases[name])
        path.write_text(json.dumps(record, indent=1) + "\n")
    refresh(record["cases"])
    path.write_text(json.dumps(record, indent=1) + "\n")
    if "print_4096" in args.cases or args.refresh:
        pictures(record["cases"]["print_4096"])
    (RESULTS / "memory.md").write_text(f"Measured on {record['device']}.\n\n" + table(record["cases"]) + "\n")
    print(table(record["cases"]))


if __name__ == "__main__":
    main()
