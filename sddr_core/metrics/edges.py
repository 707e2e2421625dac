"""Edge-quality metrics: ORD and D³R (Boost, CVPR 2021) and boundary F1 (Depth Pro).

ORD and D³R
-----------
Following the Boost evaluation code (compphoto/BoostingMonocularDepth, ``evaluation/``:
``extractD3Rpoints.m``, ``D3R.m``, ``ord.m``, ``evaluatedataset.m``):

* Superpixels (:func:`gt_superpixels`): SLIC on the ground truth's *disparity*, min-max
  normalised to ``[0, 1]`` over valid pixels, unknown pixels set to 0 (as Boost does). Boost
  uses MATLAB's ``superpixels(gt, 5000, 'Compactness', 20)``; here it is
  ``skimage.segmentation.slic(..., channel_axis=None, compactness=0.03)``, the value that put
  the most ground-truth discontinuities on superpixel boundaries on Middlebury Motorcycle
  (0.01-0.1 are all close; 1 ignores depth and gives a plain grid). SLIC's own ``mask`` is not
  used: it is ~100x slower and Boost does not use one either.
* Centre of a superpixel: the pixel at the floor of the mean row and mean column of its pixels
  (Boost's ``computeCenter``); it may fall outside a non-convex superpixel. Values are sampled
  at that single pixel, not averaged over the superpixel.
* Pairs with an unknown or masked centre pixel (ground truth or prediction) are skipped, as
  Boost skips ``gt == 0``.
* ``ord(a, b, t) = +1 if a/b > t, −1 if a/b < 1/t, else 0``; a pair's error is
  ``|ord(gt_a, gt_b, t) − ord(pred_a, pred_b, t)|`` in ``{0, 1, 2}``; the metric is the mean
  over kept pairs (``error / confidence`` in Boost), so it lies in ``[0, 2]``. Lower is better.
* D³R: unique pairs of *neighbouring* superpixels (sharing a 4-connected border, as Boost's
  ``bwdist(mask) == 1``), kept only where ``ord(gt_a, gt_b, 1 + gt_jump) != 0`` (a real
  discontinuity, ``gt_jump = 0.1``), with ``t = 1.01``.
* ORD: each centre paired with ``pairs_per_point`` (3) random *other* centres
  (``np.random.default_rng(seed)``), unique unordered pairs, ``t = 1.03``. Boost calls its D³R
  routine with ``freq_ratio = 0``, i.e. it keeps a pair when ``ord(gt_a, gt_b, 1) != 0``: pairs
  whose ground truth is exactly equal (and self-pairs) are dropped. This is reproduced.

Where this module differs from the Boost script: Boost min-max rescales both depth maps to
``[0, 1]`` before the ratios (so the nearest point becomes 0 and ratios depend on the offset)
and aligns the estimate by min-max in disparity. Here the ratios are taken on the prediction
*as given*: pass it already aligned (least-squares scale and shift, METHOD.md section 6), e.g.
through :func:`edge_metrics`, which aligns with the same fit as
:func:`~sddr_core.metrics.depth_metrics`. ORD and D³R are invariant to a global *scale* of the
prediction, not to a *shift* (an added constant changes every ratio), so the alignment matters.
``ord`` of reciprocals is the negated ``ord``, so both metrics are identical whether the two
maps are given as depth or as disparity (``kind`` only tells how to compute the superpixels).

Boundary F1
-----------
Following Depth Pro (apple/ml-depth-pro, ``src/depth_pro/eval/boundary_metrics.py``,
``SI_boundary_F1``): on *inverse depth* ``q``, for threshold ``t`` a pixel pair in each of the
four directions is an occluding edge when ``q_neighbour / q_pixel > t`` (the neighbour is in
front); precision and recall are computed per direction (true edges in both maps over edges in
the prediction / in the ground truth, with empty counts as 1), averaged over the four
directions, ``F1 = 2PR / (P + R)`` (0 when ``P + R = 0``), and the per-threshold F1 values are
combined with Depth Pro's weights ``t / Σt`` over ``t in linspace(1.05, 1.25, 10)``. There is
no pixel tolerance: an edge one pixel off is a miss. Additions here: a mask (a pair counts only
when both pixels are valid) and ``empty_direction``. With Depth Pro's rule (``"zero"``) a
direction in which the ground truth has no edge contributes recall 0 and one in which the
prediction has none contributes precision 0, so a perfect prediction of a scene whose edges
all face one way (a single step) scores 0.25, not 1. Natural images have edges in all four
directions; for synthetic scenes pass ``empty_direction="skip"``, which averages each of P and
R over the directions where it is defined and ignores thresholds with no ground-truth edge.
Boundary F1 is scale-invariant but not shift-invariant: pass an aligned (or metric) prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from skimage.segmentation import slic

from sddr_core.errors import InputError, ShapeError
from sddr_core.metrics.depth import Space, _as_map, _check_same_shape, align_prediction, valid_mask
from sddr_core.predictors.base import DepthKind, check_kind

__all__ = [
    "BOUNDARY_THRESHOLDS",
    "Superpixels",
    "boundary_f1",
    "d3r_error",
    "edge_metrics",
    "gt_superpixels",
    "ord_error",
]

#: Depth Pro's thresholds on the inverse-depth ratio of neighbouring pixels.
BOUNDARY_THRESHOLDS: tuple[float, ...] = tuple(float(t) for t in np.linspace(1.05, 1.25, 10))

#: SLIC compactness on the [0, 1]-normalised ground-truth disparity (see the module docstring).
DEFAULT_COMPACTNESS = 0.03


# ----------------------------------------------------------------------------- superpixels


@dataclass(frozen=True, eq=False)
class Superpixels:
    """SLIC superpixels of one ground truth, computed once and shared by every method.

    Build with :func:`gt_superpixels`; pass as ``superpixels=`` to :func:`ord_error`,
    :func:`d3r_error` and :func:`edge_metrics` so that evaluating many predictions against one
    ground truth runs SLIC once.

    Attributes:
        labels: int ``(H, W)`` superpixel index of every pixel, ``0 .. N-1``.
        centres: int ``(N, 2)`` ``(row, col)`` of each superpixel's centre pixel.
        neighbours: int ``(M, 2)`` unique pairs ``i < j`` of 4-adjacent superpixels.
        disparity_at_centres: float ``(N,)`` the ground truth's disparity at the centres (NaN
            where unknown); used to check that the object is used with its own ground truth.
        n_segments, compactness: the SLIC settings used.
    """

    labels: np.ndarray
    centres: np.ndarray
    neighbours: np.ndarray
    disparity_at_centres: np.ndarray
    n_segments: int
    compactness: float

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.labels.shape[0]), int(self.labels.shape[1]))

    def __len__(self) -> int:
        return int(self.centres.shape[0])

    def __repr__(self) -> str:
        return (
            f"Superpixels(n={len(self)}, shape={self.shape}, neighbour_pairs="
            f"{len(self.neighbours)}, n_segments={self.n_segments}, "
            f"compactness={self.compactness})"
        )


def _disparity(gt: np.ndarray, kind: DepthKind, valid: np.ndarray) -> np.ndarray:
    """Ground-truth disparity (float64), NaN outside ``valid``."""
    out = np.full(gt.shape, np.nan)
    g = gt[valid].astype(np.float64)
    out[valid] = g if kind == "disparity" else 1.0 / g
    return out


def gt_superpixels(
    gt: np.ndarray,
    mask: np.ndarray | None = None,
    n_segments: int = 5000,
    *,
    kind: DepthKind = "depth",
    compactness: float = DEFAULT_COMPACTNESS,
) -> Superpixels:
    """SLIC superpixels of a ground truth, their centres and neighbour pairs.

    Args:
        gt: ground truth ``(H, W)``; NaN, inf and ``<= 0`` are unknown.
        mask: optional boolean ``(H, W)``; False pixels are treated as unknown.
        n_segments: approximate number of superpixels (Boost: 5000).
        kind: ``"depth"`` or ``"disparity"``, the convention of ``gt``. SLIC always runs on
            the disparity, as Boost does.
        compactness: SLIC compactness on the ``[0, 1]``-normalised disparity.

    Returns:
        A :class:`Superpixels`. Deterministic (SLIC starts from a regular grid).

    Raises:
        ShapeError: ``gt`` or ``mask`` is not ``(H, W)`` / of one shape.
        InputError: no valid pixel, or a bad ``n_segments`` / ``compactness``.
    """
    kind = check_kind(kind)
    g = _as_map(gt, "gt")
    if int(n_segments) < 2:
        raise InputError(f"n_segments must be at least 2, got {n_segments}.")
    if not compactness > 0:
        raise InputError(f"compactness must be > 0, got {compactness}.")
    valid = valid_mask(g, None, mask)
    if not valid.any():
        raise InputError(
            "the ground truth has no valid pixel (finite, > 0 and inside the mask); nothing "
            "to build superpixels on."
        )
    disp = _disparity(g, kind, valid)
    lo, hi = float(disp[valid].min()), float(disp[valid].max())
    image = np.zeros(g.shape, dtype=np.float64)
    if hi > lo:
        image[valid] = (disp[valid] - lo) / (hi - lo)
    labels = slic(
        image,
        n_segments=int(n_segments),
        compactness=float(compactness),
        channel_axis=None,
        start_label=0,
    )
    _, labels = np.unique(labels, return_inverse=True)  # contiguous 0 .. N-1
    labels = labels.reshape(g.shape).astype(np.int64)
    n = int(labels.max()) + 1
    flat = labels.ravel()
    rows, cols = np.indices(g.shape)
    count = np.bincount(flat, minlength=n).astype(np.float64)
    centre_r = np.floor(np.bincount(flat, weights=rows.ravel(), minlength=n) / count)
    centre_c = np.floor(np.bincount(flat, weights=cols.ravel(), minlength=n) / count)
    centres = np.stack([centre_r, centre_c], axis=1).astype(np.int64)
    pairs = [
        np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], axis=1),
        np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], axis=1),
    ]
    pairs = np.concatenate(pairs)
    neighbours = _unique_pairs(pairs[pairs[:, 0] != pairs[:, 1]], n)
    return Superpixels(
        labels=labels,
        centres=centres,
        neighbours=neighbours,
        disparity_at_centres=disp[centres[:, 0], centres[:, 1]],
        n_segments=int(n_segments),
        compactness=float(compactness),
    )


def _unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """Unique unordered pairs ``(i, j)``, ``i < j``, of an int ``(K, 2)`` array; sorted."""
    a = np.minimum(pairs[:, 0], pairs[:, 1])
    b = np.maximum(pairs[:, 0], pairs[:, 1])
    code = np.unique(a * n + b)
    return np.stack([code // n, code % n], axis=1).astype(np.int64)


def _checked_superpixels(
    superpixels: Superpixels | None,
    gt: np.ndarray,
    kind: DepthKind,
    mask: np.ndarray | None,
    n_segments: int,
) -> Superpixels:
    """Given superpixels after checking they belong to ``gt``, or newly computed ones."""
    if superpixels is None:
        return gt_superpixels(gt, mask, n_segments, kind=kind)
    if not isinstance(superpixels, Superpixels):
        raise InputError(
            f"superpixels must be a Superpixels from gt_superpixels(), got "
            f"{type(superpixels).__name__}."
        )
    if superpixels.shape != gt.shape:
        raise ShapeError(
            f"superpixels were computed on a {superpixels.shape} map but gt is {gt.shape}; "
            "build them with gt_superpixels(gt) for this ground truth."
        )
    c = superpixels.centres
    g = gt[c[:, 0], c[:, 1]].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        here = g if kind == "disparity" else 1.0 / g
    theirs = superpixels.disparity_at_centres
    both = np.isfinite(here) & np.isfinite(theirs) & (here > 0)
    if not np.allclose(here[both], theirs[both], rtol=1e-5, atol=0.0):
        raise InputError(
            "these superpixels belong to a different ground truth (or the gt kind differs "
            "from the one they were built with); build them with gt_superpixels(gt, kind=...) "
            "for this ground truth."
        )
    return superpixels


# ----------------------------------------------------------------------------- ORD / D3R


def _ord(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Boost's ``ord``: +1 where ``a/b > t``, −1 where ``a/b < 1/t``, else 0 (int8)."""
    r = a / b
    return (r > t).astype(np.int8) - (r < 1.0 / t).astype(np.int8)


