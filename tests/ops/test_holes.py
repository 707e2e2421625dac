"""Unknown pixels: the mask, the nearest fill and the blending weight around holes."""

from __future__ import annotations

import numpy as np
import pytest

from sddr_core.ops.holes import fill_invalid, hole_weight, unknown_pixels


def test_unknown_pixels_depend_on_the_convention() -> None:
    x = np.array([[np.nan, np.inf, -np.inf], [0.0, -1.0, 2.0]], np.float32)
    np.testing.assert_array_equal(
        unknown_pixels(x, "disparity"), [[True, True, True], [False, False, False]]
    )
    np.testing.assert_array_equal(
        unknown_pixels(x, "depth"), [[True, True, True], [True, True, False]]
    )


def test_fill_invalid_takes_the_nearest_known_pixel() -> None:
    x = np.array([[1.0, np.nan, np.nan, 4.0]], np.float32)
    np.testing.assert_array_equal(fill_invalid(x), [[1.0, 1.0, 4.0, 4.0]])
    y = np.array([[1.0, 0.0, 3.0]], np.float32)
    np.testing.assert_array_equal(fill_invalid(y, y == 0), [[1.0, 1.0, 3.0]])
    clean = np.arange(6, dtype=np.float64).reshape(2, 3)
    out = fill_invalid(clean)
    assert out.dtype == np.float32 and np.array_equal(out, clean)
    assert np.isnan(fill_invalid(np.full((2, 2), np.nan))).all()  # nothing to fill from


def test_hole_weight_covers_the_hole_and_fades_to_zero() -> None:
    unknown = np.zeros((50, 50), bool)
    unknown[20:30, 20:30] = True
    w = hole_weight(unknown, (100, 100))
    assert w.shape == (100, 100) and w.dtype == np.float32
    assert w.min() >= 0.0 and w.max() <= 1.0
    assert (w[40:60, 40:60] == 1.0).all()  # the hole, resized
    assert (w[38:62, 38:62] == 1.0).all()  # and the margin (2 px at this size) around it
    assert (w[:25] == 0).all() and (w[:, 75:] == 0).all()  # far away: untouched
    row = w[50, 60:80]
    assert np.all(np.diff(row) <= 0) and row[0] == 1.0 and row[-1] == 0.0  # a fade, no step


def test_hole_weight_keeps_a_one_pixel_hole_when_shrinking() -> None:
    unknown = np.zeros((400, 400), bool)
    unknown[200, 200] = True
    w = hole_weight(unknown, (100, 100))
    assert w[50, 50] == 1.0 and w.sum() < 100


def test_hole_weight_without_holes_is_zero() -> None:
    assert not hole_weight(np.zeros((8, 8), bool), (16, 12)).any()


@pytest.mark.parametrize("margin", [0.0, 0.05])
def test_hole_weight_margin_is_at_least_two_pixels(margin: float) -> None:
    unknown = np.zeros((64, 64), bool)
    unknown[32, 32] = True
    w = hole_weight(unknown, (64, 64), margin=margin)
    r = max(2, round(margin * 64))
    assert w[32, 32 + r] == 1.0 and w[32, 32 + 2 * r + 2] == 0.0
