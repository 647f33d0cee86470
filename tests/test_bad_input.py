"""Whatever is on a user's disk: each row says what the command line must do with it.

Every row runs ``python -m nst CONTENT STYLE -o OUT`` (in-process, 32 px, 1 step, real weights): either
the result is written at the right size, or there is one line ``nst: error: ...``, exit code 2, and no
output file.
"""

import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from nst import Config, FeatureExtractor, load_image, save_image, stylize
from nst.cli import main


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels but holds none: only its header can be read."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def rotated_jpeg(path):
    image = Image.new("RGB", (60, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    image.save(path, exif=exif)


def animated_gif(path):
    frames = [Image.new("RGB", (40, 40), (80 * i, 0, 0)) for i in range(3)]  # distinct, or Pillow merges them
    frames[0].save(path, save_all=True, append_images=frames[1:])


MAKERS = {
    "truncated.jpg": lambda p, content: p.write_bytes(content.read_bytes()[:2000]),
    "empty.jpg": lambda p, content: p.write_bytes(b""),
    "text.jpg": lambda p, content: p.write_text("this is not a picture"),
    "alpha.png": lambda p, content: Image.new("RGBA", (40, 30), (0, 0, 255, 100)).save(p),
    "palette.png": lambda p, content: Image.open(content).convert("P").save(p),
    "sixteen_bit.png": lambda p, content: Image.fromarray(np.full((30, 40), 40000, np.uint16)).save(p),
    "grey.png": lambda p, content: Image.open(content).convert("L").save(p),
    "cmyk.jpg": lambda p, content: Image.open(content).convert("CMYK").save(p),
    "rotated.jpg": lambda p, content: rotated_jpeg(p),
    "animated.gif": lambda p, content: animated_gif(p),
    "one_pixel.png": lambda p, content: Image.new("RGB", (1, 1)).save(p),
    "ten_by_10000.png": lambda p, content: Image.new("RGB", (10000, 10)).save(p),
    "bomb.png": lambda p, content: p.write_bytes(png_header_only(20000, 20000)),  # 400 MP: Pillow's own guard
    "huge.png": lambda p, content: p.write_bytes(png_header_only(10000, 10000)),  # 100 MP: over the 89 MP limit
    "a photo with spaces é 写真.jpg": lambda p, content: p.write_bytes(content.read_bytes()),
    "tiny_style.png": lambda p, content: Image.open(content).resize((20, 16)).save(p),
}

# (file, used as, expected): expected is the output's (height, width) at 32 px, or the error's words.
CASES = [
    ("truncated.jpg", "content", "could not be decoded"),
    ("empty.jpg", "style", "is not an image Pillow can read"),
    ("text.jpg", "content", "is not an image Pillow can read"),
    ("alpha.png", "content", (24, 32)),  # transparent pixels over white
    ("palette.png", "style", (21, 32)),
    ("sixteen_bit.png", "content", (24, 32)),
    ("grey.png", "content", (21, 32)),
    ("cmyk.jpg", "content", (21, 32)),
    ("rotated.jpg", "content", (32, 16)),  # upright: taller than wide
    ("animated.gif", "content", (32, 32)),  # the first frame, with a note
    ("one_pixel.png", "content", "is 1x1 px; an image needs at least 16 px on each side"),
    ("ten_by_10000.png", "style", "is 10000x10 px; an image needs at least 16 px"),
    ("bomb.png", "content", "decompression bomb"),
    ("huge.png", "content", "10000x10000 = 100 megapixels, above the 89 MP"),
    ("a photo with spaces é 写真.jpg", "content", (21, 32)),
    ("tiny_style.png", "style", (21, 32)),  # a 20x16 painting is enlarged to the content's size
]


@pytest.mark.parametrize("name, role, expected", CASES, ids=[c[0] for c in CASES])
def test_each_input_gives_a_result_or_one_line(tmp_path, content_path, style_path, capsys, name, role, expected):
    path = tmp_path / name
    MAKERS[name](path, content_path)
    content, style = (path, style_path) if role == "content" else (content_path, path)
    output = tmp_path / "out dir ü" / "out.png"
    code = main([str(content), str(style), "-o", str(output), "--size", "32", "--steps", "1"])
    err = capsys.readouterr().err
    if isinstance(expected, str):
        assert code == 2 and err.count("\n") == 1 and err.startswith("nst: error: "), err
        assert expected in err and "Traceback" not in err
        assert not output.exists()
    else:
        assert code == 0, err
        assert load_image(output, None).shape == (1, *expected, 3)
        assert ("has 3 frames; using the first" in err) == (name == "animated.gif")


def test_the_size_limit_is_checked_before_any_pixel_is_decoded(tmp_path):
    # The file declares 100 megapixels but holds no pixel data: decoding it would fail, so the
    # message can only come from the header check that runs first.
    path = tmp_path / "huge.png"
    path.write_bytes(png_header_only(10000, 10000))
    with pytest.raises(ValueError, match="above the 89 MP that Pillow accepts"):
        load_image(path)


def test_a_nan_is_never_written(tmp_path):
    image = np.full((1, 20, 20, 3), 0.5, np.float32)
    image[0, 3, 4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        save_image(image, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


class PoisonedAfter(FeatureExtractor):
    """Returns NaN features from its ``n``-th call on: a loss that blows up mid-run."""

    def __init__(self, layers, n: int) -> None:
        super().__init__(layers, weights=None, precision="float32")
        self.n, self.calls = n, tf.Variable(0)

    def call(self, image):
        self.calls.assign_add(1)
        poison = tf.where(self.calls >= self.n, float("nan"), 1.0)
        return {name: value * poison for name, value in super().call(image).items()}


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_nan_loss_stops_the_run_and_keeps_the_last_finite_image(content_path, style_path, optimizer):
    config = Config(size=48, steps=30, optimizer=optimizer, tolerance=0.0, weights=None, precision="float32",
                    balance="fixed", content_floor=0.0)  # the pair's scales would call the extractor twice more
    extractor = PoisonedAfter(config.content_layers + config.style_layers, n=2 + 6)  # 2 calls make the targets
    result = stylize(content_path, style_path, config, extractor=extractor)
    assert result.error.startswith("the loss became nan at step ") and not result.interrupted
    assert np.isfinite(result.image.numpy()).all()
    assert all(np.isfinite(entry["total"]) for entry in result.history)
    assert 0 < len(result.history) < 10


def test_nan_in_an_input_tensor_is_refused(style_path):
    content = np.full((1, 32, 32, 3), 0.5, np.float32)
    content[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        stylize(content, style_path, Config(size=32, steps=1, weights=None))


def test_out_of_memory_gets_one_line_with_what_to_do(monkeypatch, tmp_path, content_path, style_path, capsys):
    def out_of_memory(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr("nst.runner.stylize", out_of_memory)
    output = tmp_path / "out.png"
    assert main([str(content_path), str(style_path), "-o", str(output), "--size", "32"]) == 3
    err = capsys.readouterr().err  # the progress bar had started: its line, then ours
    assert err.endswith("\n") and err.splitlines()[-1].startswith("nst: error: out of memory at --size 32; "
                                                                 "lower --max-memory")
    assert "Traceback" not in err
    assert not output.exists()
