"""sddr: sharp, consistent high-resolution depth from any monocular depth predictor.

An implementation of "Self-Distilled Depth Refinement with Noisy Poisson Fusion"
(Li et al., NeurIPS 2024)::

    import sddr_core
    result = sddr_core.refine("photo.jpg", "depth-anything-v2-small")
    result.save("photo_depth.png")

Predictors and refiners plug in through pluggy hooks (:mod:`sddr_core.hookspecs`).
"""

from __future__ import annotations

import os as _os

# OpenCV reads EXR only when this is set before its first use.
_os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")

from sddr_core.errors import (
    CancelledError,
    InputError,
    OutputExistsError,
    PredictorError,
    SddrError,
    ShapeError,
    UnknownNameError,
    UnsupportedFormatError,
    WeightsError,
)
from sddr_core.hookspecs import hookimpl
from sddr_core.inference import MODES, RefinedDepth, refine, refine_depths
from sddr_core.inference.sequence import TemporalOptions, refine_sequence
from sddr_core.predictors.base import (
    CallablePredictor,
    DepthPredictor,
    PredictorSpec,
)
from sddr_core.refiners.base import Fusion, Refiner, RefinerSpec
from sddr_core.registry import (
    create_predictor,
    create_refiner,
    list_predictors,
    list_refiners,
)

__version__ = "0.1.0"

__all__ = [
    "MODES",
    "CallablePredictor",
    "CancelledError",
    "DepthPredictor",
    "Fusion",
    "InputError",
    "OutputExistsError",
    "PredictorError",
    "PredictorSpec",
    "RefinedDepth",
    "Refiner",
    "RefinerSpec",
    "SddrError",
    "ShapeError",
    "TemporalOptions",
    "UnknownNameError",
    "UnsupportedFormatError",
    "WeightsError",
    "__version__",
    "create_predictor",
    "create_refiner",
    "hookimpl",
    "list_predictors",
    "list_refiners",
    "load_refiner",
    "refine",
    "refine_depths",
    "refine_sequence",
    "save_refiner",
]

_LAZY = {
    # torch-heavy; loaded on first use so `import sddr_core` and `sddr --help` stay fast
    "load_refiner": "sddr_core.refiners.network",
    "save_refiner": "sddr_core.refiners.network",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sddr_core' has no attribute {name!r}")
