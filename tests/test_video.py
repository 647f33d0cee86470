"""Video (nst.video, Ruder et al. 2016): the flow, the mask and the temporal loss on clips with known
motion, resuming a clip, the command line's bad inputs and its output video."""

import dataclasses
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from nst import Config, load_image, stylize_video
from nst.cli import main
from nst.video.clip import later_frames
from nst.video.flow import consistency_mask, optical_flow, temporal_loss, warp, warping_error

ROOT = Path(__file__).resolve().parent.parent

SHIFT = 2  # px a frame: the pan's crop moves right, so its content moves left
SIDE, FRAMES, FPS = 64, 8, 8
FLOW_TOLERANCE = 0.05  # px, mean absolute error of DIS on the pan's inner pixels (measured: at most 0.005)


@pytest.fixture(scope="module")
def photo(content_path) -> np.ndarray:
    return load_image(content_path, 256).numpy()[0]  # (H, W, 3)


@pytest.fixture(scope="module")
def pan(photo) -> list[np.ndarray]:
    """8 frames of 64 px: a crop of the photo moving SHIFT px right a frame. Frame t-1 at p is frame t at
    p - SHIFT: the flow from t-1 to t is (-SHIFT, 0), from t to t-1 (+SHIFT, 0)."""
    return [photo[60:60 + SIDE, 40 + SHIFT * t:40 + SHIFT * t + SIDE] for t in range(FRAMES)]


@pytest.fixture(scope="module")
def crossing(photo) -> tuple[list[np.ndarray], slice]:
    """Two frames: a dark 16 px square 4 px right of where it was, over a still background; and the columns
    of the strip it uncovered (hidden at t-1, seen at t)."""
    background = photo[60:60 + SIDE, 40:40 + SIDE]
    frames = []
    for left in (20, 24):
        frame = background.copy()
        frame[24:40, left:left + 16] = photo[0:16, 0:16] * 0.3  # a textured, darker object
        frames.append(frame)
    return frames, slice(20, 24)


def test_the_flow_matches_the_known_motion(pan):
    forward, backward = optical_flow(pan[0], pan[1]), optical_flow(pan[1], pan[0])
    inner = (slice(8, -8), slice(8, -8))  # DIS cannot know what enters at the edges
    assert np.abs(forward[inner] - [-SHIFT, 0]).mean() < FLOW_TOLERANCE
    assert np.abs(backward[inner] - [SHIFT, 0]).mean() < FLOW_TOLERANCE


def test_warping_by_the_backward_flow_gives_the_next_frame(pan):
    backward = optical_flow(pan[1], pan[0])
    mask = consistency_mask(optical_flow(pan[0], pan[1]), backward)
    error = np.abs(warp(pan[0], backward) - pan[1]).mean(axis=-1)
    assert (mask * error).sum() / mask.sum() < 0.02 < np.abs(pan[0] - pan[1]).mean()  # far closer than unwarped


def test_the_mask_drops_what_enters_the_frame(pan):
    mask = consistency_mask(optical_flow(pan[0], pan[1]), optical_flow(pan[1], pan[0]))
    assert mask[:, -SHIFT:].mean() == 0  # the columns that came in from the right were not in frame t-1
    assert mask[:, :-8].mean() > 0.9


def test_the_mask_finds_the_region_the_object_uncovered(crossing):
    (before, after), uncovered = crossing
    mask = consistency_mask(optical_flow(before, after), optical_flow(after, before))
    assert mask[26:38, uncovered].mean() < 0.2  # hidden under the square at t-1 (measured: 0.08 kept)
    far = np.ones_like(mask, bool)
    far[16:48, 12:48] = False  # away from the square and its motion boundaries
    assert mask[far].mean() > 0.99  # the still background (measured: all of it kept)


def test_the_temporal_loss_is_zero_for_a_perfectly_warped_image_and_counts_only_kept_pixels():
    rng = np.random.default_rng(0)
    warped = rng.random((1, 8, 8, 3), np.float32)
    mask = (rng.random((1, 8, 8, 1)) > 0.5).astype(np.float32)
    assert float(temporal_loss(tf.constant(warped), warped, mask)) == 0
    image = rng.random((1, 8, 8, 3), np.float32)
    dropped_only = np.where(mask > 0, warped, image)  # differs only where the mask drops
    assert float(temporal_loss(tf.constant(dropped_only), warped, mask)) == 0
    naive = sum(mask[0, y, x, 0] * (image[0, y, x, c] - warped[0, y, x, c]) ** 2
                for y in range(8) for x in range(8) for c in range(3)) / (8 * 8 * 3)  # (1/D) Σ c (x − ω)²
    assert float(temporal_loss(tf.constant(image), warped, mask)) == pytest.approx(naive, rel=1e-5)


def test_the_warping_error_of_a_perfectly_warped_frame_is_zero(pan):
    backward = optical_flow(pan[1], pan[0])
    mask = consistency_mask(optical_flow(pan[0], pan[1]), backward)
    assert warping_error(warp(pan[0], backward), pan[0], backward, mask) == 0
    assert warping_error(pan[1] * 0.5, pan[0], backward, mask) > 0.01


