"""Execute the notebooks in full mode and save them clean, as they are committed.

    python notebooks/execute.py                  # all of them
    python notebooks/execute.py 02_style_reconstruction.ipynb

Outputs are kept (readers see results on GitHub); execution counts are renumbered 1..N, and
machine-specific metadata and TensorFlow's C++ start-up log lines are removed, as
tests/test_notebooks.py checks. The header's "**Run time:**" line gets this run's time and device.
"""

import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from nst.quiet import TF_LOG  # TensorFlow's C++ start-up lines, in case a cell imported it before nst
from nst.result import device_name

HERE = Path(__file__).resolve().parent
RUN_TIME = re.compile(r"^\*\*Run time:\*\*.*$", re.MULTILINE)


def clean(book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    # Execution counts are renumbered 1, 2, 3... rather than removed: nbval refuses a cell that has
    # outputs but no count ("unrun reference cell"), and 1..N in order shows one top-to-bottom run.
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    for count, cell in enumerate(code, start=1):
        cell.execution_count = count
        for output in cell.outputs:
            if "execution_count" in output:
                output.execution_count = count
    for cell in book.cells:
        cell.metadata = {key: value for key, value in cell.metadata.items() if key in ("tags",)}
        if cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.text = TF_LOG.sub("", output.text)
            cell.outputs = [o for o in cell.outputs if o.output_type != "stream" or o.text]
    book.metadata.pop("widgets", None)
    book.metadata["language_info"] = {"name": "python"}
    return book


def full_size(book: nbformat.NotebookNode) -> str:
    """The size (and the frames) a lesson runs at in full mode, from its ``SIZE, [FRAMES,] STEPS = ...`` line."""
    source = "\n".join(cell.source for cell in book.cells if cell.cell_type == "code")
    found = re.search(r"SIZE, (?:FRAMES, )?STEPS = \(.*\) if QUICK else \((\d+), (?:(\d+), )?\d+\)", source)
    return f"{found[1]} px" + (f", {found[2]} frames" if found[2] else "")


def stamp_run_time(book: nbformat.NotebookNode, seconds: float) -> None:
    """Write the measured run time into the header's "**Run time:**" line: the number has one source, this run."""
    line = (f"**Run time:** {seconds // 60:.0f} min {seconds % 60:.0f} s for the outputs below, on {device_name()} at "
            f"{full_size(book)}; less on a GPU.")
    header = book.cells[0]
    header.source, found = RUN_TIME.subn(line, header.source)
    if not found:
        raise ValueError("the first cell has no '**Run time:**' line")


def main(names: list[str]) -> None:
    os.environ.pop("NST_QUICK", None)
    for path in [HERE / name for name in names] or sorted(HERE.glob("[0-9][0-9]_*.ipynb")):
        start = time.perf_counter()
        book = nbformat.read(path, as_version=4)
        NotebookClient(book, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
        stamp_run_time(book, time.perf_counter() - start)
        nbformat.write(clean(book), path)
        print(f"{path.name}: {time.perf_counter() - start:.0f} s, {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
