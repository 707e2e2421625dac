"""The torch edge map G and robust normalisation agree with their numpy twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sddr_core.errors import ShapeError
from sddr_core.models import bilateral_filter, edge_map, normalize_robust, robust_stats
from sddr_core.models import sobel_magnitude as sobel_t
from sddr_core.models.normalize import MEDIAN_SAMPLES
from sddr_core.ops import edge_map as edge_map_np
from sddr_core.ops import normalize_robust as normalize_np
from sddr_core.ops import sobel_magnitude as sobel_np

pytestmark = pytest.mark.usefixtures("fast_cpu_torch")


def depth_scene(h: int = 96, w: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    d = 1.0 + 2.0 * (xx > w // 2) + 1.5 * ((xx - 40) ** 2 + (yy - 40) ** 2 < 400) + 0.01 * yy
    return (d + rng.normal(0, 0.05, (h, w))).astype(np.float32)


def as_t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a)[None, None]


@pytest.mark.parametrize("shape", [(96, 160), (161, 95)])
def test_edge_map_matches_numpy_twin(shape):
    d = depth_scene(*shape)
    for smooth in (True, False):
        ref = edge_map_np(d, smooth=smooth)
        got = edge_map(as_t(d), smooth=smooth)[0, 0].numpy()
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() <= 1e-4 * ref.max()


def test_sobel_matches_numpy():
    d = depth_scene(40, 50)
    np.testing.assert_allclose(sobel_t(as_t(d))[0, 0].numpy(), sobel_np(d), atol=1e-5)


def test_bilateral_keeps_steps_and_smooths_noise():
    rng = np.random.default_rng(1)
    step = np.zeros((40, 40), np.float32)
    step[:, 20:] = 4.0
    noisy = step + rng.normal(0, 0.05, step.shape).astype(np.float32)
    out = bilateral_filter(as_t(noisy))[0, 0].numpy()
    assert np.std(out[:, :15]) < 0.5 * np.std(noisy[:, :15])  # flat area smoothed
    assert out[:, 21:].mean() - out[:, :19].mean() > 3.9  # the step survives


def test_edge_map_batch_is_per_image():
    a, b = depth_scene(seed=0), 10 * depth_scene(seed=1) + 3
    batch = edge_map(torch.stack([as_t(a)[0], as_t(b)[0]]))
    torch.testing.assert_close(batch[0:1], edge_map(as_t(a)))
    torch.testing.assert_close(batch[1:2], edge_map(as_t(b)))


def test_edge_map_is_differentiable():
    x = as_t(depth_scene(32, 48)).requires_grad_(True)
    edge_map(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_shape_checks():
    for fn in (edge_map, bilateral_filter, sobel_t, robust_stats):
        with pytest.raises(ShapeError):
            fn(torch.rand(2, 3, 8, 8))


@pytest.mark.parametrize("n", [(7, 9), (8, 8)])
def test_robust_normalisation_matches_numpy(n):
    d = depth_scene(*n, seed=2)
    xn, med, _scale = normalize_robust(as_t(d))
    np.testing.assert_allclose(xn[0, 0].numpy(), normalize_np(d), rtol=1e-5, atol=1e-5)
    assert med.item() == pytest.approx(float(np.median(d)), rel=1e-6)


def test_large_maps_use_a_subsampled_median():
    rng = np.random.default_rng(0)
    d = rng.normal(5.0, 2.0, (1, 1, 600, 600)).astype(np.float32)
    assert d.size > MEDIAN_SAMPLES
    med, scale = robust_stats(torch.from_numpy(d))
    assert med.item() == pytest.approx(float(np.median(d)), abs=0.02)
    assert scale.item() == pytest.approx(float(np.mean(np.abs(d - np.median(d)))), rel=1e-3)
