"""The methods ``sddr eval`` compares, and running them on one image.

=============  ===========================================================================
``low``        the predictor at its native resolution, upsampled (consistent, blurry)
``high``       the predictor at the high resolution alone (sharp, locally inconsistent)
``poisson``    training-free Poisson fusion of the two (METHOD.md section 7)
``split``      the Gaussian frequency split baseline: σ = 8 px low-pass of ``low`` plus the
               high-pass of ``high`` after a least-squares scale/shift fit to ``low``
               (refiner ``split``, :func:`sddr_core.ops.gaussian_split`)
``one-stage``  SDDR one-stage with the chosen refiner (the trained network when present)
``two-stage``  SDDR two-stage (coarse-to-fine windows) with the chosen refiner
=============  ===========================================================================

The predictor runs once per (window, resolution) for each image: :class:`CachingPredictor`
remembers its answers, so ``low``, ``high``, ``poisson`` and ``one-stage`` share two predictor
calls. A method's ``time`` is what it would take alone: its wall time plus the predictor time
it was spared by the cache. ``low`` and ``high`` are timed as their single predictor call.
When the chosen refiner *is* Poisson fusion (no trained weights yet) or the split, ``one-stage``
is the ``poisson`` / ``split`` result and is not run twice.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sddr_core.errors import InputError
from sddr_core.predictors.base import DepthKind

__all__ = [
    "METHODS",
    "CachingPredictor",
    "MethodOutput",
    "available_methods",
    "parse_methods",
    "run_methods",
]

#: Every method name, in report order.
METHODS: tuple[str, ...] = ("low", "high", "poisson", "split", "one-stage", "two-stage")

#: Methods whose result depends on the chosen refiner.
REFINER_METHODS: tuple[str, ...] = ("one-stage", "two-stage")


def _two_stage_available() -> bool:
    try:
        return importlib.util.find_spec("sddr_core.inference.two_stage") is not None
    except (ImportError, ValueError):
        return False


def available_methods() -> tuple[str, ...]:
    """The methods this build can run (``two-stage`` needs ``sddr_core.inference.two_stage``)."""
    return tuple(m for m in METHODS if m != "two-stage" or _two_stage_available())


def parse_methods(methods: str | Iterable[str]) -> list[str]:
    """Validate a method list: ``"low,high"`` or ``["low", "high"]``; duplicates dropped,
    report order kept (:data:`METHODS`).

    Raises:
        InputError: no method, an unknown one, or one this build cannot run.
    """
    items = methods.split(",") if isinstance(methods, str) else list(methods)
    names = [str(m).strip().lower() for m in items if str(m).strip()]
    if not names:
        raise InputError(f"give at least one method: {', '.join(METHODS)}.")
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise InputError(
            f"unknown method(s) {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(METHODS)} (comma-separated)."
        )
    missing = [m for m in names if m not in available_methods()]
    if missing:
        raise InputError(
            f"{', '.join(missing)} is not available in this build of sddr "
            "(sddr_core.inference.two_stage is missing); leave it out of --methods."
        )
    return [m for m in METHODS if m in names]


class CachingPredictor:
    """Wraps a predictor for one image, remembering each ``(window, resolution)`` answer.

    Attributes:
        replayed: predictor seconds saved by cache hits since the last :meth:`reset_clock`.
        calls: real predictor calls made.
    """

    def __init__(self, predictor: Any) -> None:
        self.inner = predictor
        self.name = predictor.name
        self.native_resolution = predictor.native_resolution
        self.kind = predictor.kind
        self._cache: dict[tuple[Any, int], tuple[np.ndarray, float]] = {}
        self.replayed = 0.0
        self.calls = 0
        if hasattr(predictor, "predict_region"):
            self.predict_region = self._predict_region

    def __getattr__(self, attr: str) -> Any:  # size_multiple, max_resolution, ...
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def reset_clock(self) -> None:
        self.replayed = 0.0

    def _cached(self, key: tuple[Any, int], compute: Any) -> np.ndarray:
        hit = self._cache.get(key)
        if hit is not None:
            self.replayed += hit[1]
            return hit[0].copy()
        t = time.perf_counter()
        out = np.asarray(compute(), dtype=np.float32)
        self._cache[key] = (out, time.perf_counter() - t)
        self.calls += 1
        return out.copy()

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        return self._cached(
            ("full", int(resolution)), lambda: self.inner.predict(image, resolution)
        )

    def _predict_region(self, image: np.ndarray, box: Any, resolution: int) -> np.ndarray:
        key = (tuple(int(v) for v in box), int(resolution))
        return self._cached(key, lambda: self.inner.predict_region(image, box, resolution))


@dataclass
class MethodOutput:
    """One method's prediction for one image.

    Attributes:
        depth: float32 ``(H, W)`` at the image's size, in ``kind``.
        kind: the predictor's convention.
        seconds: time the method takes alone (see the module docstring).
        refiner: the refiner used, or None for ``low`` and ``high``.
        info: what ran (``RefinedDepth.info`` of the refine call it came from).
    """

    depth: np.ndarray
    kind: DepthKind
    seconds: float
    refiner: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


def run_methods(
    image: np.ndarray,
    predictor: Any,
    methods: Sequence[str],
    *,
    refiner: Any,
    poisson: Any,
    device: Any = None,
    low_resolution: int | None = None,
    high_resolution: int | None = None,
    split: Any = None,
    snap: bool = True,
) -> dict[str, MethodOutput]:
    """Run ``methods`` on one image, sharing predictor calls between them.

    Args:
        image: RGB ``(H, W, 3)``, uint8 or float in ``[0, 1]``.
        predictor: a predictor object (not a name) for this image.
        methods: names from :data:`METHODS` (validated with :func:`parse_methods`).
        refiner: the refiner object of ``one-stage`` and ``two-stage``.
        poisson: the Poisson refiner object.
        device: torch device for :func:`sddr_core.refine`.
        low_resolution, high_resolution, snap: as in :func:`sddr_core.refine` (``snap``
            applies to the refiners' methods, not to ``low`` and ``high``).
        split: the ``split`` refiner object; None creates the registered ``split`` refiner
            when the method is asked for.

    Returns:
        ``{method: MethodOutput}`` in the order of ``methods``.
    """
    from sddr_core.inference import as_refiner, refine

    cached = CachingPredictor(predictor)
    options = {
        "device": device,
        "low_resolution": low_resolution,
        "high_resolution": high_resolution,
        "snap": snap,
    }

    def timed(mode: str, ref: Any) -> tuple[Any, float]:
        cached.reset_clock()
        result = refine(image, cached, mode=mode, refiner=ref, **options)  # type: ignore[arg-type]
        return result, float(result.timings["total"]) + cached.replayed

    outs: dict[str, MethodOutput] = {}
    refiner_is_poisson = refiner.name == poisson.name
    wanted = set(methods)
    if wanted & {"low", "high", "poisson"} or ("one-stage" in wanted and refiner_is_poisson):
        result, seconds = timed("one-stage", poisson)
        kind = result.kind
        outs["low"] = MethodOutput(
            result.low, kind, float(result.timings["predict-low"]), None, result.info
        )
        outs["high"] = MethodOutput(
            result.high, kind, float(result.timings["predict-high"]), None, result.info
        )
        outs["poisson"] = MethodOutput(result.depth, kind, seconds, poisson.name, result.info)
        if refiner_is_poisson:
            outs["one-stage"] = MethodOutput(result.depth, kind, seconds, refiner.name, result.info)
    if "split" in wanted:
        splitter = split if split is not None else as_refiner("split")
        result, seconds = timed("one-stage", splitter)
        outs["split"] = MethodOutput(result.depth, result.kind, seconds, splitter.name, result.info)
        if refiner.name == splitter.name:
            outs["one-stage"] = outs["split"]
    if "one-stage" in wanted and "one-stage" not in outs:
        result, seconds = timed("one-stage", refiner)
        outs["one-stage"] = MethodOutput(
            result.depth, result.kind, seconds, refiner.name, result.info
        )
    if "two-stage" in wanted:
        result, seconds = timed("two-stage", refiner)
        outs["two-stage"] = MethodOutput(
            result.depth, result.kind, seconds, refiner.name, result.info
        )
    return {m: outs[m] for m in methods}