def _prepare(
    pred: Any, gt: Any, mask: np.ndarray | None, kind: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, DepthKind]:
    """Validated ``(pred, gt, valid, kind)`` for the ratio-based edge metrics."""
    kind = check_kind(kind)
    g = _as_map(gt, "gt")
    p = _as_map(pred, "pred")
    _check_same_shape(p, g, "pred", "gt")
    valid = valid_mask(g, p, mask)
    if not valid.any():
        raise InputError(
            "no valid pixel to evaluate: the ground truth must be finite and > 0, the "
            "prediction finite and the mask True on at least one common pixel."
        )
    if np.any(p[valid] <= 0):
        raise InputError(
            f"pred has values <= 0, so its ratios mean nothing; pass the prediction aligned "
            f"to the ground truth as positive {kind} (edge_metrics() does this for you)."
        )
    return p.astype(np.float64), g.astype(np.float64), valid, kind


def _pair_error(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray,
    centres: np.ndarray,
    pairs: np.ndarray,
    gt_jump: float,
    threshold: float,
) -> tuple[float, int]:
    """Sum of ``|ord(gt) − ord(pred)|`` over kept pairs and how many were kept."""
    if pairs.size == 0:
        return 0.0, 0
    r, c = centres[:, 0], centres[:, 1]
    ok = valid[r, c]
    keep = ok[pairs[:, 0]] & ok[pairs[:, 1]]
    pairs = pairs[keep]
    gv, pv = gt[r, c], pred[r, c]
    ga, gb = gv[pairs[:, 0]], gv[pairs[:, 1]]
    pa, pb = pv[pairs[:, 0]], pv[pairs[:, 1]]
    jump = _ord(ga, gb, 1.0 + gt_jump) != 0
    err = np.abs(_ord(ga[jump], gb[jump], threshold) - _ord(pa[jump], pb[jump], threshold))
    return float(err.sum()), int(jump.sum())


