"""Pixel-wise depth metrics after a least-squares scale-and-shift fit (METHOD.md section 6).

Monocular predictions are relative (affine-invariant), so every metric here first fits a scale
and a shift of the prediction to the ground truth on the valid pixels, in a chosen space
(``"disparity"`` or ``"depth"``), and then measures the error in *depth* units.

The steps of :func:`depth_metrics` (and of :func:`align_prediction`, which it shares with the
edge metrics) are, exactly:

1. ``valid`` = ground truth finite and ``> 0`` (zero marks "unknown" in most datasets) AND
   prediction finite AND the caller's ``mask``. At least one valid pixel is required.
2. Ground truth and prediction are brought into the alignment ``space``. The ground truth is
   positive, so a change of convention is the exact reciprocal. A prediction of the other
   convention is inverted only if it is positive on every valid pixel; a relative map that
   touches zero has no meaningful reciprocal (its shift is unknown), so that case raises
   :class:`~sddr_core.errors.InputError` asking for ``space=pred_kind`` instead.
3. ``(scale, shift)`` minimise ``Σ (scale·pred + shift − gt)²`` over valid pixels, in float64,
   by :func:`sddr_core.ops.align.fit_scale_shift` (the one place this fit lives).
4. The aligned prediction is clamped from below at ``floor`` = the smallest valid ground-truth
   value in the alignment space. In disparity space this is the disparity of the farthest
   ground-truth point, so no prediction is farther than anything in the ground truth: the
   per-image form of MiDaS' ``depth_cap`` clamp (aligned disparity ≥ 1 / max depth) and of the
   Boost evaluation, which rescales the estimate's disparity to ``[min gt disparity, 1]``. In
   depth space it is the depth of the nearest ground-truth point. The clamp only touches
   pixels whose prediction lies outside the ground truth's range (they are wrong either way),
   and it keeps depth positive and finite where a fitted relative map crosses zero. How many
   pixels were clamped is reported as ``n_clamped``.
5. Depth ``d`` = aligned value (depth space) or its reciprocal (disparity space); ``d*`` is the
   ground-truth depth. Over valid pixels, in float64:
   ``delta_k`` = mean of ``max(d/d*, d*/d) < 1.25**k`` (k = 1, 2, 3), ``abs_rel`` = mean
   ``|d − d*| / d*``, ``sq_rel`` = mean ``(d − d*)² / d*``, ``rmse`` = sqrt(mean
   ``(d − d*)²``), ``log10`` = mean ``|log10 d − log10 d*|``.

Everything is deterministic. ``rmse`` and ``sq_rel`` are in the ground truth's depth units
(for a disparity ground truth: the reciprocal of its disparity units).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from sddr_core.errors import InputError, ShapeError
from sddr_core.ops.align import fit_scale_shift
from sddr_core.predictors.base import DepthKind, check_kind

__all__ = ["AlignedDepth", "align_prediction", "depth_metrics", "valid_mask"]

Space = Literal["disparity", "depth"]


def _as_map(x: Any, name: str) -> np.ndarray:
    """``x`` as a ``(H, W)`` numpy array, or :class:`ShapeError`."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ShapeError(
            f"{name} must be a single (H, W) map, got shape {arr.shape}; squeeze batch and "
            "channel axes (e.g. x[0, 0] or x[..., 0]) before evaluating."
        )
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{name} must hold real numbers, got dtype {arr.dtype}.")
    return arr


def _check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ShapeError(
            f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; resize the "
            "prediction to the ground truth's size (e.g. sddr_core.ops.resize_map) first."
        )


def _check_space(space: str) -> Space:
    if space not in ("disparity", "depth"):
        raise InputError(f"space must be 'disparity' or 'depth', got {space!r}.")
    return space  # type: ignore[return-value]


