"""No harm at inference: back off a high-resolution pass that disagrees with the low one,
and keep depth-kind results strictly positive.

A refiner is only as good as its high-resolution input. When that pass is unusable (a
predictor that breaks above its training resolution, a wrong file given to ``sddr fuse``),
its large-scale layout no longer agrees with the low pass. :func:`pass_agreement` measures
that agreement (the correlation of both maps seen at a coarse scale, so blur and fine detail
do not count and any scale and shift is ignored); :func:`guard_fusion` keeps the fusion as it
is above :data:`TRUST_AGREEMENT`, returns the low pass below :data:`REJECT_AGREEMENT`, and
blends linearly in between. What it did is written into the fusion's ``info`` (and from there
into ``RefinedDepth.info``).
"""

from __future__ import annotations

import cv2
import numpy as np

from sddr_core.ops.align import is_flat
from sddr_core.refiners.base import Fusion

__all__ = [
    "REJECT_AGREEMENT",
    "TRUST_AGREEMENT",
    "guard_fusion",
    "keep_positive",
    "pass_agreement",
]

#: At or below this agreement the high-resolution pass is ignored (the low pass is returned).
REJECT_AGREEMENT = 0.5
#: At or above it the fusion is kept as it is; in between it is blended towards the low pass.
TRUST_AGREEMENT = 0.75


def pass_agreement(low: np.ndarray, high: np.ndarray) -> float:
    """Correlation in ``[-1, 1]`` of ``low`` and ``high`` (same shape) after a Gaussian blur of
    a 48th of the long side (at least 2 px): 1 when the passes share their layout whatever
    their scale and shift; about 0 for an unrelated map; negative for an inverted one."""
    sigma = max(2.0, max(low.shape) / 48.0)
    # The blur removes everything finer than sigma: blurring an area-averaged copy (shrunk by
    # a factor that leaves sigma at least 2 of its pixels) gives the same correlation at a
    # twentieth of the cost (0.099 s -> 0.004 s at 1022x766; the guard runs on the CPU even when
    # the network runs on a GPU).
    factor = max(1, int(sigma // 2))
    a, b = np.asarray(low, np.float32), np.asarray(high, np.float32)
    if factor > 1:
        size = (max(1, round(a.shape[1] / factor)), max(1, round(a.shape[0] / factor)))
        a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    a = cv2.GaussianBlur(a, (0, 0), sigmaX=sigma / factor).ravel()
    b = cv2.GaussianBlur(b, (0, 0), sigmaX=sigma / factor).ravel()
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if denom <= 1e-20:
        return 0.0
    return float((a * b).sum() / denom)


def guard_fusion(fusion: Fusion, low: np.ndarray, high: np.ndarray) -> Fusion:
    """``fusion`` of ``low`` and ``high`` (working size), backed off towards ``low`` when the
    two passes disagree (see the module docstring). The returned fusion's ``info`` holds
    ``agreement`` and, when it acted, ``guard`` (what it did, in words) and
    ``high_weight`` (1 = fusion kept, 0 = low pass returned). A constant ``low`` (up to
    float rounding) is returned as it is."""
    low = np.asarray(low, np.float32)
    if low.size and is_flat(float(np.nanmin(low)), float(np.nanmax(low))):
        # A constant low pass (up to float rounding) has no layout to refine, and a refiner
        # would only turn its rounding into noise that a normalisation stretches: keep it.
        info = {
            **fusion.info,
            "agreement": 0.0,
            "guard": "the low-resolution pass is constant: it was returned as it is",
            "high_weight": 0.0,
        }
        omega = None if fusion.omega is None else np.zeros_like(fusion.omega)
        return Fusion(low.copy(), omega, info)
    agreement = pass_agreement(low, high)
    info = {**fusion.info, "agreement": round(agreement, 4)}
    if agreement >= TRUST_AGREEMENT:
        return Fusion(fusion.depth, fusion.omega, info)
    weight = float(
        np.clip((agreement - REJECT_AGREEMENT) / (TRUST_AGREEMENT - REJECT_AGREEMENT), 0.0, 1.0)
    )
    depth = low + weight * (np.asarray(fusion.depth, np.float32) - low)
    omega = None if fusion.omega is None else fusion.omega * weight
    if weight == 0.0:
        info["guard"] = (
            f"the high-resolution pass disagrees with the low one (agreement {agreement:.2f} "
            f"<= {REJECT_AGREEMENT}): it was ignored and the low-resolution map returned"
        )
    else:
        info["guard"] = (
            f"the high-resolution pass agrees only partly with the low one (agreement "
            f"{agreement:.2f}): the fusion was weighted {weight:.2f} towards it"
        )
    info["high_weight"] = round(weight, 4)
    return Fusion(depth.astype(np.float32), omega, info)


def keep_positive(depth: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, int]:
    """``depth`` with every value below half the smallest positive value of ``low`` (its
    0.1th percentile of positive values) raised to it; returns ``(map, pixels raised)``. For
    depth-kind maps, whose non-positive values mean nothing and break ``to_disparity``."""
    positive = low[np.isfinite(low) & (low > 0)]
    if positive.size == 0:
        return depth, 0
    floor = 0.5 * float(np.percentile(positive, 0.1))
    bad = ~(depth >= floor)  # also catches NaN
    if not bad.any():
        return depth, 0
    return np.where(bad, floor, depth).astype(np.float32), int(bad.sum())
