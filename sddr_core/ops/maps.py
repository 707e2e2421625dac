"""Turning whatever a caller or a predictor hands over into a checked 2-D float32 map.

Every map that enters sddr goes through :func:`as_depth_map`: predictor outputs
(:func:`sddr_core.predictors.base.run_predictor`), depth maps given to
:func:`sddr_core.refine_depths` and the split, and maps given to the writers and previews of
:mod:`sddr_core.io`. So all of them accept the same layouts (numpy or torch, size-1 batch and
channel axes) and refuse the same things (not numbers, wrong rank, tiny maps) with a clear
:class:`SddrError`. What differs is the caller's to say: predictor outputs must be finite,
maps given to ``refine_depths`` may have holes (NaN or inf), writers store whatever is there.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from sddr_core.errors import InputError, SddrError, ShapeError

__all__ = ["MAX_MAGNITUDE", "as_depth_map"]

#: The largest absolute value a map may hold: the fusion works in float32, where the squares
#: that alignments and variances sum overflow a little above 1e19.
MAX_MAGNITUDE = 1e18


def as_depth_map(
    value: Any,
    *,
    what: str,
    min_side: int = 2,
    error: type[SddrError] = InputError,
    fix: str = "",
    unknown: Literal["refuse", "holes", "keep"] = "refuse",
    grey_rgb: bool = True,
    max_magnitude: float | None = MAX_MAGNITUDE,
) -> np.ndarray:
    """``value`` as a float32 ``(H, W)`` array, finite unless ``unknown`` says otherwise.

    Accepts numpy arrays, torch tensors (detached and moved to the CPU) and anything
    :func:`numpy.asarray` takes, of real numbers (not bool, complex or objects). Leading and
    trailing axes of length 1 are dropped (``(1, 1, H, W)``, ``(H, W, 1)``), never below two
    axes, so a ``(1, W)`` row stays a map; with ``grey_rgb`` an ``(H, W, 3|4)`` map keeps its
    first channel (a grey depth image stored as RGB).

    Args:
        value: the map.
        what: how to name it in messages (e.g. ``"low depth"``).
        min_side: smallest accepted height and width.
        error: the :class:`SddrError` subclass to raise.
        fix: a sentence appended to every message saying what to do.
        unknown: what NaN and inf may be: ``"refuse"`` (none allowed), ``"holes"`` (unknown
            pixels, see :mod:`sddr_core.ops.holes`, as long as some pixel is known) or
            ``"keep"`` (anything, even a map with no finite value: for writers).
        grey_rgb: accept ``(H, W, 3|4)`` and keep the first channel; if False, refuse it.
        max_magnitude: refuse finite values beyond this (None: no limit, for writers).

    Raises:
        ``error``: not an array of real numbers, non-finite values (with ``unknown="holes"``:
            only non-finite values), or a value beyond ``max_magnitude``.
        ShapeError: not 2-D, or a side below ``min_side``, when ``error`` is
            :class:`InputError` or a base of it; otherwise ``error`` for these too.
    """
    if unknown not in ("refuse", "holes", "keep"):
        raise ValueError(f"unknown must be 'refuse', 'holes' or 'keep', got {unknown!r}.")
    tail = f" {fix}" if fix else ""
    shape_error = ShapeError if issubclass(ShapeError, error) else error
    original = value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without torch
        value = value.detach().cpu()
        if getattr(value, "is_floating_point", lambda: False)():
            value = value.float()  # bfloat16 has no numpy twin
        value = value.numpy()
    try:
        given = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise error(
            f"{what} is a {type(original).__name__}, not an array of numbers.{tail}"
        ) from exc
    if given.dtype.kind not in "fiu":
        kind = type(original).__name__ if given.dtype.kind in "OUS" else f"dtype {given.dtype}"
        raise error(
            f"{what} is a {kind}, not an array of real numbers; convert it to float32 first.{tail}"
        )
    arr = given
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    while arr.ndim > 2 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if grey_rgb and arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = arr[..., 0]
    if arr.ndim != 2:
        one = "" if grey_rgb else " Pass one map at a time, one channel only."
        raise shape_error(f"{what} has shape {given.shape}; expected a 2-D (H, W) map.{one}{tail}")
    if min(arr.shape) < min_side:
        empty = " (it is empty)" if arr.size == 0 else ""
        raise shape_error(
            f"{what} has shape {given.shape}{empty}; expected a 2-D (H, W) map with both "
            f"sides at least {min_side} pixel{'s' if min_side > 1 else ''}.{tail}"
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    bad = ~np.isfinite(arr)
    if unknown == "holes" and bad.all():
        raise error(f"{what} has no finite value (all {arr.size} pixels are NaN or inf).{tail}")
    if unknown == "refuse" and bad.any():
        raise error(f"{what} has {int(bad.sum())} non-finite values (NaN or inf).{tail}")
    if max_magnitude is None or bad.all():
        return arr
    peak = float(np.max(np.abs(arr[~bad]))) if bad.any() else float(np.max(np.abs(arr)))
    if peak > max_magnitude:
        raise error(
            f"{what} holds values up to {peak:.3g}, beyond the {max_magnitude:g} that float32 "
            f"arithmetic handles here; divide it by a constant first (depth is refined up to "
            f"scale, so the result only changes by that factor).{tail}"
        )
    return arr
