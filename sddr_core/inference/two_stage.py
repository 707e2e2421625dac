"""Two-stage (coarse-to-fine) refinement, METHOD.md section 4.

Starting from the one-stage result ``D_0`` at the working size, each level ``s`` splits the
image into ``s × s`` overlapping windows. For every window the predictor runs on the RGB crop
at an adaptive resolution, the refiner fuses (crop of ``D_{s−1}``, window prediction), the
result is aligned to the crop of ``D_{s−1}`` by a least-squares scale and shift and blended
in with a feathered mask (1 inside, Gaussian fall-off towards the borders it shares with
other windows). ``G_s``, the edge map of the merged ``D_s``, is aligned to ``G_{s−1}``.

:func:`coarse_to_fine` is a plain function of arrays: :func:`sddr_core.refine` uses it for
``mode="two-stage"`` and training uses it to make the pseudo-labels ``G_S``.

Memory: every map lives at the working size (bounded by ``refiner.max_working_side``);
windows are predicted and fused ``batch_size`` at a time and only their working-size maps are
kept; the merge accumulates into two working-size buffers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sddr_core.errors import InputError, ShapeError
from sddr_core.inference.guard import guard_fusion, keep_positive
from sddr_core.inference.one_stage import DEFAULT_MAX_HIGH_RESOLUTION, reciprocal
from sddr_core.ops.align import apply_scale_shift
from sddr_core.ops.edges import edge_map
from sddr_core.ops.local_range import clamp_to_local_range
from sddr_core.ops.resize import resize_long_side, resize_map, working_shape
from sddr_core.ops.resolution import adaptive_resolution, edge_density
from sddr_core.predictors.base import Box, DepthPredictor, check_kind, predict_region
from sddr_core.progress import check_cancel, report
from sddr_core.refiners.base import Fusion, Refiner

__all__ = [
    "CoarseToFine",
    "coarse_to_fine",
    "feather_mask",
    "window_boxes",
    "window_resolution",
]

#: Default ``range_radius`` of :func:`coarse_to_fine` in working-size pixels, chosen on the
#: 50 held-out procedural scenes (docs/model_card/SDDR_B0.md, "Two-stage: holding windows in
#: range").
DEFAULT_RANGE_RADIUS = 1

#: Weight of the previous estimate in each level's merge, against window weights of at most
#: 1 (:func:`feather_mask`). Chosen on the Middlebury 2006 validation scenes with every
#: ``family-*`` predictor and both stereo matchers (docs/MODEL_CARD.md, "Two-stage"): at
#: 1e-3 (the estimate only where no window reaches) a window whose pass is worse than the
#: current estimate replaced it, and two-stage raised D³R above one-stage on ``structural``
#: (0.016 → 0.031) and ``holes`` (0.018 → 0.038); at 2 both fall below one-stage (0.007,
#: 0.004) and real stereo keeps most of its gain (SGBM 0.306 → 0.236, BM 0.421 → 0.309).
DEFAULT_PREVIOUS_WEIGHT = 2.0


@dataclass
class CoarseToFine:
    """Result of :func:`coarse_to_fine`, at the working size of ``initial``.

    Attributes:
        depth: float32 ``(h, w)`` merged estimate ``D_S`` (scale of ``initial``).
        edges: float32 ``(h, w)`` its edge map ``G_S``, aligned to ``G_{S−1}`` (the
            pseudo-label of training).
        windows: number of windows processed (= extra predictor calls = extra refiner
            fusions).
        guarded: windows whose high-resolution pass was backed off by
            :func:`~sddr_core.inference.guard.guard_fusion`.
        raised: for depth-kind maps, pixels raised to the positivity floor
            (:func:`~sddr_core.inference.guard.keep_positive`).
        level_edges: ``[G_0, G_1, …, G_S]`` when ``keep_levels=True``, else empty.
        resolutions: the predictor resolution used for each window, in processing order.
    """

    depth: np.ndarray
    edges: np.ndarray
    windows: int
    guarded: int = 0
    raised: int = 0
    level_edges: list[np.ndarray] = field(default_factory=list)
    resolutions: list[int] = field(default_factory=list)


def window_boxes(shape: tuple[int, int], splits: int, overlap: float) -> list[Box]:
    """``splits × splits`` overlapping windows covering an image of ``shape = (H, W)``.

    Each window spans ``1 / (s − (s − 1)·overlap)`` of each side and neighbours share
    ``overlap`` of a window's size. Boxes are ``(top, left, bottom, right)`` in pixels,
    row-major, and together cover every pixel.
    """
    if splits < 1:
        raise InputError(f"a level needs at least 1 window per side, got {splits}.")
    if not 0.0 <= overlap < 1.0:
        raise InputError(f"window overlap must be in [0, 1), got {overlap}.")

    def spans(n: int) -> list[tuple[int, int]]:
        size = n / (splits - (splits - 1) * overlap)
        step = size * (1.0 - overlap)
        out = []
        for i in range(splits):
            a = int(round(i * step))
            b = n if i == splits - 1 else int(round(i * step + size))
            out.append((a, max(b, a + 1)))
        return out

    rows, cols = spans(int(shape[0])), spans(int(shape[1]))
    return [(t, l, b, r) for t, b in rows for l, r in cols]


def feather_mask(shape: tuple[int, int], ramps: tuple[int, int, int, int]) -> np.ndarray:
    """Blending weights of a window: 1 inside, Gaussian fall-off over ``ramps`` pixels
    towards the (top, left, bottom, right) borders (0 = a hard border, e.g. at the image edge).

    Over a ramp of ``r`` pixels the weight is ``exp(−½ ((r − d) / (r / 3))²)`` at distance
    ``d`` from the border: 1 at the ramp's inner end, about 0.01 at the border. Float32
    ``(h, w)`` in ``(0, 1]``.
    """
    h, w = int(shape[0]), int(shape[1])

    def axis(n: int, r0: int, r1: int) -> np.ndarray:
        d = np.arange(n, dtype=np.float64) + 0.5
        out = np.ones(n)
        for ramp, dist in ((r0, d), (r1, n - d)):
            if ramp > 0:
                z = np.clip((ramp - dist) / (ramp / 3.0), 0.0, None)
                out *= np.exp(-0.5 * z * z)
        return out

    top, left, bottom, right = ramps
    return np.outer(axis(h, top, bottom), axis(w, left, right)).astype(np.float32)


def window_resolution(predictor: DepthPredictor, window: np.ndarray, image_density: float) -> int:
    """Adaptive predictor resolution (long side) for a window's RGB crop.

    METHOD.md section 4: base ``mean(native, window long side)`` scaled by the square root of
    the window's edge density relative to the whole image's, between 1× and 3× the native
    resolution, capped by the predictor's ``max_resolution`` (default 2048) and rounded to
    its ``size_multiple``.
    """
    native = int(predictor.native_resolution)
    base = 0.5 * (native + max(window.shape[:2]))
    cap = int(getattr(predictor, "max_resolution", None) or DEFAULT_MAX_HIGH_RESOLUTION)
    return adaptive_resolution(
        native,
        int(round(base)),
        _edge_density(window),
        reference_density=max(float(image_density), 1e-6),
        multiple=int(getattr(predictor, "size_multiple", 1) or 1),
        min_factor=1.0,
        max_factor=3.0,
        cap=max(cap, native),
    )


def _edge_density(rgb: np.ndarray) -> float:
    """:func:`~sddr_core.ops.edge_density` of a thumbnail (long side 512, where it measures
    anyway): avoids full-size float and grey copies of a large photo or window."""
    thumb = resize_long_side(rgb, min(512, max(rgb.shape[:2])), kind="image")
    return edge_density(thumb)


def _to_grid(box: Box, image_shape: tuple[int, int], grid_shape: tuple[int, int]) -> Box:
    H, W = image_shape
    h, w = grid_shape
    top = int(round(box[0] * h / H))
    left = int(round(box[1] * w / W))
    bottom = max(int(round(box[2] * h / H)), top + 1)
    right = max(int(round(box[3] * w / W)), left + 1)
    return top, left, min(bottom, h), min(right, w)


def _fuse_all(refiner: Refiner, lows: list[np.ndarray], highs: list[np.ndarray]) -> list[Fusion]:
    """Fuse a batch of windows. The current estimate already has the whole image's layout, so
    a refiner that can choose the layout (band fusion with base trust) keeps the estimate's:
    measured on the validation scenes, window layouts raised D³R on `holes` (0.040 → 0.070)
    and `structural` (0.032 → 0.042) and on BM (0.301 → 0.320)."""
    batch = getattr(refiner, "fuse_batch", None)
    if callable(batch):
        import inspect

        if "keep_low_layout" in inspect.signature(batch).parameters:
            return list(batch(lows, highs, keep_low_layout=True))
        return list(batch(lows, highs))
    return [refiner.fuse(lo, hi) for lo, hi in zip(lows, highs, strict=True)]


def coarse_to_fine(
    image: np.ndarray,
    predictor: DepthPredictor,
    refiner: Refiner,
    initial: np.ndarray,
    *,
    levels: Sequence[int] = (2, 3),
    overlaps: Sequence[float] = (0.2, 0.25),
    batch_size: int = 4,
    keep_levels: bool = False,
    range_radius: int | None = DEFAULT_RANGE_RADIUS,
    previous_weight: float = DEFAULT_PREVIOUS_WEIGHT,
    full_size: bool = True,
    kind: str = "disparity",
) -> CoarseToFine:
    """Coarse-to-fine refinement of ``initial`` with windows of ``levels`` (s × s each).

    Args:
        image: float32 RGB ``(H, W, 3)`` in ``[0, 1]`` at full size (what the predictor sees).
        predictor: any :class:`~sddr_core.DepthPredictor`; windows go through
            :func:`~sddr_core.predictors.base.predict_region`.
        refiner: any :class:`~sddr_core.Refiner`; its ``fuse_batch`` is used when present.
        initial: float32 ``(h, w)`` one-stage result ``D_0`` at the working size, with the
            image's aspect ratio, in the predictor's convention.
        levels: windows per side at each level (METHOD.md: 2 then 3; add 4 for S = 3).
        overlaps: overlap fraction of neighbouring windows at each level.
        batch_size: windows predicted and fused together (memory versus speed).
        keep_levels: also return ``G_0 … G_S``.
        range_radius: each window's fusion is clipped into the local range (a disc of this
            many working-size pixels) of its two inputs, the crop of the current estimate
            and the window prediction aligned to it (``None``: off). The current estimate is
            already sharp, and a refiner that sharpens it again overshoots at its edges; as
            every pixel is fused once per level the halos add up. See
            :mod:`sddr_core.ops.local_range`.
        previous_weight: weight of the current estimate in each level's merge, beside
            window weights of at most 1 (:data:`DEFAULT_PREVIOUS_WEIGHT`).
        full_size: merge on the image's own pixel grid (long side capped by the refiner's
            ``max_working_side``) instead of ``initial``'s when that is smaller: windows are
            predicted at a higher pixel density than the one-stage passes, and squeezing
            them into the one-stage grid blurs their edges.
        kind: the predictor's convention. ``"depth"``: the windows are fused, aligned and
            merged as disparity (the reciprocals), as :func:`~sddr_core.inference.one_stage.fuse_at`
            fuses depth-kind passes, and the result is converted back and kept above half
            the smallest depth of ``initial`` (``raised`` counts the pixels); the edge maps
            are then those of the disparity.

    Returns:
        A :class:`CoarseToFine` at ``initial``'s size, or at the image's (capped) size with
        ``full_size=True``.

    Progress goes to the ``sddr_progress`` hook as stage ``"window"`` (one unit per window
    over all levels); the ``sddr_should_cancel`` hook is asked before every window.

    Raises:
        InputError / ShapeError: bad arguments. CancelledError: a plugin asked to stop.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ShapeError(f"coarse_to_fine expects an RGB (H, W, 3) image, got {image.shape}.")
    initial = np.asarray(initial, dtype=np.float32)
    if initial.ndim != 2:
        raise ShapeError(f"initial must be a (h, w) map, got shape {initial.shape}.")
    if len(levels) != len(overlaps):
        raise InputError(f"got {len(levels)} levels but {len(overlaps)} overlaps: give one each.")
    if range_radius is not None and range_radius < 0:
        raise InputError(f"range_radius must be >= 0 or None, got {range_radius}.")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}.")
    if any(int(s) < 2 for s in levels):
        raise InputError(f"each level needs at least 2×2 windows, got levels={tuple(levels)}.")

    if not previous_weight > 0:
        raise InputError(f"previous_weight must be positive, got {previous_weight}.")

    as_disparity = check_kind(kind) == "depth"
    initial_depth = initial
    if as_disparity:
        initial = reciprocal(initial)
    image_shape = image.shape[:2]
    multiple = int(getattr(refiner, "size_multiple", 1) or 1)
    max_side = int(getattr(refiner, "max_working_side", max(initial.shape)) or max(initial.shape))
    if full_size and max(image_shape) > max(initial.shape) and max_side > max(initial.shape):
        side = min(max(image_shape), max_side)
        initial = resize_map(initial, working_shape(image_shape[0], image_shape[1], side))
    grid = initial.shape
    total = sum(int(s) ** 2 for s in levels)
    density = _edge_density(image)

    current = initial
    g_prev = edge_map(current)
    level_edges = [g_prev] if keep_levels else []
    resolutions: list[int] = []
    done = 0
    guarded = 0
    report("window", 0, total)
    for splits, overlap in zip(levels, overlaps, strict=True):
        splits = int(splits)
        boxes = window_boxes(image_shape, splits, float(overlap))
        num = np.zeros(grid, dtype=np.float32)
        den = np.zeros(grid, dtype=np.float32)
        # One working shape for all windows of a level (they differ by rounding only): the
        # refiner batches them together and compiles kernels for one shape.
        level_cells = [_to_grid(box, image_shape, grid) for box in boxes]
        ch = max(c[2] - c[0] for c in level_cells)
        cw = max(c[3] - c[1] for c in level_cells)
        shape = working_shape(ch, cw, min(max(ch, cw), max_side), multiple)
        # At the grid's own scale a smaller cell is padded up to the level's shape, not
        # resampled: a 1-px resize moved every edge by a fraction of a pixel and, summed over
        # the windows, blurred them (boundary F1 of the two-stage result fell below one-stage).
        pad_cells = shape[0] >= ch and shape[1] >= cw and max(ch, cw) <= max_side
        for start in range(0, len(boxes), batch_size):
            cells = level_cells[start : start + batch_size]
            lows, highs = [], []
            for box, (t, l, b, r) in zip(boxes[start : start + batch_size], cells, strict=True):
                check_cancel("window")
                res = window_resolution(predictor, image[box[0] : box[2], box[1] : box[3]], density)
                resolutions.append(res)
                pred = predict_region(predictor, image, box, res)
                if as_disparity:
                    pred = reciprocal(pred)
                crop = current[t:b, l:r]
                if pad_cells:
                    pads = ((0, shape[0] - crop.shape[0]), (0, shape[1] - crop.shape[1]))
                    lows.append(np.pad(crop, pads, mode="edge"))
                    highs.append(np.pad(resize_map(pred, crop.shape), pads, mode="edge"))
                else:
                    lows.append(resize_map(crop, shape))
                    highs.append(resize_map(pred, shape))
                del pred
            fusions = [
                guard_fusion(f, lo, hi)
                for f, lo, hi in zip(_fuse_all(refiner, lows, highs), lows, highs, strict=True)
            ]
            guarded += sum("guard" in f.info for f in fusions)
            if range_radius is not None:
                fusions = [
                    _hold_in_range(f, lo, hi, range_radius)
                    for f, lo, hi in zip(fusions, lows, highs, strict=True)
                ]
            del lows, highs
            for fusion, cell in zip(fusions, cells, strict=True):
                t, l, b, r = cell
                crop = current[t:b, l:r]
                fused = np.asarray(fusion.depth, dtype=np.float32)
                if pad_cells:
                    fused = fused[: crop.shape[0], : crop.shape[1]]
                else:
                    fused = resize_map(fused, crop.shape)
                aligned = apply_scale_shift(fused, crop)
                ramps = _ramps(cell, grid, splits, overlap)
                mask = feather_mask(crop.shape, ramps)
                num[t:b, l:r] += mask * aligned
                den[t:b, l:r] += mask
                done += 1
                report("window", done, total)
            del fusions
        current = (num + previous_weight * current) / (den + previous_weight)
        del num, den
        g = apply_scale_shift(edge_map(current), g_prev)
        g_prev = g
        if keep_levels:
            level_edges.append(g)
    raised = 0
    if as_disparity:  # back to depth; the merge adds maps, so the disparity stays positive
        current, _ = keep_positive(current, initial)
        current, raised = keep_positive(reciprocal(current), initial_depth)
    return CoarseToFine(
        depth=current.astype(np.float32, copy=False),
        edges=g_prev.astype(np.float32, copy=False),
        windows=done,
        guarded=guarded,
        raised=raised,
        level_edges=level_edges,
        resolutions=resolutions,
    )


