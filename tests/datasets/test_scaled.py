"""scaled:FACTOR:SPEC: a dataset resized, ground truth and stereo views included."""

import numpy as np
import pytest

from sddr_core.datasets import load_dataset
from sddr_core.datasets.base import Sample, SampleList
from sddr_core.datasets.scaled import ScaledDataset, scale_sample
from sddr_core.errors import InputError


def _sample() -> Sample:
    rng = np.random.default_rng(0)
    gt = np.full((20, 30), 4.0, np.float32)
    gt[5:15, 10:20] = 12.0
    gt[0, 0] = np.nan
    left = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    return Sample(
        rgb=left,
        gt=gt,
        gt_kind="disparity",
        valid=np.isfinite(gt),
        meta={"name": "toy", "left": left, "right": left[:, ::-1].copy(), "gt_right": gt * 2},
    )


def test_scale_sample_resizes_everything_and_scales_disparity():
    s = scale_sample(_sample(), 2.0)
    assert s.rgb.shape == (40, 60, 3) and s.rgb.dtype == np.uint8
    assert s.gt.shape == s.valid.shape == (40, 60)
    # nearest neighbour: only the two original levels, times the factor
    assert set(np.unique(s.gt[s.valid])) == {8.0, 24.0}
    assert np.isnan(s.gt[:2, :2]).all() and not s.valid[:2, :2].any()
    assert s.meta["left"].shape == s.meta["right"].shape == (40, 60, 3)
    assert s.meta["gt_right"].shape == (40, 60) and np.nanmax(s.meta["gt_right"]) == 48.0
    assert s.meta["name"] == "toy" and s.meta["scale"] == 2.0
    shrunk = scale_sample(_sample(), 0.5)
    assert shrunk.gt.shape == (10, 15)


def test_depth_values_are_not_scaled():
    d = _sample()
    depth = Sample(rgb=d.rgb, gt=1.0 / d.gt, gt_kind="depth", valid=d.valid, meta={"name": "d"})
    s = scale_sample(depth, 3.0)
    assert np.nanmax(s.gt) == pytest.approx(0.25) and np.nanmin(s.gt) == pytest.approx(1 / 12)


def test_spec_and_errors():
    ds = load_dataset("scaled:1.5:motorcycle")
    assert isinstance(ds, ScaledDataset) and len(ds) == 1 and ds.name == "motorcycle-x1.5"
    (s,) = list(ds)
    assert s.rgb.shape == (750, 1112, 3) and s.meta["evaluation_only"] is True
    for bad, words in (
        ("scaled:abc:motorcycle", "scaled:FACTOR:SPEC"),
        ("scaled:1.5", "scaled:FACTOR:SPEC"),
        ("scaled:100:motorcycle", "between"),
    ):
        with pytest.raises(InputError, match=words):
            load_dataset(bad)
    with pytest.raises(InputError, match="larger factor"):
        list(ScaledDataset(SampleList([_sample()]), 0.2))
