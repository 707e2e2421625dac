"""``refine_depths`` with holes (NaN, inf, 0 in depth): the result keeps the low pass where
the high pass knows nothing, and never returns a non-finite pixel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import sddr_core
from sddr_core import InputError
from sddr_core.ops.resize import resize_map

from helpers import make_scene


def _maps() -> tuple[np.ndarray, np.ndarray]:
    _, disp = make_scene(96, 128)
    low = cv2.resize(cv2.resize(disp, (32, 24), interpolation=cv2.INTER_AREA), (64, 48))
    return low, disp * 2 + 1


def _disc(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


@pytest.mark.parametrize("refiner", ["sddr", "poisson", "split"])
def test_high_holes_take_the_low_pass(refiner: str) -> None:
    low, high = _maps()
    hole = _disc(high.shape, (36, 45), 12)  # over the edge of the raised box
    holed = np.where(hole, np.nan, high).astype(np.float32)
    # What a tool that fills holes hands over: a smear of the nearest pixels, here replaced
    # by a fake step that the fusion must not take for detail.
    faked = np.where(hole & (np.arange(128)[None, :] > 45), 9.0, high).astype(np.float32)
    told = sddr_core.refine_depths(low, holed, refiner=refiner)
    fooled = sddr_core.refine_depths(low, faked, refiner=refiner)
    assert np.isfinite(told.depth).all() and told.depth.shape == (96, 128)
    inside = cv2.erode(hole.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    low_full = resize_map(low, (96, 128))
    np.testing.assert_allclose(told.depth[inside], low_full[inside], rtol=1e-5, atol=1e-5)
    assert np.abs(fooled.depth[inside] - low_full[inside]).max() > 0.1  # the fake was taken
    assert told.info["unknown_high"] == pytest.approx(hole.mean(), abs=1e-4)
    assert 0 < told.info["low_in_high_holes"] < 0.2
    assert "unknown_low" not in told.info
    far = ~cv2.dilate(hole.astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
    plain = sddr_core.refine_depths(low, high, refiner=refiner)
    assert np.median(np.abs(told.depth[far] - plain.depth[far])) < 0.02


def test_low_holes_are_filled_and_reported() -> None:
    low, high = _maps()
    low[:, :6] = np.nan
    low[10, 10] = np.inf
    result = sddr_core.refine_depths(low, high, refiner="poisson")
    assert np.isfinite(result.depth).all() and np.isfinite(result.low).all()
    assert result.info["unknown_low"] == pytest.approx((6 * 48 + 1) / (64 * 48), abs=1e-4)
    assert "low_in_high_holes" not in result.info


def test_zero_depth_is_a_hole_and_the_result_stays_positive() -> None:
    low, high = _maps()
    depth_low, depth_high = 1.0 / low, 1.0 / high
    depth_high[40:60, 50:80] = 0.0  # a sensor's missing pixels
    result = sddr_core.refine_depths(depth_low, depth_high, kind="depth")
    assert np.isfinite(result.depth).all() and (result.depth > 0).all()
    assert result.info["unknown_high"] == pytest.approx(600 / (96 * 128), abs=1e-4)
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
