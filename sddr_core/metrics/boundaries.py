"""Depth-boundary metrics: PatchFusion's Soft Edge Error and iBims-1's DBE_acc / DBE_comp.

**Soft Edge Error (SEE)**, as PatchFusion (Li, Bhat, Wonka, CVPR 2024) reports it on
UnrealStereo4K (``estimator/utils/metric.py`` of zhyever/PatchFusion): at every ground-truth
boundary pixel, the smallest absolute difference between the prediction there and the ground
truth anywhere in its 3×3 neighbourhood (``radius=1``); SEE is the mean over the boundary
pixels. A prediction whose edge sits within one pixel of the true one is not punished for the
shift, only for smearing values across the edge. Here:

- the prediction is first fitted to the ground truth by scale and shift exactly as
  :func:`~sddr_core.metrics.depth_metrics` does, and the error is measured in the ground
  truth's *depth* units (like RMSE; for a disparity ground truth: the reciprocal of its
  disparity units);
- boundary pixels: PatchFusion marks pixels whose ground-truth disparity differs from a
  4-neighbour by more than 1 px (``get_boundaries(disp, th=1, dilation=0)``). sddr's ground
  truths come in arbitrary units, so the jump is relative: neighbouring ground-truth depths
  whose ratio exceeds ``1 + jump`` (default ``jump=0.05``; about 1.5 px of disparity at
  Middlebury 2006's typical 30 px). Both pixels must be valid.
- neighbours outside the image or without ground truth are skipped (PatchFusion pads the
  shifted ground truth with zeros, which never wins the minimum for a positive prediction).

**DBE_acc / DBE_comp**, the depth boundary errors of iBims-1 (Koch, Liebel, Fraundorfer,
Körner, ECCV-W 2018, and the authors' evaluation script): depth maps are min-max normalised to
``[0, 1]`` and Canny edges are taken with σ = √2 and hysteresis thresholds 0.15 / 0.3
(``skimage.feature.canny``). With ``D_gt`` / ``D_pred`` the Euclidean distance transforms to
the nearest ground-truth / predicted edge pixel, and ``θ = 10`` px:

- ``dbe_acc`` (accuracy) = mean of ``D_gt`` over the predicted edge pixels with ``D_gt < θ``
  (edges far from any true edge are left to completeness);
- ``dbe_comp`` (completeness) = (Σ over predicted edges of ``min(D_gt, θ)`` + Σ over
  ground-truth edges of ``min(D_pred, θ)``) / (number of predicted + ground-truth edges);
- no predicted edge within ``θ``: both are ``θ``; no ground-truth edge: both are NaN.

iBims-1 compares against hand-annotated edges; sddr has none, so the ground-truth edges are
Canny edges of the ground truth itself (unknown pixels filled from their nearest known
neighbour, then masked out), as in follow-up works that evaluate DBE without annotations.
Both maps are the aligned depth of :func:`~sddr_core.metrics.align_prediction`; the edge
detector runs where they are valid. Distances are in pixels of the evaluated size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from sddr_core.errors import InputError
from sddr_core.metrics.depth import Space, _as_map, _check_same_shape, align_prediction
from sddr_core.predictors.base import DepthKind

__all__ = [
    "DBE_MAX_DISTANCE",
    "SEE_JUMP",
    "boundary_metrics",
    "canny_depth_edges",
    "depth_boundary_error",
    "depth_jump_edges",
    "soft_edge_error",
]

#: iBims-1's truncation distance θ of the chamfer distances, in pixels.
DBE_MAX_DISTANCE = 10.0

#: Relative depth jump between 4-neighbours that makes a ground-truth boundary pixel for SEE.
SEE_JUMP = 0.05


def depth_jump_edges(
    depth: np.ndarray, valid: np.ndarray | None = None, *, jump: float = SEE_JUMP
) -> np.ndarray:
    """Pixels on a depth discontinuity: a valid 4-neighbour whose depth ratio exceeds
    ``1 + jump`` (both pixels of such a pair are marked).

    Args:
        depth: positive ``(H, W)`` depth (or disparity: the ratio is the same).
        valid: bool ``(H, W)``; default: finite and ``> 0``.
        jump: the relative jump, > 0.

    Returns:
        bool ``(H, W)``.
    """
    d = _as_map(depth, "depth")
    if jump <= 0:
        raise InputError(f"jump must be positive, got {jump}.")
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(d) & (d > 0)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    safe = np.where(ok, d, 1.0)
    edges = np.zeros(d.shape, dtype=bool)
    t = 1.0 + float(jump)
    for axis in (0, 1):
        a = np.take(safe, np.arange(d.shape[axis] - 1), axis=axis)
        b = np.take(safe, np.arange(1, d.shape[axis]), axis=axis)
        both = np.take(ok, np.arange(d.shape[axis] - 1), axis=axis) & np.take(
            ok, np.arange(1, d.shape[axis]), axis=axis
        )
        pair = both & (np.maximum(a / b, b / a) > t)
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        edges[tuple(lo)] |= pair
        edges[tuple(hi)] |= pair
    return edges


def soft_edge_error(
    pred: np.ndarray,
    gt: np.ndarray,
    edges: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    radius: int = 1,
) -> float:
    """PatchFusion's Soft Edge Error: mean over ``edges`` of the smallest ``|gt(q) − pred(p)|``
    over ``q`` in the ``(2·radius+1)²`` neighbourhood of ``p``.

    Both maps must already be in one convention and scale (align first; see
    :func:`boundary_metrics`).

    Args:
        pred: prediction ``(H, W)``.
        gt: ground truth ``(H, W)``; non-finite values are unknown and never a neighbour.
        edges: bool ``(H, W)``, the ground-truth boundary pixels to average over.
        valid: bool ``(H, W)``, pixels allowed as edge pixels and neighbours; default: ``gt``
            finite.
        radius: neighbourhood radius in pixels (PatchFusion: 1).

    Returns:
        The mean, in the maps' units; NaN when no edge pixel is valid.
    """
    p = _as_map(pred, "pred")
    g = _as_map(gt, "gt")
    _check_same_shape(p, g, "pred", "gt")
    e = np.asarray(edges, dtype=bool)
    if e.shape != g.shape:
        raise InputError(f"edges {e.shape} must have the shape of gt {g.shape}.")
    if radius < 0:
        raise InputError(f"radius must be >= 0, got {radius}.")
    ok = np.isfinite(g) if valid is None else (np.asarray(valid, dtype=bool) & np.isfinite(g))
    at = e & ok & np.isfinite(p)
    if not at.any():
        return math.nan
    r = int(radius)
    gp = np.pad(np.where(ok, g, np.nan), r, mode="constant", constant_values=np.nan)
    h, w = g.shape
    best = np.full(g.shape, np.inf)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            shifted = gp[r + dy : r + dy + h, r + dx : r + dx + w]
            diff = np.abs(shifted - p)
            best = np.fmin(best, diff)  # fmin skips NaN neighbours
    return float(np.mean(best[at]))


def canny_depth_edges(
    depth: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    sigma: float = math.sqrt(2.0),
    low_threshold: float = 0.15,
    high_threshold: float = 0.3,
) -> np.ndarray:
    """iBims-1's edge detector: Canny on the depth map min-max normalised to ``[0, 1]``.

    Unknown pixels are filled from their nearest known neighbour before smoothing (so holes
    make no edges) and are never edges.

    Args:
        depth: ``(H, W)`` depth.
        valid: bool ``(H, W)``; default: finite.
        sigma, low_threshold, high_threshold: of ``skimage.feature.canny`` (iBims-1's values).

    Returns:
        bool ``(H, W)``; all False for a constant map.
    """
    from skimage.feature import canny

    d = _as_map(depth, "depth")
    ok = np.isfinite(d) if valid is None else (np.asarray(valid, dtype=bool) & np.isfinite(d))
    if not ok.any():
        return np.zeros(d.shape, dtype=bool)
    if not ok.all():
        idx = ndimage.distance_transform_edt(~ok, return_distances=False, return_indices=True)
        d = d[tuple(idx)]
    lo, hi = float(d.min()), float(d.max())
    if not hi > lo:
        return np.zeros(d.shape, dtype=bool)
    norm = (d - lo) / (hi - lo)
    edges = canny(norm, sigma=sigma, low_threshold=low_threshold, high_threshold=high_threshold)
    return np.asarray(edges, dtype=bool) & ok


def depth_boundary_error(
    pred_edges: np.ndarray,
    gt_edges: np.ndarray,
    *,
    max_distance: float = DBE_MAX_DISTANCE,
) -> tuple[float, float]:
    """iBims-1's ``(dbe_acc, dbe_comp)`` of two edge maps (see the module docstring).

    Args:
        pred_edges: bool ``(H, W)``, the prediction's edges.
        gt_edges: bool ``(H, W)``, the ground truth's edges.
        max_distance: the truncation θ, pixels.

    Returns:
        ``(accuracy, completeness)`` in pixels, lower is better; ``(θ, θ)`` when no predicted
        edge lies within θ of a true one, ``(nan, nan)`` when the ground truth has no edge.
    """
    pe = np.asarray(pred_edges, dtype=bool)
    ge = np.asarray(gt_edges, dtype=bool)
    if pe.shape != ge.shape or pe.ndim != 2:
        raise InputError(f"edge maps must be one (H, W) shape, got {pe.shape} and {ge.shape}.")
    if max_distance <= 0:
        raise InputError(f"max_distance must be positive, got {max_distance}.")
    if not ge.any():
        return math.nan, math.nan
    theta = float(max_distance)
    d_gt = ndimage.distance_transform_edt(~ge)
    near = pe & (d_gt < theta)
    if not near.any():
        return theta, theta
    acc = float(d_gt[near].mean())
    d_pred = ndimage.distance_transform_edt(~pe)
    total = np.minimum(d_gt[pe], theta).sum() + np.minimum(d_pred[ge], theta).sum()
    comp = float(total / (pe.sum() + ge.sum()))
    return acc, comp


def boundary_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    space: Space = "disparity",
    gt_kind: DepthKind = "depth",
    pred_kind: DepthKind | None = None,
    align: bool = True,
    jump: float = SEE_JUMP,
    max_distance: float = DBE_MAX_DISTANCE,
    gt_edges: np.ndarray | None = None,
) -> dict[str, Any]:
    """SEE, DBE_acc and DBE_comp of ``pred`` after the scale-and-shift fit of
    :func:`~sddr_core.metrics.depth_metrics` (same arguments).

    Args:
        pred, gt, mask, space, gt_kind, pred_kind, align: as in
            :func:`~sddr_core.metrics.depth_metrics`.
        jump: relative depth jump of a SEE boundary pixel (:func:`depth_jump_edges`).
        max_distance: DBE truncation θ in pixels.
        gt_edges: the ground truth's Canny edges, to compute them once for many
            predictions; default: :func:`canny_depth_edges` of the ground truth's depth.

    Returns:
        ``{"see", "dbe_acc", "dbe_comp", "n_see_pixels", "n_gt_edges", "n_pred_edges"}``;
        lower is better for the three metrics, NaN where the ground truth has no boundary.
    """
    al = align_prediction(
        pred, gt, mask=mask, space=space, gt_kind=gt_kind, pred_kind=pred_kind, align=align
    )
    see_edges = depth_jump_edges(al.gt, al.valid, jump=jump)
    see = soft_edge_error(al.pred, al.gt, see_edges, valid=al.valid)
    if gt_edges is None:
        gt_edges = canny_depth_edges(al.gt, al.valid)
    ge = np.asarray(gt_edges, dtype=bool) & al.valid
    pe = canny_depth_edges(al.pred, al.valid)
    acc, comp = depth_boundary_error(pe, ge, max_distance=max_distance)
    return {
        "see": see,
        "dbe_acc": acc,
        "dbe_comp": comp,
        "n_see_pixels": int((see_edges & al.valid).sum()),
        "n_gt_edges": int(ge.sum()),
        "n_pred_edges": int(pe.sum()),
    }
