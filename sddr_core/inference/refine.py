"""``refine(image, predictor)``: the face of sddr."""

from __future__ import annotations

import os
import time
from typing import Any, Literal

import numpy as np

from sddr_core.errors import InputError
from sddr_core.inference.one_stage import fuse_stage, one_stage, resize_as_disparity
from sddr_core.inference.result import RefinedDepth
from sddr_core.io.images import load_image
from sddr_core.ops.edges import edge_map
from sddr_core.ops.maps import as_depth_map
from sddr_core.ops.resize import resize_map
from sddr_core.predictors.base import DepthPredictor, as_predictor
from sddr_core.refiners.base import Refiner

__all__ = ["MODES", "as_refiner", "refine", "refine_depths", "snap_to_photo"]

Mode = Literal["one-stage", "two-stage"]
MODES: tuple[str, ...] = ("one-stage", "two-stage")


def as_refiner(refiner: Any = None, *, device: Any = None) -> Refiner:
    """A :class:`Refiner` from ``None`` (best available), a registered name, a checkpoint
    path (``.safetensors``) or a refiner object."""
    if isinstance(refiner, (str, os.PathLike)) and (
        not isinstance(refiner, str) or _looks_like_path(refiner) or os.path.isdir(refiner)
    ):
        from sddr_core.io.checkpoints import check_refiner_path

        check_refiner_path(refiner)  # folders and pickles get a message saying what they are
    if refiner is None or (isinstance(refiner, str) and not _looks_like_path(refiner)):
        from sddr_core.registry import create_refiner

        return create_refiner(refiner, device=device)
    if isinstance(refiner, (str, os.PathLike)):
        from sddr_core.refiners.network import load_refiner

        return load_refiner(refiner, device=device)
    if hasattr(refiner, "fuse"):
        return refiner
    raise InputError(
        f"refiner must be None, a registered name, a .safetensors path or an object with "
        f"fuse(low, high), got {type(refiner).__name__}. See `sddr refiners`."
    )


def _looks_like_path(s: str) -> bool:
    from sddr_core.io.checkpoints import PICKLE_SUFFIXES

    return s.endswith((".safetensors", *PICKLE_SUFFIXES)) or os.sep in s or "/" in s


