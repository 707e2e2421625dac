"""SEE (PatchFusion) and DBE_acc / DBE_comp (iBims-1): known values by hand and behaviour."""

import math

import numpy as np
import pytest
from scipy import ndimage

from sddr_core.errors import InputError
from sddr_core.metrics import (
    boundary_metrics,
    canny_depth_edges,
    depth_boundary_error,
    depth_jump_edges,
    soft_edge_error,
)


def step(h: int = 40, w: int = 60, at: int = 30, near: float = 1.0, far: float = 2.0):
    d = np.full((h, w), far, np.float64)
    d[:, :at] = near
    return d


def test_jump_edges_mark_both_sides_of_a_step():
    e = depth_jump_edges(step())
    assert e[:, 29].all() and e[:, 30].all() and e.sum() == 2 * 40
    assert not depth_jump_edges(step(far=1.04)).any()  # 4 % < 5 % jump
    assert depth_jump_edges(step(far=1.04), jump=0.03).any()
    valid = np.ones((40, 60), bool)
    valid[:, 30] = False  # an unknown column: no pair across it
    assert not depth_jump_edges(step(), valid).any()
    with pytest.raises(InputError):
        depth_jump_edges(step(), jump=0)


def test_see_forgives_a_one_pixel_shift_but_not_smearing():
    gt = step()
    edges = depth_jump_edges(gt)
    assert soft_edge_error(gt, gt, edges) == 0.0
    shifted = step(at=31)  # edge one pixel right: every value exists within 1 px
    assert soft_edge_error(shifted, gt, edges) == 0.0
    assert soft_edge_error(shifted, gt, edges, radius=0) == pytest.approx(0.5)  # half wrong
    smeared = gt.copy()
    smeared[:, 29:31] = 1.5  # a ramp across the edge
    # at both edge columns the nearest gt value is 0.5 away
    assert soft_edge_error(smeared, gt, edges) == pytest.approx(0.5)
    assert math.isnan(soft_edge_error(gt, gt, np.zeros_like(edges)))


def test_see_skips_unknown_neighbours():
    gt = step()
    gt[:, 31] = np.nan  # the far side's neighbour column is unknown
    pred = step()
    pred[:, 30] = 1.0  # wrong by 1 at column 30, whose only right-hand truth is unknown
    edges = np.zeros(gt.shape, bool)
    edges[:, 30] = True
    # neighbours of column 30: column 29 (1.0, matches) -> 0
    assert soft_edge_error(pred, gt, edges) == 0.0
    edges2 = np.zeros(gt.shape, bool)
    edges2[:, 31] = True  # unknown pixels are never averaged
    assert math.isnan(soft_edge_error(pred, gt, edges2))


def test_canny_edges_follow_a_step_and_ignore_holes():
    d = step()
    e = canny_depth_edges(d)
    cols = np.nonzero(e.any(axis=0))[0]
    assert set(cols) <= {29, 30} and e[5:-5].any(axis=1).all()
    assert not canny_depth_edges(np.ones((20, 20))).any()
    holes = np.ones((40, 60))
    valid = np.ones_like(holes, bool)
    valid[10:20, 10:20] = False
    holes[~valid] = np.nan  # a hole in a flat map makes no edge
    assert not canny_depth_edges(holes, valid).any()


def test_dbe_by_hand():
    gt = np.zeros((30, 30), bool)
    gt[:, 10] = True
    pred = np.zeros_like(gt)
    pred[:, 12] = True  # 2 px off everywhere
    acc, comp = depth_boundary_error(pred, gt)
    assert acc == pytest.approx(2.0) and comp == pytest.approx(2.0)
    assert depth_boundary_error(gt, gt) == (0.0, 0.0)
    far = np.zeros_like(gt)
    far[:, 25] = True  # 15 px away: beyond theta
    assert depth_boundary_error(far, gt) == (10.0, 10.0)
    both = pred | far  # accuracy ignores the far edge; completeness truncates it at 10
    acc, comp = depth_boundary_error(both, gt)
    assert acc == pytest.approx(2.0)
    assert comp == pytest.approx((30 * 2 + 30 * 10 + 30 * 2) / 90)
    half = np.zeros_like(gt)
    half[:15, 10] = True  # exact but incomplete: accuracy 0, completeness > 0
    acc, comp = depth_boundary_error(half, gt)
    d_half = ndimage.distance_transform_edt(~half)
    assert acc == 0.0
    assert comp == pytest.approx(np.minimum(d_half[gt], 10).sum() / 45)
    assert all(math.isnan(v) for v in depth_boundary_error(pred, np.zeros_like(gt)))


def test_boundary_metrics_rank_sharp_above_blurred():
    rng = np.random.default_rng(0)
    gt = step(60, 80, 40, near=2.0, far=5.0)
    gt[20:40, 10:25] = 1.2  # a near box
    blurred = ndimage.gaussian_filter(gt, 3.0)
    noisy = gt + rng.normal(0, 0.01, gt.shape)
    sharp = boundary_metrics(2.0 * noisy + 1.0, gt, space="depth", gt_kind="depth")
    soft = boundary_metrics(blurred, gt, space="depth", gt_kind="depth")
    assert sharp["see"] < soft["see"]
    assert sharp["dbe_comp"] < soft["dbe_comp"]
    assert sharp["dbe_acc"] <= 1.0 and sharp["n_gt_edges"] > 0 and sharp["n_see_pixels"] > 0
    flat = boundary_metrics(np.ones_like(gt) + rng.normal(0, 1e-6, gt.shape), gt, space="depth")
    assert flat["dbe_acc"] == 10.0 or flat["dbe_comp"] > soft["dbe_comp"]


def test_boundary_metrics_disparity_prediction_of_a_depth_truth():
    gt = step(near=2.0, far=4.0)
    out = boundary_metrics(1.0 / gt, gt, space="disparity", gt_kind="depth", pred_kind="disparity")
    assert out["see"] == pytest.approx(0.0, abs=1e-9) and out["dbe_acc"] == 0.0
