"""Degradation families: each pure, seeded, with a strength knob that does what it says."""

import numpy as np
import pytest

from sddr_core.ops import degrade


def _scene() -> np.ndarray:
    x = np.ones((64, 96), np.float32)
    x[16:48, 30:70] = 3.0  # a near box
    x[:, 10:12] = 2.5  # a thin near post, 2 px wide
    return x


FUNCS = [
    degrade.fatten_boundaries,
    degrade.remove_thin,
    degrade.bleed,
    degrade.warp,
    degrade.bias_field,
    degrade.gamma_curve,
    degrade.range_compress,
    degrade.punch_holes,
    degrade.quantize,
]


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
def test_seeded_pure_and_strength_zero_is_identity(fn):
    x = _scene()
    a = fn(x, np.random.default_rng(3), 1.0)
    b = fn(x, np.random.default_rng(3), 1.0)
    assert a.dtype == np.float32 and a.shape == x.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fn(x, np.random.default_rng(3), 0.0), x)
    np.testing.assert_array_equal(x, _scene())  # input untouched


@pytest.mark.parametrize(
    "fn", [degrade.fatten_boundaries, degrade.bleed, degrade.warp, degrade.bias_field]
)
def test_more_strength_more_error(fn):
    x = _scene()
    err = [np.abs(fn(x, np.random.default_rng(0), s) - x).mean() for s in (0.5, 2.0)]
    assert err[1] > err[0] > 0


def test_fatten_grows_the_foreground_and_remove_thin_drops_the_post():
    x = _scene()
    fat = degrade.fatten_boundaries(x, np.random.default_rng(0), 1.0)
    assert (fat > 2.9).sum() > (x > 2.9).sum()
    thin = degrade.remove_thin(x, np.random.default_rng(0), 1.0)
    assert thin[:, 10:12].max() < 1.5  # the post is gone
    assert thin[30, 50] == pytest.approx(3.0)  # the box stays


def test_texture_copy_adds_image_highpass_only():
    x = _scene()
    image = np.zeros((64, 96, 3), np.float32)
    assert np.array_equal(degrade.texture_copy(x, image, np.random.default_rng(0), 1.0), x)
    image[::2] = 1.0  # stripes
    y = degrade.texture_copy(x, image, np.random.default_rng(0), 1.0)
    assert np.abs(y - x).mean() > 0.005


def test_quantize_levels():
    x = np.linspace(0, 1, 4096, dtype=np.float32).reshape(64, 64)
    q8 = degrade.quantize(x, np.random.default_rng(0), 1.0)
    q6 = degrade.quantize(x, np.random.default_rng(0), 2.0)
    assert len(np.unique(q8)) == 256 and len(np.unique(q6)) == 64


@pytest.mark.parametrize("method", degrade.FILL_METHODS)
def test_fill_holes_fills_every_hole_within_the_range(method):
    x = _scene()
    holes = np.zeros_like(x, bool)
    holes[20:30, 25:40] = True
    y = degrade.fill_holes(x, holes, method)
    assert np.isfinite(y).all()
    assert y.min() >= x.min() - 1e-6 and y.max() <= x.max() + 1e-6
    np.testing.assert_array_equal(y[~holes], x[~holes])


def test_background_fill_takes_the_far_side():
    x = _scene()
    holes = np.zeros_like(x, bool)
    holes[30, 26:34] = True  # straddles the box's left edge at column 30
    y = degrade.fill_holes(x, holes, "background")
    assert np.allclose(y[30, 26:34], 1.0)


def test_unusable_is_unrelated_to_the_scene():
    x = _scene()
    x[:20] += np.linspace(0, 1, 20, dtype=np.float32)[:, None]  # not symmetric upside down
    for seed in range(8):
        y = degrade.unusable(x, np.random.default_rng(seed))
        assert y.shape == x.shape
        c = np.corrcoef(x.ravel(), y.ravel())[0, 1]
        assert not c > 0.9
