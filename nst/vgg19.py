"""What nst needs to know about VGG19 (Simonyan and Zisserman 2015, ``keras.applications.VGG19``), in one place.

Five blocks of 3x3 convolutions, each block followed by a 2x2 pooling that halves the feature map:

    block   convolutions   channels   stride (input pixels per position, per side)
      1          2             64        1
      2          2            128        2
      3          4            256        4
      4          4            512        8
      5          4            512       16
"""

from __future__ import annotations

BLOCKS = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))  # (convolutions, channels) of each block

# The convolution layers, in order: the only layers features can be read from.
LAYERS = tuple(f"block{b}_conv{c}" for b, (n, _) in enumerate(BLOCKS, start=1) for c in range(1, n + 1))


def block(name: str) -> int:
    """The block a layer belongs to: 3 for ``block3_conv2``."""
    if name not in LAYERS:
        raise ValueError(f"unknown VGG19 layer '{name}'; choose from {', '.join(LAYERS)}")
    return int(name.removeprefix("block").split("_")[0])


def channels(name: str) -> int:
    """How many feature maps a layer has."""
    return BLOCKS[block(name) - 1][1]


def stride(name: str) -> int:
    """How many input pixels one position of a layer's feature map spans per side: 2 for each pooling before it."""
    return 2 ** (block(name) - 1)


def last_of_block(name: str) -> bool:
    """True for a block's last convolution, the one a pooling follows."""
    return name == f"block{block(name)}_conv{BLOCKS[block(name) - 1][0]}"


DEEPEST_STRIDE = stride(LAYERS[-1])  # 16: block5's feature maps line up only on multiples of it
MIN_SIZE = DEEPEST_STRIDE  # VGG19 pools 4 times before block5: 16 px is the least it can see
