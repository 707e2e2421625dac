import numpy as np
import pytest

from sddr_core.ops import (
    adaptive_resolution,
    edge_density,
    edge_map,
    resize_map,
    round_to_multiple,
    sobel_magnitude,
    working_shape,
)
from sddr_core.ops.holes import fill_invalid
from sddr_core.ops.noise import edge_bumps, local_inconsistency, resolution_blur


def test_round_to_multiple():
    assert round_to_multiple(100, 32) == 96
    assert round_to_multiple(5, 32) == 32
    assert round_to_multiple(100, 14, minimum=200) == 210


@pytest.mark.parametrize(("h", "w"), [(500, 741), (4000, 6000), (741, 500), (33, 2000)])
def test_working_shape_keeps_aspect(h, w):
    wh, ww = working_shape(h, w, 1024, 32)
    assert wh % 32 == 0 and ww % 32 == 0 and max(wh, ww) == 1024
    assert abs(wh / ww - h / w) < 32 / min(wh, ww) + 1e-9


def test_resize_map_shapes_and_no_overshoot():
    step = np.zeros((20, 20), np.float32)
    step[:, 10:] = 1
    up = resize_map(step, (80, 80))
    assert up.shape == (80, 80) and up.min() >= 0 and up.max() <= 1
    rgb = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32)
    assert resize_map(rgb, (10, 15), kind="image").shape == (10, 15, 3)


def test_sobel_and_edge_map_find_the_step():
    step = np.zeros((32, 32), np.float32)
    step[:, 16:] = 5
    g = sobel_magnitude(step)
    assert g[:, 15:17].min() > 0 and g[:, :10].max() == 0
    e = edge_map(step)
    assert np.argmax(e.mean(0)) in (15, 16)
    np.testing.assert_allclose(edge_map(3 * step + 1), e, atol=1e-5)  # affine invariant


def test_edge_density_and_adaptive_resolution():
    flat = np.full((64, 64, 3), 0.5, np.float32)
    busy = (np.indices((64, 64)).sum(0) % 4 < 2).astype(np.float32)[..., None].repeat(3, 2)
    assert edge_density(flat) == 0 and edge_density(busy) > 0.3
    lo = adaptive_resolution(518, 1036, edge_density(flat), multiple=14, min_factor=1.5)
    hi = adaptive_resolution(518, 1036, edge_density(busy), multiple=14, max_factor=3.0)
    assert lo % 14 == 0 and hi % 14 == 0 and lo < hi <= 3 * 518 + 14
    assert adaptive_resolution(518, 1036, 1.0, cap=800, multiple=14) <= 812


def test_noise_model_pieces():
    rng = np.random.default_rng(0)
    gt = np.ones((64, 96), np.float32)
    gt[16:48, 30:70] = 3.0
    assert resolution_blur(gt, 48).shape == (32, 48)
    noisy = local_inconsistency(gt, 1.0, rng, patch=32, stride=16)
    assert noisy.shape == gt.shape and not np.allclose(noisy, gt)
    np.testing.assert_array_equal(local_inconsistency(gt, 0.0, rng), gt)
    bumped = edge_bumps(gt, 1.0, np.random.default_rng(1))
    changed = np.abs(bumped - gt) > 1e-4
    assert changed.any() and not changed[:8, :20].any()  # bumps sit along edges only
    holes = gt.copy()
    holes[0, 0] = np.nan
    assert np.isfinite(fill_invalid(holes)).all()
