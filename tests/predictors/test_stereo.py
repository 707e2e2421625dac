"""Stereo predictors: disparity recovered from a synthetic rectified pair, holes, windows,
registration and evaluation."""

import cv2
import numpy as np
import pytest

from sddr_core.datasets.base import Sample, SampleList
from sddr_core.errors import InputError, ShapeError
from sddr_core.predictors.stereo import (
    FLOW_METHODS,
    StereoPredictor,
    stereo_predictor_for_sample,
)

H, W = 96, 160
BG, FG = 4.0, 12.0  # disparities in pixels
RECT = (30, 60, 70, 110)  # top, left, bottom, right of the near rectangle (left view)


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Blocky colour noise: survives a 2x downscale as texture."""
    small = rng.integers(0, 256, (h // 2 + 1, w // 2 + 1, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)[:h, :w]


def _smooth_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Colour noise at three scales: coarse-to-fine flow needs structure at its coarse levels
    (on pixel-sized noise alone DIS finds 3 px of a 12 px shift)."""
    out = np.zeros((h, w, 3), np.float32)
    for sigma in (1.0, 4.0, 12.0):
        noise = rng.normal(0.0, 1.0, (h, w, 3)).astype(np.float32)
        out += cv2.GaussianBlur(noise, (0, 0), sigma) * sigma
    out = (out - out.min()) / (out.max() - out.min()) * 255.0
    return out.astype(np.uint8)


