"""Tests of sddr_core.metrics.depth: valid pixels, alignment, δ and error metrics."""

from __future__ import annotations

import numpy as np
import pytest

from sddr_core.errors import InputError, SddrError, ShapeError
from sddr_core.metrics import align_prediction, depth_metrics, valid_mask


def plane_with_square(h: int = 48, w: int = 64) -> np.ndarray:
    """Ground-truth depth: a slanted plane (3 to 4) with a raised square at depth 1.5."""
    xx = np.mgrid[0:h, 0:w][1].astype(np.float64)
    depth = 3.0 + xx / w
    depth[12:36, 16:40] = 1.5
    return depth


# ----------------------------------------------------------------------------- valid_mask


def test_valid_mask_excludes_nan_inf_zero_negative_and_user_mask():
    gt = np.array([[1.0, np.nan, np.inf], [0.0, -2.0, 3.0]])
    pred = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, np.nan]])
    assert valid_mask(gt).tolist() == [[True, False, False], [False, False, True]]
    assert valid_mask(gt, pred).tolist() == [[True, False, False], [False, False, False]]
    user = np.array([[0, 1, 1], [1, 1, 1]])
    assert valid_mask(gt, None, user).tolist() == [[False, False, False], [False, False, True]]


def test_valid_mask_shape_errors():
    with pytest.raises(ShapeError, match="resize"):
        valid_mask(np.ones((4, 4)), np.ones((4, 5)))
    with pytest.raises(ShapeError, match="mask"):
        valid_mask(np.ones((4, 4)), None, np.ones((3, 4), bool))
    with pytest.raises(ShapeError, match="squeeze"):
        valid_mask(np.ones((1, 4, 4)))


# ----------------------------------------------------------------------------- hand cases


def test_hand_case_depth_space():
    # gt = pred - r with r = 0.4 * [+1, -1, -1, +1]: r is orthogonal to both pred and 1, so
    # the least-squares fit of pred to gt is exactly scale 1, shift 0, and the metrics can be
    # worked out by hand.
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    gt = np.array([[0.6, 2.4], [3.4, 3.6]])
    m = depth_metrics(pred, gt, space="depth")
    assert m["scale"] == pytest.approx(1.0, abs=1e-12)
    assert m["shift"] == pytest.approx(0.0, abs=1e-12)
    # max(d/d*, d*/d): 5/3, 1.2, 17/15, 10/9 -> 3 of 4 below 1.25 and below 1.5625
    assert m["delta1"] == 0.75
    assert m["delta2"] == 0.75
    assert m["delta3"] == 1.0  # 5/3 < 1.953125
    # |d - d*| = 0.4 everywhere
    assert m["abs_rel"] == pytest.approx((0.4 / 0.6 + 0.4 / 2.4 + 0.4 / 3.4 + 0.4 / 3.6) / 4)
    assert m["sq_rel"] == pytest.approx(0.16 * (1 / 0.6 + 1 / 2.4 + 1 / 3.4 + 1 / 3.6) / 4)
    assert m["rmse"] == pytest.approx(0.4)
    expected_log10 = np.mean(np.abs(np.log10([1 / 0.6, 2 / 2.4, 3 / 3.4, 4 / 3.6])))
    assert m["log10"] == pytest.approx(expected_log10)
    assert m["n_valid"] == 4
    assert m["n_clamped"] == 0
    assert m["space"] == "depth"


def test_hand_case_disparity_space():
    # The same numbers as disparities: the fit is again the identity, depth = 1 / disparity.
    pred_disp = np.array([[1.0, 2.0], [3.0, 4.0]])
    gt_disp = np.array([[0.6, 2.4], [3.4, 3.6]])
    m = depth_metrics(pred_disp, gt_disp, gt_kind="disparity", space="disparity")
    assert m["scale"] == pytest.approx(1.0, abs=1e-12)
    assert m["delta1"] == 0.75  # ratios are symmetric under inversion
    # abs_rel = mean |d - d*| / d* = mean |1 - g/p| = (0.4 + 0.2 + 2/15 + 0.1) / 4 = 5/24
    assert m["abs_rel"] == pytest.approx(5 / 24)
    # rmse in depth units: depths 1, 1/2, 1/3, 1/4 against 1/0.6, 1/2.4, 1/3.4, 1/3.6
    d = np.array([1, 1 / 2, 1 / 3, 1 / 4])
    t = np.array([1 / 0.6, 1 / 2.4, 1 / 3.4, 1 / 3.6])
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((d - t) ** 2)))


def test_align_false_uses_prediction_as_is():
    gt = np.array([[1.0, 2.0], [3.0, 4.0]])
    m = depth_metrics(2 * gt, gt, space="depth", align=False)
    assert (m["scale"], m["shift"]) == (1.0, 0.0)
    assert m["abs_rel"] == pytest.approx(1.0)
    assert m["delta1"] == 0.0
    assert depth_metrics(2 * gt, gt, space="depth")["abs_rel"] == pytest.approx(0, abs=1e-12)


# ----------------------------------------------------------------------------- invariances


def test_perfect_prediction():
    gt = plane_with_square()
    for space in ("disparity", "depth"):
        m = depth_metrics(gt, gt, space=space)
        assert m["delta1"] == 1.0
        assert m["abs_rel"] == pytest.approx(0.0, abs=1e-12)
        assert m["rmse"] == pytest.approx(0.0, abs=1e-12)
        assert m["log10"] == pytest.approx(0.0, abs=1e-12)


