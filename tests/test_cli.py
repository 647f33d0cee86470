"""The command line: each bad input gets one line and exit code 2; outputs are complete or absent."""

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nst import Config, load_image, style_content_loss
from nst.balance import content_floor
from nst.cli import main
from nst.losses import Functions
from nst.objective import extractor_for, objective_for, style_targets_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bad_files(tmp_path, content_path):
    (tmp_path / "text.jpg").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "cut.jpg").write_bytes(content_path.read_bytes()[:3000])
    (tmp_path / "a dir").mkdir()
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["{tmp}/missing.jpg", "{style}"], "does not exist"),
    (["{tmp}/text.jpg", "{style}"], "is not an image"),
    (["{content}", "{tmp}/empty.png"], "is not an image"),
    (["{content}", "{tmp}/cut.jpg"], "could not be decoded"),
    (["{content}", "{tmp}/a dir"], "is a directory"),
    (["{content}", "{style}", "--size", "0"], "size must be between 16 and 4096"),
    (["{content}", "{style}", "--size", "100000"], "size must be between 16 and 4096"),
    (["{content}", "{style}", "--style-layers", "block1_conv1", "conv9"], "unknown style layer 'conv9'"),
    (["{content}", "{style}", "--style-weight", "-1"], "style_weight must be a finite number >= 0"),
    (["{content}", "{style}", "-o", "{tmp}/a dir"], "is a directory"),
    (["{content}", "{style}", "-o", "{content}"], "is one of the input images"),
    (["{content}", "{style}", "-o", "{tmp}/out.gif"], "must end in .png, .jpg, .jpeg"),
    (["{content}", "{style}", "--metrics", "{tmp}/a dir"], "is a directory"),
    (["{content}"], "give both a content and a style image"),
    (["{content}", "{style}", "--steps", "many"], "invalid int value: 'many'"),
    (["{content}", "{style}", "--optimizer", "sgd"], "invalid choice: 'sgd'"),
    (["{content}", "{style}", "--precision", "float16"], "invalid choice: 'float16'"),
    (["{content}", "{style}", "--start-size", "8"], "start_size must be 0 or between 16 and 4096"),
    (["{content}", "{style}", "--tolerance", "-0.1"], "tolerance must be a finite number >= 0"),
    (["{content}", "{style}", "--weights", "{tmp}/none.h5"], "weights file '.*none.h5' does not exist"),
    (["{content}", "{style}", "--style", "{style}"], "either after the content image or with --style, not both"),
    (["{content}", "{style}", "{style}", "--mask", "{content}"], "one --mask per style image: 1 for 2 styles"),
    (["{content}", "{style}", "{style}", "--mask", "{tmp}/text.jpg", "{content}"], "text.jpg"),
    (["{content}", "{style}", "--style-blend", "1", "-1"], "style_blend weights must be finite, >= 0"),
    (["{content}", "{style}", "--style-scale", "0"], "style_scale must be above 0"),
    (["{content}", "{style}", "--preserve-color", "sepia"], "invalid choice: 'sepia'"),
])
def test_bad_input_gets_one_line_and_exit_code_2(bad_files, content_path, style_path, capsys, args, message):
    args = [a.format(tmp=bad_files, content=content_path, style=style_path) for a in args]
    try:
        code = main(args)
    except SystemExit as e:  # argparse's own errors leave through exit()
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("nst: error: ")
    assert re.search(message, err), err
    assert not list(bad_files.glob("*.png.*")) and not (bad_files / "out.gif").exists()


def test_a_failed_run_leaves_an_existing_output_untouched(tmp_path, content_path, bad_files):
    output = tmp_path / "out.png"
    output.write_bytes(b"previous result")
    assert main([str(content_path), str(bad_files / "cut.jpg"), "-o", str(output)]) == 2
    assert output.read_bytes() == b"previous result"


