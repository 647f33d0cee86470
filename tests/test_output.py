"""What the command line prints and writes, as a newcomer and a log file see it."""

import io
import json
import os
import re
import subprocess
import sys
import types

from nst.cli import build_parser, main

RUN = [sys.executable, "-m", "nst"]


def test_bad_arguments_and_missing_files_are_refused_before_tensorflow_loads(tmp_path, content_path):
    probe = ("import sys\nfrom nst.cli import main\n"
             f"codes = [main(['missing.jpg', {str(content_path)!r}]), main([{str(content_path)!r}]),\n"
             f"         main([{str(content_path)!r}, {str(content_path)!r}, '--size', '0']),\n"
             f"         main([{str(content_path)!r}, {str(content_path)!r}, '-o', 'out.gif'])]\n"
             "print(codes, 'tensorflow' in sys.modules)\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert run.stdout == "[2, 2, 2, 2] False\n", run.stderr
    assert len(run.stderr.splitlines()) == 4 and all(line.startswith("nst: error: ") for line in run.stderr.splitlines())


def test_help_states_each_default_once():
    for action in build_parser()._actions:
        assert (action.help or "").count("(default:") <= 1, action.help


def _run(tmp_path, *args, **kwargs) -> subprocess.CompletedProcess:
    """The real command, its progress redirected to a file as in a log, CI or nohup."""
    log = tmp_path / "log.txt"
    with open(log, "w") as err:
        process = subprocess.run([*RUN, *args], stdout=subprocess.PIPE, stderr=err, text=True, cwd=tmp_path,
                                 env={**os.environ, "PYTHONUNBUFFERED": "1"}, **kwargs)
    process.stderr = log.read_text()
    return process


def test_redirected_progress_is_a_few_plain_lines_ending_at_100_percent_with_the_reason(tmp_path, content_path,
                                                                                       style_path):
    # A tolerance of 0.99 ends the run early, before its 60 steps.
    run = _run(tmp_path, str(content_path), str(style_path), "-o", "out.png", "--size", "32", "--steps", "60",
               "--tolerance", "0.99")
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    bar = [line for line in lines if line.startswith("china.jpg x great_wave.jpg: ")]
    assert "\r" not in run.stderr and "step/s" not in run.stderr and "0step" not in run.stderr  # no tqdm redraws
    assert 2 <= len(bar) <= 12  # a line per tenth of the work at most, and the last
    percents = [int(re.search(r": +(\d+)%", line).group(1)) for line in bar]
    assert percents == sorted(percents) and percents[-1] == 100
    record = json.loads((tmp_path / "out.json").read_text())
    assert record["steps"] < 60 and f"{record['steps']} steps in " in bar[-1]
    assert "ended after" in bar[-1] and record["stopped"] in bar[-1]


def test_steps_are_counted_one_way_in_the_saved_line_the_note_the_metrics_and_the_history(tmp_path, content_path,
                                                                                          style_path, capsys):
    assert main([str(content_path), str(style_path), "-o", str(tmp_path / "out.png"), "--size", "32",
                 "--steps", "60", "--tolerance", "0.99"]) == 0
    err = capsys.readouterr().err
    record = json.loads((tmp_path / "out.json").read_text())
    steps = record["steps"]
    assert steps == record["history"][-1]["step"] == len(record["history"]) - 1  # entries for steps 0 ... N
    assert f": {steps} steps in " in err and f"best at step {record['final']['step']}" in err
    assert f"32 px ended after {steps} of its 60 steps" in err


def test_every_picture_gets_its_metrics_beside_it_unless_told_not_to(tmp_path, content_path, style_path):
    common = [str(content_path), str(style_path), "--size", "32", "--steps", "2"]
    assert main([*common, "-o", str(tmp_path / "a.png")]) == 0
    assert json.loads((tmp_path / "a.json").read_text())["output"] == str(tmp_path / "a.png")
    assert main([*common, "-o", str(tmp_path / "b.png"), "--no-metrics"]) == 0
    assert (tmp_path / "b.png").exists() and not (tmp_path / "b.json").exists()
    assert main([*common, "-o", str(tmp_path / "c.png"), "--metrics", str(tmp_path / "elsewhere.json")]) == 0
    assert (tmp_path / "elsewhere.json").exists() and not (tmp_path / "c.json").exists()


class Terminal:
    """A terminal: a progress bar is redrawn in place there."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def test_in_a_terminal_the_bar_is_redrawn_in_place_and_a_run_that_ends_early_ends_at_100_percent(content_path,
                                                                                                  style_path):
    from nst import Config, ProgressBar, stylize

    terminal = Terminal()
    config = Config(size=32, steps=60, tolerance=0.99, weights=None, precision="float32")
    result = stylize(content_path, style_path, config, callback=ProgressBar(desc="x", file=terminal, mininterval=0))
    assert result.steps < 60 and result.stopped_note.startswith("32 px ended after")
    last = terminal.text.split("\r")[-1]
    assert "\r" in terminal.text and last.startswith("x: 100%") and result.stopped in last


def test_in_jupyter_the_bar_is_a_widget(monkeypatch):
    from nst.progress import interactive

    import IPython

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not interactive(None)  # pytest has imported ipykernel (nbval), but this is no kernel
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=object()))  # as in a notebook
    assert interactive(None)
    assert not interactive(io.StringIO())
