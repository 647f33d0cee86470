"""Numbers quoted in the README agree with the benchmark results they come from (one source each)."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SPEED = json.loads((ROOT / "benchmarks" / "results" / "speed_512.json").read_text())


def test_the_2048_px_run_is_quoted_as_measured():
    large = SPEED["large"]
    seconds, peak_gb = round(large["seconds"]), round(large["peak_mb"] / 1024, 1)
    assert large["shape"] == [2048, 2048]
    assert f"completed in {seconds} s with a peak resident memory of {peak_gb} GB" in README
    assert f"2048 × 2048 peaks at {peak_gb} GB" in README


def test_the_speed_table_is_quoted_as_measured():
    table = SPEED["table"]
    recipe_seconds = round(float(table["reference: wall time"].split()[0]))
    nst_seconds = round(float(table["nst run (Config.preset('tutorial'))"].split()[0]))
    objective = float(table["reference: final objective"])
    assert f"| wall time | {recipe_seconds} s for 1000 steps | {nst_seconds} s for its 300 steps |" in README
    assert f"| objective at the end | {objective:.4g}".replace("e+06", "e6") in README


def test_the_quality_table_is_quoted_as_measured():
    """Each setting's row of ``benchmarks/quality.py``'s table, from its record, stands in the README as it is."""
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    record = json.loads((ROOT / "benchmarks" / "results" / "quality_512.json").read_text())
    rows = quality.table({name: entry["results"] for name, entry in record["settings"].items()}).splitlines()[2:]
    assert {"tutorial", "defaults"} <= set(record["settings"]) and len(record["settings"]["defaults"]["results"]) >= 12
    for row in rows:
        assert row in README


def test_the_print_size_table_is_quoted_as_measured():
    """``benchmarks/memory.py``'s table, from its record, stands in the README row by row; the issue's targets hold."""
    spec = importlib.util.spec_from_file_location("memory_benchmark", ROOT / "benchmarks" / "memory.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    cases = json.loads((ROOT / "benchmarks" / "results" / "memory.json").read_text())["cases"]
    for row in benchmark.table(cases).splitlines()[2:]:
        assert row in README
    assert cases["print_4096"]["peak"] < 8e9 and "4096x4096 in" in cases["print_4096"]["plan"]
    assert cases["tiled_2048_3GB"]["peak"] < 3.6e9 and cases["tiled_2048_gpu16"]["peak"] < 6e9
    assert all(abs(case["estimate_error"]) <= 0.2 for case in cases.values())
