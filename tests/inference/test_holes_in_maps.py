"""``refine_depths`` with holes (NaN, inf, 0 in depth): filled from the background side,
reported in ``info``, never a non-finite pixel out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import sddr_core
from sddr_core import InputError
from sddr_core.ops.holes import fill_disparity_holes

from helpers import make_scene


def _maps() -> tuple[np.ndarray, np.ndarray]:
    _, disp = make_scene(96, 128)
    low = cv2.resize(cv2.resize(disp, (32, 24), interpolation=cv2.INTER_AREA), (64, 48))
    return low, disp * 2 + 1


@pytest.mark.parametrize("refiner", ["sddr", "poisson"])
def test_an_occlusion_hole_is_filled_from_the_background(refiner: str) -> None:
    low, high = _maps()
    # make_scene's near box spans rows 24-47, columns 25-63: an occlusion band left of it
    holed = high.copy()
    holed[26:46, 12:25] = np.nan
    result = sddr_core.refine_depths(low, holed, refiner=refiner)
    assert np.isfinite(result.depth).all() and result.depth.shape == (96, 128)
    assert result.info["unknown_high"] == pytest.approx(20 * 13 / (96 * 128), abs=1e-4)
    assert "unknown_low" not in result.info
    filled = sddr_core.refine_depths(low, fill_disparity_holes(holed, ~np.isnan(holed)))
    if refiner == "sddr":  # the same fill as handing over a filled map
        np.testing.assert_array_equal(result.depth, filled.depth)
    box = float(np.median(result.depth[30:40, 35:55]))
    background = float(np.median(result.depth[30:40, 5:12]))
    band = result.depth[30:40, 14:21]  # the hole: background, not the box's near values
    assert np.abs(band - background).max() < 0.25 * (box - background)


def test_low_holes_are_filled_and_reported() -> None:
    low, high = _maps()
    low[:, :6] = np.nan
    low[10, 10] = np.inf
    result = sddr_core.refine_depths(low, high, refiner="poisson")
    assert np.isfinite(result.depth).all() and np.isfinite(result.low).all()
    assert result.info["unknown_low"] == pytest.approx((6 * 48 + 1) / (64 * 48), abs=1e-4)


def test_zero_depth_is_a_hole_filled_with_the_farther_depth() -> None:
    low, high = _maps()
    depth_low, depth_high = 1.0 / low, 1.0 / high
    depth_high[26:46, 14:27] = 0.0  # a sensor's missing pixels beside the near box
    result = sddr_core.refine_depths(depth_low, depth_high, kind="depth")
    assert np.isfinite(result.depth).all() and (result.depth > 0).all()
    assert result.info["unknown_high"] == pytest.approx(20 * 13 / (96 * 128), abs=1e-4)
    assert result.high[30:40, 16:24].min() > 1.0 / 3.5  # the background's depth (1/3.x)
    # in disparity a zero is a far pixel, not a hole
    assert "unknown_high" not in sddr_core.refine_depths(low, np.maximum(high - 1.2, 0)).info


@pytest.mark.parametrize("which", ["low", "high"])
def test_a_map_without_any_known_pixel_is_refused(which: str) -> None:
    low, high = _maps()
    maps = {"low": low, "high": high, which: np.full((20, 20), np.nan, np.float32)}
    with pytest.raises(InputError, match=f"{which} depth has no finite value"):
        sddr_core.refine_depths(maps["low"], maps["high"])
    maps[which] = np.zeros((20, 20), np.float32)
    with pytest.raises(InputError, match=f"{which} depth has no known pixel.*kind='depth'"):
        sddr_core.refine_depths(maps["low"], maps["high"], kind="depth")


def test_values_too_large_for_float32_are_refused_not_fused_into_nan() -> None:
    low, high = _maps()
    with pytest.raises(InputError, match=r"high depth holds values up to 7e\+20"):
        sddr_core.refine_depths(low, high * 1e20)