def _random_pairs(n: int, pairs_per_point: int, seed: int | np.random.Generator) -> np.ndarray:
    """Each of ``n`` points with ``pairs_per_point`` random others; unique unordered pairs."""
    if n < 2 or pairs_per_point < 1:
        return np.zeros((0, 2), dtype=np.int64)
    rng = np.random.default_rng(seed)
    i = np.repeat(np.arange(n), pairs_per_point)
    j = rng.integers(0, n - 1, size=i.size)
    j = j + (j >= i)  # never the point itself
    return _unique_pairs(np.stack([i, j], axis=1), n)


def _ord_counts(pred, gt, valid, sp, pairs_per_point, threshold, seed) -> tuple[float, int]:
    pairs = _random_pairs(len(sp), int(pairs_per_point), seed)
    return _pair_error(pred, gt, valid, sp.centres, pairs, 0.0, threshold)


def _d3r_counts(pred, gt, valid, sp, gt_jump, threshold) -> tuple[float, int]:
    return _pair_error(pred, gt, valid, sp.centres, sp.neighbours, gt_jump, threshold)


def _mean(total: float, count: int) -> float:
    return total / count if count else float("nan")


def ord_error(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    kind: DepthKind = "depth",
    superpixels: Superpixels | None = None,
    n_segments: int = 5000,
    pairs_per_point: int = 3,
    threshold: float = 1.03,
    seed: int | np.random.Generator = 0,
) -> float:
    """Boost's ORD: ordinal error over random pairs of ground-truth superpixel centres.

    See the module docstring for the exact definition. ``pred`` must already be aligned to
    ``gt`` (positive, same convention); use :func:`edge_metrics` to align and evaluate at once.

    Args:
        pred: aligned prediction ``(H, W)``, positive on valid pixels.
        gt: ground truth ``(H, W)``; NaN, inf and ``<= 0`` are unknown.
        mask: optional boolean ``(H, W)``; pairs with a False centre are skipped.
        kind: convention of both maps (``"depth"`` or ``"disparity"``); the value is the same
            for either, it only selects how superpixels are computed.
        superpixels: precomputed :func:`gt_superpixels` of ``gt`` (skips SLIC).
        n_segments: SLIC superpixel count when ``superpixels`` is None.
        pairs_per_point: random partners per centre (Boost: 3).
        threshold: ratio threshold of ``ord`` (Boost: 1.03).
        seed: seed (or generator) of the random partners.

    Returns:
        Mean pair error in ``[0, 2]`` (lower is better); NaN when no pair can be evaluated.
    """
    p, g, valid, kind = _prepare(pred, gt, mask, kind)
    sp = _checked_superpixels(superpixels, g, kind, mask, n_segments)
    return _mean(*_ord_counts(p, g, valid, sp, pairs_per_point, threshold, seed))


