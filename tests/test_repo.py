"""One home for the repository's address: every badge and clone line agrees with pyproject.toml."""

import re

import nbformat
import pytest

from nst import repo

LESSONS = sorted((repo.ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ASSIGNMENTS = sorted((repo.ROOT / "notebooks" / "assignments").glob("[!s]*/*.ipynb"))  # source/, student/
SUBMISSIONS = repo.ROOT / "notebooks" / "assignments" / "submissions"  # students' copies: the student badge


def test_the_address_comes_from_pyproject():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repo.url())
    assert f'Repository = "{repo.url()}"' in (repo.ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("path", repo.linked_files(), ids=lambda p: p.name)
def test_every_badge_and_clone_line_points_at_it(path):
    text = path.read_text()
    colab = repo.COLAB.findall(text)
    assert colab or path.suffix != ".ipynb" or path.parent == SUBMISSIONS, "a notebook without an Open in Colab badge"
    assert set(colab) <= {repo.colab_url("")}
    assert set(repo.CLONE.findall(text)) <= {repo.clone_url()}
    for target in re.findall(re.escape(repo.colab_url("")) + r"([\w./-]+\.ipynb)", text):
        assert (repo.ROOT / target).is_file(), f"{path.name}: a badge opens {target}, which is not in the repository"
    assert repo.relink(text) == text  # python -m nst.repo has nothing to change


@pytest.mark.parametrize("path", LESSONS + ASSIGNMENTS, ids=lambda p: str(p.relative_to(repo.ROOT / "notebooks")))
def test_each_notebook_opens_itself_in_colab(path):
    book = nbformat.read(path, as_version=4)
    assert repo.colab_badge(str(path.relative_to(repo.ROOT))) in book.cells[0].source


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_lesson_starts_with_the_setup_cell(path):
    first = next(cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    extra = "video" if path.name.startswith("05_video") else ""  # the video lesson needs OpenCV and ffmpeg too
    assert first.source.startswith(repo.setup_cell("notebooks", extra))


def test_publishing_elsewhere_is_one_line_and_one_command(monkeypatch):
    monkeypatch.setattr(repo, "url", lambda: "https://github.com/someone/nst-fork")
    for path in repo.linked_files():
        text = repo.relink(path.read_text())
        assert "nst-course/nst" not in text
    assert "https://github.com/someone/nst-fork.git" in repo.setup_cell("notebooks")
    assert repo.colab_badge("notebooks/x.ipynb").endswith(
        "(https://colab.research.google.com/github/someone/nst-fork/blob/main/notebooks/x.ipynb)")
