"""Unknown pixels: the mask, the background-side fill and the nearest fill."""

from __future__ import annotations

import numpy as np
import pytest

from sddr_core.errors import ShapeError
from sddr_core.ops.holes import (
    fill_disparity_holes,
    fill_invalid,
    fill_rows_from_background,
    unknown_pixels,
)


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


def test_fill_disparity_holes_takes_the_background_side() -> None:
    d = np.array([[5.0, 0, 0, 10.0, 10.0, 0], [0, 0, 7.0, 0, 3.0, 3.0]], np.float32)
    valid = d > 0
    out = fill_rows_from_background(d, valid)
    np.testing.assert_allclose(out[0], [5, 5, 5, 10, 10, 10])  # only the left side at the end
    np.testing.assert_allclose(out[1], [7, 7, 7, 3, 3, 3])  # min(7, 3) between them
    assert np.array_equal(fill_disparity_holes(d, np.zeros_like(valid)), np.zeros_like(d))
    np.testing.assert_array_equal(fill_disparity_holes(d, np.ones_like(valid)), d)
    with pytest.raises(ShapeError):
        fill_disparity_holes(d, valid[:, :3])


def test_fill_disparity_holes_keeps_valid_values_and_is_finite() -> None:
    rng = np.random.default_rng(1)
    d = rng.uniform(1, 20, (30, 40)).astype(np.float32)
    valid = rng.random((30, 40)) > 0.3
    valid[5] = False  # a whole row without a match
    out = fill_disparity_holes(np.where(valid, d, np.nan), valid)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[valid], d[valid])