def refine(
    image: Any,
    predictor: str | DepthPredictor | Any,
    *,
    mode: Mode = "one-stage",
    refiner: str | Refiner | None = None,
    device: Any = None,
    low_resolution: int | None = None,
    high_resolution: int | None = None,
    snap: bool = True,
) -> RefinedDepth:
    """Refine the depth of ``image`` predicted by ``predictor``.

    Args:
        image: a file path, a PIL image, a numpy array ``(H, W, 3)`` or ``(H, W)`` of uint8,
            uint16 or float in ``[0, 1]`` (RGBA: alpha dropped), or a torch tensor
            ``(3, H, W)`` / ``(H, W, 3)``.
        predictor: a registered predictor name (see ``sddr predictors``), an object following
            :class:`~sddr_core.DepthPredictor`, or a plain callable ``f(image, resolution)``
            (wrapped by :class:`~sddr_core.CallablePredictor`: native resolution 518,
            disparity).
        mode: ``"one-stage"`` (two predictor calls, one fusion) or ``"two-stage"`` (then
            coarse-to-fine windows of 2×2 and 3×3 for the sharpest edges).
        refiner: ``None`` for the best available refiner (the bundled network when its
            weights are present, else Poisson fusion), a registered name, a ``.safetensors``
            checkpoint path, or a refiner object.
        device: torch device for the predictor and the refiner (``None``: CUDA if present).
        low_resolution: long side of the low-resolution pass (default: the predictor's
            native resolution).
        high_resolution: long side of the high-resolution pass (default: adaptive, from the
            image's edge density).
        snap: snap the refined map's edges to the image's edges (:func:`snap_to_photo`):
            the map is brought to the image's size and each pixel near a depth edge takes
            the weighted median of its neighbours' depths, weighted by colour likeness.
            ``info`` then has ``snap_radius`` and ``snapped_pixels``. False returns the
            fusion as it is (resized to the image).

    Returns:
        A :class:`~sddr_core.RefinedDepth` at the input image's size.

    Raises:
        InputError: unusable image or option; PredictorError: the predictor failed or
        returned garbage; UnknownNameError: unknown predictor or refiner;
        WeightsError: missing or broken weights; CancelledError: a plugin asked to stop.
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}.")
    for name, value in (("low_resolution", low_resolution), ("high_resolution", high_resolution)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 16):
            raise InputError(f"{name} must be an integer of at least 16 pixels, got {value!r}.")
    start = time.perf_counter()
    timings: dict[str, float] = {}
    rgb = load_image(image)
    if isinstance(predictor, str):
        pred = as_predictor(predictor, device=device)
    else:
        pred = as_predictor(predictor)
    ref = as_refiner(refiner, device=device)
    h, w = rgb.shape[:2]

    first = one_stage(
        rgb,
        pred,
        ref,
        low_resolution=low_resolution,
        high_resolution=high_resolution,
        timings=timings,
    )
    work = first.fusion.depth
    omega = first.fusion.omega
    info: dict[str, Any] = {
        "predictor": pred.name,
        "refiner": ref.name,
        "mode": mode,
        "low_resolution": first.low_resolution,
        "high_resolution": first.high_resolution,
        "working_size": f"{work.shape[1]}x{work.shape[0]}",
        "predictor_calls": 2,
        "refiner_calls": 1,
        **first.fusion.info,
    }
    edges_work: np.ndarray | None = None
    if mode == "two-stage":
        from sddr_core.inference.two_stage import two_stage_step

        c2f = two_stage_step(rgb, pred, ref, work, info, timings)
        # a depth-kind result's edges come from its depth, as in one-stage
        work, edges_work = c2f.depth, (c2f.edges if pred.kind != "depth" else None)
    if snap:  # edges as soft as the first fusion's: two-stage windows sharpen, not all
        fused_at = (int(first.fusion.depth.shape[0]), int(first.fusion.depth.shape[1]))
        work = snap_to_photo(
            work, rgb, info, timings, device=device, fused_at=fused_at, kind=pred.kind
        )
        edges_work = None  # of the map before snapping
    if edges_work is None:
        edges_work = edge_map(work)
    return _result(
        (h, w), work, edges_work, first.low, first.high, omega, pred.kind, timings, info, start
    )


def snap_to_photo(
    work: np.ndarray,
    rgb: np.ndarray,
    info: dict[str, Any],
    timings: dict[str, float],
    *,
    device: Any = None,
    fused_at: tuple[int, int] | None = None,
    kind: str = "disparity",
) -> np.ndarray:
    """``work`` (of ``kind``) at the photo's size, its edges snapped to the photo's
    (:func:`sddr_core.ops.snap.snap_to_image`, window radius from
    :func:`~sddr_core.ops.snap.snap_radius`: wider when the fusion ran smaller than the
    photo; ``fused_at``: the size the fusion ran at, default ``work``'s). Records
    ``info["snap_radius"]``, ``info["snapped_pixels"]`` and ``timings["snap"]``, and reports
    the ``snap`` stage to the progress and cancel hooks."""
    from sddr_core.device import resolve_device
    from sddr_core.ops.snap import snap_radius, snap_to_image  # imports torch
    from sddr_core.progress import check_cancel, report

    def progress(done: int, total: int) -> None:
        if done:  # between batches of a long snap (a large photo): a cancel button works
            check_cancel("snap")
        report("snap", done, total)

    check_cancel("snap")
    t = time.perf_counter()
    size = (int(rgb.shape[0]), int(rgb.shape[1]))
    radius = snap_radius(size, fused_at or (int(work.shape[0]), int(work.shape[1])))
    full = resize_as_disparity(work, size, kind)
    dev = resolve_device(device)
    snapped, changed = snap_to_image(
        full, rgb, kind=kind, radius=radius, device=dev, progress=progress
    )
    info["snap_radius"] = radius
    info["snapped_pixels"] = changed
    timings["snap"] = time.perf_counter() - t
    return snapped


def _result(
    size: tuple[int, int],
    depth: np.ndarray,
    edges: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    omega: np.ndarray | None,
    kind: str,
    timings: dict[str, float],
    info: dict[str, Any],
    start: float,
) -> RefinedDepth:
    """A :class:`RefinedDepth` with every map resized to ``size``; ``timings["total"]``
    counts from ``start``."""
    result = RefinedDepth(
        depth=resize_as_disparity(depth, size, kind),
        kind=kind,  # type: ignore[arg-type]
        edges=resize_map(edges, size),
        low=resize_map(low, size),
        high=resize_map(high, size),
        timings=timings,
        omega=None if omega is None else resize_map(omega, size),
        info=info,
    )
    timings["total"] = time.perf_counter() - start
    return result


def refine_depths(
    low: Any,
    high: Any,
    *,
    kind: str = "disparity",
    refiner: str | Refiner | None = None,
    device: Any = None,
    size: tuple[int, int] | None = None,
    image: Any = None,
) -> RefinedDepth:
    """Fuse two depth maps that were predicted elsewhere (no predictor is run).

    For hosts that already have depth nodes: pass the same predictor's output at its native
    resolution (``low``) and at a higher one (``high``).

    Maps from stereo matchers, sensors and files often have holes. NaN and inf pixels (and,
    for ``kind="depth"``, values ``<= 0``) count as unknown and are filled from the background
    side along their row (:func:`sddr_core.ops.holes.fill_disparity_holes`: holes sit mostly
    in occlusions, behind the occluder), which measured better on real stereo holes than the
    nearest pixel or the low pass (docs/MODEL_CARD.md, "Holes a tool reports"). ``info`` then has
    ``unknown_low`` / ``unknown_high``, the share of each map's pixels that were unknown.

    Args:
        low, high: float ``(h, w)`` maps (numpy or torch; any sizes), in one convention.
        kind: their convention, ``"disparity"`` (near = large) or ``"depth"``.
        refiner: as in :func:`refine`.
        device: torch device for a network refiner.
        size: output ``(H, W)``; default: the image's size when ``image`` is given, else the
            larger of the two inputs' sizes.
        image: optional, the photo the maps were predicted from (anything :func:`refine`
            accepts): the result's edges are then snapped to the photo's, as :func:`refine`
            does (the photo is resized to ``size`` when their sizes differ).

    Returns:
        A :class:`RefinedDepth` at ``size`` (``timings`` has ``refine`` and ``total``).

    Raises:
        InputError: a map is not 2-D, smaller than 8x8, or has no known pixel.
    """
    from sddr_core.ops.holes import unknown_pixels
    from sddr_core.predictors.base import check_kind

    start = time.perf_counter()
    kind = check_kind(kind)
    maps, unknown = [], []
    for name, m in (("low", low), ("high", high)):
        arr = as_depth_map(
            m,
            what=f"{name} depth",
            min_side=8,
            fix="Pass a (H, W) map of at least 8x8; NaN or inf (and 0 for depth) mark holes.",
            unknown="holes",
        )
        holes = unknown_pixels(arr, kind)
        if holes.all():
            what = "NaN, inf or <= 0" if kind == "depth" else "NaN or inf"
            raise InputError(
                f"{name} depth has no known pixel (all {arr.size} are {what}); check that it "
                f"is the right map and that kind={kind!r} is its convention."
            )
        maps.append(_fill_holes(arr, holes, kind) if holes.any() else arr)
        unknown.append(holes)
    ref = as_refiner(refiner, device=device)
    rgb = None if image is None else load_image(image)
    if size is None:
        if rgb is not None:
            size = rgb.shape[:2]
        else:
            size = max((m.shape for m in maps), key=lambda s: s[0] * s[1])
    h, w = int(size[0]), int(size[1])
    timings: dict[str, float] = {}
    fusion = fuse_stage(ref, maps[0], maps[1], (h, w), timings, kind)
    holes_info = {
        f"unknown_{name}": round(float(u.mean()), 4)
        for name, u in (("low", unknown[0]), ("high", unknown[1]))
        if u.any()
    }
    info = {
        "predictor": "external",
        "refiner": ref.name,
        "mode": "fuse",
        "working_size": f"{fusion.depth.shape[1]}x{fusion.depth.shape[0]}",
        "predictor_calls": 0,
        "refiner_calls": 1,
        **holes_info,
        **fusion.info,
    }
    depth = fusion.depth
    if rgb is not None:
        rgb = resize_map(rgb, (h, w), kind="image")
        depth = snap_to_photo(depth, rgb, info, timings, device=device, kind=kind)
    return _result(
        (h, w),
        depth,
        edge_map(depth),
        maps[0],
        maps[1],
        fusion.omega,
        kind,
        timings,
        info,
        start,
    )


def _fill_holes(x: np.ndarray, holes: np.ndarray, kind: str) -> np.ndarray:
    """``x`` with its ``holes`` filled from the background side, judged in disparity (for
    depth, the reciprocal: the background is the larger depth)."""
    from sddr_core.ops.holes import fill_disparity_holes

    if kind != "depth":
        return fill_disparity_holes(x, ~holes)
    disp = fill_disparity_holes(np.where(holes, np.nan, 1.0 / np.where(holes, 1.0, x)), ~holes)
    return (1.0 / disp).astype(np.float32)
