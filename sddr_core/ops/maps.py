"""Turning whatever a caller or a predictor hands over into a checked 2-D float32 map.

Predictor outputs (:func:`sddr_core.predictors.base.run_predictor`) and depth maps given to
:func:`sddr_core.refine_depths` go through the same :func:`as_depth_map`, so both accept the
same layouts (numpy or torch, squeezable batch/channel axes, grey images stored as RGB) and
refuse the same things (wrong rank, tiny maps) with a clear :class:`SddrError`. Predictor
outputs must be finite; maps given to ``refine_depths`` may have holes (NaN or inf).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sddr_core.errors import InputError, SddrError

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
    allow_unknown: bool = False,
) -> np.ndarray:
    """``value`` as a finite float32 ``(H, W)`` array (with ``allow_unknown``, NaN and inf
    may mark unknown pixels, but not all of them).

    Accepts numpy arrays, torch tensors (detached and moved to the CPU) and anything
    :func:`numpy.asarray` takes. Axes of length 1 are squeezed; an ``(H, W, 3|4)`` map keeps
    its first channel (a grey depth image stored as RGB).

    Args:
        value: the map.
        what: how to name it in messages (e.g. ``"low depth"``).
        min_side: smallest accepted height and width.
        error: the :class:`SddrError` subclass to raise.
        fix: a sentence appended to every message saying what to do.
        allow_unknown: let non-finite values through (as holes, see
            :mod:`sddr_core.ops.holes`) as long as some pixel is finite.

    Raises:
        ``error``: not an array, not 2-D, a side below ``min_side``, non-finite values
            (with ``allow_unknown``: only non-finite values), or a value beyond
            :data:`MAX_MAGNITUDE`.
    """
    tail = f" {fix}" if fix else ""
    original = value
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().float().cpu().numpy()
    try:
        given = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise error(
            f"{what} is a {type(original).__name__}, not an array of numbers.{tail}"
        ) from exc
    arr = np.squeeze(given)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = arr[..., 0]
    if arr.ndim != 2 or min(arr.shape) < min_side:
        raise error(
            f"{what} has shape {given.shape}; expected a 2-D (H, W) map with both "
            f"sides at least {min_side} pixels.{tail}"
        )
    bad = ~np.isfinite(arr)
    if allow_unknown and bad.all():
        raise error(f"{what} has no finite value (all {arr.size} pixels are NaN or inf).{tail}")
    if bad.any() and not allow_unknown:
        raise error(f"{what} has {int(bad.sum())} non-finite values (NaN or inf).{tail}")
    peak = float(np.max(np.abs(arr[~bad]))) if bad.any() else float(np.max(np.abs(arr)))
    if peak > MAX_MAGNITUDE:
        raise error(
            f"{what} holds values up to {peak:.3g}, beyond the {MAX_MAGNITUDE:g} that float32 "
            f"arithmetic handles here; divide it by a constant first (depth is refined up to "
            f"scale, so the result only changes by that factor).{tail}"
        )
    return arr
