"""The ``simulated`` predictor: ground truth degraded as a real predictor would degrade it.

Given a ground-truth depth or disparity map, ``predict(image, resolution)`` returns what a
monocular predictor with native resolution ``native_resolution`` gives at ``resolution``
(METHOD.md section 1):

- at or below the native resolution: blurry (detail finer than the resolution is lost) but
  globally consistent;
- above it: sharper, but locally inconsistent (per-region scale and shift) with deformed
  edges, the more so the further above native it runs;
- and, like real relative predictors, an arbitrary global scale and shift per call.

It also answers for crops (``predict_region``), which two-stage refinement and pseudo-label
generation need. It powers ``sddr demo``, evaluation and training.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from sddr_core.errors import InputError
from sddr_core.hookspecs import hookimpl
from sddr_core.ops.holes import fill_invalid
from sddr_core.ops.noise import depth_edges, edge_bumps, local_inconsistency, resolution_blur
from sddr_core.predictors.base import Box, DepthKind, PredictorSpec, check_kind

__all__ = ["SimulatedPredictor"]


class SimulatedPredictor:
    """A predictor simulated from ground truth (see the module docstring).

    Args:
        ground_truth: float ``(H, W)`` depth or disparity at the image's size; NaN, inf and
            zeros are treated as unknown and filled from their neighbours.
        kind: convention of ``ground_truth`` and of the predictions; for ``"depth"`` the
            noise acts on log depth (relative errors, as a metric network makes) and the
            predictions stay positive.
        native_resolution: the simulated model's training resolution (long side).
        strength: noise strength; 1 is the default used for evaluation, 0 gives blur only.
        inconsistency: strength of the local inconsistency noise ε_cons alone (per-region
            scale and shift); None: ``strength``.
        deformation: strength of the edge deformation bumps of ε_edge alone (the resolution
            blur is always applied); None: ``strength``.
        seed: makes the noise reproducible; the same (seed, box, resolution) gives the same
            prediction.
        affine: apply a random global scale and shift per call, as relative predictors do
            (a scale only for ``"depth"``).
    """

    size_multiple = 1

    def __init__(
        self,
        ground_truth: Any,
        *,
        kind: DepthKind = "disparity",
        native_resolution: int = 384,
        strength: float = 1.0,
        seed: int = 0,
        affine: bool = True,
        name: str = "simulated",
        inconsistency: float | None = None,
        deformation: float | None = None,
    ) -> None:
        gt = np.asarray(ground_truth, dtype=np.float32)
        if gt.ndim != 2 or min(gt.shape) < 8:
            raise InputError(f"ground_truth must be a (H, W) map of at least 8x8, got {gt.shape}.")
        valid = np.isfinite(gt) & (gt > 0)
        if valid.mean() < 0.05:
            raise InputError("ground_truth has fewer than 5% valid (finite, positive) pixels.")
        self.ground_truth = fill_invalid(np.where(valid, gt, np.nan))
        self.kind: DepthKind = check_kind(kind)
        self.native_resolution = int(native_resolution)
        self.strength = float(strength)
        self.inconsistency = float(strength if inconsistency is None else inconsistency)
        self.deformation = float(strength if deformation is None else deformation)
        if min(self.strength, self.inconsistency, self.deformation) < 0:
            raise InputError("noise strengths must be non-negative.")
        self.seed = int(seed)
        self.affine = bool(affine)
        self.name = name

    def _rng(self, box: Box, resolution: int) -> np.random.Generator:
        key = f"{self.seed}:{box}:{resolution}".encode()
        return np.random.default_rng(zlib.crc32(key))

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        h, w = self.ground_truth.shape
        if image.shape[:2] != (h, w):
            raise InputError(
                f"the simulated predictor was built for a {w}x{h} image but got "
                f"{image.shape[1]}x{image.shape[0]}; build it from this image's ground truth."
            )
        return self.predict_region(image, (0, 0, h, w), resolution)

    def predict_region(self, image: np.ndarray, box: Box, resolution: int) -> np.ndarray:
        top, left, bottom, right = (int(v) for v in box)
        gt = self.ground_truth[top:bottom, left:right]
        rng = self._rng((top, left, bottom, right), int(resolution))
        # depth: the errors act on log depth (relative errors), so the pass stays positive
        log = self.kind == "depth"
        # The whole image is seen at `resolution`; a window of it at the same pixel density.
        x = resolution_blur(np.log(gt) if log else gt, int(resolution), sigma=2.0)
        over = max(0.0, resolution / self.native_resolution - 1.0)
        if over > 0 and (self.inconsistency > 0 or self.deformation > 0):
            factor = min(over, 2.0)
            edges = depth_edges(x)
            patch = max(16, self.native_resolution // 3)
            x = local_inconsistency(
                x, self.inconsistency * factor, rng, patch=patch, stride=patch // 2, edges=edges
            )
            x = edge_bumps(x, self.deformation * factor, rng, edges=edges)
        if self.affine:
            scale, shift = float(rng.uniform(0.5, 2.0)), float(rng.normal(0.0, 0.1))
            # depth: a scale error only (a shift could make it non-positive)
            x = x + np.log(scale) if log else x * scale + shift * float(x.std())
        return (np.exp(x) if log else x).astype(np.float32)

    def __repr__(self) -> str:
        h, w = self.ground_truth.shape
        return (
            f"SimulatedPredictor({w}x{h}, kind={self.kind!r}, native_resolution="
            f"{self.native_resolution}, strength={self.strength}, inconsistency="
            f"{self.inconsistency}, deformation={self.deformation})"
        )


def _factory(ground_truth: Any = None, **options: Any) -> SimulatedPredictor:
    if ground_truth is None:
        raise InputError(
            "the 'simulated' predictor needs the scene's ground truth: create it with "
            "create_predictor('simulated', ground_truth=array) or SimulatedPredictor(array). "
            "Evaluation (`sddr eval`) and `sddr demo` build it for you."
        )
    options.pop("device", None)
    return SimulatedPredictor(ground_truth, **options)


@hookimpl
def sddr_register_predictors() -> list[PredictorSpec]:
    return [
        PredictorSpec(
            name="simulated",
            factory=_factory,
            kind="disparity",
            native_resolution=384,
            licence="Apache-2.0 (built-in)",
            description="ground truth degraded by the SDDR noise model (demo, eval, training)",
            source="sddr_core",
            needs=("ground_truth",),
        )
    ]