def test_a_clip_resumed_mid_way_equals_one_never_stopped(tmp_path, pan, style_path):
    config = Config(size=SIDE, steps=6, start_size=0, weights=None, precision="float32", tolerance=0.0)
    clip = pan[:4]
    whole = stylize_video(clip, style_path, tmp_path / "whole", config)

    class StopInFrame3:
        def __call__(self, step, losses, image):
            if self.frame == 2:
                raise KeyboardInterrupt

        def start_frame(self, index, count, steps):
            self.frame = index

    stopped = stylize_video(clip, style_path, tmp_path / "resumed", config, callback=StopInFrame3())
    assert stopped.interrupted and [p.name for p in stopped.frames] == ["frame_00001.png", "frame_00002.png"]
    assert not (tmp_path / "resumed" / "frame_00003.png").exists()
    resumed = stylize_video(clip, style_path, tmp_path / "resumed", config)
    assert [p.name for p in resumed.frames] == [p.name for p in whole.frames]
    for a, b in zip(whole.frames, resumed.frames):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))), b.name
    record = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert [f["frame"] for f in record["frames"]] == [1, 2, 3, 4]
    assert record["frames"][0]["warping_error"] is None and record["frames"][3]["warping_error"] > 0
    first, later = record["frames"][0]["evaluations_at_size"], record["frames"][1:]
    assert record["frames"][0]["steps_at_size"] == 6 and first >= 7  # step 0 is an evaluation too
    # a quarter, rounded up, or the one step every frame takes (its line search may need more)
    assert all(f["steps_at_size"] >= 1 for f in later)
    assert all(f["evaluations_at_size"] <= -(-first // 4) or f["steps_at_size"] == 1 for f in later)


def test_later_frames_get_a_quarter_of_the_first_frames_evaluations_at_its_full_size():
    config = Config(size=512, steps=300)
    assert later_frames(config, 170).evaluations == 43 and later_frames(config, 2).evaluations == 1
    assert later_frames(config, 170).start_size == 0 and later_frames(config, 170).steps == 300
    given = later_frames(config, 170, steps=10)
    assert (given.steps, given.evaluations, given.start_size) == (10, 0, 0)


def test_a_clip_is_not_resumed_with_other_settings(tmp_path, pan, style_path):
    config = Config(size=SIDE, steps=3, start_size=0, weights=None, precision="float32")
    stylize_video(pan[:1], style_path, tmp_path, config)
    with pytest.raises(ValueError, match="holds frames made with another temporal weight"):
        stylize_video(pan[:2], style_path, tmp_path, config, temporal_weight=1.0)
    with pytest.raises(ValueError, match="holds frames made with another config"):
        stylize_video(pan[:2], style_path, tmp_path, dataclasses.replace(config, steps=4))


# --- the command line ----------------------------------------------------------------------------

def _ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def _write_clip(path, frames, audio: bool) -> None:
    """An mp4 of the frames at FPS, with a sine tone as its audio track if ``audio``."""
    folder = path.parent / (path.stem + "_frames")
    folder.mkdir()
    for index, frame in enumerate(frames):
        Image.fromarray(np.round(frame * 255).astype(np.uint8)).save(folder / f"{index:03d}.png")
    tone = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={len(frames) / FPS}"] if audio else []
    _ffmpeg("-framerate", str(FPS), "-i", str(folder / "%03d.png"), *tone, "-c:v", "libx264", "-pix_fmt", "yuv420p",
            *(["-c:a", "aac", "-shortest"] if audio else []), str(path))


@pytest.fixture
def bad_clips(tmp_path, pan, content_path):
    (tmp_path / "text.mp4").write_text("not a video")
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440", "-t", "0.5", str(tmp_path / "sound.mp4"))
    _ffmpeg("-f", "lavfi", "-i", f"testsrc=size={SIDE}x{SIDE}:rate={FPS}", "-frames:v", "0", "-c:v", "libx264",
            str(tmp_path / "zero.mp4"))
    _write_clip(tmp_path / "good.mp4", pan[:2], audio=False)
    data = (tmp_path / "good.mp4").read_bytes()
    (tmp_path / "codec.mp4").write_bytes(data.replace(b"avc1", b"zzzz"))  # a codec no decoder knows
    (tmp_path / "sizes").mkdir()
    Image.open(content_path).resize((64, 48)).save(tmp_path / "sizes" / "a.png")
    Image.open(content_path).resize((64, 40)).save(tmp_path / "sizes" / "b.png")
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["{tmp}/text.mp4", "{style}", "-o", "{tmp}/out.mp4"], "is not a video file ffmpeg can read"),
    (["{tmp}/sound.mp4", "{style}", "-o", "{tmp}/out.mp4"], "has no video frames"),
    (["{tmp}/zero.mp4", "{style}", "-o", "{tmp}/out.mp4"], "has no video frames"),
    (["{tmp}/codec.mp4", "{style}", "-o", "{tmp}/out.mp4"], "has a video codec this ffmpeg cannot decode"),
    (["{tmp}/sizes", "{style}", "-o", "{tmp}/out", "--video"], "differ in size: a.png is 64x48 px, b.png is 64x40"),
    (["{content}", "{style}", "-o", "{tmp}/out", "--video"], "is a single image; --video takes a video file"),
    (["{tmp}/good.mp4", "{style}", "-o", "{tmp}/out.png"], "must end in .mp4, .mov, .webm, .gif"),
    (["{tmp}/good.mp4", "{style}", "-o", "{tmp}/out.mp4", "--mask", "{content}"], "are for stills"),
    (["{tmp}/good.mp4", "{tmp}/text.mp4", "-o", "{tmp}/out.mp4"], "text.mp4' is not an image"),
])
def test_bad_video_input_gets_one_line_and_exit_code_2(bad_clips, content_path, style_path, capsys, args, message):
    args = [a.format(tmp=bad_clips, content=content_path, style=style_path) for a in args]
    before = set(bad_clips.rglob("*"))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nst: error: ") and re.search(message, err), err
    assert set(bad_clips.rglob("*")) == before  # nothing written, not even a folder


