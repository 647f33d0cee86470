"""nst: neural style transfer (Gatys, Ecker and Bethge, CVPR 2016) with Keras and TensorFlow.

The names below load on first use (PEP 562), so ``import nst`` and the command line's checks of its arguments do
not wait for TensorFlow; TensorFlow itself is imported without its C++ start-up log (``nst.quiet``).
"""

import importlib
import importlib.util
import os

from nst import quiet
from nst.config import VERSION as __version__

# TensorFlow's C++ start-up and info logs alarm users and say nothing about their run: nst imports it
# with them left out (nst.quiet). NST_VERBOSE=1 shows them all.
if os.environ.get("NST_VERBOSE") != "1":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
quiet.install()

_HOMES = {
    "nst.config": ["Config", "VGG19_LAYERS"],
    "nst.features": ["FeatureExtractor"],
    "nst.images": ["load_image", "save_image", "show_images"],
    "nst.losses": ["content_loss", "gram_matrix", "style_content_loss", "style_loss", "total_variation_loss",
                   "wasserstein_distance", "smoothness_loss"],
    "nst.plan": ["plan_for"],
    "nst.progress": ["LiveView", "ProgressBar", "plot_losses"],
    "nst.recorder": ["Callback"],
    "nst.result": ["Result"],
    "nst.snapshot": ["Snapshot"],
    "nst.transfer": ["reconstruct_content", "stylize", "synthesize_style"],
    "nst.weights": ["WeightsError"],
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
VIDEO = ("stylize_video", "VideoResult")  # nst.video.clip's: OpenCV and ffmpeg (the video extra) load with them
__all__ = [*_HOME, *VIDEO]


def __getattr__(name: str):
    """A name of ``__all__`` from its module, or a module of the package (``nst.transfer``), on first use."""
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
    elif name in VIDEO:
        from nst.video import load  # an ImportError saying how to install the video extra, when it is missing

        value = getattr(load("clip"), name)
    elif importlib.util.find_spec(f"nst.{name}") is not None:
        value = importlib.import_module(f"nst.{name}")
    else:
        raise AttributeError(f"module 'nst' has no attribute '{name}'")
    globals()[name] = value  # found once: later uses do not come here
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
