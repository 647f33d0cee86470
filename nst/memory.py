"""How much memory a run takes, and the budget it must keep to (``--max-memory``).

The estimate of a run's peak is a model, checked against measured peaks (``benchmarks/memory.py``,
docs/print-sizes.md):

    peak ≈ BASE + A · a · P_tile + L · P_tile + I · P_size

* ``BASE``: the process with TensorFlow, Keras and VGG19 loaded (fitted to measured peaks);
* ``a``: the bytes per input pixel of VGG19's activations up to the deepest layer used, counted layer by
  layer (``activation_bytes``: each convolution's and pooling's output, ``C / s²`` values per pixel at
  stride ``s``, 2 bytes each in bfloat16 and 4 in float32, plus the float32 copies of the layers read);
  ``A`` (measured) is how many times that the forward and backward pass hold at their peak;
* ``L``: the optimiser's bytes per pixel (``optimizer_bytes``; L-BFGS-B keeps 2 x 10 past steps of float64);
* ``I``: the full-size images the run keeps (the photo, the painting, the image being refined, ...);
* ``P_tile`` the pixels optimised at once (the whole size, or one tile), ``P_size`` the size's pixels.

``nst.plan`` runs each size whole when its estimate fits the budget, and otherwise in the fewest tiles that fit
(``nst.tiles``); a budget too small for ``MIN_TILE`` is refused, naming the least that works.
The budget's default (``default_budget``) is a third of a GPU's free memory, or a quarter of the RAM.
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import shutil
import subprocess
from pathlib import Path

from nst import vgg19
from nst.config import LBFGS_MEMORY, Config, parse_memory
from nst.features import resolve_precision
from nst.tiles import tile_grid

# Fitted by least squares (python benchmarks/memory.py --fit) to the measured peaks of whole runs at 512, 1024 and
# 2048 px and of two tiled 2048 px runs (1.82, 4.49, 14.10, 2.62 and 5.14 GB).
BASE = 1.11e9
ACTIVATION_FACTOR = 1.83  # the forward and backward pass hold about twice the forward activations at their peak
IMAGE_BYTES = 156  # per pixel of the size: its float32 RGB copies (photo, painting, their level copies, canvas, ...)
MIN_TILE = 256  # the smallest tile: below it the style statistics of a tile are too few to carry a painting
TILE_STEP = 64  # tile sides tried, from the size down to MIN_TILE


def format_bytes(count: float) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:.0f} MB"


def _values_per_pixel(name: str) -> float:
    """``C / s²``: the values per input pixel of a layer's feature map (``C`` channels at stride ``s``)."""
    return vgg19.channels(name) / vgg19.stride(name) ** 2


def activation_bytes(layers: tuple[str, ...], precision: str) -> float:
    """Bytes per input pixel of VGG19's forward activations up to the deepest of ``layers``.

    Each convolution's output holds ``C / s²`` values per input pixel (``C`` channels at stride ``s``), each
    pooling's ``C / (2s)²``; they are 2 bytes each in bfloat16 and 4 in float32, and each layer read is
    also copied to float32 for the losses. The preprocessing adds a few float32 RGB copies of the image.
    """
    width = 2 if precision == "bfloat16" else 4
    deepest = max(vgg19.LAYERS.index(name) for name in layers)
    values = 0.0
    for i, name in enumerate(vgg19.LAYERS[:deepest + 1]):
        values += _values_per_pixel(name)
        if vgg19.last_of_block(name) and i < deepest:
            values += _values_per_pixel(name) / 4  # the pooling after the block
    read = sum(_values_per_pixel(name) for name in set(layers))
    return values * width + (read * 4 if width == 2 else 0) + 4 * 3 * 4


def optimizer_bytes(optimizer: str) -> float:
    """Bytes per pixel the optimiser keeps: L-BFGS-B's float64 work arrays (``2m + 5`` vectors for memory
    ``m = 10``, the iterate, the gradient, the bounds) and int32 ones, or Adam's image and two moments."""
    if optimizer == "lbfgs":
        return 3 * (8 * (2 * LBFGS_MEMORY + 5 + 4) + 4 * 4) + 3 * 3 * 4  # + float32 copies of x, g, the best
    return 3 * 4 * 5


def estimate(height: int, width: int, tile: int | None, config: Config) -> float:
    """The estimated peak, in bytes, of the whole process optimising ``height x width`` px whole
    (``tile=None``) or in the tiles of at most ``tile`` px a side that ``nst.tiles.tile_grid`` lays out."""
    layers = tuple(config.content_layers + config.style_layers)
    pixels = height * width
    first = None if tile is None else tile_grid(height, width, tile)[0]
    at_once = pixels if first is None else first.height * first.width
    per_pixel = (ACTIVATION_FACTOR * activation_bytes(layers, resolve_precision(config.precision))
                 + optimizer_bytes(config.optimizer))
    return BASE + per_pixel * at_once + IMAGE_BYTES * pixels


def _ram_bytes() -> int:
    """The machine's RAM, or the container's limit (cgroup v2 or v1) where that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def gpu_free_bytes() -> int | None:
    """The first GPU's free memory from ``nvidia-smi``, or None without a visible NVIDIA GPU.

    Asked once per run, when its plan is made (``nst.plan.plan_for``); the command line asks once for all the
    photos of a folder, before any of them allocates."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU") or shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return int(out.split()[0]) * 2 ** 20  # MiB
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


GPU_SHARE, RAM_SHARE = 1 / 3, 1 / 4


def default_budget(gpu_free: int | None = None, ram: int | None = None) -> tuple[int, str]:
    """The budget when none is given, and where it comes from: a third of the GPU's free memory (TensorFlow's
    allocator, cuDNN's workspaces and the model want the rest), else a quarter of the RAM (shared with the
    system and other programs). ``gpu_free`` and ``ram`` stand in for the device's, as tests do."""
    gpu_free = gpu_free_bytes() if gpu_free is None and ram is None else gpu_free
    if gpu_free is not None:
        return int(gpu_free * GPU_SHARE), f"a third of the GPU's {format_bytes(gpu_free)} free"
    ram = ram or _ram_bytes()
    return int(ram * RAM_SHARE), f"a quarter of this machine's {format_bytes(ram)} of RAM"


def resolve_budget(max_memory: str) -> tuple[int, str]:
    """``Config.max_memory`` as bytes, and where the number comes from."""
    budget = parse_memory(max_memory)
    return default_budget() if budget is None else (budget, "--max-memory")


def release_freed() -> None:
    """Collect what reference cycles hold and hand freed heap memory back to the system (glibc's ``malloc_trim``;
    nothing elsewhere) before each size and tile, so that the next starts from what is still in use. Measured at
    2048 px after 1024 px, it takes only about 0.06 GB off the peak: the large tensors are mapped and unmapped
    whole; the peaks in benchmarks/memory.py were measured with it."""
    gc.collect()  # tf.function graphs and tapes form reference cycles
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018  (glibc only)
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def peak_memory() -> int | None:
    """This process's peak resident memory so far, in bytes (Linux: VmHWM), or None where it cannot be read."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmHWM:\s*(\d+)\s*kB", status)
    return int(match.group(1)) * 1024 if match else None