def d3r_error(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    kind: DepthKind = "depth",
    superpixels: Superpixels | None = None,
    n_segments: int = 5000,
    gt_jump: float = 0.10,
    threshold: float = 1.01,
) -> float:
    """Boost's D³R: ordinal error across ground-truth discontinuities between neighbouring
    superpixels.

    See the module docstring for the exact definition. ``pred`` must already be aligned to
    ``gt`` (positive, same convention); use :func:`edge_metrics` to align and evaluate at once.
    A prediction that is flat across every discontinuity scores 1, one with every
    discontinuity reversed scores 2.

    Args:
        pred: aligned prediction ``(H, W)``, positive on valid pixels.
        gt: ground truth ``(H, W)``; NaN, inf and ``<= 0`` are unknown.
        mask: optional boolean ``(H, W)``; pairs with a False centre are skipped.
        kind: convention of both maps; see :func:`ord_error`.
        superpixels: precomputed :func:`gt_superpixels` of ``gt`` (skips SLIC).
        n_segments: SLIC superpixel count when ``superpixels`` is None.
        gt_jump: a neighbour pair is a discontinuity when its ground-truth ratio exceeds
            ``1 + gt_jump`` (Boost: 0.1).
        threshold: ratio threshold of ``ord`` (Boost: 1.01).

    Returns:
        Mean pair error in ``[0, 2]`` (lower is better); NaN when the ground truth has no
        discontinuity between valid superpixel centres.
    """
    p, g, valid, kind = _prepare(pred, gt, mask, kind)
    sp = _checked_superpixels(superpixels, g, kind, mask, n_segments)
    return _mean(*_d3r_counts(p, g, valid, sp, gt_jump, threshold))


