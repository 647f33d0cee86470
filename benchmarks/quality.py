"""How good the pictures are: a gallery of photo x painting pairs, scored for each setting.

    python benchmarks/quality.py                                   # tutorial and defaults at 512 px
    python benchmarks/quality.py --size 256 --steps 100 --pairs 6 --tag _screen --settings tutorial palette+avg
    python benchmarks/quality.py --settings defaults --pairs 12 --skip 6   # pairs 7 to 12 only
    python benchmarks/quality.py --settings before defaults --interleave  # pair by pair: times that compare
    python benchmarks/quality.py --settings tutorial defaults --pairs 0 --compare tutorial defaults  # redraw only

Each setting is a set of ``Config`` changes (``SETTINGS``) run on the pairs of ``GALLERY``. For each
output the table gives (medians over the pairs, and each pair in the JSON):

* **palette**: the Wasserstein-2 distance between Gaussian fits of the output's RGB pixels and the
  painting's, over the photo's distance: 1 means no colour moved toward the painting, 0 all of it;
* **speckle**: colour noise where the photo is flat. In the photo's smoothest 30 % of pixels (lowest
  ``|YIQ - its 3x3 blur|``), the mean ``|IQ - its 3x3 blur|`` of the output's chroma, over the
  painting's own mean of it at the same scale: above 1, flat areas are busier than the painting's
  average brushwork;
* **grid**: periodic artefacts, over the photo's own: VGG19 pools by 2 four times, so a grid of its strides
  repeats every 2, 4, 8 or 16 px, which puts power at the frequencies ``(m/16, n/16)`` cycles per pixel. In the
  photo's flattest 30 % of 64 px patches (overlapping by half), the luminance's power spectrum (Hann window,
  averaged over the patches) at each of those 255 frequencies over the mean of the 16 around it, averaged;
  1 for noise or a photo, above where a grid shows in flat areas and skies (``grid``);
* **ssim**: SSIM of the output's luminance against the photo's (is the subject still there);
* **style**: the Gatys style distance (the tutorial's Gram MSE, max-pooled VGG19) of the output, over
  the photo's: how much closer the texture came;
* **objective**: the tutorial's whole objective (``Config.preset("tutorial")`` weights), in float32;
* **seconds**: the run's wall time, tracing included (the model is built beforehand); each row also keeps the
  machine's load average over the minute before it started (``load``: 0 on an idle machine, 2 with both
  cores of a 2-core machine busy elsewhere), since a busy machine makes a run slower, not worse.

To compare the times of two settings fairly, run them pair by pair, one after the other (``--interleave``): the
machine's other work then falls on both alike.

Writes each output to ``docs/quality/<size>/<setting>/<photo>_<painting>.jpg``; the record
``benchmarks/results/quality_<size><tag>.json``, to which each run adds its settings (a setting run
again on some pairs keeps its other pairs; run again with other ``Config`` changes, it starts afresh);
the table of every setting in it, on stdout and in ``quality_<size><tag>.md``; one sheet per setting,
``docs/quality/<setting>_<size><tag>.jpg`` (photo, painting, output: a row per pair); and
``docs/quality/compare_<size><tag>.jpg``, the settings side by side on the pairs they all ran; and at 512 px, the
README's first picture (``HERO``: the photo, the painting and the defaults' output), ``docs/china_great_wave.jpg``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import linalg, ndimage

ROOT = Path(__file__).resolve().parent.parent
CONTENT, STYLE = ROOT / "data" / "content", ROOT / "data" / "style"

# Photo x painting: portraits, buildings, landscapes, close-ups; each painting three times. The first six
# are the quick screen (--pairs 6): a sky, a portrait, a building, a close-up, fur, a face.
GALLERY = [
    ("rocket", "starry_night"), ("grace_hopper", "the_scream"), ("china", "great_wave"),
    ("coffee", "kandinsky_composition_viii"), ("chelsea", "starry_night"), ("astronaut", "great_wave"),
    ("flower", "the_scream"), ("china", "the_scream"), ("grace_hopper", "kandinsky_composition_viii"),
    ("rocket", "kandinsky_composition_viii"), ("coffee", "great_wave"), ("astronaut", "starry_night"),
    # The hard ones: a near-black sparse style, a near-white style (a photograph too), a photograph as the style,
    # a small subject in a wide scene, a face under a dark style, a dark photo under a pale one.
    ("chelsea", "hubble_deep_field"), ("astronaut", "wood"), ("china", "storm"), ("ladybird", "starry_night"),
    ("grace_hopper", "hubble_deep_field"), ("rocket", "wood"),
]

BEFORE = {"balance": "fixed", "content_floor": 0.0}  # version 0.2's defaults: the same weights for every pair
# name: the Config changes of the setting, on top of the base it names ("tutorial" or "defaults").
SETTINGS: dict[str, tuple[str, dict]] = {
    "tutorial": ("tutorial", {}),
    "defaults": ("defaults", {}),  # nst.Config()
    "before": ("defaults", BEFORE),  # the defaults of version 0.2, before nst.balance
    "strength0.25": ("defaults", {"strength": 0.25}),
    "strength0.75": ("defaults", {"strength": 0.75}),
    "defaults-tv1e8": ("defaults", {**BEFORE, "tv_weight": 1e8}),  # the defaults before the last change: half the smoothness
    # One lever at a time, on the tutorial's objective:
    "avg": ("tutorial", {"pooling": "avg"}),
    "palette": ("tutorial", {"init": "palette"}),
    "block4": ("tutorial", {"content_layers": ("block4_conv2",)}),
    "replicate": ("tutorial", {"padding": "replicate"}),
    "sqrt2": ("tutorial", {"start_size": 128, "size_step": 2 ** 0.5}),
    "layers": ("tutorial", {"style_layer_weights": (256, 64, 16, 4, 1)}),
    "l2tv": ("tutorial", {"tv_norm": "l2", "tv_weight": 1e8}),
    "wasserstein": ("tutorial", {"style_loss": "wasserstein", "style_weight": 3e3}),
    # Together, on the tutorial's objective (the screens at 256 px, docs/quality.md):
    "palette+avg": ("tutorial", {"init": "palette", "pooling": "avg"}),
    "palette+avg+c2f": ("tutorial", {"init": "palette", "pooling": "avg", "start_size": 128, "size_step": 2 ** 0.5}),
    "palette+c2f": ("tutorial", {"init": "palette", "start_size": 128, "size_step": 2 ** 0.5}),
    "palette+avg+sw3": ("tutorial", {"init": "palette", "pooling": "avg", "style_weight": 3e-2}),
    "palette+avg+sw3+tv2": ("tutorial", {"init": "palette", "pooling": "avg", "style_weight": 3e-2, "tv_weight": 60.0}),
    "palette+avg+sw3+l2tv": ("tutorial", {"init": "palette", "pooling": "avg", "style_weight": 3e-2, "tv_norm": "l2",
                                          "tv_weight": 2e8}),
    "palette+avg+sw3+l2tv5e7": ("tutorial", {"init": "palette", "pooling": "avg", "style_weight": 3e-2,
                                             "tv_norm": "l2", "tv_weight": 5e7}),
    "palette+avg+sw3+l2tv1e8": ("tutorial", {"init": "palette", "pooling": "avg", "style_weight": 3e-2,
                                             "tv_norm": "l2", "tv_weight": 1e8}),
    "w2+palette": ("tutorial", {"style_loss": "wasserstein", "style_weight": 3e3, "init": "palette"}),
    "w2+palette+avg+cw3": ("tutorial", {"style_loss": "wasserstein", "style_weight": 3e3, "init": "palette",
                                        "pooling": "avg", "content_weight": 3e4}),
    "w2+palette+avg+cw3+l2tv": ("tutorial", {"style_loss": "wasserstein", "style_weight": 3e3, "init": "palette",
                                             "pooling": "avg", "content_weight": 3e4, "tv_norm": "l2",
                                             "tv_weight": 5e7}),
    "w2+palette+avg": ("tutorial", {"style_loss": "wasserstein", "style_weight": 3e3, "init": "palette",
                                    "pooling": "avg"}),
}

METRICS = ("palette", "speckle", "grid", "ssim", "style", "objective", "seconds")
GRID_PERIOD, GRID_PATCH = 16, 64  # VGG19's largest pooling period before block5; the patch: 4 FFT bins per step


def config_for(setting: str, size: int, steps: int | None):
    import nst

    base, changes = SETTINGS[setting]
    config = nst.Config.preset("tutorial") if base == "tutorial" else nst.Config()
    return dataclasses.replace(config, size=size, **({"steps": steps} if steps else {}), **changes)


def gaussian_w2(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-2 distance between Gaussian fits of two sets of pixels ``(N, 3)``:
    ``sqrt(‖μa - μb‖² + tr(Σa + Σb - 2 (Σb^{1/2} Σa Σb^{1/2})^{1/2}))``."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a.T), np.cov(b.T)
    root_b = linalg.sqrtm(cov_b).real
    cross = linalg.sqrtm(root_b @ cov_a @ root_b).real
    return float(np.sqrt(max(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * cross), 0.0)))


def _yiq(image: np.ndarray) -> np.ndarray:
    from nst.color import RGB_TO_YIQ

    return image @ RGB_TO_YIQ.T


def _detail(channels: np.ndarray) -> np.ndarray:
    """``|x - its 3x3 box blur|`` per pixel, the norm over the channels of ``(H, W, C)``."""
    blurred = ndimage.uniform_filter(channels, size=(3, 3, 1), mode="reflect")
    return np.sqrt(np.sum((channels - blurred) ** 2, axis=-1))


def speckle(output: np.ndarray, photo: np.ndarray, painting: np.ndarray, share: float = 0.3) -> float:
    """The output's chroma detail in the photo's flattest ``share`` of pixels over the painting's mean chroma detail."""
    flatness = _detail(_yiq(photo))
    flat = flatness <= np.quantile(flatness, share)
    return float(_detail(_yiq(output)[..., 1:])[flat].mean() / _detail(_yiq(painting)[..., 1:]).mean())


