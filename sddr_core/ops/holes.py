"""Unknown pixels in depth maps: finding them and filling them.

Depth from other tools has holes: stereo matchers and depth sensors lose occluded and
textureless pixels, exports store them as NaN, inf or 0.

- :func:`unknown_pixels`: the boolean mask of unknown pixels of a map of a given kind;
- :func:`fill_disparity_holes`: each unknown pixel takes the farther of the nearest known
  values on its row (occlusions lie behind the occluder), as the stereo predictors fill
  their matchers' holes and as :func:`sddr_core.refine_depths` fills the holes it is given;
- :func:`fill_invalid`: every non-finite pixel takes the value of the nearest finite one
  (ground truth and training crops, where no side is the background).

Which fill a fusion should get was measured on real matchers' real holes
(``benchmarks/known_holes.py``; docs/MODEL_CARD.md, "Holes a tool reports"): on the
validation scenes the background side beats the nearest pixel for all three matchers, and
both beat keeping the low pass in the holes.
"""

from __future__ import annotations

import cv2
import numpy as np

from sddr_core.errors import ShapeError

__all__ = ["fill_disparity_holes", "fill_invalid", "fill_rows_from_background", "unknown_pixels"]


def unknown_pixels(x: np.ndarray, kind: str = "disparity") -> np.ndarray:
    """Boolean mask of the pixels of ``x`` that hold no depth: NaN and inf, and for
    ``kind="depth"`` also values ``<= 0`` (a depth of zero is how sensors and 16-bit exports
    mark a missing pixel; in disparity, zero is a valid, infinitely far value)."""
    x = np.asarray(x)
    unknown = ~np.isfinite(x)
    if kind == "depth":
        with np.errstate(invalid="ignore"):
            unknown |= ~(x > 0)
    return unknown


def fill_invalid(x: np.ndarray, unknown: np.ndarray | None = None) -> np.ndarray:
    """``x`` (float32) with each unknown pixel replaced by the nearest known one (Euclidean
    distance; ties as :func:`scipy.ndimage.distance_transform_edt` breaks them).

    Args:
        x: ``(H, W)`` map.
        unknown: boolean mask of the pixels to replace; default: the non-finite ones.

    Returns ``x`` unchanged (as float32) when nothing is unknown or everything is.
    """
    bad = ~np.isfinite(x) if unknown is None else np.asarray(unknown, bool)
    if not bad.any() or bad.all():
        return x.astype(np.float32, copy=False)
    from scipy.ndimage import distance_transform_edt

    _, (iy, ix) = distance_transform_edt(bad, return_indices=True)
    return x[iy, ix].astype(np.float32)


def fill_disparity_holes(disparity: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill invalid pixels from the background side along each scanline.

    Each invalid pixel takes the smaller (farther) of the nearest valid disparities to its
    left and right on its row, or the one that exists; occlusions lie behind the occluder, so
    the background value is the right guess there. Rows without a valid pixel are filled the
    same way along columns; if nothing is valid the map becomes zeros. Filled pixels are then
    smoothed by a 5×5 median (of the filled map) to break the horizontal streaks of the fill.

    Args:
        disparity: float ``(H, W)`` disparity, any values at invalid pixels.
        valid: bool ``(H, W)``, True where ``disparity`` is trusted.

    Returns:
        float32 ``(H, W)``, equal to ``disparity`` at valid pixels, finite everywhere.
    """
    d = np.asarray(disparity, dtype=np.float32)
    ok = np.asarray(valid, dtype=bool)
    if d.shape != ok.shape or d.ndim != 2:
        raise ShapeError(f"disparity {d.shape} and valid {ok.shape} must be one (H, W) shape.")
    ok = ok & np.isfinite(d)
    if ok.all():
        return d.copy()
    if not ok.any():
        return np.zeros_like(d)
    out = fill_rows_from_background(d, ok)
    missing = ~np.isfinite(out)
    if missing.any():  # rows without any valid pixel: fill along columns
        cols = fill_rows_from_background(np.ascontiguousarray(out.T), np.isfinite(out.T)).T
        out = np.where(missing, cols, out)
    out = np.where(np.isfinite(out), out, np.float32(np.median(d[ok])))
    smooth = cv2.medianBlur(out.astype(np.float32), 5)
    return np.where(ok, d, smooth).astype(np.float32)


def fill_rows_from_background(d: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Each pixel outside ``ok`` takes the smaller (farther) of the nearest ``ok`` values to
    its left and right on its row, or the one that exists; NaN on rows with none."""
    h, w = d.shape
    cols = np.arange(w)
    left_idx = np.maximum.accumulate(np.where(ok, cols, -1), axis=1)
    right_idx = np.minimum.accumulate(np.where(ok, cols, w)[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(h)[:, None]
    left_val = np.where(left_idx >= 0, d[rows, np.clip(left_idx, 0, w - 1)], np.inf)
    right_val = np.where(right_idx < w, d[rows, np.clip(right_idx, 0, w - 1)], np.inf)
    fill = np.minimum(left_val, right_val)
    fill[~np.isfinite(fill)] = np.nan
    return np.where(ok, d, fill).astype(np.float32)
