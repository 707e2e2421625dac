"""What a refiner is to sddr: the fusion step that turns (low, high) predictions into one map.

Refiners never see RGB. They receive the low- and high-resolution predictions resized to one
working size, in the predictor's convention, and return the fused map in the scale of the low
input (so results can be compared and blended directly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Fusion", "Refiner", "RefinerSpec"]


@dataclass
class Fusion:
    """The result of one fusion.

    Attributes:
        depth: float32 ``(h, w)`` refined map, same convention and scale as the low input.
        omega: float32 ``(h, w)`` in ``[0, 1]``: where the high-resolution input was trusted
            (the finest Ω of the network; the gradient weight of the Poisson solver), or
            ``None`` if the refiner has no such map.
        info: what happened, for ``RefinedDepth.info`` (e.g. ``agreement`` of the two
            inputs and what :mod:`sddr_core.inference.guard` did).
    """

    depth: np.ndarray
    omega: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Refiner(Protocol):
    """The protocol every refiner follows.

    Attributes:
        name: registry name.
        size_multiple: the working size must be a multiple of this (1 if anything goes);
            sddr rounds the working size accordingly.
        max_working_side: the largest long side the refiner should be given (memory bound);
            sddr caps the working size at it.
    """

    name: str
    size_multiple: int
    max_working_side: int

    def fuse(self, low: np.ndarray, high: np.ndarray) -> Fusion:
        """Fuse ``low`` and ``high``, both float32 ``(h, w)`` of the same size."""
        ...


@dataclass(frozen=True)
class RefinerSpec:
    """A registry entry for a refiner.

    Attributes:
        name: the name users type (``"poisson"``, ``"sddr"``).
        factory: ``factory(device=None, **options) -> Refiner``.
        priority: higher wins when ``refiner=None`` picks the best available refiner.
        available: ``() -> bool``, whether it can be created now (weights present, ...).
        description: one line for listings.
    """

    name: str
    factory: Callable[..., Refiner]
    priority: int = 0
    available: Callable[[], bool] = lambda: True
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
