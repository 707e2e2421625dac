"""The Middlebury 2014 Motorcycle scene bundled with scikit-image (``--dataset motorcycle``).

``skimage.data.stereo_motorcycle()`` gives the left image (uint8 ``(500, 741, 3)``) and its
disparity in pixels (float, inf/NaN where unknown; about 7% of the pixels). It is the one real
ground truth available offline, so it is **evaluation data only**: never train on it
(``meta["evaluation_only"]`` is True and training code should refuse such samples).
The right view rides along in ``meta["left"]`` / ``meta["right"]``, so the stereo predictors
(``stereo-sgbm``, ``stereo-bm``, ``stereo-dis``, ``stereo-tvl1``, ``stereo-ilk``) evaluate on it
too.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sddr_core.datasets.base import Sample
from sddr_core.errors import InputError

__all__ = ["MotorcycleDataset", "load_motorcycle"]

NAME = "motorcycle"


def load_motorcycle() -> Sample:
    """The Motorcycle scene as a :class:`Sample`.

    Returns:
        ``rgb`` uint8 ``(500, 741, 3)``, ``gt`` float32 disparity ``(500, 741)`` with NaN
        where unknown, ``gt_kind "disparity"``, ``meta["evaluation_only"] = True``.

    Raises:
        InputError: scikit-image is missing.
    """
    try:
        from skimage import data
    except ImportError as exc:
        raise InputError(
            'the motorcycle dataset comes with scikit-image: pip install "sddr[eval]".'
        ) from exc
    left, right, disparity = data.stereo_motorcycle()
    gt = np.asarray(disparity, dtype=np.float32)
    return Sample(
        rgb=np.asarray(left, dtype=np.uint8),
        gt=gt,
        gt_kind="disparity",
        valid=np.isfinite(gt) & (gt > 0),
        meta={
            "name": NAME,
            "dataset": NAME,
            "source": "skimage.data.stereo_motorcycle (Middlebury 2014 Motorcycle)",
            "units": "disparity in pixels at 741x500",
            "evaluation_only": True,
            # the rectified pair, for the stereo predictors (stereo-sgbm, ...)
            "left": np.asarray(left, dtype=np.uint8),
            "right": np.asarray(right, dtype=np.uint8),
            "view": "left",
        },
    )


class MotorcycleDataset:
    """A one-sample :class:`~sddr_core.datasets.base.Dataset` holding the Motorcycle scene
    (evaluation only)."""

    name = NAME
    names = (NAME,)
    evaluation_only = True

    def sample(self, index: int) -> Sample:
        if index not in (0, -1):
            raise IndexError(f"the motorcycle dataset has one sample, not index {index}")
        return load_motorcycle()

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Sample]:
        yield load_motorcycle()

    def __repr__(self) -> str:
        return "MotorcycleDataset(1 sample, evaluation only)"