def test_without_the_video_extra_one_line_says_how_to_get_it(bad_clips, style_path):
    hide = "import sys; sys.modules['cv2'] = None; from nst.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", hide, str(bad_clips / "good.mp4"), str(style_path), "-o",
                          str(bad_clips / "out.mp4")], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1:] == [
        "nst: error: video needs OpenCV and ffmpeg, which the video extra installs: pip install 'nst[video]'"]
    assert "Traceback" not in run.stderr and not (bad_clips / "out.mp4").exists()


def test_the_command_line_writes_an_mp4_at_the_same_rate_with_the_audio(tmp_path, pan, style_path, capsys):
    """With the real ImageNet weights: 8 frames of 64 px, 3 steps for the first, 1 for each later."""
    clip, output = tmp_path / "clip.mp4", tmp_path / "out.mp4"
    _write_clip(clip, pan, audio=True)
    assert main([str(clip), str(style_path), "-o", str(output), "--size", "64", "--steps", "3"]) == 0
    reader = imageio_ffmpeg.read_frames(str(output))
    meta = next(reader)
    assert meta["fps"] == FPS and meta["audio_codec"] == "aac" and sum(1 for _ in reader) == FRAMES
    record = json.loads(output.with_suffix(".json").read_text())
    assert [f["frame"] for f in record["frames"]] == list(range(1, FRAMES + 1)) and record["fps"] == FPS
    assert all(f["warping_error"] >= 0 and f["seconds"] > 0 for f in record["frames"][1:])
    assert not (tmp_path / "out.mp4.frames").exists() and not list(tmp_path.glob(".out.mp4*"))
    err = capsys.readouterr().err  # redirected: plain lines, a line as each frame ends, the clip's time left
    assert "saved" in err and "\r" not in err
    assert re.search(r"^video: 1\.0/8 frames, frame 1/8 done: \d steps? in 0:\d\d, 0:\d\d elapsed, \d+:\d\d left$", err,
                     re.MULTILINE)
    assert re.search(r"^video: 8\.0/8 frames, frame 8/8 done: 1 step in 0:\d\d, warping error [\d.e-]+, "
                     r"\d+:\d\d elapsed, 0:00 left$", err, re.MULTILINE)
    assert main([str(clip), str(style_path), "-o", str(output), "--size", "64", "--steps", "3"]) == 0
    assert "finished before; skipped" in capsys.readouterr().err


def test_a_folder_of_frames_with_video_is_one_clip_and_resumes(tmp_path, pan, style_path, capsys):
    """With the real ImageNet weights: 3 frames of 64 px; the second run finds them all made."""
    frames, output = tmp_path / "frames", tmp_path / "out"
    frames.mkdir()
    for index, frame in enumerate(pan[:3]):
        Image.fromarray(np.round(frame * 255).astype(np.uint8)).save(frames / f"f{index}.jpg")
    args = [str(frames), str(style_path), "-o", str(output), "--video", "--size", "64", "--steps", "3"]
    assert main(args) == 0
    assert sorted(p.name for p in output.iterdir()) == ["f0.png", "f1.png", "f2.png", "metrics.json"]
    made = (output / "f2.png").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0 and (output / "f2.png").stat().st_mtime_ns == made
    assert "has all 3 frames: finished before; skipped" in capsys.readouterr().err


def test_the_benchmark_tables_are_quoted_as_measured():
    """``benchmarks/video.py``'s tables, from its records, stand in docs/video.md row by row: the temporal weights
    at 128 px on the three clips with known motion, and the defaults at 256 px and 512 px with the real clip."""
    spec = importlib.util.spec_from_file_location("video_benchmark", ROOT / "benchmarks" / "video.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    page = (ROOT / "docs" / "video.md").read_text()
    records = {name: json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text())
               for name in ("video", "video_256", "video_512")}
    assert set(records["video"]["clips"]) == {"pan", "zoom", "crossing"} and records["video"]["frames"] >= 8
    assert "bunny" in records["video_256"]["clips"] and "bunny" in records["video_512"]["clips"]
    for record in records.values():
        for row in benchmark.table(record).splitlines()[2:]:
            assert row in page