def valid_mask(
    gt: np.ndarray, pred: np.ndarray | None = None, mask: np.ndarray | None = None
) -> np.ndarray:
    """Pixels that take part in an evaluation.

    Args:
        gt: ground truth ``(H, W)``, depth or disparity; NaN, ±inf and values ``<= 0`` are
            unknown.
        pred: optional prediction ``(H, W)``; its non-finite pixels are excluded (its sign is
            not checked: relative predictions may be negative before alignment).
        mask: optional ``(H, W)`` array, truthy where the caller wants pixels evaluated.

    Returns:
        Boolean ``(H, W)``: ``isfinite(gt) & (gt > 0) & isfinite(pred) & mask``. It may be all
        False; the metrics raise :class:`InputError` in that case.
    """
    g = _as_map(gt, "gt")
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(g) & (g > 0)
    if pred is not None:
        p = _as_map(pred, "pred")
        _check_same_shape(p, g, "pred", "gt")
        valid &= np.isfinite(p)
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != g.shape:
            raise ShapeError(
                f"mask has shape {m.shape} but gt has shape {g.shape}; pass a boolean (H, W) "
                "mask of the ground truth's size."
            )
        valid &= m.astype(bool)
    return valid


@dataclass(frozen=True, eq=False)
class AlignedDepth:
    """A prediction aligned to its ground truth, both as depth (see the module docstring).

    Attributes:
        pred: aligned, clamped prediction as depth, float64 ``(H, W)``; positive on ``valid``
            pixels, NaN elsewhere.
        gt: ground-truth depth, float64 ``(H, W)``; NaN outside ``valid``.
        valid: boolean ``(H, W)``, the pixels used for the fit and the metrics.
        space: the space the fit was done in.
        scale, shift: the fitted ``scale·pred + shift`` in that space.
        floor: the lower clamp applied to the aligned prediction in that space.
        n_clamped: number of valid pixels raised to ``floor``.
    """

    pred: np.ndarray
    gt: np.ndarray
    valid: np.ndarray
    space: Space
    scale: float
    shift: float
    floor: float
    n_clamped: int

    @property
    def n_valid(self) -> int:
        return int(self.valid.sum())


def _to_space(
    x: np.ndarray, kind: DepthKind, space: Space, valid: np.ndarray, name: str
) -> np.ndarray:
    """``x`` (float64) in ``space``: unchanged, or its reciprocal on valid pixels."""
    x = x.astype(np.float64)
    if kind == space:
        return x
    if np.any(x[valid] <= 0):
        raise InputError(
            f"{name} is a {kind} map with values <= 0, so it cannot be turned into {space} "
            f"(the reciprocal of a relative map depends on its unknown shift); evaluate with "
            f"space={kind!r} instead, or pass a positive map."
        )
    out = np.full_like(x, np.nan)
    out[valid] = 1.0 / x[valid]
    return out


