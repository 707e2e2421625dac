"""Issue 12 section 5: a constant (or constant up to float rounding) predictor map gives a
constant result and a constant ControlNet hint, not stretched float noise or zeros; and a
high resolution below the low one is refused."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sddr_core
from sddr_core import CallablePredictor, InputError
from sddr_core.ops.align import is_flat, normalize_minmax
from sddr_core.ops.resize import resize_map


def _photo() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)


def _refine(fn, **kwargs) -> sddr_core.RefinedDepth:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the constant-map warning
        return sddr_core.refine(_photo(), fn, **kwargs)


@pytest.mark.parametrize("refiner", ["poisson", None])
@pytest.mark.parametrize("value", [5.0, 0.37, 2e-4])
def test_constant_map_gives_that_constant_and_a_constant_hint(refiner, value) -> None:
    result = _refine(lambda im, res: np.full(im.shape[:2], value, np.float32), refiner=refiner)
    # the predictor's value everywhere, not zeros and not value ± rounding
    assert np.all(result.depth == np.float32(value)), (result.depth.min(), result.depth.max())
    hint = result.to_controlnet()
    assert hint.shape == (120, 160, 3)
    assert np.ptp(hint) == 0.0


def test_constant_depth_kind_map_stays_positive_and_constant() -> None:
    pred = CallablePredictor(lambda im, res: np.full(im.shape[:2], 3.0), kind="depth")
    result = _refine(pred, refiner="poisson")
    assert np.all(result.depth == 3.0)
    assert np.ptp(result.to_disparity()) == 0.0 and np.ptp(result.to_controlnet()) == 0.0


def test_near_constant_map_is_not_stretched_into_noise() -> None:
    rng = np.random.default_rng(1)

    def fn(im: np.ndarray, res: int) -> np.ndarray:  # 5 ± a few float32 steps
        return (5.0 + rng.normal(0.0, 2e-6, im.shape[:2])).astype(np.float32)

    with pytest.warns(RuntimeWarning, match="constant"):
        result = sddr_core.refine(_photo(), fn, refiner="poisson")
    assert np.ptp(result.to_controlnet()) == 0.0
    assert abs(float(result.depth.mean()) - 5.0) < 1e-4


def test_a_real_map_still_spans_the_hint() -> None:
    result = _refine(lambda im, res: 1.0 + im[..., 0], refiner="poisson")
    hint = result.to_controlnet()
    assert hint.min() == 0.0 and hint.max() == 1.0


def test_flatness_is_scale_invariant() -> None:
    assert is_flat(5.0, 5.0 + 1e-6) and is_flat(0.0, 0.0) and is_flat(-3.0, -3.0)
    assert not is_flat(5.0, 5.01) and not is_flat(1e-9, 2e-9) and not is_flat(-1.0, 1.0)
    tiny = np.linspace(1e-9, 2e-9, 12, dtype=np.float32).reshape(3, 4)  # tiny units, real range
    assert normalize_minmax(tiny).max() == 1.0


@pytest.mark.parametrize("shape", [(37, 51), (400, 520), (120, 160)])
def test_resizing_a_constant_map_keeps_it_exactly_constant(shape) -> None:
    out = resize_map(np.full((120, 160), 0.1, np.float32), shape)
    assert out.shape == shape and np.all(out == np.float32(0.1))
    with_nan = np.full((120, 160), 2.0, np.float32)
    with_nan[:10] = np.nan
    assert np.nanmax(resize_map(with_nan, shape)) == 2.0


def test_high_resolution_below_the_native_one_is_refused() -> None:
    pred = CallablePredictor(lambda im, res: im[..., 0] + 1.0, native_resolution=200)
    with pytest.raises(InputError, match=r"high_resolution=200 or more.*low_resolution=100"):
        sddr_core.refine(_photo(), pred, refiner="poisson", high_resolution=100)
    with pytest.raises(InputError, match=r"\(150 px\) is below the low resolution \(160 px\)"):
        sddr_core.refine(_photo(), pred, low_resolution=160, high_resolution=150)
    ok = sddr_core.refine(_photo(), pred, refiner="poisson", low_resolution=96, high_resolution=96)
    assert (ok.info["low_resolution"], ok.info["high_resolution"]) == (96, 96)
