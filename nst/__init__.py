"""nst: neural style transfer (Gatys, Ecker and Bethge, CVPR 2016) with Keras and TensorFlow."""

import os

from nst.quiet import import_tensorflow

# TensorFlow's C++ start-up and info logs alarm users and say nothing about their run: nst imports it
# with them left out (nst.quiet). NST_VERBOSE=1 shows them all.
if os.environ.get("NST_VERBOSE") != "1":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import_tensorflow()

__version__ = "0.2.0"

from nst.config import Config, VGG19_LAYERS  # noqa: E402
from nst.features import FeatureExtractor  # noqa: E402
from nst.images import load_image, save_image, show_images  # noqa: E402
from nst.losses import (content_loss, gram_matrix, smoothness_loss, style_content_loss, style_loss,  # noqa: E402
                        total_variation_loss, wasserstein_distance)
from nst.progress import LiveView, ProgressBar, plot_losses  # noqa: E402
from nst.snapshot import Snapshot  # noqa: E402
from nst.transfer import Result, reconstruct_content, stylize, synthesize_style  # noqa: E402
from nst.weights import WeightsError  # noqa: E402

__all__ = [
    "Config", "VGG19_LAYERS", "FeatureExtractor", "load_image", "save_image", "show_images", "content_loss",
    "gram_matrix", "style_content_loss", "style_loss", "total_variation_loss", "wasserstein_distance",
    "smoothness_loss", "LiveView", "ProgressBar", "plot_losses", "Result", "Snapshot", "reconstruct_content",
    "stylize", "synthesize_style", "WeightsError",
]


def __getattr__(name: str):  # nst.stylize_video, nst.VideoResult: OpenCV and ffmpeg (nst[video]) load on first use
    if name in ("stylize_video", "VideoResult"):
        from nst.video import load

        return getattr(load("clip"), name)
    raise AttributeError(f"module 'nst' has no attribute '{name}'")
