"""One-stage refinement: predictor at low and high resolution, one fusion pass.

Also holds the pieces two-stage refinement reuses: choosing resolutions and the working
size, and fusing two maps at a working size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sddr_core.errors import InputError, option
from sddr_core.inference.guard import guard_fusion, keep_positive
from sddr_core.ops.resize import resize_map, working_shape
from sddr_core.ops.resolution import adaptive_resolution, edge_density
from sddr_core.predictors.base import DepthPredictor, run_predictor
from sddr_core.progress import check_cancel, report
from sddr_core.refiners.base import Fusion, Refiner

__all__ = [
    "DEFAULT_MAX_HIGH_RESOLUTION",
    "OneStageResult",
    "choose_resolutions",
    "fuse_at",
    "fuse_batch_at",
    "fuse_stage",
    "one_stage",
    "working_size_for",
]

#: Upper bound of the adaptive high resolution unless the predictor declares
#: ``max_resolution`` (a memory bound: a ViT-L at 2048 px needs about 10 GB).
DEFAULT_MAX_HIGH_RESOLUTION = 2048


def choose_resolutions(
    image: np.ndarray,
    predictor: DepthPredictor,
    low_resolution: int | None = None,
    high_resolution: int | None = None,
) -> tuple[int, int]:
    """``(low, high)`` long sides at which to run ``predictor`` on the whole ``image``.

    Low defaults to the predictor's native resolution. High defaults to the adaptive rule of
    METHOD.md section 4: twice the native resolution scaled by the image's edge density,
    between 1.5× and 3× native, capped by ``predictor.max_resolution`` (default 2048).

    Raises:
        InputError: an explicit ``high_resolution`` below the low resolution (given, or the
            native one): the high pass is the one that brings the detail, so it must not be
            the smaller one.
    """
    native = int(predictor.native_resolution)
    multiple = int(getattr(predictor, "size_multiple", 1) or 1)
    low = int(low_resolution or native)
    if high_resolution:
        high = int(high_resolution)
        if high < low:
            name = getattr(predictor, "name", type(predictor).__name__)
            where = "" if low_resolution else f", the native resolution of {name!r}"
            raise InputError(
                f"the high resolution ({high} px) is below the low resolution ({low} px"
                f"{where}): the high-resolution pass brings the detail and the low one the "
                f"layout, so high must be at least low. Use {option('high_resolution', low)} "
                f"or more, or {option('low_resolution', high)} or less."
            )
        return low, high
    cap = int(getattr(predictor, "max_resolution", None) or DEFAULT_MAX_HIGH_RESOLUTION)
    high = adaptive_resolution(
        native,
        2 * native,
        edge_density(image),
        multiple=multiple,
        min_factor=1.5,
        max_factor=3.0,
        cap=max(cap, low),
    )
    return low, max(high, low)


def working_size_for(
    image_shape: tuple[int, int], high_shape: tuple[int, int], refiner: Refiner
) -> tuple[int, int]:
    """Working size of the fusion: the high prediction's long side, capped by the image's own
    long side (the output has the image's size, so more would be wasted) and by the refiner,
    with the image's aspect ratio and sides that are multiples of ``refiner.size_multiple``."""
    long_side = min(max(high_shape), max(image_shape), int(refiner.max_working_side))
    return working_shape(image_shape[0], image_shape[1], long_side, int(refiner.size_multiple))


#: The space in which depth-kind predictions are fused: ``"depth"`` (as predicted) or
#: ``"disparity"`` (their reciprocal, converted back after the fusion). Chosen by
#: measurement; see docs/MODEL_CARD.md, "Depth-kind predictors".
DEPTH_FUSION_SPACE = "disparity"


def fuse_at(
    refiner: Refiner,
    low: np.ndarray,
    high: np.ndarray,
    shape: tuple[int, int],
    kind: str = "disparity",
    space: str | None = None,
) -> Fusion:
    """Resize both maps to ``shape`` and fuse them, with the guarantees of
    :mod:`sddr_core.inference.guard`: a high pass that disagrees with the low one is backed
    off, and a depth-kind result is strictly positive (``info["raised_to_positive"]`` counts
    the pixels it took). Depth-kind maps are fused in ``space`` (default
    :data:`DEPTH_FUSION_SPACE`)."""
    low_w, high_w = resize_map(low, shape), resize_map(high, shape)
    inverse = _fuses_inverse(kind, space)
    if inverse:
        inv_lo, inv_hi = _inverse_pair(low, high, shape)
        return _finish(refiner.fuse(inv_lo, inv_hi), low_w, high_w, kind, (inv_lo, inv_hi))
    return _finish(refiner.fuse(low_w, high_w), low_w, high_w, kind, None)


def fuse_batch_at(
    refiner: Refiner,
    lows: Sequence[np.ndarray],
    highs: Sequence[np.ndarray],
    shape: tuple[int, int],
    kind: str = "disparity",
    space: str | None = None,
) -> list[Fusion]:
    """:func:`fuse_at` for several pairs at one working ``shape`` (frames of a video): one
    ``refiner.fuse_batch`` call when the refiner has one (a network then fuses them in
    shared forward passes), else ``refiner.fuse`` pair by pair. The guard and the
    positivity floor act on each pair alone, as :func:`fuse_at` does; results are in input
    order."""
    if len(lows) != len(highs):
        raise InputError(f"fuse_batch_at got {len(lows)} low and {len(highs)} high maps.")
    lows_w = [resize_map(lo, shape) for lo in lows]
    highs_w = [resize_map(hi, shape) for hi in highs]
    inverse = _fuses_inverse(kind, space)
    if inverse:
        pairs = [_inverse_pair(lo, hi, shape) for lo, hi in zip(lows, highs, strict=True)]
        ins_lo, ins_hi = [p[0] for p in pairs], [p[1] for p in pairs]
    else:
        ins_lo, ins_hi = lows_w, highs_w
    batch = getattr(refiner, "fuse_batch", None)
    if callable(batch) and len(ins_lo) > 1:
        fusions = list(batch(ins_lo, ins_hi))
    else:
        fusions = [refiner.fuse(lo, hi) for lo, hi in zip(ins_lo, ins_hi, strict=True)]
    if len(fusions) != len(lows_w):
        raise InputError(
            f"the refiner's fuse_batch returned {len(fusions)} fusions for {len(lows_w)} pairs."
        )
    return [
        _finish(f, lo, hi, kind, (ins_lo[i], ins_hi[i]) if inverse else None)
        for i, (f, lo, hi) in enumerate(zip(fusions, lows_w, highs_w, strict=True))
    ]


def _fuses_inverse(kind: str, space: str | None) -> bool:
    space = space or (DEPTH_FUSION_SPACE if kind == "depth" else "disparity")
    return kind == "depth" and space == "disparity"


def reciprocal(depth: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """``1 / depth`` as float32, with values below ``1e-6`` of the largest magnitude of
    ``reference`` (default ``depth``) raised to that floor first: the disparity in which
    depth-kind maps are fused."""
    ref = depth if reference is None else reference
    floor = 1e-6 * max(float(np.nanmax(np.abs(ref))), 1e-12)
    return (1.0 / np.maximum(depth, floor)).astype(np.float32)


def resize_as_disparity(depth: np.ndarray, shape: tuple[int, int], kind: str) -> np.ndarray:
    """``depth`` resized to ``shape``; a depth-kind map as its disparity (the reciprocal), in
    which it was fused, so that a depth-kind result is the reciprocal of its disparity twin's."""
    if kind != "depth" or tuple(depth.shape) == tuple(shape):
        return resize_map(depth, shape)
    return reciprocal(resize_map(reciprocal(depth), shape))


def _inverse_pair(
    low: np.ndarray, high: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Depth maps as the reciprocals the refiner fuses (see :func:`_finish`), resized to
    ``shape`` as disparity (averaging depth across an edge is not averaging disparity)."""
    return resize_map(reciprocal(low), shape), resize_map(reciprocal(high, low), shape)


def _finish(
    fusion: Fusion,
    low_w: np.ndarray,
    high_w: np.ndarray,
    kind: str,
    inverse: tuple[np.ndarray, np.ndarray] | None,
) -> Fusion:
    """A refiner's raw fusion of ``low_w`` and ``high_w`` with the guard and the positivity
    floor. With ``inverse`` (the reciprocals of ``low_w`` and ``high_w`` from
    :func:`_inverse_pair`) the refiner fused reciprocals: the guard judges and blends them
    too, and the result is converted back to depth."""
    fusion = Fusion(np.asarray(fusion.depth, dtype=np.float32), fusion.omega, dict(fusion.info))
    if inverse is not None:
        fusion = guard_fusion(fusion, *inverse)
        disp, _ = keep_positive(fusion.depth, inverse[0])
        info = {**fusion.info, "fusion_space": "disparity"}
        fusion = Fusion((1.0 / disp).astype(np.float32), fusion.omega, info)
    else:
        fusion = guard_fusion(fusion, low_w, high_w)
    if kind == "depth":
        depth, raised = keep_positive(fusion.depth, low_w)
        if raised:
            fusion = Fusion(depth, fusion.omega, {**fusion.info, "raised_to_positive": raised})
    return fusion


def fuse_stage(
    refiner: Refiner,
    low: np.ndarray,
    high: np.ndarray,
    image_shape: tuple[int, int],
    timings: dict[str, float],
    kind: str = "disparity",
) -> Fusion:
    """The ``"refine"`` stage: honour cancellation, report progress, fuse ``low`` and ``high``
    at the working size for ``image_shape`` (see :func:`working_size_for`) and record the time
    in ``timings["refine"]``."""
    import time

    check_cancel("refine")
    report("refine", 0, 1)
    t = time.perf_counter()
    shape = working_size_for(image_shape, high.shape, refiner)
    fusion = fuse_at(refiner, low, high, shape, kind)
    timings["refine"] = time.perf_counter() - t
    report("refine", 1, 1)
    return fusion


@dataclass
class OneStageResult:
    """Outputs of :func:`one_stage` at the working size, plus the raw predictions."""

    fusion: Fusion
    low: np.ndarray
    high: np.ndarray
    low_resolution: int
    high_resolution: int


def one_stage(
    image: np.ndarray,
    predictor: DepthPredictor,
    refiner: Refiner,
    *,
    low_resolution: int | None = None,
    high_resolution: int | None = None,
    timings: dict[str, float] | None = None,
) -> OneStageResult:
    """Run the predictor twice on ``image`` (float RGB ``(H, W, 3)``) and fuse once."""
    import time

    timings = {} if timings is None else timings
    low_res, high_res = choose_resolutions(image, predictor, low_resolution, high_resolution)
    maps = {}
    for stage, res in (("predict-low", low_res), ("predict-high", high_res)):
        check_cancel(stage)
        report(stage, 0, 1)
        t = time.perf_counter()
        maps[stage] = run_predictor(predictor, image, res)
        timings[stage] = time.perf_counter() - t
        report(stage, 1, 1)
    fusion = fuse_stage(
        refiner,
        maps["predict-low"],
        maps["predict-high"],
        image.shape[:2],
        timings,
        str(getattr(predictor, "kind", "disparity")),
    )
    return OneStageResult(fusion, maps["predict-low"], maps["predict-high"], low_res, high_res)
