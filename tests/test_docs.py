"""Every figure in README.md and docs/*.md comes from a committed record, and is checked against it here.

The records: ``benchmarks/results/*.json`` (each names the machine it ran on), the notebooks' headers (their
"**Run time:**" line), ``docs/print/crop.json``, and the code's own constants (``nst/config.py``'s defaults,
``nst/cli.py``'s exit codes). For the classroom kit: ``notebooks/assignments/timings.json`` (grading times), the
source notebook's question cells (points), ``expected.csv`` (grades), ``nst/classroom``'s limits and tolerances,
and what ``tests/test_grading.py`` asserts each cheat scores. Two checks:

1. ``FRAGMENTS``: for each page, pieces of text made from the records (table rows, sentences with their
   figures) that must stand in it as they are. A record that changes makes its page fail until it is updated.
2. Every number in a page must be one of the numbers of that page's fragments, or a non-measurement matched by
   ``ALLOWED`` (a size in px, a command's flag, a year of a paper, ...). A figure typed in by hand, or left
   behind when its record changed (a demo time, a test count), fails.
"""

import csv
import functools
import importlib.util
import json
import re
import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]


def _load(name: str, path: Path):
    """A module from its file, without importing nst (and TensorFlow)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _record(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def machine(device: str) -> str:
    """A record's device, as the pages name it: 'CPU: AMD EPYC (2 cores)' -> '2-core AMD EPYC'."""
    found = re.fullmatch(r"CPU: (.+) \((\d+) cores\)", device)
    assert found, f"a record's device is not a CPU's as nst.transfer.device_name writes it: {device!r}"
    name = re.sub(r"\((R|TM)\)|\bProcessor\b|\bCPU\b", "", found[1])
    return f"{found[2]}-core {' '.join(name.split())}"


def sci(x: float) -> str:
    """3e4, 1e-2, 2e8: the short form of a weight."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def g3(x: float) -> str:
    return f"{x:.3g}"  # as benchmarks/quality.py's table writes a median


def notebook_headers() -> dict[str, str]:
    """Each lesson's "**Run time:**" line, which notebooks/execute.py writes from the run it measured."""
    headers = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        first = "".join(json.loads(path.read_text())["cells"][0]["source"])
        headers[path.stem] = re.search(r"^\*\*Run time:\*\* (.*)$", first, re.MULTILINE)[1]
    return headers


