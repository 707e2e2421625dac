"""The ``split`` refiner: registered below poisson, usable by name everywhere."""

import numpy as np
import pytest

import sddr_core
from sddr_core.errors import InputError
from sddr_core.ops import gaussian_split
from sddr_core.refiners.split import SplitRefiner
from sddr_core.registry import create_refiner, get_refiner_spec


def test_registered_below_poisson():
    spec = get_refiner_spec("split")
    assert spec.priority < get_refiner_spec("poisson").priority
    r = create_refiner("split")
    assert isinstance(r, SplitRefiner) and r.name == "split" and r.sigma == 8.0
    assert create_refiner("split", sigma=4.0).sigma == 4.0
    with pytest.raises(InputError):
        SplitRefiner(sigma=-1)


def test_fuse_is_the_op():
    rng = np.random.default_rng(0)
    low = rng.random((30, 40)).astype(np.float32)
    high = rng.random((30, 40)).astype(np.float32)
    f = SplitRefiner(sigma=3.0).fuse(low, high)
    np.testing.assert_array_equal(f.depth, gaussian_split(low, high, sigma=3.0))
    assert f.omega is None and f.info["split_sigma"] == 3.0


def test_refine_depths_and_refine_by_name(fast_cpu_torch):
    _, x = np.mgrid[0:48, 0:64].astype(np.float32)
    low = 1.0 + x / 64.0
    high = low.copy()
    high[:, 32:] += 0.2
    out = sddr_core.refine_depths(low, high, refiner="split")
    assert out.depth.shape == (48, 64) and np.isfinite(out.depth).all()

    def predictor(image, resolution):
        h, w = image.shape[:2]
        return np.linspace(1.0, 2.0, w, dtype=np.float32)[None, :].repeat(h, 0)

    res = sddr_core.refine(np.zeros((48, 64, 3), np.float32), predictor, refiner="split")
    assert res.depth.shape == (48, 64) and res.info.get("refiner", "split") == "split"
