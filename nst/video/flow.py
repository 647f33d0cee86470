"""Optical flow, warping, the consistency mask and the temporal loss of Ruder, Dosovitskiy and Brox,
"Artistic style transfer for videos" (GCPR 2016), section 3, written from the paper's equations.

A flow is an ``(H, W, 2)`` float32 array of pixel offsets ``(dx, dy)``. The flow ``w`` from frame a to
frame b says where each pixel of a went: ``a(p) ≈ b(p + w(p))``. To bring frame t-1 to frame t, each
pixel p of frame t looks up frame t-1 at ``p + ŵ(p)``, with ``ŵ`` the *backward* flow, from t to t-1.
"""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf

from nst.images import to_uint8

# Paper, eq. for the disocclusion test and the motion boundary test (their constants, pixels as units).
DISOCCLUSION_RATIO, DISOCCLUSION_SLACK = 0.01, 0.5
BOUNDARY_RATIO, BOUNDARY_SLACK = 0.01, 0.002


def optical_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The flow ``(H, W, 2)`` from ``source`` to ``target`` (RGB ``(H, W, 3)`` in [0, 1]), by DIS.

    DIS (Kroeger et al., ECCV 2016, OpenCV's ``DISOpticalFlow``, preset medium) runs on the CPU with no
    weights. Measured at 640x360 on this project's shared 2-core CPU (AMD EPYC, OpenCV 5.1, load average 6):
    44 ms a flow (median of 10 runs on a photo, the fastest 30 ms), and 48 ms for the mask and a warp, so
    the two flows of a frame and its mask cost about 0.14 s, next to seconds or minutes of optimisation.
    The paper used DeepFlow and EpicFlow, tens of seconds a frame. DIS works on grey levels.
    """
    grey = [cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2GRAY) for image in (source, target)]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(grey[0], grey[1], None)


def _sample_points(flow: np.ndarray) -> np.ndarray:
    """``p + w(p)`` for every pixel p: ``(H, W, 2)`` float32 coordinates (x, y)."""
    height, width = flow.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(width), np.arange(height)), axis=-1).astype(np.float32)
    return grid + flow


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """ω: ``warped(p) = image(p + flow(p))``, bilinear; points outside the frame take the nearest edge pixel
    (they are masked out by ``consistency_mask``). ``image`` is ``(H, W, C)``; ``flow`` the backward flow."""
    points = _sample_points(flow)
    warped = cv2.remap(np.ascontiguousarray(image, dtype=np.float32), points[..., 0], points[..., 1],
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped.reshape(image.shape)  # remap drops a channel axis of size 1


def _squared_norm(flow: np.ndarray) -> np.ndarray:
    """``|w|²`` per pixel: ``(H, W)``."""
    return np.sum(np.square(flow), axis=-1)


def consistency_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """The weights c ``(H, W)`` of frame t: 0 where frame t-1 cannot be trusted, 1 elsewhere.

    ``forward`` is the flow from t-1 to t, ``backward`` (ŵ = (û, v̂)) the flow from t to t-1. Where the
    two agree, following ŵ and then the forward flow comes back: ``w̃ + ŵ ≈ 0`` with
    ``w̃(p) = forward(p + ŵ(p))``. The paper drops a pixel when

    - it was disoccluded (hidden or outside frame t-1): ``|w̃ + ŵ|² > 0.01 (|w̃|² + |ŵ|²) + 0.5``;
    - it lies on a motion boundary: ``|∇û|² + |∇v̂|² > 0.01 |ŵ|² + 0.002``.

    Pixels whose ``p + ŵ(p)`` falls outside frame t-1 came into view and are dropped too: the forward flow
    sampled at the clamped edge would agree with ŵ and let them through.
    """
    forward_back = warp(forward, backward)  # w̃, at frame t
    squared = _squared_norm
    disoccluded = squared(forward_back + backward) > (
        DISOCCLUSION_RATIO * (squared(forward_back) + squared(backward)) + DISOCCLUSION_SLACK)
    gradient = sum(np.square(g) for axis in (0, 1) for g in np.gradient(backward, axis=axis).transpose(2, 0, 1))
    boundary = gradient > BOUNDARY_RATIO * squared(backward) + BOUNDARY_SLACK
    points = _sample_points(backward)
    height, width = backward.shape[:2]
    outside = ((points[..., 0] < -0.5) | (points[..., 0] > width - 0.5) | (points[..., 1] < -0.5)
               | (points[..., 1] > height - 0.5))  # more than half a pixel beyond frame t-1's edge pixels
    return (~(disoccluded | boundary | outside)).astype(np.float32)


def temporal_loss(image: tf.Tensor, warped: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """The paper's short-term temporal loss ``(1/D) Σ_k c_k (x_k − ω_k)²``, with ``D = H·W·3``.

    ``image`` x ``(1, H, W, 3)`` is the frame being optimised, ``warped`` ω ``(1, H, W, 3)`` the previous
    stylised frame warped to it, ``mask`` c ``(1, H, W, 1)`` the consistency weights. The paper's images are
    in [0, 255]; ours are in [0, 1], so the same weight here is 255² times weaker (``nst.video.clip.TEMPORAL_WEIGHT``).
    """
    return tf.reduce_mean(mask * tf.square(image - warped))


def warping_error(stylised: np.ndarray, previous: np.ndarray, backward: np.ndarray, mask: np.ndarray) -> float:
    """The temporal warping error: the mean squared difference between stylised frame t and stylised frame
    t-1 warped to t (``(H, W, 3)`` in [0, 1]), over the pixels the mask ``(H, W)`` keeps and the 3 channels."""
    squared = np.square(stylised - warp(previous, backward)).sum(axis=-1)
    return float((mask * squared).sum() / max(3.0 * mask.sum(), 1.0))