# ----------------------------------------------------------------------------- boundary F1


def _edges(q: np.ndarray, valid: np.ndarray, t: float) -> tuple[np.ndarray, ...]:
    """Depth Pro's ``fgbg_depth`` on inverse depth ``q`` with a validity mask.

    Returns ``(left, top, right, bottom)`` boolean maps of shapes ``(H, W-1)``, ``(H-1, W)``,
    ``(H, W-1)``, ``(H-1, W)``: e.g. ``right[i, j]`` is True when pixel ``(i, j+1)`` is in
    front of ``(i, j)`` by more than ratio ``t``.
    """
    h_ok = valid[:, 1:] & valid[:, :-1]
    v_ok = valid[1:, :] & valid[:-1, :]
    right_ratio = q[:, 1:] / q[:, :-1]
    bottom_ratio = q[1:, :] / q[:-1, :]
    left = (right_ratio < 1.0 / t) & h_ok  # q[:, :-1] / q[:, 1:] > t
    right = (right_ratio > t) & h_ok
    top = (bottom_ratio < 1.0 / t) & v_ok
    bottom = (bottom_ratio > t) & v_ok
    return left, top, right, bottom


def _f1_at(qp, qg, valid, t, empty_direction) -> float:
    ep, eg = _edges(qp, valid, t), _edges(qg, valid, t)
    tp = np.array([np.count_nonzero(a & b) for a, b in zip(ep, eg, strict=True)], float)
    n_pred = np.array([np.count_nonzero(a) for a in ep], float)
    n_gt = np.array([np.count_nonzero(b) for b in eg], float)
    if empty_direction == "zero":
        recall = float(np.mean(tp / np.maximum(n_gt, 1.0)))
        precision = float(np.mean(tp / np.maximum(n_pred, 1.0)))
    else:
        if not n_gt.any():
            return float("nan")
        recall = float(np.mean(tp[n_gt > 0] / n_gt[n_gt > 0]))
        precision = float(np.mean(tp[n_pred > 0] / n_pred[n_pred > 0])) if n_pred.any() else 0.0
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def boundary_f1(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    thresholds: Sequence[float] | np.ndarray = BOUNDARY_THRESHOLDS,
    mask: np.ndarray | None = None,
    kind: DepthKind = "depth",
    empty_direction: Literal["zero", "skip"] = "zero",
) -> float:
    """Depth Pro's scale-invariant boundary F1 (see the module docstring).

    Args:
        pred: prediction ``(H, W)``, positive on valid pixels, aligned to ``gt`` or metric
            (the score is invariant to a scale, not to a shift).
        gt: ground truth ``(H, W)``; NaN, inf and ``<= 0`` are unknown.
        thresholds: ratio thresholds (Depth Pro: ``linspace(1.05, 1.25, 10)``), each > 1;
            per-threshold F1 values are weighted by ``t / Σt`` as Depth Pro does.
        mask: optional boolean ``(H, W)``; a neighbour pair counts only if both are valid.
        kind: ``"depth"`` (inverted, as Depth Pro does) or ``"disparity"`` (used as the
            inverse depth directly); applies to both maps.
        empty_direction: ``"zero"`` (Depth Pro) or ``"skip"``, see the module docstring.

    Returns:
        F1 in ``[0, 1]``, higher is better. With ``"skip"``, NaN when the ground truth has no
        edge at any threshold.
    """
    p, g, valid, kind = _prepare(pred, gt, mask, kind)
    if empty_direction not in ("zero", "skip"):
        raise InputError(f"empty_direction must be 'zero' or 'skip', got {empty_direction!r}.")
    ts = np.asarray(thresholds, dtype=np.float64).ravel()
    if ts.size == 0 or np.any(~np.isfinite(ts)) or np.any(ts <= 1.0):
        raise InputError(f"thresholds must be finite ratios > 1, got {thresholds!r}.")
    if kind == "depth":
        qp = np.where(valid, 1.0 / np.where(valid, p, 1.0), 1.0)
        qg = np.where(valid, 1.0 / np.where(valid, g, 1.0), 1.0)
    else:
        qp, qg = np.where(valid, p, 1.0), np.where(valid, g, 1.0)
    f1 = np.array([_f1_at(qp, qg, valid, float(t), empty_direction) for t in ts])
    weights = ts / ts.sum()
    defined = np.isfinite(f1)
    if not defined.any():
        return float("nan")
    return float(np.sum(f1[defined] * weights[defined]) / np.sum(weights[defined]))


