"""The Gaussian frequency split: the simplest fusion of a low and a high pass.

``split = G_σ * low + (high' − G_σ * high')``, with ``high' = s·high + t`` the high input fitted
to the low one by least squares and ``G_σ`` a Gaussian low-pass. The low input supplies every
frequency below about ``1/σ`` (its global structure, which is consistent), the high input every
frequency above (its edges and fine detail). It is the baseline a user could write in three
lines, so every evaluation reports it next to Poisson fusion and the network.
"""

from __future__ import annotations

import cv2
import numpy as np

from sddr_core.errors import InputError, ShapeError
from sddr_core.ops.align import fit_scale_shift
from sddr_core.ops.maps import as_depth_map

__all__ = ["DEFAULT_SPLIT_SIGMA", "gaussian_lowpass", "gaussian_split"]

#: σ of the low-pass, in pixels of the working size.
DEFAULT_SPLIT_SIGMA = 8.0


def gaussian_lowpass(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a float ``(H, W)`` map with standard deviation ``sigma`` pixels
    (kernel ±4σ, mirrored border, so a constant map stays constant); float32."""
    if not sigma > 0:
        raise InputError(f"sigma must be positive, got {sigma}.")
    arr = np.ascontiguousarray(x, dtype=np.float32)
    ksize = 2 * int(np.ceil(4.0 * float(sigma))) + 1
    return cv2.GaussianBlur(
        arr,
        (ksize, ksize),
        sigmaX=float(sigma),
        sigmaY=float(sigma),
        borderType=cv2.BORDER_REFLECT_101,
    )


def gaussian_split(
    low: np.ndarray, high: np.ndarray, sigma: float = DEFAULT_SPLIT_SIGMA
) -> np.ndarray:
    """Low frequencies of ``low`` plus high frequencies of ``high`` aligned to it.

    Args:
        low: float ``(H, W)`` low-resolution prediction at the working size.
        high: float ``(H, W)`` high-resolution prediction, same size and convention; fitted to
            ``low`` by a global least-squares scale and shift first.
        sigma: σ of the Gaussian low-pass in pixels (default 8).

    Returns:
        float32 ``(H, W)`` in the scale of ``low``. With ``high == low`` it returns ``low``;
        for a constant ``high`` it is the blurred ``low``.

    Raises:
        InputError: non-finite inputs or ``sigma <= 0``; ShapeError: shapes differ.
    """
    lo = as_depth_map(low, what="low input of the split", error=InputError)
    hi = as_depth_map(high, what="high input of the split", error=InputError)
    if lo.shape != hi.shape:
        raise ShapeError(
            f"gaussian_split needs two maps of one size, got {lo.shape} and {hi.shape}; "
            "resize both to the working size first."
        )
    if not sigma > 0:
        raise InputError(f"sigma must be positive, got {sigma}.")
    scale, shift = fit_scale_shift(hi, lo)
    aligned = (scale * hi.astype(np.float64) + shift).astype(np.float32)
    out = gaussian_lowpass(lo, sigma) + (aligned - gaussian_lowpass(aligned, sigma))
    return out.astype(np.float32)