def stereo_pair(
    seed: int = 0, texture=_texture
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(left, right, gt_left, gt_right): a textured rectangle at 12 px in front of a textured
    plane at 4 px; right(x - d) = left(x)."""
    rng = np.random.default_rng(seed)
    pad = 32
    bg = texture(rng, H, W + pad)
    fg = texture(rng, H, W + pad)
    top, lft, bot, rgt = RECT
    xs = np.arange(W)
    left = bg[:, xs].copy()
    left[top:bot, lft:rgt] = fg[top:bot, lft:rgt]
    right = bg[:, xs + int(BG)].copy()  # right(x) = left-frame content at x + d
    right[top:bot, lft - int(FG) : rgt - int(FG)] = fg[top:bot, lft:rgt]
    gt_left = np.full((H, W), BG, np.float32)
    gt_left[top:bot, lft:rgt] = FG
    gt_right = np.full((H, W), BG, np.float32)
    gt_right[top:bot, lft - int(FG) : rgt - int(FG)] = FG
    return left, right, gt_left, gt_right


@pytest.fixture(scope="module")
def pair():
    return stereo_pair()


@pytest.fixture(scope="module")
def smooth_pair():
    return stereo_pair(texture=_smooth_texture)


def _interior(d: np.ndarray, box: tuple[int, int, int, int], shrink: int = 4) -> np.ndarray:
    t, lft, b, r = box
    return d[t + shrink : b - shrink, lft + shrink : r - shrink]


@pytest.mark.parametrize("method", ["sgbm", "bm", "dis", "tvl1", "ilk"])
def test_recovers_disparity_at_full_resolution(pair, smooth_pair, method):
    left, right, gt, _ = smooth_pair if method in FLOW_METHODS else pair
    p = StereoPredictor(left, right, method=method, native_resolution=80, max_disparity=24)
    d = p.predict(left / 255.0, W)
    assert d.shape == (H, W) and d.dtype == np.float32 and np.isfinite(d).all()
    assert np.median(_interior(d, RECT)) == pytest.approx(FG, abs=0.5)
    assert np.median(d[:, 130:]) == pytest.approx(BG, abs=0.5)
    assert np.mean(np.abs(d - gt) <= 1.0) > 0.85


def test_low_resolution_keeps_full_size_units_and_is_blurrier(pair):
    left, right, gt, _ = pair
    p = StereoPredictor(left, right, method="sgbm", native_resolution=80, max_disparity=24)
    low = p.predict(left, 80)  # uint8 image accepted too
    assert low.shape == (48, 80)
    half_rect = tuple(v // 2 for v in RECT)
    assert np.median(_interior(low, half_rect, 3)) == pytest.approx(FG, abs=1.0)
    assert np.median(low[:, 66:]) == pytest.approx(BG, abs=1.0)
    # the low pass misses more of the truth than the full-resolution pass

    up = cv2.resize(low, (W, H), interpolation=cv2.INTER_LINEAR)
    full = p.predict(left, W)
    assert np.mean(np.abs(up - gt) > 1.0) > np.mean(np.abs(full - gt) > 1.0)


def test_region_matches_with_context(pair):
    left, right, _, _ = pair
    p = StereoPredictor(left, right, method="sgbm", native_resolution=80, max_disparity=24)
    box = (20, 50, 80, 120)  # the window's left edge is 50 px in: context is needed
    win = p.predict_region(left, box, 70)
    assert win.shape == (60, 70)
    full = p.predict(left, W)[20:80, 50:120]
    assert np.mean(np.abs(win - full) <= 1.0) > 0.9
    rect_in_win = (RECT[0] - 20, RECT[1] - 50, RECT[2] - 20, RECT[3] - 50)
    assert np.median(_interior(win, rect_in_win)) == pytest.approx(FG, abs=0.5)
    with pytest.raises(InputError, match="outside"):
        p.predict_region(left, (0, 0, H + 1, W), 80)


def test_right_view(pair):
    left, right, _, gt_right = pair
    p = StereoPredictor(left, right, method="sgbm", native_resolution=80, view="right")
    d = p.predict(right, W)
    assert d.shape == (H, W)
    moved = (RECT[0], RECT[1] - int(FG), RECT[2], RECT[3] - int(FG))
    assert np.median(_interior(d, moved)) == pytest.approx(FG, abs=0.5)
    assert np.mean(np.abs(d - gt_right) <= 1.0) > 0.85


def test_flow_matcher_right_view_and_occlusions(smooth_pair):
    """DIS as a stereo matcher: the right view's disparity is found too, and the pixels the
    near rectangle hides in the other view fail the forward-backward check (they are filled
    from the background side, so no disparity there exceeds the background's by much)."""
    left, right, _, gt_right = smooth_pair
    p = StereoPredictor(left, right, method="dis", native_resolution=80, view="right")
    d = p.predict(right, W)
    moved = (RECT[0], RECT[1] - int(FG), RECT[2], RECT[3] - int(FG))
    assert np.median(_interior(d, moved)) == pytest.approx(FG, abs=0.5)
    assert np.mean(np.abs(d - gt_right) <= 1.0) > 0.8

    lp = StereoPredictor(left, right, method="dis", native_resolution=80)
    a = cv2.cvtColor(left, cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(right, cv2.COLOR_RGB2GRAY)
    fwd = lp._flow(a, b)
    assert np.median(-fwd[40:60, 70:100, 0]) == pytest.approx(FG, abs=0.5)
    # the strip left of the rectangle (left view) is seen in the left view only
    occluded = lp.predict(left, W)[RECT[0] + 4 : RECT[2] - 4, RECT[1] - int(FG) + 2 : RECT[1] - 2]
    assert np.median(occluded) < (BG + FG) / 2


def test_unfilled_holes_are_nan(pair):
    left, right, _, _ = pair
    filled = StereoPredictor(left, right, native_resolution=80).predict(left, W)
    raw = StereoPredictor(left, right, native_resolution=80, fill_holes=False).predict(left, W)
    holes = np.isnan(raw)
    assert 0 < holes.mean() < 0.5  # the occluded strip at least
    np.testing.assert_array_equal(raw[~holes], filled[~holes])
    assert np.isfinite(filled).all()


def test_bad_inputs(pair):
    left, right, _, _ = pair
    with pytest.raises(InputError, match="sgbm"):
        StereoPredictor(left, right, method="census", native_resolution=80)
    with pytest.raises(ShapeError, match="differ in size"):
        StereoPredictor(left, right[:, :-1], native_resolution=80)
    with pytest.raises(InputError, match="max_disparity"):
        StereoPredictor(left, right, native_resolution=80, max_disparity=W)
    p = StereoPredictor(left, right, native_resolution=80)
    with pytest.raises(InputError, match="stereo pair"):
        p.predict(np.zeros((H, W + 2, 3), np.float32), 80)


@pytest.mark.parametrize("method", ["tvl1", "ilk"])
def test_skimage_flow_matchers_check_round_trips(smooth_pair, method):
    """The scikit-image flows go through the same forward-backward check as DIS: the strip
    that the near rectangle hides in the right view is filled from the background side."""
    left, right, _, _ = smooth_pair
    p = StereoPredictor(left, right, method=method, native_resolution=80)
    raw = StereoPredictor(left, right, method=method, native_resolution=80, fill_holes=False)
    holes = np.isnan(raw.predict(left, W))
    strip = holes[RECT[0] + 4 : RECT[2] - 4, RECT[1] - int(FG) + 2 : RECT[1] - 2]
    assert strip.mean() > 0.5 and holes.mean() < 0.3
    occluded = p.predict(left, W)[RECT[0] + 4 : RECT[2] - 4, RECT[1] - int(FG) + 2 : RECT[1] - 2]
    assert np.median(occluded) < (BG + FG) / 2


def test_skimage_flow_matchers_say_what_to_install(pair, monkeypatch):
    import sys

    left, right, _, _ = pair
    monkeypatch.setitem(sys.modules, "skimage.registration", None)  # import fails
    with pytest.raises(InputError, match=r"sddr\[eval\]"):
        StereoPredictor(left, right, method="tvl1", native_resolution=80)
    StereoPredictor(left, right, method="dis", native_resolution=80)  # OpenCV's need nothing


def _stereo_sample(name: str = "toy") -> Sample:
    left, right, gt, gt_right = stereo_pair()
    return Sample(
        rgb=left,
        gt=gt,
        gt_kind="disparity",
        valid=np.ones((H, W), bool),
        meta={"name": name, "left": left, "right": right, "gt_right": gt_right, "view": "left"},
    )


def test_registered_and_built_from_a_sample():
    from sddr_core.evaluation.runner import needs_sample
    from sddr_core.registry import create_predictor, get_predictor_spec

    for name in ("stereo-sgbm", "stereo-bm", "stereo-dis", "stereo-tvl1", "stereo-ilk"):
        spec = get_predictor_spec(name)
        assert spec.kind == "disparity" and needs_sample(name) and "sample" in spec.needs
        with pytest.raises(InputError, match="stereo pair"):
            create_predictor(name)
    p = create_predictor("stereo-bm", sample=_stereo_sample(), native_resolution=64)
    assert isinstance(p, StereoPredictor) and p.method == "bm" and p.native_resolution == 64
    with pytest.raises(InputError, match="middlebury2006"):
        stereo_predictor_for_sample(
            Sample(
                rgb=np.zeros((H, W, 3), np.uint8),
                gt=np.ones((H, W)),
                gt_kind="disparity",
                valid=np.ones((H, W), bool),
            ),
            method="sgbm",
        )


def test_eval_builds_it_per_sample(fast_cpu_torch):
    from sddr_core.evaluation import evaluate

    ds = SampleList([_stereo_sample("a")], name="toy-stereo")
    report = evaluate(
        ds,
        "stereo-sgbm",
        "low,high,poisson",
        progress=False,
        predictor_options={"native_resolution": 80, "max_disparity": 24},
    )
    assert report.predictor == "stereo-sgbm"
    m = report.samples[0].metrics
    assert m["high"]["delta1"] > 0.8
    assert report.samples[0].meta["low_resolution"] == 80
