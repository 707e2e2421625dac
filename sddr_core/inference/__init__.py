"""Running refinement: the ``refine`` driver, one-stage and two-stage (coarse-to-fine)."""

from sddr_core.inference.refine import MODES, as_refiner, refine, refine_depths
from sddr_core.inference.result import RefinedDepth

__all__ = ["MODES", "RefinedDepth", "as_refiner", "refine", "refine_depths"]
