"""Refine Depth over an IMAGE batch in chunks, with bounded memory (no ComfyUI needed).

Both paths convert the IMAGE tensor ``chunk`` frames at a time and write each result straight
into preallocated ``[B, H, W]`` output arrays (:class:`_Outputs`): memory holds the batch
itself, the four output maps and a few frames in flight, never a list of full results with
their low and high predictions.

* :func:`refine_image_batch`: every image refined on its own with :func:`sddr_core.refine`
  (photos, or frames when ``sequence`` is off), normalised per image or across the batch.
* :func:`refine_sequence_batch`: the batch as one video; frames go one at a time to
  :func:`sddr_core.refine_sequence` (temporally stable: one scale across the batch, motion-
  compensated stabilisation, scene cuts reset it). The ControlNet and edge images are
  normalised with one range for the whole batch ("per image" would reintroduce the flicker
  the sequence mode removes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from . import core

__all__ = ["refine_image_batch", "refine_sequence_batch"]


def _frames(image: torch.Tensor, chunk: int) -> Iterator[np.ndarray]:
    """The frames of an IMAGE batch ``[B, H, W, C]`` as float32 RGB arrays, converted
    ``chunk`` at a time."""
    for start in range(0, image.shape[0], chunk):
        block = core.image_batch_to_arrays(image[start : start + chunk])
        yield from block


def _check(image: Any, chunk: int) -> tuple[int, int, int]:
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[0] == 0:
        raise ValueError(
            "image must be a non-empty IMAGE batch [B, H, W, C], got "
            f"{getattr(image, 'shape', type(image).__name__)}."
        )
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 frame, got {chunk}.")
    return int(image.shape[0]), int(image.shape[1]), int(image.shape[2])


class _Outputs:
    """Preallocated ``[B, H, W]`` maps that the results of a batch are written into."""

    def __init__(self, b: int, h: int, w: int) -> None:
        self.depth = np.empty((b, h, w), np.float32)
        self.disparity = np.empty((b, h, w), np.float32)
        self.edges = np.empty((b, h, w), np.float32)
        self.omega = np.zeros((b, h, w), np.float32)
        self.info: list[dict[str, Any]] = []
        self.kind = "disparity"
        self.count = 0

    def add(self, r: Any) -> None:
        i = self.count
        if i >= len(self.depth):
            raise ValueError(f"more results than the batch's {len(self.depth)} images.")
        if r.depth.shape != self.depth.shape[1:]:
            raise ValueError(
                f"result {i} is {r.depth.shape}, expected the batch size {self.depth.shape[1:]}."
            )
        if i and r.kind != self.kind:
            raise ValueError(f"refined maps mix depth conventions: {self.kind}, {r.kind}.")
        self.depth[i] = r.depth
        self.disparity[i] = r.to_disparity()
        self.edges[i] = r.edges
        if r.omega is not None:
            self.omega[i] = np.clip(r.omega, 0, 1)
        self.info.append(r.info)
        self.kind = r.kind
        self.count += 1

    def finish(self, normalization: str) -> core.DepthOutputs:
        if self.count != len(self.depth):
            raise ValueError(f"{self.count} of {len(self.depth)} images were refined.")
        return core.DepthOutputs(
            controlnet=core.maps_to_image(core.normalize_batch(self.disparity, normalization)),
            depth=core.depth_value(self.depth, self.kind, self.info),
            edges=core.maps_to_image(core.normalize_batch(self.edges, normalization)),
            omega=torch.from_numpy(self.omega),
        )


def refine_image_batch(
    image: torch.Tensor,
    predictor: Any,
    *,
    refiner: Any = None,
    mode: str = "one-stage",
    device: Any = None,
    low_resolution: int | None = None,
    high_resolution: int | None = None,
    normalization: str = "per image",
    chunk: int = 16,
    before_image: Callable[[int], None] | None = None,
    snap: bool = True,
) -> core.DepthOutputs:
    """Refine every image of an IMAGE batch ``[B, H, W, C]`` on its own; the nodes' outputs.

    ``before_image(i)`` runs before image ``i`` is refined (progress, Cancel checks).
    """
    if normalization not in core.NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {', '.join(core.NORMALIZATIONS)}, got {normalization!r}."
        )
    out = _Outputs(*_check(image, chunk))
    for result in core.iter_refined(
        _frames(image, chunk),
        predictor,
        refiner=refiner,
        mode=mode,
        device=device,
        low_resolution=low_resolution,
        high_resolution=high_resolution,
        before_image=before_image,
        snap=snap,
    ):
        out.add(result)
    return out.finish(normalization)


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
    snap: bool = True,
) -> core.DepthOutputs:
    """Refine an IMAGE batch ``[B, H, W, C]`` as a video sequence; the nodes' outputs.

    ``before_image(i)`` runs before frame ``i`` is refined (progress, Cancel checks).
    """
    import sddr_core

    out = _Outputs(*_check(image, chunk))

    def frames() -> Iterator[np.ndarray]:
        for i, frame in enumerate(_frames(image, chunk)):
            if before_image is not None:
                before_image(i)
            yield frame

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
        snap=snap,
    )
    for r in results:
        out.add(r)
    return out.finish("across batch")