@pytest.mark.parametrize("make, message", [
    (lambda tmp: None, "'missing.jpg' does not exist"),
    (lambda tmp: (tmp / "missing.jpg").write_text("text"), "'missing.jpg' is not an image Pillow can read"),
])
def test_the_real_command_prints_exactly_one_line(tmp_path, make, message):
    """No TensorFlow start-up lines (oneDNN, cuInit), no traceback: the error and nothing else."""
    make(tmp_path)
    run = subprocess.run([sys.executable, "-m", "nst", "missing.jpg", "x.jpg", "-o", "y.png"], capture_output=True,
                         text=True, cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "NST_VERBOSE"})
    assert run.returncode == 2
    assert run.stderr == f"nst: error: {message}\n" and run.stdout == ""


def test_nst_verbose_shows_tensorflows_own_lines(tmp_path, content_path):
    # A JPEG cut short: its header passes, so TensorFlow loads before its pixels are found missing.
    (tmp_path / "missing.jpg").write_bytes(content_path.read_bytes()[:20000])
    run = subprocess.run([sys.executable, "-m", "nst", "missing.jpg", str(content_path)], capture_output=True,
                         text=True, cwd=tmp_path, env={**os.environ, "NST_VERBOSE": "1"})
    assert run.returncode == 2 and len(run.stderr.splitlines()) > 1  # the C++ log lines come first
    assert run.stderr.splitlines()[-1].startswith("nst: error: 'missing.jpg' could not be decoded")