# ----------------------------------------------------------------------------- convenience


def edge_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    space: Space = "disparity",
    gt_kind: DepthKind = "depth",
    pred_kind: DepthKind | None = None,
    align: bool = True,
    superpixels: Superpixels | None = None,
    n_segments: int = 5000,
    seed: int | np.random.Generator = 0,
    thresholds: Sequence[float] | np.ndarray = BOUNDARY_THRESHOLDS,
    empty_direction: Literal["zero", "skip"] = "zero",
) -> dict[str, Any]:
    """Align ``pred`` to ``gt`` like :func:`~sddr_core.metrics.depth_metrics`, then ORD, D³R
    and boundary F1 on the aligned depth, with Boost's and Depth Pro's default settings.

    Args:
        pred: prediction ``(H, W)``, relative or metric.
        gt: ground truth ``(H, W)``; NaN, inf and ``<= 0`` are unknown.
        mask: optional boolean ``(H, W)``.
        space, gt_kind, pred_kind, align: as in :func:`~sddr_core.metrics.depth_metrics`.
        superpixels: :func:`gt_superpixels` of ``gt`` (built with ``kind=gt_kind``), to run
            SLIC once for many predictions; computed here when None.
        n_segments: SLIC superpixel count when ``superpixels`` is None.
        seed: seed of ORD's random pairs.
        thresholds, empty_direction: as in :func:`boundary_f1`.

    Returns:
        ``{"ord", "d3r", "boundary_f1"}`` plus ``"n_ord_pairs"`` and ``"n_d3r_pairs"`` (how
        many pairs each mean is over).
    """
    al = align_prediction(
        pred, gt, mask=mask, space=space, gt_kind=gt_kind, pred_kind=pred_kind, align=align
    )
    gt_kind = check_kind(gt_kind)
    sp = _checked_superpixels(superpixels, _as_map(gt, "gt"), gt_kind, mask, n_segments)
    p = np.where(al.valid, al.pred, 1.0)
    g = np.where(al.valid, al.gt, 1.0)
    ord_sum, n_ord = _ord_counts(p, g, al.valid, sp, 3, 1.03, seed)
    d3r_sum, n_d3r = _d3r_counts(p, g, al.valid, sp, 0.10, 1.01)
    return {
        "ord": _mean(ord_sum, n_ord),
        "d3r": _mean(d3r_sum, n_d3r),
        "boundary_f1": boundary_f1(
            p,
            g,
            thresholds=thresholds,
            mask=al.valid,
            kind="depth",
            empty_direction=empty_direction,
        ),
        "n_ord_pairs": n_ord,
        "n_d3r_pairs": n_d3r,
    }
