"""The bundled Motorcycle scene: evaluation only, disparity with NaN where unknown."""

import cv2
import numpy as np

from sddr_core.datasets.motorcycle import MotorcycleDataset


def test_motorcycle_sample():
    ds = MotorcycleDataset()
    assert len(ds) == 1 and ds.name == "motorcycle"
    (sample,) = list(ds)
    assert sample.rgb.shape == (500, 741, 3) and sample.rgb.dtype == np.uint8
    assert sample.gt.shape == (500, 741) and sample.gt.dtype == np.float32
    assert sample.gt_kind == "disparity"
    unknown = np.isnan(sample.gt)
    assert 0.01 < unknown.mean() < 0.2  # the stereo holes
    assert np.array_equal(sample.valid, ~unknown)
    assert np.nanmin(sample.gt) > 0
    assert sample.meta["evaluation_only"] is True


def test_motorcycle_carries_its_stereo_pair():
    """The right view rides along, so the stereo predictors evaluate on Motorcycle too."""
    from sddr_core.predictors.stereo import stereo_predictor_for_sample

    (sample,) = list(MotorcycleDataset())
    left, right = sample.meta["left"], sample.meta["right"]
    assert left.shape == right.shape == (500, 741, 3) and not np.array_equal(left, right)
    assert np.array_equal(left, sample.rgb) and sample.meta["view"] == "left"
    d = stereo_predictor_for_sample(sample, method="sgbm").predict(sample.rgb, 192)
    d = cv2.resize(d, (741, 500), interpolation=cv2.INTER_LINEAR)
    ok = sample.valid
    assert np.corrcoef(d[ok], sample.gt[ok])[0, 1] > 0.8
