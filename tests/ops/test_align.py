import numpy as np
import pytest

from sddr_core.errors import InputError
from sddr_core.ops import (
    apply_scale_shift,
    depth_to_disparity,
    disparity_to_depth,
    fit_scale_shift,
    normalize_minmax,
    normalize_robust,
)


def test_fit_recovers_known_affine():
    rng = np.random.default_rng(0)
    x = rng.random((20, 30)).astype(np.float32)
    s, t = fit_scale_shift(x, 3.0 * x - 2.0)
    assert s == pytest.approx(3.0, rel=1e-6) and t == pytest.approx(-2.0, abs=1e-6)


def test_fit_ignores_masked_and_nan():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    y = 2 * x + 1
    y[0, 0] = np.nan
    y[1, 1] = 1e6
    mask = np.ones_like(x, bool)
    mask[1, 1] = False
    assert fit_scale_shift(x, y, mask) == pytest.approx((2.0, 1.0))


def test_fit_constant_prediction_gives_mean_offset():
    assert fit_scale_shift(np.ones((4, 4)), np.full((4, 4), 5.0)) == (0.0, 5.0)


def test_fit_errors():
    with pytest.raises(InputError, match="shapes"):
        fit_scale_shift(np.ones((2, 2)), np.ones((3, 3)))
    with pytest.raises(InputError, match="no valid"):
        fit_scale_shift(np.ones((2, 2)), np.full((2, 2), np.nan))


def test_apply_scale_shift_dtype():
    x = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    out = apply_scale_shift(x, 2 * x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 2 * x, atol=1e-6)


def test_normalize_robust_is_affine_invariant():
    x = np.random.default_rng(1).random((10, 10)).astype(np.float32)
    np.testing.assert_allclose(normalize_robust(x), normalize_robust(5 * x + 3), atol=1e-5)


def test_normalize_minmax_range_and_constant():
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    out = normalize_minmax(x)
    assert out.min() == 0 and out.max() == 1 and out[0, 1] == pytest.approx(0.25)
    assert (normalize_minmax(np.ones((3, 3))) == 0).all()


def test_depth_disparity_round_trip_and_order():
    disp = np.array([[0.5, 1.0], [2.0, 4.0]], np.float32)
    depth = disparity_to_depth(disp)
    np.testing.assert_allclose(depth, 1 / disp)
    np.testing.assert_allclose(depth_to_disparity(depth), disp, rtol=1e-6)


def test_relative_disparity_with_negatives_becomes_positive_depth():
    disp = np.array([[-1.0, 0.0], [1.0, 3.0]], np.float32)
    depth = disparity_to_depth(disp)
    assert (depth > 0).all() and np.isfinite(depth).all()
    assert np.argmin(depth) == np.argmax(disp)
    assert depth.max() / depth.min() == pytest.approx(101.0, rel=1e-3)  # (1 + floor) / floor
