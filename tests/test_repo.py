"""One home for the repository's address: every badge and clone line agrees with pyproject.toml."""

import re

import nbformat
import pytest

from nst import repo

NOTEBOOKS = sorted((repo.ROOT / "notebooks").rglob("*.ipynb"))


def test_the_address_comes_from_pyproject():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repo.url())
    assert f'Repository = "{repo.url()}"' in (repo.ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("path", repo.linked_files(), ids=lambda p: p.name)
def test_every_badge_and_clone_line_points_at_it(path):
    text = path.read_text()
    colab = repo.COLAB.findall(text)
    assert colab or path.suffix != ".ipynb", "a notebook without an Open in Colab badge"
    assert set(colab) <= {repo.colab_url("")}
    assert set(repo.CLONE.findall(text)) <= {repo.clone_url()}
    for target in re.findall(re.escape(repo.colab_url("")) + r"([\w./-]+\.ipynb)", text):
        assert (repo.ROOT / target).is_file(), f"{path.name}: a badge opens {target}, which is not in the repository"
    assert repo.relink(text) == text  # python -m nst.repo has nothing to change


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_opens_itself_in_colab_and_starts_with_the_setup_cell(path):
    book = nbformat.read(path, as_version=4)
    relative = path.relative_to(repo.ROOT)
    assert repo.colab_badge(str(relative)) in book.cells[0].source
    first = next(cell for cell in book.cells if cell.cell_type == "code")
    assert first.source.startswith(repo.setup_cell(str(relative.parent)))


def test_publishing_elsewhere_is_one_line_and_one_command(monkeypatch):
    monkeypatch.setattr(repo, "url", lambda: "https://github.com/someone/nst-fork")
    for path in repo.linked_files():
        text = repo.relink(path.read_text())
        assert "nst-course/nst" not in text
    assert "https://github.com/someone/nst-fork.git" in repo.setup_cell("notebooks")
    assert repo.colab_badge("notebooks/x.ipynb").endswith(
        "(https://colab.research.google.com/github/someone/nst-fork/blob/main/notebooks/x.ipynb)")
