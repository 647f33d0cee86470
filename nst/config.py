"""Every hyperparameter in one dataclass.

Notebooks change it with ``dataclasses.replace(Config(), steps=50)``; the command line builds one
flag per field from the same definitions (``help`` in each field's metadata), so the defaults can
never drift between the API, the CLI and the docs. ``Config.to_json``/``from_json`` round-trip it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field

from nst.vgg19 import LAYERS as VGG19_LAYERS
from nst.vgg19 import MIN_SIZE

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "palette", "noise", "style")
POOLINGS = ("max", "avg")
PRECISIONS = ("auto", "float32", "bfloat16")
COLORS = ("none", "luminance", "histogram")
STYLE_LOSSES = ("wasserstein", "gram")
TV_NORMS = ("l2", "l1")
PADDINGS = ("zero", "replicate")
BALANCES = ("auto", "fixed")
VERSION = "0.3.0"  # the package's (pyproject.toml has the same; tests/test_repo.py checks they agree)
MAX_SIZE = 4096
LBFGS_MEMORY = 10  # past steps nst.lbfgs keeps (SciPy's default); 50 gained 2% per step for 5x the memory
UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
         "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}


def parse_memory(text: str) -> int | None:
    """``"6GB"``, ``"6 GB"``, ``"6000MB"``, ``"5.5GiB"`` to bytes; ``"auto"`` to None (the default budget,
    ``nst.memory.default_budget``)."""
    if text.strip().lower() == "auto":
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in UNITS:
        raise ValueError(f"max_memory must be an amount such as 6GB, 800MB or 5.5GiB, or auto; got '{text}'")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def _field(default, help: str, **metadata):
    return field(default=default, metadata={"help": help, **metadata})


@dataclass(frozen=True)
class Config:
    """Hyperparameters of a style transfer run. Weights use the TensorFlow tutorial's normalisation."""

    size: int = _field(512, "long side of the output image, in pixels; the style image is resized the same way")
    steps: int = _field(300, "most optimisation steps at each size (L-BFGS iterations or Adam updates)")
    evaluations: int = _field(0, "most evaluations of the loss and its gradient at each size, L-BFGS's line "
                                 "searches included, once it has taken a step: what a size costs (0: twice steps; Adam "
                                 "evaluates once a step)")
    start_size: int = _field(512, "coarse-to-fine: optimise first at this long side, then at each larger size "
                                  "(size_step times the one before) up to size (0: only at size)")
    size_step: float = _field(2.0, "coarse-to-fine: the ratio of one size to the next (2, or 1.414 for sqrt 2)")
    tolerance: float = _field(1e-3, "stop a size once the loss fell by less than this fraction over the last "
                                    "10 steps (0: always run all steps)")
    optimizer: str = _field("lbfgs", "lbfgs (SciPy L-BFGS-B, bounded to [0, 1]) or adam", choices=OPTIMIZERS)
    learning_rate: float = _field(0.02, "Adam step size on pixels in [0, 1] (ignored by L-BFGS)")
    init: str = _field("palette", "starting image: the content photo, the content photo recoloured to the style's "
                                  "colour statistics (palette), seeded noise, or the style image", choices=INITS)
    content_weight: float = _field(3e4, "weight of the content loss")
    style_weight: float = _field(3e3, "weight of the style loss (the tutorial preset's Gram MSE wants about 1e-2)")
    tv_weight: float = _field(2e8, "weight of the total-variation (smoothness) loss (the tutorial preset's L1 sum "
                                   "wants about 30)")
    strength: float = _field(0.5, "how much of the painting: 0 keeps the photo, 1 gives the painting's statistics "
                                  "with no regard for the photo, 0.5 balances the two; it multiplies the content "
                                  "weight by (2(1-s))^2 and the style weight by (2s)^2")
    balance: str = _field("auto", "auto: scale the content and style weights to the pair (the photo's own detail, "
                                  "how far the painting is from it), so that a strength means the same on every "
                                  "pair; fixed: use the weights as given (the tutorial's)", choices=BALANCES)
    content_floor: float = _field(0.85, "the largest share of the photo's detail (its features at block3_conv2) a "
                                        "run may lose before a steep penalty holds it there, so that the subject "
                                        "stays; lowered on pairs whose painting's colours crush the photo's tones "
                                        "(0: no floor)")
    content_layers: tuple[str, ...] = _field(("block5_conv2",), "VGG19 layers whose features the output must match")
    style_layers: tuple[str, ...] = _field(
        ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"),
        "VGG19 layers whose feature statistics the output must match",
    )
    style_layer_weights: tuple[float, ...] = _field((), "weight of each style layer, in the order of style_layers, "
                                                        "normalised to sum to 1",
                                                    item_type=float, metavar="WEIGHT")
    style_loss: str = _field("wasserstein", "style distance per layer: wasserstein (Wasserstein-2 between Gaussian "
                                            "fits of the features) or gram (MSE of Gram matrices, the tutorial's)",
                             choices=STYLE_LOSSES)
    tv_norm: str = _field("l2", "total variation: l2 (mean squared differences over a 9-point stencil) or l1 "
                                "(sum of absolute differences, tf.image.total_variation, the tutorial's)",
                          choices=TV_NORMS)
    style_scale: float = _field(1.0, "size of the style image relative to the content's: 2 makes its brush strokes "
                                     "twice as large in the output, 0.5 half as large")
    style_blend: tuple[float, ...] = _field((), "weights of several style images, one each; their statistics are "
                                                "blended, or with masks their regions weighted",
                                            item_type=float, metavar="WEIGHT")
    trim_frame: bool = _field(True, "trim a uniform border (a frame, a mount, an edge line) from each style image "
                                    "before its statistics are taken; the CLI says when it does")
    preserve_color: str = _field("none", "keep the content's colours (Gatys et al. 2017): luminance (transfer on "
                                         "luminance only, then put the content's colours back) or histogram "
                                         "(recolour the style images to the content's colour statistics first)",
                                 choices=COLORS)
    pooling: str = _field("avg", "VGG19 pooling: max (as trained) or avg (Gatys et al.)", choices=POOLINGS)
    padding: str = _field("replicate", "padding of VGG19's first convolution: zero (Keras': after VGG19's "
                                       "preprocessing, a frame of the ImageNet mean colour) or replicate (repeats the "
                                       "edge pixels)", choices=PADDINGS)
    precision: str = _field("auto", "VGG19 arithmetic: float32, bfloat16 (about 2x faster where the hardware "
                                    "has it; losses stay float32), or auto (bfloat16 where available)",
                            choices=PRECISIONS)
    max_memory: str = _field("auto", "memory budget of the whole process, e.g. 6GB: sizes that would need more are "
                                     "optimised in overlapping tiles (auto: a third of the GPU's free memory, or a "
                                     "quarter of the RAM)", metavar="AMOUNT")
    seed: int = _field(0, "random seed for the noise initialisation")
    weights: str = _field("imagenet", "VGG19 weights: imagenet (Keras cache/download, or $NST_WEIGHTS) or a .h5 path")

    def __post_init__(self) -> None:
        # Lists from JSON or the CLI become tuples so that a Config stays hashable and immutable.
        for name in ("content_layers", "style_layers", "style_blend", "style_layer_weights"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` with a message that says what to change."""
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {self.size}")
        if self.start_size and not MIN_SIZE <= self.start_size <= MAX_SIZE:
            raise ValueError(f"start_size must be 0 or between {MIN_SIZE} and {MAX_SIZE} pixels, got {self.start_size}")
        for name in ("steps", "evaluations"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        for name, choices in (("optimizer", OPTIMIZERS), ("init", INITS), ("pooling", POOLINGS),
                              ("precision", PRECISIONS), ("preserve_color", COLORS),
                              ("style_loss", STYLE_LOSSES), ("tv_norm", TV_NORMS), ("padding", PADDINGS),
                              ("balance", BALANCES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}; got '{getattr(self, name)}'")
        for name in ("tolerance", "learning_rate", "content_weight", "style_weight", "tv_weight", "content_floor"):
            value = getattr(self, name)
            if not value >= 0 or value == float("inf"):  # also catches NaN
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        parse_memory(self.max_memory)
        if not 0 <= self.strength <= 1:  # also catches NaN
            raise ValueError(f"strength must be between 0 (the photo) and 1 (the painting), got {self.strength}")
        if not isinstance(self.trim_frame, bool):
            raise ValueError(f"trim_frame must be true or false, got {self.trim_frame!r}")
        if not 0 < self.style_scale <= 8:  # also catches NaN
            raise ValueError(f"style_scale must be above 0 and at most 8, got {self.style_scale}")
        if any(not 0 <= w < float("inf") for w in self.style_blend) or (self.style_blend and not sum(self.style_blend)):
            raise ValueError(f"style_blend weights must be finite, >= 0 and not all 0, got {list(self.style_blend)}")
        if not 1 < self.size_step <= 4:  # also catches NaN
            raise ValueError(f"size_step must be above 1 and at most 4, got {self.size_step}")
        if self.style_layer_weights and (len(self.style_layer_weights) != len(self.style_layers)
                                         or any(not 0 <= w < float("inf") for w in self.style_layer_weights)
                                         or not sum(self.style_layer_weights)):
            raise ValueError(f"style_layer_weights must be one finite weight >= 0 per style layer "
                             f"({len(self.style_layers)}), not all 0; got {list(self.style_layer_weights)}")
        for name in ("content_layers", "style_layers"):
            layers = getattr(self, name)
            unknown = [layer for layer in layers if layer not in VGG19_LAYERS]
            if unknown:
                raise ValueError(f"unknown {name[:-1].replace('_', ' ')} '{unknown[0]}'; "
                                 f"choose from {', '.join(VGG19_LAYERS)}")
        if self.content_weight > 0 and not self.content_layers:
            raise ValueError("content_weight > 0 needs at least one content layer")
        if self.style_weight > 0 and not self.style_layers:
            raise ValueError("style_weight > 0 needs at least one style layer")

    @classmethod
    def preset(cls, name: str, **changes) -> Config:
        """A named set of defaults (``PRESETS``), with ``changes`` on top: ``Config.preset("tutorial", steps=100)``."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset '{name}'; choose from {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **changes})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Config:
        return cls(**json.loads(text))


PRESETS: dict[str, dict] = {
    # The objective of the TensorFlow tutorial "Neural style transfer" (Gram MSE at the first convolution of
    # each block, content at block5_conv2, L1 total variation, max pooling, Keras' zero padding, its
    # weights) with nst's defaults before version 0.2: one size of 300 L-BFGS steps from the photo.
    # Optimiser and precision are not part of it: they stay whatever is chosen.
    "tutorial": dict(style_loss="gram", tv_norm="l1", pooling="max", padding="zero", content_layers=("block5_conv2",),
                     style_layers=("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"),
                     style_layer_weights=(), content_weight=1e4, style_weight=1e-2, tv_weight=30.0, strength=0.5,
                     balance="fixed", content_floor=0.0, init="content",
                     start_size=512, size_step=2.0, steps=300, tolerance=1e-3),
}

TUTORIAL = Config.preset("tutorial")  # the building blocks' defaults (FeatureExtractor, style_content_loss)
