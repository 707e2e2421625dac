"""Edge snapping: move a depth map's edges onto the image's edges.

A refined map is fused at the high pass's working size and its edges come from predictors
that see the image at a lower resolution, so near a depth edge the map is blurred or off by
a few pixels, while the image itself is sharp. :func:`snap_to_image` replaces each pixel near
a depth edge by the **weighted median** of the depth values around it, weighted by how alike
their colours are (and, optionally, how close they are):

    w_q = exp(−‖I_p − I_q‖² / 2σ_c²) · exp(−‖p − q‖² / 2σ_s²),   D'_p = wmedian_q(D_q; w_q)

so a pixel takes the depth of the side of the edge whose colour it shares. A median only
picks values that are already there: it invents no depth, draws no image texture into flat
regions (a flat window has one value) and keeps a map positive; the median itself does not
depend on whether the map holds depth or disparity (up to ties), and which pixels count as
near a step is judged in disparity (on the reciprocal of a depth map, as the fusion runs), so
a depth-kind map snaps as its disparity would. Only pixels whose window spans a depth step
(local range above ``threshold`` times the map's mean absolute deviation, and above
``noise_factor`` times the median local range, so a noisy map is not touched everywhere)
are touched. Last, each pixel the passes changed takes the median of its 3×3 neighbourhood in
the snapped map (``cleanup``): a lone pixel flipped to the other side of an edge, or a small
step drawn on a textured slope, goes back to what its neighbours say; a median again picks a
value that is there.

Runs on torch tensors of the CPU (or any device), in chunks of the touched pixels, so memory
stays bounded whatever the image size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import torch

from sddr_core.errors import InputError, ShapeError
from sddr_core.predictors.base import check_kind

__all__ = ["SNAP_DEFAULTS", "snap_radius", "snap_to_image", "weighted_median"]

#: Defaults of :func:`snap_to_image`, as measured on the validation scenes
#: (docs/MODEL_CARD.md, "Snapping edges to the image").
SNAP_DEFAULTS: dict[str, Any] = {
    "taps": 3,
    "sigma_color": 0.08,
    "iterations": 2,
    "threshold": 0.2,
    "noise_factor": 1.0,
    "cleanup": 3,
}


#: Padded maps with at most this many pixels gather with int32 positions, larger with int64.
_INT32_POSITIONS = 2**31 - 1


def snap_radius(size: tuple[int, int], working_size: tuple[int, int], base: float = 5.0) -> int:
    """Window radius for an output of ``size`` fused at ``working_size``: ``base`` pixels,
    times the upsampling factor when the fusion ran smaller than the output (its edges then
    spread over that many more pixels); between 2 and 16."""
    factor = max(1.0, max(size) / max(1, max(working_size)))
    return int(min(16, max(2, round(base * factor))))


def weighted_median(
    values: torch.Tensor, weights: torch.Tensor, *, sort: str | None = None
) -> torch.Tensor:
    """Row-wise weighted median of ``values`` ``(N, K)`` with non-negative ``weights``
    ``(N, K)``: the smallest value whose cumulative weight reaches half the row's total.
    A row of zero weights gives its smallest value. ``sort``: ``"numpy"`` (CPU tensors only)
    or ``"torch"``; default numpy on the CPU, torch elsewhere (same result)."""
    if values.shape != weights.shape or values.ndim != 2:
        raise ShapeError(
            f"weighted_median needs two (N, K) tensors of one shape, got "
            f"{tuple(values.shape)} and {tuple(weights.shape)}."
        )
    if sort is None:
        sort = "numpy" if values.device.type == "cpu" else "torch"
    elif sort not in ("numpy", "torch") or (sort == "numpy" and values.device.type != "cpu"):
        raise InputError(
            f"sort must be 'numpy' (CPU tensors) or 'torch', got {sort!r} for tensors on "
            f"{values.device}."
        )
    if sort == "numpy":
        # numpy's quicksort of short rows is vectorised (SIMD): several times torch's CPU sort
        order = torch.from_numpy(np.argsort(values.detach().numpy(), axis=1))
    else:
        order = values.argsort(dim=1)
    cumulative = weights.gather(1, order).cumsum(dim=1)
    # the cumulative sum never decreases: the count of entries below half is a binary search
    position = torch.searchsorted(cumulative, 0.5 * cumulative[:, -1:])
    position.clamp_(max=values.shape[1] - 1)
    return values.gather(1, order.gather(1, position)).squeeze(1)


def _padded_guide(image: np.ndarray, shape: tuple[int, int], r: int) -> torch.Tensor:
    """The photo's channels as float planes in ``[0, 1]``, padded by ``r`` (edge pixels
    repeated), flattened: ``(C, (H + 2r)(W + 2r))``. Padded before the conversion to float,
    so a large photo holds one float copy, not three."""
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[:2] != shape:
        raise ShapeError(
            f"snap_to_image needs an image of the depth map's size {shape} (H, W) or "
            f"(H, W, C), got {image.shape}; resize one to the other first."
        )
    channels = image.shape[2]
    padded = np.pad(image, ((r, r), (r, r), (0, 0)), mode="edge").transpose(2, 0, 1)
    planes = torch.from_numpy(np.ascontiguousarray(padded).reshape(channels, -1))
    planes = planes.to(torch.float32)
    if image.dtype == np.uint8:
        planes.div_(255.0)
    elif image.dtype == np.uint16:
        planes.div_(65535.0)
    return planes


def snap_to_image(
    depth: np.ndarray,
    image: np.ndarray,
    *,
    kind: str = "disparity",
    radius: int = 5,
    taps: int | None = SNAP_DEFAULTS["taps"],
    sigma_color: float = SNAP_DEFAULTS["sigma_color"],
    sigma_space: float | None = None,
    iterations: int = SNAP_DEFAULTS["iterations"],
    threshold: float = SNAP_DEFAULTS["threshold"],
    noise_factor: float = SNAP_DEFAULTS["noise_factor"],
    cleanup: int | None = SNAP_DEFAULTS["cleanup"],
    chunk: int | None = None,
    device: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Snap the edges of ``depth`` to those of ``image`` (module docstring).

    Args:
        depth: float ``(H, W)`` depth or disparity map.
        image: ``(H, W, C)`` or ``(H, W)`` of the same size, uint8, uint16 or float in
            ``[0, 1]`` (the colour distances assume that range).
        kind: the map's convention, ``"disparity"`` (near = large) or ``"depth"``
            (positive; steps are then judged on its reciprocal).
        radius: window radius in pixels (see :func:`snap_radius`).
        taps: samples on each side of the centre along each axis, spread evenly up to
            ``radius`` (``(2·taps+1)²`` samples per window); None samples every pixel.
        sigma_color: colour scale σ_c of the weights, in units of the image's range.
        sigma_space: spatial scale σ_s (default ``0.6 · radius``; ``inf`` for none).
        iterations: passes; each moves an edge by up to ``radius`` pixels.
        threshold: a pixel is touched when its window's depth range exceeds this times the
            map's mean absolute deviation from its median ...
        noise_factor: ... and this times the median window range of the map (on a map
            whose every window spans a step, noise, only the largest steps count).
        cleanup: after the passes, each changed pixel takes the median of its
            ``cleanup × cleanup`` neighbourhood (3 or 5) in the snapped map; None or 0: off.
        chunk: touched pixels per batch (memory at the peak: about ``chunk · samples · 80``
            bytes; measured on the CPU); default 16384 on the CPU (about 65 MB), 32768 on
            other devices, where each batch costs kernel launches (about 130 MB: little beside
            a diffusion model on the same GPU).
        device: torch device of the weighted medians (default: the CPU); the rest runs on
            the CPU.
        progress: called as ``progress(done, total)`` before the first batch and after each
            batch, in hundredths of a pass (``total = 100 · iterations``; a pass that finds
            nothing to touch ends the run: ``done = total``). It may raise to stop the snap
            (a cancel button); nothing is returned then.

    Returns:
        ``(snapped, changed)``: float32 ``(H, W)`` and how many pixels differ from ``depth``.

    Raises:
        ShapeError: ``depth`` is not 2-D or ``image`` has another size.
        InputError: a parameter out of range or a non-finite depth.
    """
    if depth.ndim != 2:
        raise ShapeError(f"snap_to_image expects a (H, W) depth map, got shape {depth.shape}.")
    if not isinstance(radius, (int, np.integer)) or radius < 1:
        raise InputError(f"radius must be a positive integer, got {radius!r}.")
    if not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise InputError(f"iterations must be a non-negative integer, got {iterations!r}.")
    if not sigma_color > 0 or not threshold >= 0 or not noise_factor >= 0:
        raise InputError(
            f"sigma_color must be positive, threshold and noise_factor non-negative, got "
            f"{sigma_color!r}, {threshold!r} and {noise_factor!r}."
        )
    if not np.isfinite(depth).all():
        raise InputError("snap_to_image needs a finite depth map; fill holes first.")
    if cleanup not in (None, 0, 3, 5):
        raise InputError(f"cleanup must be 3, 5, 0 or None (off), got {cleanup!r}.")
    w = depth.shape[1]
    r = int(radius)
    k = 2 * r + 1
    s_space = 0.6 * r if sigma_space is None else float(sigma_space)
    if taps is None or taps >= r:
        steps = torch.arange(-r, r + 1)
    else:
        if not isinstance(taps, (int, np.integer)) or taps < 1:
            raise InputError(f"taps must be a positive integer or None, got {taps!r}.")
        steps = torch.round(torch.arange(-taps, taps + 1) * (r / taps)).long()
    dy, dx = torch.meshgrid(steps, steps, indexing="ij")
    wp = w + 2 * r
    dev = torch.device("cpu") if device is None else torch.device(device)
    if chunk is None:
        chunk = 16384 if dev.type == "cpu" else 32768
    elif not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise InputError(f"chunk must be a positive integer, got {chunk!r}.")
    # int32 positions in the padded map (a third faster to gather than int64) while they fit
    index_type = torch.int32 if (depth.shape[0] + 2 * r) * wp <= _INT32_POSITIONS else torch.int64
    offsets = (dy * wp + dx).reshape(-1).to(dev, index_type)
    if math.isfinite(s_space):
        spatial = torch.exp(-(dy**2 + dx**2).reshape(-1).float() / (2.0 * s_space**2))
    else:
        spatial = torch.ones(dy.numel())
    spatial = spatial.to(dev)
    inv_two_sc2 = 1.0 / (2.0 * float(sigma_color) ** 2)
    planes = _padded_guide(image, tuple(depth.shape), r).to(dev)
    original = np.ascontiguousarray(depth, dtype=np.float32)
    current = original
    as_disparity = check_kind(kind) == "depth"
    if as_disparity and not (current > 0).all():
        raise InputError(
            f"snap_to_image(kind='depth') needs a positive depth map, got "
            f"{int(np.count_nonzero(current <= 0))} pixels <= 0; pass kind='disparity' if the "
            "map holds disparity (near = large)."
        )
    judged = 1.0 / current if as_disparity else current  # where the steps are, in disparity
    spread = float(np.mean(np.abs(judged - np.median(judged))))
    box = np.ones((k, k), np.uint8)
    touched = 0
    moved: np.ndarray | None = None  # pixels the last pass changed
    total_units = 100 * int(iterations)
    reported = -1

    def tell(done: int) -> None:
        nonlocal reported
        if progress is not None and done != reported:
            reported = done
            progress(done, total_units)

    tell(0)
    for done_passes in range(int(iterations)):
        judged = 1.0 / current if as_disparity else current
        span = cv2.dilate(judged, box) - cv2.erode(judged, box)
        if moved is None:  # the level of a step, fixed by the map as it came
            level = max(threshold * spread, noise_factor * float(np.median(span)), 1e-12)
        candidates = span > level
        if moved is not None:  # a window without a changed pixel gives the same median again
            candidates &= cv2.dilate(moved.astype(np.uint8), box).astype(bool)
        ys_np, xs_np = np.nonzero(candidates)
        touched = int(ys_np.size)
        if touched == 0:
            break
        ys, xs = torch.from_numpy(ys_np), torch.from_numpy(xs_np)
        centres = ((ys + r) * wp + (xs + r)).to(dev, index_type)
        padded = cv2.copyMakeBorder(current, r, r, r, r, cv2.BORDER_REPLICATE)
        depth_flat = torch.from_numpy(padded.reshape(-1)).to(dev)
        snapped = torch.empty(touched, device=dev)
        for start in range(0, touched, chunk):
            c = centres[start : start + chunk]
            idx = (c[:, None] + offsets[None, :]).reshape(-1)
            values = depth_flat.index_select(0, idx).view(c.numel(), -1)
            distance = torch.zeros_like(values)
            for plane in planes:
                diff = plane.index_select(0, idx).view_as(values)
                diff -= plane.index_select(0, c)[:, None]
                distance.addcmul_(diff, diff)
            weights = torch.exp(distance.mul_(-inv_two_sc2)).mul_(spatial)
            snapped[start : start + chunk] = weighted_median(values, weights)
            tell(100 * done_passes + (100 * min(start + chunk, touched)) // touched)
        before = current[ys_np, xs_np]
        current = current.copy()
        current[ys_np, xs_np] = snapped.cpu().numpy()
        moved = np.zeros(current.shape, bool)
        moved[ys_np, xs_np] = current[ys_np, xs_np] != before
    tell(total_units)  # passes skipped when nothing was left to touch
    changed = current != original
    if cleanup and changed.any():
        # an order statistic: the same pixel wins in depth and in its reciprocal
        np.copyto(current, cv2.medianBlur(current, int(cleanup)), where=changed)  # passes copied it
    return current, int(np.count_nonzero(current != original))
