"""The ``poisson`` refiner: training-free Poisson fusion (METHOD.md section 7)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sddr_core.hookspecs import hookimpl
from sddr_core.ops.poisson import Solver, poisson_fuse
from sddr_core.refiners.base import Fusion, RefinerSpec

__all__ = ["PoissonRefiner"]


class PoissonRefiner:
    """Values from the low-resolution prediction, gradients from the high-resolution one in
    its high-frequency regions; see :func:`sddr_core.ops.poisson_fuse`. Needs no weights.

    ``solver``: ``"multigrid"`` (default) or ``"jacobi-cg"`` (the earlier, much slower solver
    of the same energy; for comparisons)."""

    name = "poisson"
    size_multiple = 1
    max_working_side = 2048

    def __init__(
        self,
        *,
        value_weight: float = 1.0,
        max_working_side: int = 2048,
        solver: Solver = "multigrid",
    ) -> None:
        self.value_weight = float(value_weight)
        self.max_working_side = int(max_working_side)
        self.solver: Solver = solver

    def fuse(self, low: np.ndarray, high: np.ndarray) -> Fusion:
        depth, omega = poisson_fuse(low, high, value_weight=self.value_weight, solver=self.solver)
        return Fusion(depth, omega)

    def __repr__(self) -> str:
        extra = "" if self.solver == "multigrid" else f", solver={self.solver!r}"
        return f"PoissonRefiner(value_weight={self.value_weight}{extra})"


def _factory(device: Any = None, **options: Any) -> PoissonRefiner:
    return PoissonRefiner(**options)  # runs on the CPU whatever the device


@hookimpl
def sddr_register_refiners() -> list[RefinerSpec]:
    return [
        RefinerSpec(
            name="poisson",
            factory=_factory,
            priority=0,
            description="training-free Poisson fusion (no weights; the fallback)",
        )
    ]
