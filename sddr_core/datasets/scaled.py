"""Any dataset seen at another image size (``--dataset scaled:FACTOR:SPEC``).

Refiners are trained and validated at one range of image sizes; users' images are of every
size. ``scaled:1.75:middlebury2006:PATH@val`` is the validation split with every image, ground
truth, mask and stereo view resized by 1.75, to measure how a refiner behaves when the
working size (the high pass's long side) is larger than the sizes it was trained at.

- images and stereo views: area interpolation when shrinking, bicubic when enlarging;
- ground truth and the valid mask: nearest neighbour (no value is invented between a
  foreground and a background pixel); disparity in pixels is multiplied by the factor (the
  same scene seen at another size), depth is left as it is;
- ``meta``: ``"name"`` unchanged, ``"scale"`` records the factor, anything else that is an
  image-sized array (e.g. ``"gt_right"``) is resized like the ground truth.

An enlarged image is an interpolated one, not a higher-resolution capture: it has the sizes
but not the fine texture of a real large image. Resampling can shift a sample's depth edges
by up to half a pixel of the original grid.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np

from sddr_core.datasets.base import Dataset, Sample
from sddr_core.errors import InputError

__all__ = ["ScaledDataset", "scale_sample"]

#: Factors outside this range are refused (a typo such as 175 for 1.75 would need gigabytes).
FACTOR_RANGE = (0.1, 8.0)


def _checked_factor(factor: float) -> float:
    factor = float(factor)
    if not FACTOR_RANGE[0] <= factor <= FACTOR_RANGE[1]:
        raise InputError(
            f"scale factor must be between {FACTOR_RANGE[0]} and {FACTOR_RANGE[1]}, got {factor}."
        )
    return factor


def _resize_image(x: np.ndarray, size: tuple[int, int], factor: float) -> np.ndarray:
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    out = cv2.resize(np.asarray(x), size, interpolation=interp)
    if np.issubdtype(out.dtype, np.floating):
        out = np.clip(out, 0.0, 1.0)
    return out


def _resize_nearest(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(np.asarray(x), size, interpolation=cv2.INTER_NEAREST)


def scale_sample(sample: Sample, factor: float) -> Sample:
    """``sample`` with its image, ground truth, mask and stereo views resized by ``factor``
    (see the module docstring).

    Raises:
        InputError: a factor outside :data:`FACTOR_RANGE` or one that leaves a side below 8 px.
    """
    factor = _checked_factor(factor)
    h, w = sample.gt.shape
    size = (round(w * factor), round(h * factor))
    if min(size) < 8:
        raise InputError(
            f"scaling {sample.name!r} ({w}x{h}) by {factor} leaves {size[0]}x{size[1]} pixels; "
            "use a larger factor."
        )
    gt = np.nan_to_num(sample.gt, nan=0.0)
    gt = _resize_nearest(gt, size).astype(np.float32)
    if sample.gt_kind == "disparity":
        gt *= np.float32(factor)
    valid = _resize_nearest(sample.valid.astype(np.uint8), size) > 0
    meta: dict[str, Any] = {}
    for key, value in sample.meta.items():
        if isinstance(value, np.ndarray) and value.shape[:2] == (h, w):
            if value.ndim == 3:  # a view
                value = _resize_image(value, size, factor)
            else:  # a map such as gt_right
                value = _resize_nearest(value, size)
                if key.startswith("gt") and sample.gt_kind == "disparity":
                    value = value * np.float32(factor)
        meta[key] = value
    meta["scale"] = factor
    return Sample(
        rgb=_resize_image(sample.rgb, size, factor),
        gt=np.where(valid, gt, np.nan),
        gt_kind=sample.gt_kind,
        valid=valid,
        meta=meta,
    )


class ScaledDataset:
    """``dataset`` with every sample passed through :func:`scale_sample` as it is read.

    Args:
        dataset: any :class:`~sddr_core.datasets.base.Dataset`.
        factor: the resize factor (1.75: each side 1.75 times longer).
    """

    def __init__(self, dataset: Dataset, factor: float) -> None:
        self.dataset, self.factor = dataset, _checked_factor(factor)
        self.name = f"{dataset.name}-x{self.factor:g}"

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[Sample]:
        for sample in self.dataset:
            yield scale_sample(sample, self.factor)

    def __repr__(self) -> str:
        return f"ScaledDataset({self.dataset!r}, factor={self.factor:g})"
