"""The demo as a newcomer runs it: its first line's time estimate against the time it then takes, and the bar.

    python benchmarks/demo.py            # `python -m nst` in a fresh folder, output redirected to a file (about 5 min)
    python benchmarks/demo.py --terminal # the same in a pseudo-terminal (`script`), as a person at a shell sees it

Runs ``python -m nst`` (the two demo pairs of data/, the defaults) in a new process and folder, so that the figures
include starting Python, TensorFlow and VGG19, as a user's run does. The estimate is the "about N min" of the first
line (``nst.plan.estimated_seconds``); the real time is the whole process's wall time. Writes
``benchmarks/results/demo.json`` (the machine; per mode the estimate, the time, their ratio, the load average at the
end, the steps and seconds of each pair) and the output as it printed, ``demo_terminal.txt`` or ``demo_redirected.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def run_demo(terminal: bool) -> tuple[str, float, Path]:
    """The demo's output (stderr, where nst prints), its wall time, and the folder it wrote to."""
    folder = Path(tempfile.mkdtemp(prefix="nst-demo-"))
    command = [sys.executable, "-m", "nst"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    if terminal:  # util-linux's script: a pseudo-terminal, so that the bar is drawn in place as in a shell
        log = folder / "typescript"  # the terminal's size is set: a pseudo-terminal of none gets no bar from tqdm
        subprocess.run(["script", "--quiet", "--return", "--command", f"stty cols 120 rows 40; {' '.join(command)}",
                        str(log)], cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL)
        output = log.read_text(errors="replace")
    else:
        output = subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True, text=True).stderr
    return output, time.perf_counter() - start, folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--terminal", action="store_true", help="run it in a pseudo-terminal")
    args = parser.parse_args()
    output, seconds, folder = run_demo(args.terminal)
    minutes = int(re.search(r"about (\d+) min on this machine", output)[1])
    pairs = {}
    for metrics in sorted((folder / "outputs").glob("*.json")):
        record = json.loads(metrics.read_text())
        pairs[metrics.stem] = {"steps": record["steps"], "seconds": record["seconds"], "stopped": record["stopped"]}
        device = record["device"]
    name = "terminal" if args.terminal else "redirected"
    (RESULTS / f"demo_{name}.txt").write_text(output)
    record_path = RESULTS / "demo.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    record["device"] = device
    record[name] = {"estimate_minutes": minutes, "seconds": round(seconds, 1),
                    "ratio": round(seconds / (60 * minutes), 2), "load_average_at_end": os.getloadavg(), "pairs": pairs}
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record[name], indent=1))


if __name__ == "__main__":
    main()
