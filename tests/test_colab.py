"""The notebooks' first cell, as Colab runs it: a kernel with TensorFlow but no nst, and no restart."""

import nbformat

from kernels import run_in_kernel
from nst import repo

FIRST_CELL = next(cell.source for cell in nbformat.read(repo.ROOT / "notebooks" / "01_content_reconstruction.ipynb",
                                                        as_version=4).cells if cell.cell_type == "code")


def _streams(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def test_the_first_cell_clones_installs_and_imports_nst_in_the_same_kernel(bare_python, tmp_path):
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir(), home.mkdir()
    book = run_in_kernel(bare_python, [FIRST_CELL, "import os; print(nst.__file__); print(os.getcwd())"], work,
                         {"NST_SOURCE": str(repo.ROOT), "HOME": str(home)})
    errors = [o for cell in book.cells for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors[0].evalue if errors else ""
    module, cwd = _streams(book.cells[1]).split()
    assert module.startswith(str(bare_python.parent.parent))  # the package installed into the bare environment
    assert cwd == str(home / "nst" / "notebooks")  # where ../data/ is
    assert "TensorFlow" in _streams(book.cells[0]) and "cuInit" not in _streams(book.cells[0])


def test_a_clone_that_fails_says_so_in_one_line(bare_python, tmp_path):
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir(), home.mkdir()
    book = run_in_kernel(bare_python, [FIRST_CELL], work, {"NST_SOURCE": str(tmp_path / "nowhere"), "HOME": str(home)})
    (error,) = [o for o in book.cells[0].outputs if o.output_type == "error"]
    assert error.ename == "SystemExit"
    assert error.evalue.startswith(f"nst setup: could not clone {tmp_path / 'nowhere'}: ")
    assert "\n" not in error.evalue and "does not exist" in error.evalue
