"""Unknown pixels in depth maps: finding them, filling them, and how far a fusion must keep
away from them.

Depth from other tools has holes: stereo matchers and depth sensors lose occluded and
textureless pixels, exports store them as NaN, inf or 0. A fusion must not take the detail of
a high-resolution pass where that pass knows nothing: a filled hole carries the filler's
structure (a smear of the nearest pixel, a seam), not the scene's.

- :func:`unknown_pixels`: the boolean mask of unknown pixels of a map of a given kind;
- :func:`fill_invalid`: every non-finite pixel takes the value of the nearest finite one;
- :func:`hole_weight`: a weight in ``[0, 1]`` at a working size, 1 on the (resized,
  widened) holes and fading to 0 a few pixels outside them, for blending towards the other
  pass.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["fill_invalid", "hole_weight", "unknown_pixels"]


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


def hole_weight(
    unknown: np.ndarray, shape: tuple[int, int], *, margin: float = 0.004
) -> np.ndarray:
    """How much of each pixel at the working ``shape`` lies in or beside a hole.

    ``unknown`` (any size) is resized to ``shape`` by its coverage, so a hole keeps its place
    whatever the two sizes; every pixel that a hole touches is widened by ``margin`` × the long
    side (``r``, at least 2 px: a filled hole's seam and the fusion's finest bands reach that
    far) and the result fades linearly to 0 over ``r`` more, so a blend with it leaves no
    step.

    Returns:
        float32 ``shape`` in ``[0, 1]``: exactly 1 on the widened holes, 0 away from them.
    """
    h, w = int(shape[0]), int(shape[1])
    cover = np.asarray(unknown, np.float32)
    if cover.shape != (h, w):
        shrinking = cover.shape[0] * cover.shape[1] > h * w
        interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        cover = cv2.resize(cover, (w, h), interpolation=interp)
    hit = (cover > 1e-3).astype(np.uint8)
    if not hit.any():
        return np.zeros((h, w), np.float32)
    r = max(2, int(round(margin * max(h, w))))
    # Distance (px) to the nearest pixel a hole touches: 1 within r, linear down to 0 at 2r.
    dist = cv2.distanceTransform(1 - hit, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.clip((2.0 * r - dist) / r, 0.0, 1.0).astype(np.float32)
