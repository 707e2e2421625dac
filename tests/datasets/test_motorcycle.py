"""The bundled Motorcycle scene: evaluation only, disparity with NaN where unknown."""

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