def test_scale_and_shift_in_the_fitted_space_are_removed():
    gt = plane_with_square()
    disp = 1.0 / gt
    m = depth_metrics(7.0 * disp - 0.05, gt, pred_kind="disparity", space="disparity")
    assert m["delta1"] == 1.0
    assert m["abs_rel"] == pytest.approx(0.0, abs=1e-9)
    assert m["scale"] == pytest.approx(1 / 7)
    assert m["shift"] == pytest.approx(0.05 / 7)
    m = depth_metrics(0.5 * gt + 10.0, gt, space="depth")
    assert m["abs_rel"] == pytest.approx(0.0, abs=1e-9)


def test_the_space_matters():
    # A shift in depth is not a shift in disparity: only the depth-space fit removes it.
    gt = plane_with_square()
    pred = gt + 5.0
    assert depth_metrics(pred, gt, space="depth")["abs_rel"] == pytest.approx(0.0, abs=1e-9)
    assert depth_metrics(pred, gt, space="disparity")["abs_rel"] > 0.01


def test_worse_prediction_scores_worse():
    gt = plane_with_square()
    rng = np.random.default_rng(0)
    small = gt * (1 + 0.02 * rng.standard_normal(gt.shape))
    large = gt * (1 + 0.2 * rng.standard_normal(gt.shape))
    ms, ml = depth_metrics(small, gt), depth_metrics(large, gt)
    assert ms["abs_rel"] < ml["abs_rel"]
    assert ms["rmse"] < ml["rmse"]
    assert ms["delta1"] > ml["delta1"]


# ----------------------------------------------------------------------------- clamp


def test_clamp_keeps_depth_positive_and_caps_at_farthest_gt():
    gt = plane_with_square()
    pred_disp = 1.0 / gt
    pred_disp[0, 0] = -50.0  # an outlier that the fit cannot follow
    al = align_prediction(pred_disp, gt, pred_kind="disparity", space="disparity")
    assert al.n_clamped >= 1
    assert al.floor == pytest.approx(1.0 / gt.max())
    assert al.pred[0, 0] == pytest.approx(gt.max())
    assert np.all(al.pred[al.valid] > 0)
    m = depth_metrics(pred_disp, gt, pred_kind="disparity")
    assert m["n_clamped"] == al.n_clamped
    assert all(np.isfinite(m[k]) for k in ("abs_rel", "sq_rel", "rmse", "log10"))


def test_inverting_a_non_positive_relative_map_is_refused():
    gt = plane_with_square()
    pred_depth = gt - gt.mean()  # relative depth crossing zero
    with pytest.raises(InputError, match="space='depth'"):
        depth_metrics(pred_depth, gt, pred_kind="depth", space="disparity")
    # in its own space it is fine (a shift is fitted away)
    assert depth_metrics(pred_depth, gt, pred_kind="depth", space="depth")["abs_rel"] < 1e-9


# ----------------------------------------------------------------------------- invalid pixels


def test_nan_inf_zero_and_mask_are_ignored():
    gt = plane_with_square()
    rng = np.random.default_rng(1)
    pred = gt * (1 + 0.05 * rng.standard_normal(gt.shape))
    holes = np.zeros(gt.shape, bool)
    holes[:5] = True
    gt_holes = gt.copy()
    gt_holes[0] = np.nan
    gt_holes[1] = 0.0
    gt_holes[2] = np.inf
    gt_holes[3] = -1.0
    pred_garbage = pred.copy()
    pred_garbage[:5] = 1e6
    user_mask = np.ones(gt.shape, bool)
    user_mask[4] = False
    pred_garbage[4] = np.nan  # also excluded, and by the mask anyway
    ref = depth_metrics(pred[5:], gt[5:])
    got = depth_metrics(pred_garbage, gt_holes, mask=user_mask)
    assert got["n_valid"] == gt[5:].size
    for key in ("delta1", "abs_rel", "sq_rel", "rmse", "log10", "scale", "shift"):
        assert got[key] == pytest.approx(ref[key], rel=1e-12), key


def test_nan_prediction_pixels_are_excluded():
    gt = plane_with_square()
    pred = gt.copy()
    pred[10, 10] = np.nan
    m = depth_metrics(pred, gt)
    assert m["n_valid"] == gt.size - 1
    assert m["abs_rel"] == pytest.approx(0.0, abs=1e-9)


def test_empty_mask_raises_input_error():
    gt = plane_with_square()
    with pytest.raises(InputError, match="no valid pixel"):
        depth_metrics(gt, gt, mask=np.zeros(gt.shape, bool))
    with pytest.raises(SddrError):
        depth_metrics(gt, np.full(gt.shape, np.nan))


def test_bad_arguments():
    gt = plane_with_square()
    with pytest.raises(ShapeError):
        depth_metrics(gt[:-1], gt)
    with pytest.raises(InputError, match="space"):
        depth_metrics(gt, gt, space="log")
    with pytest.raises(InputError, match="kind"):
        depth_metrics(gt, gt, gt_kind="inverse")


def test_deterministic_and_inputs_untouched():
    gt = plane_with_square()
    pred = gt + 0.1 * np.sin(gt)
    pred_copy = pred.copy()
    assert depth_metrics(pred, gt) == depth_metrics(pred, gt)
    np.testing.assert_array_equal(pred, pred_copy)


def test_float32_and_int_inputs():
    gt = plane_with_square()
    m32 = depth_metrics(gt.astype(np.float32), gt.astype(np.float32))
    assert m32["abs_rel"] == pytest.approx(0.0, abs=1e-6)
    gi = np.array([[1, 2], [3, 4]])
    assert depth_metrics(gi, gi, space="depth")["delta1"] == 1.0