def two_stage_step(
    image: np.ndarray,
    predictor: DepthPredictor,
    refiner: Refiner,
    initial: np.ndarray,
    info: dict[str, Any],
    timings: dict[str, float],
) -> CoarseToFine:
    """:func:`coarse_to_fine` of a one-stage result, in the predictor's convention, as
    :func:`~sddr_core.refine` and :func:`~sddr_core.refine_sequence` run it: its time goes to
    ``timings["two-stage"]``, its size and calls, backed-off windows and raised pixels to
    ``info``."""
    t = time.perf_counter()
    c2f = coarse_to_fine(image, predictor, refiner, initial, kind=predictor.kind)
    timings["two-stage"] = time.perf_counter() - t
    info["working_size"] = f"{c2f.depth.shape[1]}x{c2f.depth.shape[0]}"
    info["predictor_calls"] += c2f.windows
    info["refiner_calls"] += c2f.windows
    if c2f.guarded:
        info["guarded_windows"] = c2f.guarded
    if c2f.raised:
        info["raised_to_positive"] = info.get("raised_to_positive", 0) + c2f.raised
    return c2f


def _hold_in_range(fusion: Fusion, low: np.ndarray, high: np.ndarray, radius: int) -> Fusion:
    """``fusion`` clipped into the local range of ``low`` and ``high`` aligned to it."""
    high = apply_scale_shift(high, low)
    depth = clamp_to_local_range(fusion.depth, (low, high), radius)
    return Fusion(depth, fusion.omega, fusion.info)


def _ramps(
    cell: Box, grid: tuple[int, int], splits: int, overlap: float
) -> tuple[int, int, int, int]:
    """Feather widths of a window on the working grid: the overlap with its neighbours on
    inner borders, 0 on the image's own borders."""
    t, l, b, r = cell
    h, w = grid
    oy = int(round(overlap * (b - t)))
    ox = int(round(overlap * (r - l)))
    if overlap <= 0 or splits < 2:
        return 0, 0, 0, 0
    return (oy if t > 0 else 0, ox if l > 0 else 0, oy if b < h else 0, ox if r < w else 0)
