"""Scale-and-shift alignment, normalisation and depth <-> disparity conversion.

Monocular predictions are affine-invariant: only comparable after a least-squares scale and
shift fit. Every such fit in sddr goes through :func:`fit_scale_shift`.
"""

from __future__ import annotations

import numpy as np

from sddr_core.errors import InputError

__all__ = [
    "FLAT_RTOL",
    "apply_scale_shift",
    "depth_to_disparity",
    "disparity_to_depth",
    "fit_scale_shift",
    "is_flat",
    "normalize_minmax",
    "normalize_robust",
]


def fit_scale_shift(
    pred: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """Least-squares ``(s, t)`` minimising ``Σ w (s·pred + t − target)²`` over ``mask``.

    Args:
        pred, target: arrays of the same shape.
        mask: optional boolean array; non-finite pixels of either input are always excluded.
        weights: optional non-negative per-pixel weights.

    Returns:
        ``(scale, shift)`` as floats; a constant ``pred`` gives ``scale = 0`` and the mean
        offset.
    """
    if pred.shape != target.shape:
        raise InputError(f"cannot align arrays of shapes {pred.shape} and {target.shape}.")
    valid = np.isfinite(pred) & np.isfinite(target)
    if mask is not None:
        valid &= mask.astype(bool)
    if not valid.any():
        raise InputError("no valid pixels to fit scale and shift on: check the masks and NaNs.")
    p = pred[valid].astype(np.float64)
    q = target[valid].astype(np.float64)
    w = np.ones_like(p) if weights is None else weights[valid].astype(np.float64)
    sw = w.sum()
    if sw <= 0:
        raise InputError("alignment weights sum to zero.")
    mp, mq = (w * p).sum() / sw, (w * q).sum() / sw
    var = (w * (p - mp) ** 2).sum()
    if var <= 1e-24 * max(1.0, mp * mp) * sw:
        return 0.0, float(mq)
    scale = (w * (p - mp) * (q - mq)).sum() / var
    return float(scale), float(mq - scale * mp)


def apply_scale_shift(
    pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """``pred`` aligned to ``target`` by :func:`fit_scale_shift` (float32)."""
    s, t = fit_scale_shift(pred, target, mask)
    return (s * pred.astype(np.float64) + t).astype(np.float32)


def normalize_robust(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``(x − median) / mean|x − median|`` over finite (masked) pixels; float32.

    The MiDaS-style normalisation: invariant to scale and shift, insensitive to outliers.
    """
    valid = np.isfinite(x) if mask is None else (np.isfinite(x) & mask)
    if not valid.any():
        raise InputError("cannot normalise a map with no finite values.")
    v = x[valid].astype(np.float64)
    med = np.median(v)
    mad = np.mean(np.abs(v - med))
    return ((x - med) / max(mad, 1e-12)).astype(np.float32)


#: A map whose range is at most this fraction of its magnitude is flat: float32 rounding
#: (about 1.2e-7 relative) is the only variation it can hold, so normalising it to [0, 1]
#: would only stretch noise. 1e-5 is about 80 float32 steps.
FLAT_RTOL = 1e-5


def is_flat(lo: float, hi: float) -> bool:
    """Whether values spanning ``[lo, hi]`` are a constant up to float rounding
    (``hi - lo <= FLAT_RTOL * max(|lo|, |hi|)``; scale-invariant, so also for tiny units)."""
    return bool(hi - lo <= FLAT_RTOL * max(abs(lo), abs(hi)))


def normalize_minmax(x: np.ndarray, percentiles: tuple[float, float] = (0.0, 100.0)) -> np.ndarray:
    """Map the given percentiles of the finite values of ``x`` to 0 and 1 (clipped); float32.

    A flat map (see :func:`is_flat`: constant, or constant up to float rounding) gives zeros
    rather than its rounding noise stretched to ``[0, 1]``.
    """
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        raise InputError("cannot normalise a map with no finite values.")
    lo, hi = (float(v) for v in np.percentile(finite, percentiles))
    if is_flat(lo, hi):
        return np.zeros_like(x, dtype=np.float32)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def _positive(x: np.ndarray, floor: float) -> np.ndarray:
    """Shift a relative map so its values are positive, with minimum ``floor`` × its range."""
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        raise InputError("map has no finite values.")
    lo, hi = float(finite.min()), float(finite.max())
    span = max(hi - lo, 1e-12)
    if lo > floor * span * 0.999:
        return x.astype(np.float32)
    return (x - lo + floor * span).astype(np.float32)


def disparity_to_depth(disparity: np.ndarray, *, floor: float = 0.01) -> np.ndarray:
    """Relative depth ``1 / disparity`` (larger = farther).

    Relative disparity may touch or cross zero; it is first shifted so that its smallest value
    is ``floor`` times its range, which bounds the far depth at ``(1 + floor) / floor`` times
    the near one.
    """
    return (1.0 / _positive(disparity, floor)).astype(np.float32)


def depth_to_disparity(depth: np.ndarray, *, floor: float = 0.01) -> np.ndarray:
    """Relative disparity ``1 / depth`` (larger = nearer); see :func:`disparity_to_depth`."""
    return (1.0 / _positive(depth, floor)).astype(np.float32)
