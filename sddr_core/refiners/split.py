"""The ``split`` refiner: the Gaussian frequency split baseline (:mod:`sddr_core.ops.split`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sddr_core.errors import InputError
from sddr_core.hookspecs import hookimpl
from sddr_core.ops.split import DEFAULT_SPLIT_SIGMA, gaussian_split
from sddr_core.refiners.base import Fusion, RefinerSpec

__all__ = ["SplitRefiner"]


class SplitRefiner:
    """Gaussian low-pass (σ pixels at the working size) of the low input plus the high-pass of
    the high input after a least-squares scale/shift fit to the low one; see
    :func:`sddr_core.ops.gaussian_split`. Needs no weights; a baseline, never the default.

    Args:
        sigma: σ of the split, in pixels of the working size (default 8).
        max_working_side: the largest long side it is given.
    """

    name = "split"
    size_multiple = 1
    max_working_side = 4096

    def __init__(self, *, sigma: float = DEFAULT_SPLIT_SIGMA, max_working_side: int = 4096) -> None:
        if not float(sigma) > 0:
            raise InputError(f"split sigma must be positive, got {sigma}.")
        self.sigma = float(sigma)
        self.max_working_side = int(max_working_side)

    def fuse(self, low: np.ndarray, high: np.ndarray) -> Fusion:
        depth = gaussian_split(low, high, sigma=self.sigma)
        return Fusion(depth, None, {"split_sigma": self.sigma})

    def __repr__(self) -> str:
        return f"SplitRefiner(sigma={self.sigma})"


def _factory(device: Any = None, **options: Any) -> SplitRefiner:
    return SplitRefiner(**options)  # numpy/OpenCV on the CPU whatever the device


@hookimpl
def sddr_register_refiners() -> list[RefinerSpec]:
    return [
        RefinerSpec(
            name="split",
            factory=_factory,
            priority=-1,
            description="Gaussian frequency split baseline: low-pass of low + high-pass of high",
        )
    ]
