"""``family-<name>`` predictors: ground truth degraded by one degradation family.

For measuring generalisation (docs/MODEL_CARD.md, leave-one-family-out): a refiner trained
without a family is evaluated on a predictor that makes exactly that family's errors, on real
ground truth (``sddr eval --dataset middlebury2006:PATH@val --predictor family-texture``).
Each call degrades the ground truth of the asked window with
:func:`sddr_core.train.families.make_pair`: at or below the native resolution the call is a
low pass, above it a high pass, each with its own random global scale and shift, seeded by
``(seed, window, resolution)`` so that the same call gives the same map. As with a real
network, the kind of error depends on the input's size against the native resolution, not
on how much of the scene the input covers: a two-stage window asked at 1.5× the native
resolution is a high pass of that window (at its own pixel density), as the whole image's
high pass is.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from sddr_core.errors import InputError
from sddr_core.hookspecs import hookimpl
from sddr_core.ops.resize import resize_map, working_shape
from sddr_core.predictors.base import Box, PredictorSpec

__all__ = ["DegradedPredictor"]


class DegradedPredictor:
    """A predictor that is the ground truth degraded by one family.

    Args:
        ground_truth: disparity ``(H, W)`` (larger = nearer); NaN or ≤ 0 = unknown.
        image: the RGB image (texture copy reads it).
        family: a name of :data:`sddr_core.train.families.FAMILIES` except ``stereo`` (use
            the ``stereo-sgbm`` / ``stereo-bm`` predictors, real estimators, for that).
        native_resolution: long side of the low pass; default half the image's long side.
        seed: makes the degradation reproducible.
        kind: ``"disparity"`` or ``"depth"`` (the reciprocal of the degraded disparity, as a
            metric predictor would answer).
        strength: the family's strength knob (training draws 0.3 to 2; above 2 tests
            degradations stronger than any seen in training).
    """

    size_multiple = 1

    def __init__(
        self,
        ground_truth: Any,
        image: Any,
        family: str,
        *,
        native_resolution: int | None = None,
        seed: int = 0,
        kind: str = "disparity",
        strength: float = 1.0,
    ) -> None:
        from sddr_core.train.families import FAMILIES

        if family not in FAMILIES or family == "stereo":
            choices = ", ".join(f for f in FAMILIES if f != "stereo")
            raise InputError(f"unknown degradation family {family!r}; choose from {choices}.")
        self.gt = np.asarray(ground_truth, np.float32)
        self.image = np.asarray(image)
        if self.gt.ndim != 2 or self.image.shape[:2] != self.gt.shape:
            raise InputError("ground_truth must be (H, W) and image (H, W, 3) of the same size.")
        self.family = family
        self.name = f"family-{family}"
        self.native_resolution = int(native_resolution or max(self.gt.shape) // 2)
        self.seed = int(seed)
        if kind not in ("disparity", "depth"):
            raise InputError(f"kind must be 'disparity' or 'depth', got {kind!r}.")
        self.kind = kind
        self.strength = float(strength)
        if not 0.0 < self.strength <= 10.0:
            raise InputError(f"strength must be in (0, 10], got {strength}.")

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        h, w = self.gt.shape
        return self.predict_region(image, (0, 0, h, w), resolution)

    def predict_region(self, image: np.ndarray, box: Box, resolution: int) -> np.ndarray:
        from sddr_core.train.families import make_pair

        top, left, bottom, right = (int(v) for v in box)
        gt = self.gt[top:bottom, left:right]
        rgb = self.image[top:bottom, left:right]
        side = max(gt.shape)
        key = f"{self.seed}:{top},{left},{bottom},{right}:{int(resolution)}".encode()
        rng = np.random.default_rng(zlib.crc32(key))
        frac = min(1.0, int(resolution) / side)
        is_low = int(resolution) <= self.native_resolution
        pair = make_pair(
            gt,
            rgb,
            rng,
            families=[self.family],
            secondary_p=0.0,
            depth_fraction=0.0,
            low_range=(frac, frac) if is_low else (0.5, 0.5),
            high_range=(frac, frac) if not is_low else (1.0, 1.0),
            strength=(self.strength, self.strength),
        )
        out = pair.low if is_low else pair.high
        if self.kind == "depth":  # positive first: a relative pass may have any shift
            out = out - float(np.min(out)) + 0.05 * float(np.ptp(out) or 1.0)
            out = 1.0 / out
        return resize_map(out, working_shape(gt.shape[0], gt.shape[1], int(resolution)))

    def __repr__(self) -> str:
        h, w = self.gt.shape
        return (
            f"DegradedPredictor({w}x{h}, family={self.family!r}, seed={self.seed}, "
            f"strength={self.strength:g})"
        )


def _factory(family: str) -> Any:
    def factory(sample: Any = None, **options: Any) -> DegradedPredictor:
        if sample is None:
            raise InputError(
                f"the 'family-{family}' predictor is built from a sample's ground truth; "
                "`sddr eval` builds it for you."
            )
        options.pop("device", None)
        return DegradedPredictor(sample.gt_as("disparity"), sample.rgb, family, **options)

    return factory


@hookimpl
def sddr_register_predictors() -> list[PredictorSpec]:
    from sddr_core.train.families import FAMILIES

    return [
        PredictorSpec(
            name=f"family-{family}",
            factory=_factory(family),
            kind="disparity",
            native_resolution=384,
            licence="Apache-2.0 (built-in)",
            description=f"ground truth degraded by the '{family}' family (generalisation tests)",
            source="sddr_core",
            needs=("ground_truth",),
            extra={"needs_sample": True},
        )
        for family in FAMILIES
        if family != "stereo"
    ]
