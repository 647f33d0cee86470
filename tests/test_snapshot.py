"""Snapshots and --resume: a stopped run, continued, ends exactly where the run that never stopped ends."""

import dataclasses
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nst import Config, stylize
from nst.cli import main
from nst.snapshot import Snapshot

TWO_SIZES = Config(size=48, start_size=24, steps=6, tolerance=0.0)  # 24 px, then 48 px; 6 steps each


def _stop_at(steps: set[int]):
    def callback(step, losses, image):
        if step in steps:
            steps.discard(step)  # once: step 6 is both the last at 24 px and the first at 48 px
            raise KeyboardInterrupt
    return callback


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("stops", [{3}, {0, 8}, {6, 12}], ids=["mid-size", "first-step-and-second-size",
                                                               "end-of-each-size"])
def test_a_resumed_run_ends_on_the_same_image(tmp_path, content_path, style_path, optimizer, stops):
    config = dataclasses.replace(TWO_SIZES, optimizer=optimizer)
    whole = stylize(content_path, style_path, config)
    callback = _stop_at(set(stops))
    result = stylize(content_path, style_path, config, callback=callback)
    for _ in stops:
        assert result.interrupted and result.snapshot is not None
        result.snapshot.save(tmp_path / "run.snapshot.npz")  # through the file, as the CLI does
        result = stylize(content_path, style_path, config, callback=callback,
                         resume=Snapshot.load(tmp_path / "run.snapshot.npz"))
    assert not result.interrupted and result.snapshot is None
    assert [e["step"] for e in result.history] == [e["step"] for e in whole.history]
    assert [e["total"] for e in result.history] == [e["total"] for e in whole.history]
    np.testing.assert_array_equal(result.image.numpy(), whole.image.numpy())


def test_a_resumed_run_on_root_two_sizes_from_the_palette_start_ends_on_the_same_image(content_path, style_path):
    """The defaults' objective (Wasserstein, L2 smoothness, palette start) on three sizes 24, 34 and 48 px,
    stopped in each: the schedule of sizes and the start come back from the snapshot's config."""
    config = Config(size=48, start_size=24, size_step=2 ** 0.5, steps=6, tolerance=0.0)
    whole = stylize(content_path, style_path, config)
    assert whole.sizes == [(16, 24), (23, 34), (32, 48)]
    callback, result = _stop_at({2, 9, 15}), None
    for _ in range(3):
        result = stylize(content_path, style_path, config, callback=callback,
                         resume=None if result is None else result.snapshot)
        assert result.interrupted
    result = stylize(content_path, style_path, config, resume=result.snapshot)
    assert [e["total"] for e in result.history] == [e["total"] for e in whole.history]
    np.testing.assert_array_equal(result.image.numpy(), whole.image.numpy())


def test_periodic_snapshots_resume_too(content_path, style_path):
    config = dataclasses.replace(TWO_SIZES, optimizer="adam")
    snapshots: list[Snapshot] = []
    whole = stylize(content_path, style_path, config, snapshot_every=4, on_snapshot=snapshots.append)
    assert [s.step for s in snapshots] == [4, 8, 12]
    assert [s.size_index for s in snapshots] == [0, 1, 1]
    resumed = stylize(content_path, style_path, config, resume=snapshots[0])
    np.testing.assert_array_equal(resumed.image.numpy(), whole.image.numpy())


def test_a_snapshot_continues_only_the_same_run(content_path, style_path, tmp_path):
    result = stylize(content_path, style_path, TWO_SIZES, callback=_stop_at({2}))
    snapshot = result.snapshot
    with pytest.raises(ValueError, match="other content or style"):
        stylize(content_path, content_path, TWO_SIZES, resume=snapshot)
    with pytest.raises(ValueError, match="style_weight=3000.0, not 1.0"):
        stylize(content_path, style_path, dataclasses.replace(TWO_SIZES, style_weight=1.0), resume=snapshot)
    longer = stylize(content_path, style_path, dataclasses.replace(TWO_SIZES, steps=8), resume=snapshot)
    assert longer.history[-1]["step"] == 16  # steps may change: 8 at each size
    (tmp_path / "bad.npz").write_text("not a snapshot")
    with pytest.raises(ValueError, match="cannot read the snapshot"):
        Snapshot.load(tmp_path / "bad.npz")


def _nst(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "nst", *map(str, args)], stderr=subprocess.PIPE, text=True,
                            cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1", "TF_DETERMINISTIC_OPS": "1"})


def test_cli_resume_after_ctrl_c_writes_the_same_file(tmp_path, content_path, style_path):
    flags = ["--size", "64", "--steps", "60", "--tolerance", "0", "--save-every", "5"]
    whole = _nst(content_path, style_path, "-o", tmp_path / "whole.png", *flags, cwd=tmp_path)
    assert whole.wait(timeout=300) == 0, whole.stderr.read()

    out = tmp_path / "out.png"
    stopped = _nst(content_path, style_path, "-o", out, *flags, cwd=tmp_path)
    deadline = time.time() + 120
    while not (tmp_path / "out_step5.png").exists() and time.time() < deadline:
        time.sleep(0.02)
    stopped.send_signal(signal.SIGINT)
    _, err = stopped.communicate(timeout=60)
    assert stopped.returncode == 130, err
    assert "--resume continues from" in err and (tmp_path / "out.snapshot.npz").exists()

    assert main([str(content_path), str(style_path), "-o", str(out), "--resume", "--size", "32"]) == 2
    resumed = _nst(content_path, style_path, "-o", out, "--resume", "--steps", "60", cwd=tmp_path)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert not (tmp_path / "out.snapshot.npz").exists()  # finished: nothing left to resume
    assert out.read_bytes() == (tmp_path / "whole.png").read_bytes()
    assert main([str(content_path), str(style_path), "-o", str(out), "--resume"]) == 0  # done before: skipped


def test_cli_resume_without_a_snapshot_is_one_line(tmp_path, content_path, style_path, capsys):
    assert main([str(content_path), str(style_path), "-o", str(tmp_path / "new.png"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nst: error: no snapshot") and err.count("\n") == 1
