import cv2
import numpy as np
import pytest

from sddr_core.errors import ShapeError
from sddr_core.ops import poisson_fuse, trust_map


def _step(h=64, w=96):
    x = np.linspace(0, 1, w, dtype=np.float32)[None].repeat(h, 0)
    return (np.where(x > 0.5, 2.0, 1.0) + 0.3 * x).astype(np.float32)


def test_identical_inputs_are_a_fixed_point():
    gt = _step()
    out, _ = poisson_fuse(gt, gt)
    np.testing.assert_allclose(out, gt, atol=1e-3)


def test_takes_values_from_low_and_edges_from_high():
    gt = _step()
    low = cv2.GaussianBlur(gt, (0, 0), 2)  # a low-resolution prediction upsampled 2-3x
    high = 1.7 * gt + 0.4  # sharp but in another scale and shift
    out, omega = poisson_fuse(low, high)
    band = slice(40, 56)
    assert np.abs(out - gt)[:, band].mean() < 0.25 * np.abs(low - gt)[:, band].mean()
    assert np.abs(out - gt)[:, :30].mean() < 0.02  # flat region keeps low's (true) values
    assert omega[:, 47:49].mean() > 0.9 and omega[:, :30].mean() < 0.1


def test_flat_noise_is_not_trusted():
    rng = np.random.default_rng(0)
    flat = np.ones((64, 64), np.float32) + rng.normal(0, 1e-3, (64, 64)).astype(np.float32)
    omega = trust_map(flat)
    assert omega.shape == flat.shape and omega.dtype == np.float32
    assert omega.min() >= 0 and omega.max() <= 1


def test_shape_mismatch():
    with pytest.raises(ShapeError):
        poisson_fuse(np.ones((8, 8)), np.ones((8, 9)))


def test_explicit_omega_zero_returns_low():
    gt = _step()
    low = cv2.GaussianBlur(gt, (0, 0), 3)
    out, _ = poisson_fuse(low, 2 * gt, np.zeros_like(gt))
    np.testing.assert_allclose(out, low, atol=1e-3)


def test_unconverged_solve_warns_instead_of_passing_silently():
    rng = np.random.default_rng(0)
    low = rng.random((48, 48)).astype(np.float32)
    high = rng.random((48, 48)).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="stopped after 2 conjugate-gradient iterations"):
        out, _ = poisson_fuse(low, high, tol=1e-12, max_iter=2)
    assert np.isfinite(out).all()