def _luma(image: np.ndarray) -> np.ndarray:
    return image @ np.array([0.299, 0.587, 0.114])


def grid_peaks(image: np.ndarray, photo: np.ndarray, share: float = 0.3) -> float:
    """The mean power at the frequencies of a 16 px lattice over the power around them, in the photo's flattest
    ``share`` of 64 px patches: ``mean_f P(f) / mean_{g ∈ ring(f)} P(g)`` (see the module docstring)."""
    y, p = _luma(image), _luma(photo)
    detail = np.abs(p - ndimage.uniform_filter(p, 3))
    patch, step = GRID_PATCH, GRID_PATCH // GRID_PERIOD
    corners = [(i, j) for i in range(0, y.shape[0] - patch + 1, patch // 2)
               for j in range(0, y.shape[1] - patch + 1, patch // 2)]
    flatness = np.array([detail[i:i + patch, j:j + patch].mean() for i, j in corners])
    flat = [c for c, f in zip(corners, flatness) if f <= np.quantile(flatness, share)]
    window = np.outer(np.hanning(patch), np.hanning(patch))
    power = np.mean([np.abs(np.fft.fft2((y[i:i + patch, j:j + patch] - y[i:i + patch, j:j + patch].mean())
                                        * window)) ** 2 for i, j in flat], axis=0)
    ring = np.ones((5, 5), bool)
    ring[1:4, 1:4] = False  # two bins away: halfway to the next lattice frequency, clear of the peak's leakage
    ratios = []
    for m in range(GRID_PERIOD):
        for n in range(GRID_PERIOD):
            if m or n:
                around = power[np.ix_((m * step + np.arange(-2, 3)) % patch, (n * step + np.arange(-2, 3)) % patch)]
                ratios.append(power[m * step, n * step] / around[ring].mean())
    return float(np.mean(ratios))


def grid(output: np.ndarray, photo: np.ndarray) -> float:
    """``grid_peaks`` of the output over the photo's own: 1 where the output has no more grid than the photo."""
    return grid_peaks(output, photo) / grid_peaks(photo, photo)


def scores(output, photo, painting, tutorial_terms) -> dict:
    """The metrics of one output (float32 tensors (1, H, W, 3) in [0, 1]) but its time."""
    import tensorflow as tf

    from nst.color import luminance

    out, pho, pai = (np.asarray(x[0], np.float64) for x in (output, photo, painting))
    pixels = [x.reshape(-1, 3) for x in (out, pho, pai)]
    objective, style_of = tutorial_terms
    return {
        "palette": gaussian_w2(pixels[0], pixels[2]) / gaussian_w2(pixels[1], pixels[2]),
        "speckle": speckle(out, pho, pai),
        "grid": grid(out, pho),
        "ssim": float(tf.image.ssim(luminance(output)[..., :1], luminance(photo)[..., :1], max_val=1.0)[0]),
        "style": style_of(output) / style_of(photo),
        "objective": objective(output),
    }


def tutorial_scorer(photo, painting, size: int):
    """The tutorial's objective and its style term alone, as functions of an image, for this pair."""
    import nst
    from nst.objective import extractor_for, objective_for, style_targets_for

    config = nst.Config.preset("tutorial", size=size, precision="float32")
    extractor = extractor_for(config)
    targets = style_targets_for(extractor, [painting], config, [1.0])
    features = extractor(photo)
    content_targets = {name: features[name] for name in config.content_layers}
    keywords = objective_for(config, nst.losses.Functions())

    def terms(image):
        return nst.style_content_loss(image, extractor(image), content_targets, targets, config.content_weight,
                                      config.style_weight, config.tv_weight, **keywords)

    return (lambda image: float(terms(image)["total"])), (lambda image: float(terms(image)["style"]))


def run_setting(setting: str, size: int, steps: int | None, pairs: list[tuple[str, str]]) -> list[dict]:
    import nst
    from nst.inputs import style_image
    from nst.objective import extractor_for

    config = config_for(setting, size, steps)
    extractor = extractor_for(config)
    rows = []
    for photo_name, painting_name in pairs:
        photo = nst.load_image(CONTENT / f"{photo_name}.jpg", size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a trimmed frame: the run says so itself
            painting = style_image(STYLE / f"{painting_name}.jpg", config, 0)
        load, start = os.getloadavg()[0], time.perf_counter()
        result = nst.stylize(photo, painting, config, extractor=extractor)
        seconds = time.perf_counter() - start
        row = {"photo": photo_name, "painting": painting_name, "steps": result.history[-1]["step"],
               "losses": {k: result.final[k] for k in ("content", "style", "tv", "total")}, "stopped": result.stopped,
               **scores(result.image, photo, painting, tutorial_scorer(photo, painting, size)),
               "seconds": seconds, "load": round(load, 2), "image": result.image}
        nst.save_image(result.image, picture_path(setting, size, photo_name, painting_name))
        print(f"{setting:>12} {photo_name} x {painting_name}: " + ", ".join(
            f"{k} {row[k]:.3g}" for k in METRICS), flush=True)
        rows.append(row)
    return rows


def picture_path(setting: str, size: int, photo: str, painting: str) -> Path:
    """Where one output is kept, so that runs of different settings can be set side by side later."""
    return ROOT / "docs" / "quality" / str(size) / setting / f"{photo}_{painting}.jpg"


def _tile(image, size: int) -> Image.Image:
    tile = Image.fromarray(np.uint8(np.clip(np.asarray(image[0]) * 255 + 0.5, 0, 255)))
    tile.thumbnail((size, size), Image.LANCZOS)
    canvas = Image.new("RGB", (size, size), "white")
    canvas.paste(tile, ((size - tile.width) // 2, (size - tile.height) // 2))
    return canvas


def comparison_sheet(settings: list[str], pairs: list[tuple[str, str]], size: int, path: Path, tile: int) -> None:
    """One row per pair: the photo, the painting, then each setting's saved output, in the order given."""
    import nst

    tiles = []
    for photo, painting in pairs:
        tiles.append(_tile(nst.load_image(CONTENT / f"{photo}.jpg", tile), tile))
        tiles.append(_tile(nst.load_image(STYLE / f"{painting}.jpg", tile), tile))
        tiles.extend(_tile(nst.load_image(picture_path(s, size, photo, painting), tile), tile) for s in settings)
    _sheet(tiles, path, tile, 2 + len(settings))


HERO = ("china", "great_wave")  # the README's first picture


def hero_picture(size: int, path: Path) -> None:
    """The README's first picture: the hero pair's photo, painting and the defaults' output, titled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    photo, painting = HERO
    panels = [(f"content: {photo}.jpg", CONTENT / f"{photo}.jpg"), (f"style: {painting}.jpg", STYLE / f"{painting}.jpg"),
              (f"the defaults: {size} px, L-BFGS", picture_path("defaults", size, photo, painting))]
    figure, axes = plt.subplots(1, 3, figsize=(11.9, 2.97))
    for ax, (title, picture) in zip(axes, panels):
        ax.imshow(Image.open(picture).convert("RGB"), aspect="auto")
        ax.set_title(title)
        ax.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100, pil_kwargs={"quality": 90})
    plt.close(figure)


def _sheet(tiles: list[Image.Image], path: Path, size: int, columns: int) -> None:
    rows_count = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * size, rows_count * size), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * size, (i // columns) * size))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=90)


def median(rows: list[dict], metric: str) -> float | None:
    """The median of a metric over the rows that have it (the grid metric came later than the first records)."""
    values = [row[metric] for row in rows if metric in row]
    return statistics.median(values) if values else None


def table(results: dict[str, list[dict]]) -> str:
    """Medians over each setting's pairs, with how many pairs that is; – for a metric not measured then."""
    lines = ["| setting | pairs | " + " | ".join(METRICS) + " |", "| --- | --- |" + " --- |" * len(METRICS)]
    for setting, rows in results.items():
        medians = [median(rows, k) for k in METRICS]
        lines.append(f"| {setting} | {len(rows)} | "
                     + " | ".join("–" if m is None else f"{m:.3g}" for m in medians) + " |")
    return "\n".join(lines)


def pair_table(results: dict[str, list[dict]], before: str, after: str) -> str:
    """Each pair both settings ran: SSIM, style, grid and seconds (steps) of ``before``, then of ``after``."""
    lines = ["| photo × painting | ssim | style | grid | seconds (steps) |", "| --- | --- | --- | --- | --- |"]
    old = {(r["photo"], r["painting"]): r for r in results[before]}
    for new in results[after]:
        was = old.get((new["photo"], new["painting"]))
        if was is None:
            continue
        grid_before = f"{was['grid']:.2f} to " if "grid" in was else ""
        lines.append(f"| {new['photo']} × {new['painting']} | {was['ssim']:.3f} to {new['ssim']:.3f} | "
                     f"{was['style']:.3g} to {new['style']:.3g} | {grid_before}{new['grid']:.2f} | "
                     f"{was['seconds']:.0f} ({was['steps']}) to {new['seconds']:.0f} ({new['steps']}) |")
    return "\n".join(lines)


def strength_table(results: dict[str, list[dict]], settings: list[str]) -> str:
    """SSIM and style distance of each pair at each strength (``settings`` in order of strength), and how far
    apart the middle steps are: the log style distance's step below the middle over the step above it."""
    header = " / ".join(settings)
    lines = [f"| photo × painting | ssim: {header} | style: {header} | step below / step above |",
             "| --- | --- | --- | --- |"]
    by_pair = {}
    for setting in settings:
        for row in results[setting]:
            by_pair.setdefault((row["photo"], row["painting"]), {})[setting] = row
    for (photo, painting), rows in by_pair.items():
        if len(rows) < len(settings):
            continue
        styles = [rows[s]["style"] for s in settings]
        steps = -np.diff(np.log(styles))
        lines.append(f"| {photo} × {painting} | " + " / ".join(f"{rows[s]['ssim']:.2f}" for s in settings)
                     + " | " + " / ".join(f"{x:.3g}" for x in styles) + f" | {steps[0] / steps[-1]:.2f} |")
    return "\n".join(lines)


def add_rows(record: dict, setting: str, rows: list[dict], args: argparse.Namespace) -> None:
    """Put ``rows`` into the record's entry for ``setting``, in the gallery's order, replacing the same pairs' rows;
    an entry made with other ``Config`` changes under the same name starts afresh."""
    config = json.loads(json.dumps(dataclasses.asdict(config_for(setting, args.size, args.steps))))  # as stored
    entry = record["settings"].get(setting, {})
    if entry.get("config") != config:
        entry = {"steps": args.steps, "config": config, "results": []}
    ran = {(row["photo"], row["painting"]) for row in rows}
    kept = [row for row in entry["results"] if (row["photo"], row["painting"]) not in ran]
    order = {pair: i for i, pair in enumerate(GALLERY)}
    entry["results"] = sorted(kept + [{k: v for k, v in row.items() if k != "image"} for row in rows],
                              key=lambda row: order[(row["photo"], row["painting"])])
    record["settings"][setting] = entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=None, help="most steps at each size (default: the setting's)")
    parser.add_argument("--settings", nargs="+", default=["tutorial", "defaults"], choices=list(SETTINGS))
    parser.add_argument("--pairs", type=int, default=len(GALLERY), help="the first N pairs of the gallery only")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first K of those (run before)")
    parser.add_argument("--only", nargs="+", metavar="PHOTO/PAINTING", help="these pairs of the gallery only")
    parser.add_argument("--interleave", action="store_true", help="pair by pair, each setting in turn (for times "
                        "that compare: the machine's other work falls on every setting alike)")
    parser.add_argument("--tag", default="", help="added to the output names, to keep several runs apart")
    parser.add_argument("--compare", nargs="+", help="the settings of the comparison sheet, in its order "
                        "(default: every setting of the record)")
    args = parser.parse_args()

    import nst  # noqa: F401  (imports TensorFlow quietly)
    from nst.result import device_name, versions

    name = f"quality_{args.size}{args.tag}"
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    # Settings run before at this size and tag stay in the record: each run adds or replaces its own.
    record = json.loads((out / f"{name}.json").read_text()) if (out / f"{name}.json").exists() else {}
    record.update({"size": args.size, "device": device_name(), "versions": versions()})
    record.setdefault("settings", {})
    pairs = GALLERY[args.skip:args.pairs]
    if args.only:
        pairs = [pair for pair in pairs if "/".join(pair) in args.only]
    # --interleave: pair by pair, every setting on it; else setting by setting, every pair.
    runs = ([(setting, [pair]) for pair in pairs for setting in args.settings] if args.interleave
            else [(setting, pairs) for setting in args.settings])
    for setting, some in runs:
        add_rows(record, setting, run_setting(setting, args.size, args.steps, some), args)
        (out / f"{name}.json").write_text(json.dumps(record, indent=1))  # after each run: a stop keeps the rest
    for setting in args.settings:
        done = [(row["photo"], row["painting"]) for row in record["settings"][setting]["results"]]
        sheet = ROOT / "docs" / "quality" / f"{setting}_{args.size}{args.tag}.jpg"
        comparison_sheet([setting], done, args.size, sheet, 256)  # photo, painting, output: a row per pair
    if "defaults" in args.settings and args.size == 512 and not args.tag and HERO in pairs:
        hero_picture(args.size, ROOT / "docs" / "china_great_wave.jpg")
    results = {s: entry["results"] for s, entry in record["settings"].items()}
    compared = args.compare or list(results)
    if len(compared) > 1:  # photo, painting, then the settings side by side, on the pairs they all ran
        common = [p for p in GALLERY if all(any((r["photo"], r["painting"]) == p for r in results[s])
                                            for s in compared)]
        comparison_sheet(compared, common, args.size, ROOT / "docs" / "quality" / f"compare_{name[8:]}.jpg", 256)
    text = table(results)
    (out / f"{name}.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