def test_a_tensorflow_that_fails_to_import_shows_its_own_message(tmp_path):
    """What nst.quiet hides is TensorFlow's log, never the reason it could not load."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\n"
        "os.write(2, b'I0000 00:00:1795471240.679234    2308 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "os.write(2, b'libcudart.so.12: cannot open shared object file\\n')\n"
        "raise ImportError('DLL load failed while importing _pywrap_tensorflow_internal')\n")
    run = subprocess.run([sys.executable, "-c", "import nst; nst.stylize"], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert run.returncode == 1
    assert "libcudart.so.12: cannot open shared object file" in run.stderr
    assert "ImportError: DLL load failed while importing _pywrap_tensorflow_internal" in run.stderr


def test_nst_weights_command_prints_no_warning():
    run = subprocess.run([sys.executable, "-m", "nst.weights"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr == ""  # no RuntimeWarning about 'nst.weights' in sys.modules
    assert "VGG19 weights" in run.stdout


def test_help_ends_with_examples():
    run = subprocess.run([sys.executable, "-m", "nst", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr == ""
    examples = run.stdout.split("examples:\n")[1].splitlines()
    assert [line.split()[:3] for line in examples[:2]] == [["python", "-m", "nst"]] * 2


def test_the_bare_command_first_says_what_it_does_how_long_and_how_to_stop(tmp_path):
    """``python -m nst`` starts the demo; its first line is the plan, with a time measured on this machine."""
    process = subprocess.Popen([sys.executable, "-m", "nst"], stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    first = process.stderr.readline()
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    assert re.fullmatch(r"nst: demo: 2 pairs of data/ \(china.jpg x great_wave.jpg, chelsea.jpg x starry_night.jpg\) "
                        r"at 512 px, up to 300 L-BFGS steps each, into outputs/; about \d+ min on this machine "
                        r"\(\d\.\d\d s a step, measured\)\. Ctrl-C stops and keeps the best image so far\.\n", first)
    assert process.returncode == 130 and "Traceback" not in rest
    assert (tmp_path / "outputs" / "china_great_wave.png").exists()  # the best image so far is kept


# --- with the real ImageNet weights -------------------------------------------------------------

def test_a_run_writes_the_image_and_metrics_whose_losses_can_be_recomputed(tmp_path, content_path, style_path):
    output, metrics = tmp_path / "out.png", tmp_path / "m.json"
    assert main([str(content_path), str(style_path), "-o", str(output), "--metrics", str(metrics),
                 "--size", "64", "--steps", "6", "--save-every", "3"]) == 0
    record = json.loads(metrics.read_text())
    assert (tmp_path / "out_step3.png").exists()
    assert record["model"]["weights_md5"] == "253f8cb515780f3b799900260a226db6"
    assert record["model"]["parameters"] == 15304768  # the 14 conv layers up to block5_conv2: 20,024,384 less two
    assert [e["step"] for e in record["history"]] == list(range(7))
    assert set(record["history"][0]) == {"step", "size", "evaluations", "seconds", "content", "style", "tv", "floor",
                                         "total"}
    assert record["history"][0]["evaluations"] == 1 and record["evaluations_at_last_size"] >= 6
    assert record["steps"] == 6 and record["steps_per_second"] > 0 and record["device"]
    assert record["versions"]["tensorflow"] and record["config"]["size"] == 64
    assert record["stopped"] is None  # it ran its 6 steps
    assert record["sizes"] == [{"height": 43, "width": 64}]  # the sizes optimised, not config.start_size

    # Anyone can recompute the final losses from the saved image (8-bit rounding aside).
    config = Config(**record["config"])
    extractor = extractor_for(dataclasses.replace(config, precision="float32"))
    assert extractor.describe()["pooling"] == record["model"]["pooling"] == config.pooling
    content, style, image = (load_image(p, 64) for p in (content_path, style_path, output))
    content_features, features = extractor(content), extractor(image)
    weights = record["weights"]  # after the strength and the pair's scales (nst.balance), as the run used them
    terms = style_content_loss(image, features, {n: content_features[n] for n in config.content_layers},
                               style_targets_for(extractor, [style], config, [1.0]),
                               weights["content"], weights["style"], weights["tv"], **objective_for(config, Functions()))
    terms["floor"] = weights["floor"] * content_floor(features, content_features, weights["floor_share"])
    terms["total"] += terms["floor"]
    for name in ("content", "style", "tv", "total"):  # the total with the floor; "final" has no floor of its own
        assert float(terms[name]) == pytest.approx(record["final"][name], rel=0.05)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_saves_the_best_image_and_metrics(tmp_path, content_path, style_path, signum, code):
    output, metrics = tmp_path / "out.png", tmp_path / "m.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "nst", str(content_path), str(style_path), "-o", str(output), "--metrics",
         str(metrics), "--size", "64", "--steps", "100000", "--tolerance", "0", "--save-every", "5",
         "--optimizer", "adam"],
        stderr=subprocess.PIPE, text=True, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 120
    while not (tmp_path / "out_step5.png").exists() and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err and "interrupted: saved the best image so far" in err
    record = json.loads(metrics.read_text())
    assert record["interrupted"] and record["steps"] >= 5
    assert load_image(output, None).shape == (1, 43, 64, 3)


def test_same_seed_inputs_and_device_give_identical_files(tmp_path, content_path, style_path):
    # TF_DETERMINISTIC_OPS=1 is TensorFlow's determinism switch (tf.config.experimental.enable_op_determinism()):
    # it matters on GPUs, whose reductions otherwise run in varying order.
    outputs = [tmp_path / f"run{i}.png" for i in range(2)]
    for output in outputs:
        subprocess.run([sys.executable, "-m", "nst", str(content_path), str(style_path), "-o", str(output),
                        "--size", "48", "--steps", "8", "--init", "noise", "--seed", "7"],
                       check=True, capture_output=True, cwd=tmp_path, env={**os.environ, "TF_DETERMINISTIC_OPS": "1"})
    assert outputs[0].read_bytes() == outputs[1].read_bytes()


def test_a_run_that_stops_early_says_why(tmp_path, content_path, style_path, capsys):
    metrics = tmp_path / "m.json"
    # A tolerance of 0.99: the run stops once the loss fell by less than 99% over 10 steps.
    assert main([str(content_path), str(style_path), "-o", str(tmp_path / "out.png"), "--metrics", str(metrics),
                 "--size", "32", "--steps", "200", "--tolerance", "0.99"]) == 0
    record = json.loads(metrics.read_text())
    assert record["steps"] < 200
    assert record["stopped"] == "the loss fell by less than 0.99 (relative) over the last 10 steps"
    assert (f"nst: note: 32 px ended after {record['steps']} of its 200 steps: the loss fell by less than 0.99"
            in capsys.readouterr().err)