def align_prediction(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    space: Space = "disparity",
    gt_kind: DepthKind = "depth",
    pred_kind: DepthKind | None = None,
    align: bool = True,
) -> AlignedDepth:
    """Fit ``pred`` to ``gt`` by scale and shift in ``space`` and return both as depth.

    Steps 1-4 of the module docstring; :func:`depth_metrics` and
    :func:`sddr_core.metrics.edge_metrics` both use it, so they see the same aligned map.

    Args:
        pred: prediction ``(H, W)``, relative or metric.
        gt: ground truth ``(H, W)``; NaN, inf and ``<= 0`` are unknown.
        mask: optional boolean ``(H, W)``; False pixels are ignored.
        space: ``"disparity"`` (the usual choice for relative predictors, whose output is
            affine-invariant disparity) or ``"depth"``.
        gt_kind: ``"depth"`` or ``"disparity"``, the convention of ``gt``.
        pred_kind: convention of ``pred``; ``None`` means the same as ``gt_kind``.
        align: False skips the fit (``scale = 1``, ``shift = 0``), for metric predictions.

    Returns:
        An :class:`AlignedDepth`.

    Raises:
        ShapeError: inputs are not ``(H, W)`` maps of one shape.
        InputError: no valid pixel, an unknown kind or space, or a non-positive prediction
            that would need inverting.
    """
    space = _check_space(space)
    gt_kind = check_kind(gt_kind)
    pred_kind = gt_kind if pred_kind is None else check_kind(pred_kind)
    g = _as_map(gt, "gt")
    p = _as_map(pred, "pred")
    valid = valid_mask(g, p, mask)
    n_valid = int(valid.sum())
    if n_valid == 0:
        raise InputError(
            "no valid pixel to evaluate: the ground truth must be finite and > 0, the "
            "prediction finite and the mask True on at least one common pixel. Check the "
            "mask and the ground truth's convention (zero or NaN mark unknown pixels)."
        )
    gt_s = _to_space(g, gt_kind, space, valid, "gt")
    pred_s = _to_space(p, pred_kind, space, valid, "pred")
    if align:
        scale, shift = fit_scale_shift(pred_s, gt_s, valid)
    else:
        scale, shift = 1.0, 0.0
    aligned = scale * pred_s + shift
    floor = float(gt_s[valid].min())
    low = valid & (aligned < floor)
    aligned[low] = floor
    aligned[~valid] = np.nan
    gt_s = gt_s.copy()
    gt_s[~valid] = np.nan
    if space == "disparity":
        with np.errstate(divide="ignore", invalid="ignore"):
            pred_d, gt_d = 1.0 / aligned, 1.0 / gt_s
    else:
        pred_d, gt_d = aligned, gt_s
    return AlignedDepth(
        pred=pred_d,
        gt=gt_d,
        valid=valid,
        space=space,
        scale=float(scale),
        shift=float(shift),
        floor=floor,
        n_clamped=int(low.sum()),
    )


def depth_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    space: Space = "disparity",
    gt_kind: DepthKind = "depth",
    pred_kind: DepthKind | None = None,
    align: bool = True,
) -> dict[str, Any]:
    """δ1-3, AbsRel, SqRel, RMSE and log10 of ``pred`` against ``gt`` after alignment.

    Exactly what is done is listed in the module docstring: valid pixels, a least-squares
    scale-and-shift fit in ``space``, a clamp at the ground truth's smallest value in that
    space, then the metrics in depth units.

    Args:
        pred: prediction ``(H, W)``.
        gt: ground truth ``(H, W)``; NaN, inf and ``<= 0`` are unknown.
        mask: optional boolean ``(H, W)``; False pixels are ignored.
        space: space of the fit, ``"disparity"`` or ``"depth"``.
        gt_kind: convention of ``gt``.
        pred_kind: convention of ``pred``; ``None`` means the same as ``gt_kind``.
        align: False for metric predictions that must not be fitted.

    Returns:
        ``{"delta1", "delta2", "delta3", "abs_rel", "sq_rel", "rmse", "log10"}`` (floats;
        δ higher is better, the others lower) plus ``"space"``, ``"scale"``, ``"shift"``
        (the fit, in ``space``), ``"n_valid"`` and ``"n_clamped"``.

    Example:
        >>> gt = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> m = depth_metrics(2 * gt + 1, gt, space="depth")
        >>> round(m["abs_rel"], 12), m["delta1"], round(m["scale"], 12)
        (0.0, 1.0, 0.5)
    """
    al = align_prediction(
        pred, gt, mask=mask, space=space, gt_kind=gt_kind, pred_kind=pred_kind, align=align
    )
    d = al.pred[al.valid]
    t = al.gt[al.valid]
    ratio = np.maximum(d / t, t / d)
    diff = d - t
    return {
        "delta1": float(np.mean(ratio < 1.25)),
        "delta2": float(np.mean(ratio < 1.25**2)),
        "delta3": float(np.mean(ratio < 1.25**3)),
        "abs_rel": float(np.mean(np.abs(diff) / t)),
        "sq_rel": float(np.mean(diff**2 / t)),
        "rmse": float(np.sqrt(np.mean(diff**2))),
        "log10": float(np.mean(np.abs(np.log10(d) - np.log10(t)))),
        "space": al.space,
        "scale": al.scale,
        "shift": al.shift,
        "n_valid": al.n_valid,
        "n_clamped": al.n_clamped,
    }
