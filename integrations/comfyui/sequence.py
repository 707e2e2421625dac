"""Refine Depth over an IMAGE batch as one video sequence (no ComfyUI needed).

:func:`refine_sequence_batch` feeds the batch's frames one at a time to
:func:`sddr_core.refine_sequence` (temporally stable: one scale across the batch, motion-
compensated stabilisation, scene cuts reset it) and writes each result straight into
preallocated ``[B, H, W]`` output arrays, ``chunk`` frames converted from the IMAGE tensor at
a time: memory holds the batch itself, the four output maps and a few frames in flight,
never a list of full results with their low and high predictions. The ControlNet and edge
images are normalised with one range for the whole batch ("per image" would reintroduce the
flicker the sequence mode removes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from . import core

__all__ = ["refine_sequence_batch"]


def _frames(image: torch.Tensor, chunk: int) -> Iterator[np.ndarray]:
    """The frames of an IMAGE batch ``[B, H, W, C]`` as float32 RGB arrays, converted
    ``chunk`` at a time."""
    for start in range(0, image.shape[0], chunk):
        block = core.image_batch_to_arrays(image[start : start + chunk])
        yield from block


def refine_sequence_batch(
    image: torch.Tensor,
    predictor: Any,
    *,
    refiner: Any = None,
    mode: str = "one-stage",
    device: Any = None,
    low_resolution: int | None = None,
    high_resolution: int | None = None,
    chunk: int = 16,
    before_image: Callable[[int], None] | None = None,
) -> core.DepthOutputs:
    """Refine an IMAGE batch ``[B, H, W, C]`` as a video sequence; the nodes' outputs.

    ``before_image(i)`` runs before frame ``i`` is refined (progress, Cancel checks).
    """
    import sddr_core

    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[0] == 0:
        raise ValueError(
            "image must be a non-empty IMAGE batch [B, H, W, C], got "
            f"{getattr(image, 'shape', type(image).__name__)}."
        )
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 frame, got {chunk}.")
    b, h, w = int(image.shape[0]), int(image.shape[1]), int(image.shape[2])

    def frames() -> Iterator[np.ndarray]:
        for i, frame in enumerate(_frames(image, chunk)):
            if before_image is not None:
                before_image(i)
            yield frame

    depth = np.empty((b, h, w), np.float32)
    disparity = np.empty((b, h, w), np.float32)
    edges = np.empty((b, h, w), np.float32)
    omega = np.zeros((b, h, w), np.float32)
    info: list[dict[str, Any]] = []
    kind = "disparity"
    # prefetch=False: ComfyUI's Cancel and progress hooks stay on the node's thread
    results = sddr_core.refine_sequence(
        frames(),
        predictor,
        mode=mode,  # type: ignore[arg-type]
        refiner=refiner,
        device=device,
        low_resolution=low_resolution,
        high_resolution=high_resolution,
        prefetch=False,
    )
    for i, r in enumerate(results):
        depth[i] = r.depth
        disparity[i] = r.to_disparity()
        edges[i] = r.edges
        if r.omega is not None:
            omega[i] = np.clip(r.omega, 0, 1)
        info.append(r.info)
        kind = r.kind
    return core.DepthOutputs(
        controlnet=core.maps_to_image(core.normalize_batch(disparity, "across batch")),
        depth=core.depth_value(depth, kind, info),
        edges=core.maps_to_image(core.normalize_batch(edges, "across batch")),
        omega=torch.from_numpy(omega),
    )