def notebook_sizes(stem: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(quick size, quick steps), (full size, full steps) of a lesson's ``SIZE, STEPS = ... if QUICK else ...``."""
    source = "".join("".join(cell["source"]) for cell in json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
                     ["cells"] if cell["cell_type"] == "code")
    found = re.search(r"SIZE, (?:FRAMES, )?STEPS = \((\d+), (?:\d+, )?(\d+)\) if QUICK else \((\d+), (?:\d+, )?(\d+)\)",
                      source)  # the video lesson has frames too
    return (int(found[1]), int(found[2])), (int(found[3]), int(found[4]))


def _video_benchmark():
    """benchmarks/video.py, for its table function only (its nst imports are left out: no TensorFlow)."""
    source = (ROOT / "benchmarks" / "video.py").read_text()
    start = source.index("def _number(")
    namespace = {"np": __import__("numpy")}
    end = source.index("\ndef ", source.index("def table(") + 1)
    exec(compile(source[start:end], "benchmarks/video.py", "exec"), namespace)
    return namespace


def _video_table(record: dict) -> str:
    return _video_benchmark()["table"](record)


def _video_later_over_independent(entry: dict, method: str) -> str:
    """The table's "later / independent" cell of one row, as benchmarks/video.py's table writes it."""
    row = next(r for r in _video_table({"clips": {"c": entry}}).splitlines()[2:] if f"| {method} |" in r)
    return row.split("|")[8].strip()


@functools.cache
def fragments() -> dict[str, list[str]]:
    config_module = _load("nst_config_for_docs", ROOT / "nst" / "config.py")
    defaults, tutorial = config_module.Config(), config_module.Config.preset("tutorial")
    pyproject = (ROOT / "pyproject.toml").read_text()
    quality = _load("quality_benchmark", ROOT / "benchmarks" / "quality.py")
    memory = _load("memory_benchmark", ROOT / "benchmarks" / "memory.py")
    found: dict[str, list[str]] = {page: [] for page in PAGES}
    version = re.search(r'^version = "([\d.]+)"', pyproject, re.MULTILINE)[1]
    release = "before version 0.2"  # the tutorial's objective was the default until then (nst/config.py says so)
    assert release in (ROOT / "nst" / "config.py").read_text() and version >= "0.2"

    # README: the hero pair in the quality gallery; the lessons' run times; quick mode; Python.
    q512 = _record("quality_512.json")
    gallery = q512["settings"]["defaults"]["results"]
    hero = next(r for r in gallery if (r["photo"], r["painting"]) == ("china", "great_wave"))
    found["README.md"] += [
        f"It took {hero['seconds']:.0f} s ({hero['steps']} steps) on a {machine(q512['device'])} CPU",
        "Python ≥ " + re.search(r'requires-python = ">=([\d.]+)"', pyproject)[1],
        f"up to {defaults.steps} steps", f"{defaults.size} px, L-BFGS",
        f"the balance of version {version[:3]}", "runs from 0, the photo, to 1,", f"the default {defaults.strength} "
        "balances the two, and 0.25 and 0.75 lie evenly", "(2(1 − s))² and `--style-weight` by (2s)², so each step "
        "of 0.25 from the middle", "# less of the painting; 0.75 more",
    ]
    for stem, header in notebook_headers().items():
        time, device = re.fullmatch(r"(\d+ min \d+ s) for the outputs below, on (.+) at \d+ px(?:, \d+ frames)?; "
                                    r"less on a GPU\.", header).groups()
        found["README.md"].append(f"| {time}, {machine(device)} |")
        quick, _ = notebook_sizes(stem)
        assert quick == notebook_sizes("01_content_reconstruction")[0], "one quick mode for every lesson"
        found["README.md"].append(f"(`NST_QUICK=1`: {quick[0]} px, {quick[1]} steps)")

    # docs/quality.md: the tables of benchmarks/quality.py, and the sentences made from the same record.
    page = found["docs/quality.md"]
    results = {name: entry["results"] for name, entry in q512["settings"].items()}
    page.append(quality.table(results))  # the whole table
    page.append(quality.pair_table(results, "before", "defaults"))
    levers = _record("quality_192_levers.json")
    page.append(quality.table(levers["results"]))
    screens = [_record(f"quality_256_screen{i}.json") for i in (2, 3, 4, 5)]
    assert len({(s["size"], s["steps"], s["device"]) for s in screens}) == 1
    page.append(quality.table({k: v for s in screens for k, v in s["results"].items()}))
    screen_pairs = {len(rows) for s in screens for rows in s["results"].values()}.pop()
    page += _quality_sentences(q512, quality)
    page += [
        f"at 512 px, on a {machine(q512['device'])} CPU (no GPU)",
        f"512 px, up to {q512['settings']['defaults']['config']['steps']} L-BFGS\nsteps, bfloat16",
        f"wall time, up to {q512['settings']['defaults']['config']['steps']} steps",
        f"flattest {quality.speckle.__defaults__[0] * 100:.0f} % of pixels",
        f"at {levers['size']} px and {levers['steps']} steps on eight pairs of `data/`, on a "
        f"{machine(levers['device'])} CPU",
        f"at {screens[0]['size']} px and {screens[0]['steps']} steps on the first six pairs, on a "
        f"{machine(screens[0]['device'])} CPU",
        f"Pairs {screen_pairs + 1} to 12 of the gallery",  # the gallery of version 0.2 had twelve
        release, f"Version {version[:3]} weighs each pair",
        f"VGG19 pools by 2 four times, so a grid left by its strides\nrepeats every 2, 4, 8 or {quality.GRID_PERIOD} px",
        f"flattest {quality.grid_peaks.__defaults__[0] * 100:.0f} % of {quality.GRID_PATCH} px patches, the mean over "
        f"those {quality.GRID_PERIOD ** 2 - 1} frequencies",
        f"checks that lines a few grey levels\nbright every 2, 4, 8 or {quality.GRID_PERIOD} px raise it above "
        f"{_grid_limit()}, and lines every 5 px do not",
    ]
    page += _strength_sentences(defaults)
    balance256 = _record("quality_256_balance.json")
    by_strength = {name: entry["results"] for name, entry in balance256["settings"].items()}
    strength_table = quality.strength_table(by_strength, ["strength0.25", "defaults", "strength0.75"])
    ratios = [float(row.split("|")[-2]) for row in strength_table.splitlines()[2:]]
    rocket_wood = next(r for r in by_strength["strength0.25"] if (r["photo"], r["painting"]) == ("rocket", "wood"))
    page += [strength_table, f"at 256 px and {balance256['settings']['strength0.25']['steps']} steps",
             f"within {max(max(r, 1 / r) for r in ratios):.1f}x of each other",
             f"flags ({rocket_wood['speckle']:.2f}) and the grid metric does not\n({rocket_wood['grid']:.2f})",
             "distance: 1 would be even"]

    # docs/speed.md: benchmarks/speed.py's tables as recorded, the timed passes, the 2048 px run.
    page = found["docs/speed.md"]
    speed, quick_speed = _record("speed_512.json"), _record("speed_256.json")
    for record in (speed, quick_speed):
        page.append("| measure | recipe / nst |\n| --- | --- |\n"
                    + "\n".join(f"| {key} | {value} |" for key, value in record["table"].items()))
    timed, warmup = re.search(r"^TIMED, WARMUP = (\d+), (\d+)", (ROOT / "benchmarks" / "speed.py").read_text(),
                              re.MULTILINE).groups()
    page.append(f"(the mean of {timed} passes, timed after {warmup} untimed ones)")
    passes = speed["seconds_per_step"]
    rows = ["| size | tutorial | nst float32 | nst bfloat16 | nst bfloat16 + XLA |", "| --- | --- | --- | --- | --- |"]
    for size in passes.values():
        height, width = size["tutorial"]["shape"]
        rows.append(f"| {width}×{height} | " + " | ".join(
            f"{size[v]['seconds']:.3f} s ({size[v]['peak_mb'] / 1024:.1f} GB)"
            for v in ("tutorial", "float32", "bfloat16", "bfloat16+xla")) + " |")
    page.append("\n".join(rows))
    xla = [size["bfloat16+xla"]["seconds"] / size["bfloat16"]["seconds"] for size in passes.values()]
    last = speed["nst_rescored"][-1]
    objective = float(speed["table"]["reference: final objective"])
    caught_up = next(r for r in speed["reference_history"] if r["total"] <= last["total"])
    budget = next(v for k, v in speed["table"].items() if k.startswith("objective at an equal budget of 310 s"))
    steps_at_budget = re.findall(r"\(step (\d+)\)", budget)
    large = speed["large"]
    page += [
        f"{min(xla):.1f} to {max(xla):.1f} times *slower*",
        f"on a {machine(speed['device'])} CPU (no GPU, {speed['nst_model']['precision']})",
        f"which leaves {speed['nst_model']['parameters'] / 1e6:.1f} M parameters",
        f"{speed['steps']} steps from the photo",
        f"at step {last['step']} at {last['total']:.4g}".replace("e+06", "e6")
        + f", {(last['total'] / objective - 1) * 100:.1f} % above",
        f"needs {caught_up['step']} steps ({caught_up['seconds']:.0f} s)",
        f"the recipe after 310 s (step {steps_at_budget[0]}), nst after 310 s (step {steps_at_budget[1]})",
        f"({quick_speed['shape'].replace('x', '×')}, {quick_speed['steps']} recipe steps",
        "about " + re.search(r"^LBFGS_PASSES_PER_STEP = ([\d.]+)", (ROOT / "nst" / "plan.py").read_text(),
                             re.MULTILINE)[1] + " such passes",
        f"{large['steps_per_size']['2048']} steps per size for the benchmark",
        f"completed in {round(large['seconds'])} s with a peak resident memory of {large['peak_mb'] / 1024:.1f} GB",
        f"at the default {defaults.steps} steps per size",
    ]
    assert large["shape"] == [2048, 2048] and set(large["steps_per_size"].values()) == {20}

    # docs/print-sizes.md: benchmarks/memory.py's table, its plan line, the crop.
    page = found["docs/print-sizes.md"]
    mem = _record("memory.json")
    cases = mem["cases"]
    page.append(memory.table(cases))
    printed, tiled, gpu = cases["print_4096"], cases["tiled_2048_3GB"], cases["tiled_2048_gpu16"]
    flag = lambda case, name: case["flags"][case["flags"].index(name) + 1]  # noqa: E731
    sizes = {s["width"]: s for s in printed["sizes"]}
    crop = json.loads((ROOT / "docs" / "print" / "crop.json").read_text())
    gpu_free = re.fullmatch(r"tiled_2048_gpu(\d+)", "tiled_2048_gpu16")[1]  # the case's name: the GPU simulated
    page += [
        printed["plan"],
        f"On a {machine(mem['device'])} CPU without a GPU:",
        f"on a {machine(mem['device'])} CPU with no GPU",
        f"size whole for {flag(cases['whole_512'], '--steps')} steps",
        f"a GPU with {gpu_free} GB free ({gpu['budget'] / 1e9:.1f} GB, simulated",
        f"both {flag(tiled, '--steps')} steps per size",
        f"default budget, {flag(printed, '--steps')} steps per size",
        f"print peaked at {printed['peak'] / 1e9:.2f} GB", f"at 2048 px at {tiled['peak'] / 1e9:.2f} GB",
        f"within {max(abs(c['estimate_error']) for c in cases.values()) * 100:.0f} % of every measured peak",
        "{} at 1024 px (whole), {} at 2048 px ({} tiles), {} at 4096 px ({} tiles)".format(
            sizes[1024]["seconds_per_mp_step"], sizes[2048]["seconds_per_mp_step"], sizes[2048]["tiles"],
            sizes[4096]["seconds_per_mp_step"], sizes[4096]["tiles"]),
        f"The print took {printed['seconds']:.0f} s ({printed['seconds'] / 60:.0f} min) at "
        f"{flag(printed, '--steps')} steps per size",
        f"at the default {defaults.steps} steps",
        f"{printed['seam_ratio']} for the print and {min(gpu['seam_ratio'], tiled['seam_ratio'])} to "
        f"{max(gpu['seam_ratio'], tiled['seam_ratio'])} for the 2048 px runs at {flag(tiled, '--steps')} steps",
        f"{crop['size']}×{crop['size']} px of it at 100 %, centred on the corner ({crop['corner'][0]}, "
        f"{crop['corner'][1]}) where four tiles of {crop['tile'][0]} px meet",
    ]

    # docs/controls.md: notebook 4's settings, the untiled 2048 px peak.
    _, (size, steps) = notebook_sizes("04_controls")
    found["docs/controls.md"] += [
        f"at {size} px and {steps} L-BFGS steps", release,
        f"2048 × 2048 peaks at {large['peak_mb'] / 1024:.1f} GB on a {machine(speed['device'])} CPU",
    ]

    # docs/design.md: the objectives' weights as nst.Config has them; the weights' file.
    weights = (ROOT / "nst" / "weights" / "__init__.py").read_text()
    found["docs/design.md"] += [f"typical pair at strength {defaults.strength}",
        f"`{sci(defaults.content_weight)} · content + {sci(defaults.style_weight)} · style + "
        f"{sci(defaults.tv_weight)} · smoothness`",
        f"`{sci(tutorial.content_weight)} · content + {sci(tutorial.style_weight)} · style + "
        f"{tutorial.tv_weight:g} · tv`",
        re.search(r'^MD5 = "(\w+)"', weights, re.MULTILINE)[1],
        re.search(r'^PYPI_SDIST = "([^"]+)"', weights, re.MULTILINE)[1],
    ]

    # docs/troubleshooting.md: the size limits and exit codes of the code, Pillow's guard.
    from PIL import Image

    codes = re.search(r"^EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED = ([\d, ]+)",
                      (ROOT / "nst" / "jobs.py").read_text(), re.MULTILINE)[1].strip().split(", ")
    found["docs/troubleshooting.md"] += [
        f"under {config_module.MIN_SIZE} px on a side", f"needs {config_module.MIN_SIZE} px on each side",
        f"outside {config_module.MIN_SIZE} px to {config_module.MAX_SIZE} px",
        f"over {Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels",
        f"| {codes[0]} |", f"| {codes[1]} |", f"| {codes[2]} / {codes[3]} |", f"| 0 ({codes[0]}) |",
    ]

    # README and docs/teaching.md: the classroom kit. Points from the source notebook's question cells, grades
    # from expected.csv, limits and tolerances from nst/classroom's code (read as text: no TensorFlow), what a
    # cheat scores from tests/test_grading.py, and the grading times from notebooks/assignments/timings.json.
    assignments = ROOT / "notebooks" / "assignments"
    otter = "Otter-Grader " + re.search(r'"otter-grader>=(\d+)\.', pyproject)[1]  # the major version pinned
    found["README.md"].append(otter)
    page = found["docs/teaching.md"]
    page.append(otter)
    points = {}  # question -> (points, graded by hand)
    for cell in json.loads((assignments / "source" / "style_transfer.ipynb").read_text())["cells"]:
        config = "".join(cell["source"])
        if cell["cell_type"] == "raw" and config.startswith("# BEGIN QUESTION"):
            points[re.search(r"^name: (\w+)$", config, re.MULTILINE)[1]] = (
                int(re.search(r"^points: (\d+)$", config, re.MULTILINE)[1]),
                re.search(r"^manual: true$", config, re.MULTILINE) is not None)
    auto = sum(p for p, manual in points.values() if not manual)
    page += [f"| {name} | {p}{', by hand' if manual else ''} |" for name, (p, manual) in points.items()]
    page.append(f"{auto} points are graded automatically, {sum(p for p, m in points.values() if m)} by hand")
    with open(assignments / "submissions" / "expected.csv", newline="") as f:
        expected = list(csv.reader(f))
    page += [",".join(row[:-1]) + "," for row in expected]  # each row as the page shows it, its note aside
    grading = (ROOT / "nst" / "classroom" / "grading.py").read_text()
    sandbox = (ROOT / "nst" / "classroom" / "sandbox.py").read_text()
    checks = (ROOT / "nst" / "classroom" / "checks.py").read_text()
    rtol = dict(re.findall(r'"(\w+)": ([\d.e-]+)', re.search(r"^RTOL = \{(.*)\}$", checks, re.MULTILINE)[1]))
    q4_test = (assignments / "student" / "tests" / "style_transfer" / "q4.py").read_text().splitlines()
    q4_call = "    checks.check_total_variation_loss(total_variation_loss)"  # the line Otter's output names
    bad_output = re.search(r"sys\.exit\((\d+)\)", grading)[1]  # -o not a file's path
    failed = re.search(r"sys\.exit\((\d+) if failed", grading)[1]  # a notebook that could not be graded
    page += [
        f"status {bad_output}. The CSV is written whole",
        f"The exit status is {failed} when a notebook could not",
        "| {} s |".format(re.search(r'"--timeout", type=int, default=(\d+)', grading)[1]),
        "`--memory {:g}` GB".format(float(re.search(r'"--memory", type=float, default=([\d.]+)', grading)[1])),
        "| {} MB |".format(re.search(r"^FILE_LIMIT = (\d+) \* 2\*\*20", sandbox, re.MULTILINE)[1]),
        "| {} |".format(re.search(r"^PROCESS_LIMIT = (\d+)", sandbox, re.MULTILINE)[1]),
        "a {} MB tmpfs as home and temp".format(re.search(r"mount -t tmpfs -o size=(\d+)m tmpfs \{", sandbox)[1]),
        f"({rtol['float32']} for float32 results, {rtol['bfloat16']} for bfloat16 ones)",
        f"Error at line {q4_test.index(q4_call) + 1} in test q4:",
        "`preprocess_input(image * {})`".format(re.search(r"preprocess_input\(image \* (\d+)\)", checks)[1]),
    ]
    # The attacks: what tests/test_grading.py asserts each cheat scores.
    attacks = (ROOT / "tests" / "test_grading.py").read_text()
    faked = re.findall(r'"[\w/]+\.ipynb": \(lambda: .*?\),\s+"(q[q\d ]*)"', attacks, re.DOTALL)
    total, cost = map(int, re.search(r'row\["total"\] == str\((\d+) - (\d+)\)', attacks).groups())
    assert len(faked) == len(re.findall(r"lambda: _cheat", attacks)) and total == auto
    for questions in dict.fromkeys(faked):
        if questions.split() == [q for q, (_, manual) in points.items() if not manual]:
            page.append(f"| 0 of {auto} |")
        else:
            assert cost == sum(points[q][0] for q in questions.split())
            page.append(f"| 0 for {questions}, {total - cost} of {total} in all |")
    timeout = re.search(r"^TIMEOUT = (\d+)", attacks, re.MULTILINE)[1]
    # The grading times: wall (real) seconds, and CPU (user + system) seconds.
    timings = json.loads((assignments / "timings.json").read_text())
    wall = lambda runs: [f"{r['real_s']:.0f} s" for r in runs]  # noqa: E731
    cpu = lambda runs: [f"{r['user_s'] + r['sys_s']:.0f} s" for r in runs]  # noqa: E731
    words = lambda items: ", ".join(items[:-1]) + " and " + items[-1]  # noqa: E731
    before, after, alone, mixed = timings["before"]["runs"], timings["after"]["runs"], timings["one_notebook"], \
        timings["mixed_class"]
    measured, pytest_run = (next(r for r in mixed["runs"] if k in r) for k in ("real_s", "pytest_s"))
    assert f"--timeout {timeout}" in mixed["what"] and timings["command"] == \
        "time python -m nst.classroom grade notebooks/assignments/submissions -o grades.csv"
    page += [
        f"{words(wall(after))} ({words(cpu(after))} of CPU); with Otter's runner in each notebook's kernel: "
        f"{words(wall(before))} ({words(cpu(before))} of CPU)",
        f"| {wall([alone['after']])[0]} ({cpu([alone['after']])[0]} of CPU); with Otter's runner: "
        f"{wall([alone['before']])[0]} ({cpu([alone['before']])[0]} of CPU) |",
        f"({mixed['notebooks']} notebooks, one endless loop waiting out `--timeout {timeout}`)",
        f"{pytest_run['pytest_s']:.0f} s and {wall([measured])[0]} (the second: {cpu([measured])[0]} of CPU)",
        "on a {}, shared with other jobs (load average {} to {})".format(
            re.match(r"(\d+-core [\w ]+?), no GPU", timings["machine"])[1],
            *re.search(r"load average ([\d.]+) to ([\d.]+)", timings["machine"]).groups()),
    ]

    # docs/video.md: benchmarks/video.py's tables and the sentences from its records (the defaults at 256 and 512 px;
    # the temporal weights at 128 px, made with version 0.2's later frames); the temporal weight, the later frames'
    # share of steps and the mask's constants from nst/video's code, and DIS's time from the docstring of
    # nst.video.flow.optical_flow, which states it as measured (read as text: no OpenCV, no TensorFlow).
    page = found["docs/video.md"]
    clip_code = (ROOT / "nst" / "video" / "clip.py").read_text()
    flow_code = (ROOT / "nst" / "video" / "flow.py").read_text()
    bench_code = (ROOT / "benchmarks" / "video.py").read_text()
    weight = re.search(r"^TEMPORAL_WEIGHT = ([\d.e+-]+)$", clip_code, re.MULTILINE)[1]
    share = int(re.search(r"^LATER_SHARE = (\d+)", clip_code, re.MULTILINE)[1])
    method = f"temporal_{float(weight):g}"
    short = lambda w: re.sub(r"e\+0?", "e", f"{w:g}")  # noqa: E731  1e+09 -> 1e9
    words = lambda items: ", ".join(items[:-1]) + " and " + items[-1]  # noqa: E731
    ratio, slack = re.search(r"^DISOCCLUSION_RATIO, DISOCCLUSION_SLACK = ([\d.]+), ([\d.]+)$", flow_code,
                             re.MULTILINE).groups()
    b_ratio, b_slack = re.search(r"^BOUNDARY_RATIO, BOUNDARY_SLACK = ([\d.]+), ([\d.]+)$", flow_code,
                                 re.MULTILINE).groups()
    dims, ms, cores, cpu_name = re.search(r"Measured at (\d+x\d+) on this project's shared (\d+)-core CPU "
                                          r"\(([\w ]+), [^)]*\):\s+(\d+) ms a flow", flow_code).group(1, 4, 2, 3)
    goals = re.search(r"warping error <= ([\d.]+)x independent, style loss <= ([\d.]+)x", bench_code).groups()
    zoom = float(re.search(r"^ZOOM = ([\d.]+)", bench_code, re.MULTILINE)[1])
    page += [
        f"about {ms} ms a flow at {dims} on a shared {cores}-core {cpu_name}",
        f"`|w̃ + ŵ|² > {ratio} (|w̃|² + |ŵ|²) + {slack}` or `|∇û|² + |∇v̂|² > {b_ratio} |ŵ|² + {b_slack}`",
        f"with a {'quarter' if share == 4 else f'1/{share}'} of the evaluations of the loss the first frame made "
        "there",
        f"{(1 - zoom) * 100:.0f} % closer a frame",
    ]
    # The defaults at 256 and 512 px.
    at = {size: _record(f"video_{size}.json") for size in (256, 512)}
    for size, record in at.items():
        page += [_video_table(record), "    " + record["command"]]
        assert record["later_share"] == share and record["config"]["steps"] == config_module.Config().steps
        for clip, entry in record["clips"].items():
            frames = entry["methods"][method]["frames"]
            first, later = frames[0], frames[1:]
            most = -(-first["evaluations"] // share)  # the code's share of the first frame's evaluations
            assert all(f["evaluations"] <= most for f in later)
            seconds = [f["seconds"] for f in later]
            low, high = f"{min(seconds):.0f}", f"{max(seconds):.0f}"
            page.append(f"{size} px, {clip}: the first frame {first['seconds']:.0f} s ({first['steps']} steps, "
                        f"{first['evaluations']} evaluations), the later ones {low if low == high else f'{low} to {high}'}"
                        f" s ({min(f['steps'] for f in later)} to {max(f['steps'] for f in later)} steps, {most} "
                        "evaluations at most)")
    loads = [x for record in at.values() for x in record["load_average_at_start"] + record["load_average_at_end"]]
    page.append(f"(load average {min(loads):.1f} to {max(loads):.1f} at the starts and the ends")
    page.append(f"{at[256]['frames']} frames at 256 px and {at[512]['frames']} at 512 px")
    s256 = {c: e["summary"][method] for c, e in at[256]["clips"].items()}
    slowest = [f"{s['later_over_first']:.2f}" for r in at.values() for s in
               (e["summary"][method] for e in r["clips"].values())]
    met = max(s["later_over_first"] for r in at.values() for e in r["clips"].values()
              for s in [e["summary"][method]]) <= 1 / 3
    page += [
        "**warping error ≤ {}x independent: {}**, ".format(goals[0], "met" if all(
            s["vs_independent"]["warping_error_dis"] <= float(goals[0]) for s in s256.values()) else "not met")
        + words([f"{s['vs_independent']['warping_error_dis']:.3f}x" for s in s256.values()]) + " with DIS's flow",
        "**style loss ≤ {}x on every frame: {}**, at most ".format(goals[1], "met" if all(
            s["vs_independent"]["style_worst_frame"] <= float(goals[1]) for s in s256.values()) else "not met")
        + words([f"{s['vs_independent']['style_worst_frame']:.2f}x" for s in s256.values()]),
        "**the whole clip no slower: {}**, ".format("met" if all(s["vs_independent"]["seconds"] <= 1
                                                               for s in s256.values()) else "not met")
        + words([f"{s['vs_independent']['seconds']:.2f}x" for s in s256.values()]),
        f"**each later frame ≤ 1/3 of the first frame's time: {'met' if met else 'not met'}**: the slowest later "
        f"frame took " + words(slowest) + " of the first",
    ]
    mean_seconds = lambda frames: statistics.mean(f["seconds"] for f in frames)  # noqa: E731
    page.append("on average a later frame took " + words([
        f"{mean_seconds(e['methods'][method]['frames'][1:]) / mean_seconds(e['methods']['independent']['frames']):.2f}"
        for e in at[256]["clips"].values()]) + " of an independent frame")
    pan = at[256]["clips"]["pan"]["methods"][method]["frames"]
    page.append(f"({statistics.mean(f['evaluations'] / f['steps'] for f in pan[1:]):.2f} on average on the pan, "
                f"against the first frame's {pan[0]['evaluations'] / pan[0]['steps']:.2f})")
    # Choosing the temporal weight, at 128 px (version 0.2: later frames ran a third of config.steps).
    video = _record("video.json")
    page.append(_video_table(video))  # the whole table, as benchmarks/video.py prints it
    steps = video["config"]["steps"]
    temporal = {m: v for m, v in video["clips"]["pan"]["methods"].items() if m.startswith("temporal_")}
    later_steps = {f["steps"] for e in video["clips"].values() for m, v in e["methods"].items()
                   if m.startswith("temporal_") for f in v["frames"][1:]}
    assert max(later_steps) == steps // 3  # version 0.2's share of steps
    gammas = [float(m.removeprefix("temporal_")) for m in temporal]
    loads = video["load_average_at_start"] + video["load_average_at_end"]
    default = {c: e["summary"][method] for c, e in video["clips"].items()}
    page += [
        "    " + video["command"],
        f"{video['frames']} frames at {video['config']['size']} px, {steps} L-BFGS steps for the first frame and for "
        f"each independent frame, {steps // 3} for each later frame",
        f"(load average {min(loads):.1f} to {max(loads):.1f} at the start and the end",
        f"(the warping error over frames 2 to {video['frames']})",
        f"with the default γ = {short(float(weight))} (`nst.video.clip.TEMPORAL_WEIGHT`)",
        "cut the warping error to " + words([f"{s['vs_independent']['warping_error_true']:.3f}x"
                                             for s in default.values()]) + " of the independent frames' with the "
        "true flow (" + ", ".join(f"{s['vs_independent']['warping_error_dis']:.3f}x" for s in default.values())
        + " with DIS's), with a style loss at most "
        + words([f"{s['vs_independent']['style_worst_frame']:.2f}x" for s in default.values()]) + " theirs",
        f"γ = {short(max(gammas))} holds the frames still more tightly but raises the style loss past {goals[1]}x",
        f"So the default is {short(float(weight))}.",
        f"independent, γ = {', '.join(short(w) for w in gammas)})",
        f"gets only the later frames' {steps // 3} steps",
    ]
    return found


def _grid_limit() -> str:
    """The limit tests/test_quality_metrics.py holds a faint grid above."""
    return re.search(r"photo\) > ([\d.]+)", (ROOT / "tests" / "test_quality_metrics.py").read_text())[1]


def _strength_sentences(defaults) -> list[str]:
    """The strength's settings as nst.balance and notebook 4 have them: the default, the quarters, the formula."""
    balance = (ROOT / "nst" / "balance.py").read_text()
    assert re.search(r"^SHARPNESS = 2\.0", balance, re.MULTILINE)  # the squares below
    strengths = re.search(r"strengths = \(([\d., ]+)\)", (ROOT / "notebooks" / "04_controls.ipynb").read_text())[1]
    assert [s.strip() for s in strengths.split(",")] == ["0.0", "0.25", "0.5", "0.75", "1.0"]
    assert defaults.strength == 0.5
    return ["at strengths 0, 0.25, 0.5, 0.75 and 1", "(2(1 − s))² and the style weight by (2s)²",
            "0.25 and 0.75 lie as far from 0.5", "that 0.25 and 0.75 lie within 3x of each other's distance from 0.5",
            "One number from 0 (the photo) to 1", "(at 0 the photo comes back untouched)", "(at 1 there is none)",
            "Notebook 4 shows one pair at five"]


def _quality_sentences(q512: dict, quality) -> list[str]:
    """docs/quality.md's sentences made from the 512 px gallery and the floor's record (as /tmp-free as the page)."""
    d, b = q512["settings"]["defaults"]["results"], q512["settings"]["before"]["results"]
    med = lambda rows, k: statistics.median(r[k] for r in rows)  # noqa: E731
    key = lambda r: (r["photo"], r["painting"])  # noqa: E731
    before = {key(r): r for r in b}
    lowest, lowest_before = min(d, key=lambda r: r["ssim"]), min(b, key=lambda r: r["ssim"])
    floor = _record("floor_512.json")
    config = q512["settings"]["defaults"]["config"]
    seconds = (med(d, "seconds"), statistics.median(before[key(r)]["seconds"] for r in d))
    steps = (sum(r["steps"] for r in d), sum(before[key(r)]["steps"] for r in d))
    per_step = (sum(r["seconds"] for r in d) / steps[0], sum(before[key(r)]["seconds"] for r in d) / steps[1])
    loads = [r["load"] for r in d + b]
    change = seconds[0] / seconds[1] - 1
    hubble = next(r for r in d if key(r) == ("chelsea", "hubble_deep_field"))
    return [
        f"the cat was gone (SSIM {before[('chelsea', 'hubble_deep_field')]['ssim']:.3f})",
        f"filled the rocket's dusk\n({before[('rocket', 'starry_night')]['ssim']:.3f})",
        f"Over the\n{len(floor['outputs'])} outputs",
        f"(correlation {floor['correlation_with_ssim']['block5_conv2']:+.2f})",
        f"({floor['correlation_with_ssim']['block3_conv2']:+.2f};",
        f"(default {config['content_floor']})",
        f"SSIM: median {med(d, 'ssim'):.3g}, lowest {lowest['ssim']:.3f} ({lowest['photo']} × {lowest['painting']}); "
        f"before, {med(b, 'ssim'):.3g} and {lowest_before['ssim']:.3f} ({lowest_before['photo']} × "
        f"{lowest_before['painting']})",
        f"Palette {med(d, 'palette'):.3g}, speckle {med(d, 'speckle'):.3g}, and the style distance "
        f"{1 / med(d, 'style'):.0f}x below the photo's",
        f"at most {max(r['grid'] for r in d):.2f} of the photo's own on every pair",
        f"median {seconds[0]:.0f} s against {seconds[1]:.0f} s before on the same {len(d)} pairs",
        f"{abs(change) * 100:.0f} % {'faster' if change <= 0 else 'slower'}: {'met' if change <= 0 else 'not met'}",
        f"({steps[0]} steps against {steps[1]} in all, {per_step[0]:.2f} s against {per_step[1]:.2f} s a step)",
        f"load average over the minute before each run {min(loads):.1f} to {max(loads):.1f}",
        f"is\n{hubble['style']:.3g} of the photo's, the gallery's highest",
        f"(the lowest SSIM,\n{lowest['ssim']:.3f})",
    ]


# Numbers that are not measurements, each with why. Matched text is taken out before numbers are counted.
ALLOWED = [
    r"\]\([^)]*\)", r"https?://\S+",                       # link targets and addresses
    r"\b\d+(?:\.\d+)? ?px\b",                             # sizes: 512 px, 16 px (settings, not measurements)
    r"\b\d+ ?[×x] ?\d+\b",                                # image dimensions: 512×342, 3×3
    r"\b\d+(?: → \d+)+",                                  # a coarse-to-fine schedule: 512 → 1024 → 2048
    r"--[a-z][\w-]*(?: -?\d[\d.e+-]*(?:GB)?\b)+",         # a command's flags: --size 256, --style-blend 0.7 0.3
    r"\b\w+==?[\d.]+",                                    # keyword arguments and variables: steps=200, NST_QUICK=1
    r"\b(?:CVPR|GCPR) 20\d\d\b|\(20\d\d\)",               # the papers' years
    r"\bt−1\b",                                           # the frame before frame t, a name
    r"\(D = H·W·3\)",                                     # a count's formula: 3 colour channels
    r"\bCC BY \d\.\d\b",                                  # licence versions
    r"\bAVX-512\b|\bcompute capability \d+\.\d\b|\b\d+-bit\b",  # hardware and file formats
    r"\bnotebooks? \d+(?: to \d+)?\b|\bscreens \d+ and \d+\b",  # names of notebooks and quality screens
    r"√2",                                                # a step factor, named
    r"\[0, 1\]|\bfrom 0 to 1\b|\b[01](?= elsewhere|:)|\babove 1\b",  # the unit interval and ratios' reference
    r"\b[12] gives strokes|\b0\.5 half as large|\bscale 0\.5, 1 and 2\b",  # --style-scale's meaning, in words
    r"\(80 steps at each",                                # the flag --steps 80 of the same caption, in words
    r"− 2 \(",                                            # the Wasserstein-2 distance's formula
    r"\bA_l\b|\b\w+_\w+\b",                               # identifiers: block5_conv2, quality_512.json
    r"(?m)^\d+\. ",                                        # the numbered steps of an ordered list: 1., 2.
    r"\bTensorFlow\s\d+\.\d+\b|\bKeras\s\d+\.\d+\b",        # Colab's versions, named (nst pins its own)
]
NUMBER = re.compile(r"(?<![\w./#=^-])(\d+(?:\.\d+)*(?:e[+-]?\d+)?)x?(?![\w/])")


def unchecked_numbers(page: str, text: str) -> list[str]:
    """The numbers of ``text`` that are neither a non-measurement nor among the numbers of the page's fragments."""
    known = {n for fragment in fragments()[page] for n in NUMBER.findall(fragment)}
    stripped = text
    for pattern in ALLOWED:
        stripped = re.sub(pattern, " ", stripped)
    return [f"{number!r} in: {line.strip()[:120]}" for line in stripped.splitlines()
            for number in NUMBER.findall(line) if number not in known]


def _text(page: str) -> str:
    return (ROOT / page).read_text()


@pytest.mark.parametrize("page", PAGES)
def test_each_figure_stands_as_its_record_has_it(page):
    """Each fragment made from a record is in its page (line breaks of the prose count as spaces)."""
    text = " ".join(_text(page).split())
    missing = [fragment for fragment in fragments()[page] if " ".join(fragment.split()) not in text]
    assert not missing, f"{page}: not as the records have it (update the page from its record):\n" + "\n".join(missing)


@pytest.mark.parametrize("page", PAGES)
def test_every_number_comes_from_a_record(page):
    unchecked = unchecked_numbers(page, _text(page))
    assert not unchecked, (f"{page}: numbers that no record gives (quote a record and add it to FRAGMENTS, or "
                           f"leave the number out):\n" + "\n".join(unchecked))


def test_a_stale_or_typed_in_number_is_caught():
    """The check above fails on the figures the old README had: a demo time, a test count, a suite time."""
    for stale in ("The demo took 136 s.", "302 tests pass in 9 to 16 min.", "17 to 19 minutes on 2 cores",
                  "the print took 1297 s", "a speed-up of 7.6x", "peak 14.2 GB"):
        assert unchecked_numbers("README.md", stale), stale
    assert unchecked_numbers("docs/speed.md", "peak 14.2 GB") and not unchecked_numbers("docs/speed.md", "14.1 GB")
    # teaching.md: a grading time or a limit that timings.json and nst/classroom do not give
    for stale in ("one notebook alone | 61 s", "a 512 MB tmpfs", "| 300 s |", "TensorFlow 2.20 took 9 s"):
        assert unchecked_numbers("docs/teaching.md", stale), stale
    # video.md: the figures no record gives (peak memory, DIS's share of the motion), a load average changed
    for stale in ("peak resident memory was 1050 MB for 8 frames and 1042 MB for 32", "DIS finds 3.6 of the 4 px",
                  "load average 4.2 to 6.2", "at most 1.08x"):
        assert unchecked_numbers("docs/video.md", stale), stale


def test_every_machine_named_is_a_records_machine():
    """'2-core AMD EPYC', '2-core Intel Xeon': only the machines the records (timings.json's too) were measured on."""
    devices = {_record(p.name)["device"] for p in RESULTS.glob("*.json")}
    devices |= {re.search(r"on (.+) at \d+ px", h)[1] for h in notebook_headers().values()}
    machines = {machine(d) for d in devices}
    timings = json.loads((ROOT / "notebooks" / "assignments" / "timings.json").read_text())["machine"]
    machines.add(re.match(r"(\d+-core [\w ]+?), no GPU", timings)[1])  # the grading times' machine
    for page in PAGES:
        named_machines = re.findall(r"\b\d+-core (?!CPU\b)[A-Z][\w ]*?(?= CPU\b| ?[,;.)|]| \(|$)", _text(page),
                                    re.MULTILINE)
        for named in named_machines:
            assert named in machines, f"{page}: {named!r} is not the machine of any record ({sorted(machines)})"


def test_no_first_person_and_no_words_about_the_work():
    for page in PAGES:
        text = _text(page)
        for phrase in (r"(?<!-)\bI\b(?! and Q)",  # YIQ's I and Q are channels; python -I is a flag
                       r"\bI'm\b", r"\bmy\b", r"\bwe\b", r"this project's machine", r"the issue's",
                       r"\bthis machine\b(?!'s [\d.]+ GB of RAM)", r"\bthis (?:2-core )?CPU\b", r"\bhere\b"):
            found = re.search(phrase, text, re.IGNORECASE if phrase.startswith(r"\bwe") else 0)
            assert not found, f"{page}: {found[0]!r} at {text[:found.start()].count(chr(10)) + 1}"


def test_the_readme_is_short_and_links_the_docs():
    readme = _text("README.md")
    assert len(readme.splitlines()) <= 200
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", readme))
    pages = {p for p in PAGES if p.startswith("docs/")}
    assert pages <= linked, f"docs pages the README does not link: {sorted(pages - linked)}"


@pytest.mark.parametrize("page", PAGES)
def test_every_local_link_and_picture_exists(page):
    """Relative paths are from the page's folder (docs/ for the pages, moved there from the README)."""
    base = (ROOT / page).parent
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[\w-]+)?\)", _text(page)):
        if "://" in target or target == "docs/teaching.md" or target == "teaching.md":
            continue  # addresses; docs/teaching.md comes with the teaching guide's own change
        assert (base / target).exists(), f"{page}: {target} does not exist"
