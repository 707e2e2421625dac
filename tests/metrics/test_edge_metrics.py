"""Tests of sddr_core.metrics.edges: ORD, D³R (Boost) and boundary F1 (Depth Pro)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from sddr_core.errors import InputError, ShapeError
from sddr_core.metrics import (
    BOUNDARY_THRESHOLDS,
    Superpixels,
    boundary_f1,
    d3r_error,
    edge_metrics,
    gt_superpixels,
    ord_error,
)

H, W = 96, 128


def two_level(h: int = H, w: int = W, k: int = 0) -> np.ndarray:
    """Depth 2 everywhere, a square at depth 1 (shifted right by ``k``)."""
    depth = np.full((h, w), 2.0)
    depth[32:64, 40 + k : 80 + k] = 1.0
    return depth


def scene_disp(k: int = 0, square: float = 2.0, bars: float = 1.8) -> np.ndarray:
    """Disparity: slanted background, a raised square and thin (2 px) bars, shifted by ``k``."""
    xx = np.mgrid[0:H, 0:W][1].astype(np.float64)
    disp = 1.0 + 0.3 * xx / W
    disp[24:56, 16 + k : 48 + k] = square
    for c in range(72, 120, 8):
        disp[10:86, c + k : c + k + 2] = bars
    return disp


@pytest.fixture(scope="module")
def two_level_sp() -> Superpixels:
    return gt_superpixels(two_level(), n_segments=600)


@pytest.fixture(scope="module")
def scene_sp() -> Superpixels:
    return gt_superpixels(scene_disp(), n_segments=1000, kind="disparity")


def lowres(disp: np.ndarray, factor: int) -> np.ndarray:
    """What a predictor run at 1/factor resolution gives: area-downsampled, bilinear up."""
    small = cv2.resize(
        disp.astype(np.float32), (W // factor, H // factor), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR).astype(np.float64)


# ----------------------------------------------------------------------------- superpixels


def test_superpixels_structure(scene_sp):
    sp = scene_sp
    assert sp.shape == (H, W)
    assert sp.labels.min() == 0 and sp.labels.max() == len(sp) - 1
    assert 500 < len(sp) < 1200
    assert np.all((sp.centres >= 0) & (sp.centres < [H, W]))
    assert np.all(sp.neighbours[:, 0] < sp.neighbours[:, 1])
    assert len(np.unique(sp.neighbours, axis=0)) == len(sp.neighbours)
    # every listed pair really touches (4-connectivity) and no touching pair is missing
    lab = sp.labels
    touching = set()
    for a, b in ((lab[:, :-1], lab[:, 1:]), (lab[:-1], lab[1:])):
        diff = a != b
        for i, j in zip(a[diff], b[diff], strict=True):
            touching.add((min(i, j), max(i, j)))
    assert touching == {tuple(p) for p in sp.neighbours.tolist()}


def test_superpixel_centre_is_floored_mean_position():
    gt = scene_disp()
    sp = gt_superpixels(gt, n_segments=300, kind="disparity")
    for i in (0, len(sp) // 2, len(sp) - 1):
        rows, cols = np.nonzero(sp.labels == i)
        assert tuple(sp.centres[i]) == (int(np.floor(rows.mean())), int(np.floor(cols.mean())))


def test_superpixels_follow_the_depth_edges(two_level_sp):
    # No superpixel mixes the square and the background (SLIC adheres to a 2x jump).
    inside = two_level() == 1.0
    for i in range(len(two_level_sp)):
        region = inside[two_level_sp.labels == i]
        assert region.all() or not region.any()


def test_superpixels_deterministic_and_depth_disparity_agree():
    gt = two_level()
    a = gt_superpixels(gt, n_segments=400)
    b = gt_superpixels(gt, n_segments=400)
    c = gt_superpixels(1.0 / gt, n_segments=400, kind="disparity")
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.labels, c.labels)


def test_superpixels_of_another_gt_are_refused(two_level_sp):
    other = two_level(k=7)
    with pytest.raises(InputError, match="different ground truth"):
        d3r_error(other, other, superpixels=two_level_sp)
    with pytest.raises(InputError, match="different ground truth"):  # wrong kind
        d3r_error(two_level(), two_level(), kind="disparity", superpixels=two_level_sp)
    # the same ground truth given as disparity is fine
    assert (
        d3r_error(1 / two_level(), 1 / two_level(), kind="disparity", superpixels=two_level_sp) == 0
    )
    with pytest.raises(ShapeError):
        ord_error(np.ones((10, 10)), np.ones((10, 10)), superpixels=two_level_sp)


# ----------------------------------------------------------------------------- hand cases


def hand_superpixels(gt_depth: np.ndarray) -> Superpixels:
    """Three 2x2 superpixels side by side in a 2x6 map, centres at columns 0, 2, 4."""
    labels = np.array([[0, 0, 1, 1, 2, 2]] * 2)
    centres = np.array([[0, 0], [0, 2], [0, 4]])
    return Superpixels(
        labels=labels,
        centres=centres,
        neighbours=np.array([[0, 1], [1, 2]]),
        disparity_at_centres=1.0 / gt_depth[0, [0, 2, 4]],
        n_segments=3,
        compactness=0.03,
    )


def test_d3r_hand_case():
    gt = np.array([[1.0, 1.0, 2.0, 2.0, 2.1, 2.1]] * 2)
    sp = hand_superpixels(gt)
    # pair (0, 1): gt ratio 0.5 is a discontinuity, ord_gt = -1; pair (1, 2): ratio 0.952 is
    # within 10%, skipped. So D3R = |-1 - ord_pred(0, 1)|.
    flat = np.array([[1.0, 9.0, 1.005, 9.0, 5.0, 9.0]] * 2)  # ord 0 -> error 1
    flipped = np.array([[3.0, 9.0, 1.0, 9.0, 5.0, 9.0]] * 2)  # ord +1 -> error 2
    right = np.array([[1.0, 9.0, 1.5, 9.0, 0.1, 9.0]] * 2)  # ord -1 -> error 0
    assert d3r_error(flat, gt, superpixels=sp) == 1.0
    assert d3r_error(flipped, gt, superpixels=sp) == 2.0
    assert d3r_error(right, gt, superpixels=sp) == 0.0
    # with gt_jump = 1.5 the ratio 2 is no longer a discontinuity: nothing left to score
    assert np.isnan(d3r_error(flat, gt, superpixels=sp, gt_jump=1.5))
    # masking centre 1 removes the only pair
    mask = np.ones_like(gt, bool)
    mask[0, 2] = False
    assert np.isnan(d3r_error(flat, gt, superpixels=sp, mask=mask))


def test_ord_hand_case():
    gt = np.array([[1.0, 1.0, 2.0, 2.0, 2.1, 2.1]] * 2)
    sp = hand_superpixels(gt)
    # At t = 1.03 the gt orders of all three pairs are -1 (1 < 2 < 2.1, 2/2.1 < 1/1.03).
    # The prediction 1, 1.005, 2.1 gets (0, 1) wrong (ord 0), the others right.
    # Seed 1 draws all three pairs: ORD = 1/3. Seed 0 happens to draw (0, 1) and (0, 2)
    # only (each point picks 3 of the 2 others): ORD = 1/2.
    pred = np.array([[1.0, 7.0, 1.005, 7.0, 2.1, 7.0]] * 2)
    assert ord_error(pred, gt, superpixels=sp, seed=1) == pytest.approx(1 / 3)
    assert ord_error(pred, gt, superpixels=sp, seed=0) == pytest.approx(1 / 2)
    assert ord_error(gt, gt, superpixels=sp) == 0.0


def test_boundary_f1_hand_case_shifted_square():
    # A 2x2 square (disparity 2 on 1) shifted right by one pixel: the left/right edges all
    # miss, the top and bottom edges overlap on 1 of 2 pixels. Per direction P = R =
    # (0, 0.5, 0, 0.5) -> P = R = 0.25 -> F1 = 0.25 at every threshold.
    gt = np.ones((6, 6))
    gt[2:4, 2:4] = 2.0
    pred = np.ones((6, 6))
    pred[2:4, 3:5] = 2.0
    assert boundary_f1(pred, gt, kind="disparity") == pytest.approx(0.25)
    assert boundary_f1(gt, gt, kind="disparity") == pytest.approx(1.0)
    # depth input is inverted first: same answer
    assert boundary_f1(1 / pred, 1 / gt, kind="depth") == pytest.approx(0.25)


def test_boundary_f1_empty_direction_rule():
    # A single step (right half nearer) has edges in one direction only. Depth Pro's rule
    # counts the three empty directions as 0: a perfect prediction scores 0.25.
    gt = np.ones((8, 8))
    gt[:, 4:] = 2.0
    assert boundary_f1(gt, gt, kind="disparity") == pytest.approx(0.25)
    assert boundary_f1(gt, gt, kind="disparity", empty_direction="skip") == pytest.approx(1.0)
    # no edge at all: Depth Pro gives 0, "skip" says undefined
    flat = np.ones((8, 8))
    assert boundary_f1(flat, flat, kind="disparity") == 0.0
    assert np.isnan(boundary_f1(flat, flat, kind="disparity", empty_direction="skip"))
    # a prediction without edges scores 0 either way
    assert boundary_f1(flat, gt, kind="disparity", empty_direction="skip") == 0.0


def test_boundary_f1_threshold_range():
    # gt steps by 1.15, the prediction by 1.10. Thresholds below 1.10: both have the same
    # edges, F1 = 1. From 1.10 to 1.15 only gt has edges: P = R = 0, F1 = 0. Above 1.15
    # neither has edges: Depth Pro scores 0. Weights are t / sum(t).
    gt = np.ones((6, 6))
    gt[2:4, 2:4] = 1.15
    pred = np.ones((6, 6))
    pred[2:4, 2:4] = 1.10
    ts = np.asarray(BOUNDARY_THRESHOLDS)
    assert (ts < 1.10).sum() == 3
    expected = ts[ts < 1.10].sum() / ts.sum()
    assert boundary_f1(pred, gt, kind="disparity") == pytest.approx(expected)
    # "skip" ignores the thresholds above 1.15 (no gt edge): 3 of the 5 remaining are right
    skip = ts[ts < 1.10].sum() / ts[ts < 1.15].sum()
    assert boundary_f1(pred, gt, kind="disparity", empty_direction="skip") == pytest.approx(skip)


# ----------------------------------------------------------------------------- behaviour


def test_perfect_prediction(two_level_sp):
    gt = two_level()
    assert ord_error(gt, gt, superpixels=two_level_sp) == 0.0
    assert d3r_error(gt, gt, superpixels=two_level_sp) == 0.0
    assert boundary_f1(gt, gt) == 1.0
    m = edge_metrics(gt, gt, superpixels=two_level_sp)
    assert (m["ord"], m["d3r"], m["boundary_f1"]) == (0.0, 0.0, 1.0)
    assert m["n_d3r_pairs"] > 10 and m["n_ord_pairs"] > 10


def test_scale_invariant_but_not_shift_invariant(two_level_sp):
    gt = two_level()
    assert d3r_error(3.7 * gt, gt, superpixels=two_level_sp) == 0.0
    assert boundary_f1(3.7 * gt, gt) == 1.0
    # adding 150 to depth leaves a ratio of 152/151 < 1.01: every discontinuity looks flat
    assert d3r_error(gt + 150, gt, superpixels=two_level_sp) == 1.0
    assert boundary_f1(gt + 150, gt) == 0.0


def test_scale_and_shift_are_removed_by_edge_metrics(scene_sp):
    gt = scene_disp()
    for pred, kind in ((0.25 * gt + 3.0, "disparity"), (1.0 / (2.0 * gt), "depth")):
        m = edge_metrics(pred, gt, gt_kind="disparity", pred_kind=kind, superpixels=scene_sp)
        assert m["ord"] == 0.0
        assert m["d3r"] == 0.0
        assert m["boundary_f1"] == pytest.approx(1.0)
    # an affine flip of disparity is undone by the fit (negative scale)
    m = edge_metrics(3.0 - gt, gt, gt_kind="disparity", superpixels=scene_sp)
    assert (m["ord"], m["d3r"]) == (0.0, 0.0)


def test_flipped_and_flat_ordering(two_level_sp):
    # Two depth levels: every kept pair straddles the square's border (equal-gt pairs are
    # dropped by the tie rule). Reversing the levels gets every ord wrong by 2; a constant
    # prediction gets every ord wrong by 1.
    gt = two_level()
    flipped = 3.0 - gt
    flat = np.full_like(gt, 1.5)
    assert d3r_error(flipped, gt, superpixels=two_level_sp) == 2.0
    assert ord_error(flipped, gt, superpixels=two_level_sp) == 2.0
    assert d3r_error(flat, gt, superpixels=two_level_sp) == 1.0
    assert ord_error(flat, gt, superpixels=two_level_sp) == 1.0
    assert boundary_f1(flipped, gt) == 0.0  # every edge faces the wrong way


def test_shifted_edges_get_worse_with_the_shift(scene_sp):
    gt = scene_disp()
    d3r, f1 = [], []
    for k in (1, 2, 3):
        pred = scene_disp(k=k)
        d3r.append(d3r_error(pred, gt, kind="disparity", superpixels=scene_sp))
        f1.append(boundary_f1(pred, gt, kind="disparity"))
    assert d3r[0] > 0
    assert d3r[0] <= d3r[1] <= d3r[2] and d3r[2] > d3r[0]
    assert 1.0 > f1[0] > f1[1] > f1[2]


def test_sharp_ranks_above_blurred(scene_sp):
    # Sharp but wrong in amplitude (ordering kept) against the same scene blurred.
    gt = scene_disp()
    sharp = scene_disp(square=1.7, bars=1.6)
    kw = {"gt_kind": "disparity", "superpixels": scene_sp}
    m_sharp = edge_metrics(sharp, gt, **kw)
    assert m_sharp["d3r"] == 0.0
    assert m_sharp["boundary_f1"] > 0.9
    # more blur, worse scores (D3R ties while the blur is narrower than a superpixel)
    previous = m_sharp
    for sigma in (1.0, 2.0, 4.0):
        m = edge_metrics(gaussian_filter(gt, sigma), gt, **kw)
        assert m["d3r"] >= previous["d3r"]
        assert m["boundary_f1"] < previous["boundary_f1"]
        previous = m
    assert previous["d3r"] > 0.3
    # a prediction at 1/8 resolution loses the thin bars
    m = edge_metrics(lowres(gt, 8), gt, **kw)
    assert m["d3r"] > 0.3
    assert m["boundary_f1"] < 0.1


def test_depth_and_disparity_inputs_agree(scene_sp):
    gt = scene_disp()
    pred = gaussian_filter(gt, 2.0)
    for f in (ord_error, d3r_error):
        a = f(pred, gt, kind="disparity", superpixels=scene_sp)
        b = f(1 / pred, 1 / gt, kind="depth", superpixels=scene_sp)
        assert a == b
    a = boundary_f1(pred, gt, kind="disparity")
    assert a == pytest.approx(boundary_f1(1 / pred, 1 / gt, kind="depth"))


# ----------------------------------------------------------------------------- invalid pixels


def test_invalid_and_masked_pixels_are_ignored(two_level_sp):
    gt = two_level()
    pred = gaussian_filter(gt, 2.0)
    mask = np.ones(gt.shape, bool)
    mask[:, :20] = False
    gt_holes = gt.copy()
    gt_holes[:10] = np.nan
    gt_holes[10:14] = 0.0
    gt_holes[14:16] = np.inf
    pred_garbage = pred.copy()
    pred_garbage[:16] = np.nan
    pred_garbage[:, :20] = -5.0  # masked: its sign is never looked at
    invalid = ~mask
    invalid[:16] = True
    clean = np.where(invalid, 1.0, pred)
    sp = gt_superpixels(gt_holes, mask, n_segments=600)
    for f in (ord_error, d3r_error):
        got = f(pred_garbage, gt_holes, mask=mask, superpixels=sp)
        ref = f(clean, np.where(invalid, np.nan, gt), superpixels=sp)
        assert got == ref and np.isfinite(got)
    got = boundary_f1(pred_garbage, gt_holes, mask=mask)
    assert got == boundary_f1(clean, np.where(invalid, np.nan, gt))
    m = edge_metrics(pred_garbage, gt_holes, mask=mask, superpixels=sp)
    assert all(np.isfinite(m[k]) for k in ("ord", "d3r", "boundary_f1"))


def test_edges_of_holes_are_not_boundaries():
    gt = np.full((20, 20), 2.0)
    gt[5:15, 5:15] = np.nan  # unknown, not a depth edge
    assert np.isnan(boundary_f1(gt, gt, empty_direction="skip"))
    assert boundary_f1(np.full((20, 20), 2.0), gt) == 0.0


def test_empty_mask_and_bad_input_raise(two_level_sp):
    gt = two_level()
    empty = np.zeros(gt.shape, bool)
    for f in (ord_error, d3r_error, boundary_f1, edge_metrics):
        with pytest.raises(InputError, match="no valid pixel"):
            f(gt, gt, mask=empty)
    with pytest.raises(InputError, match="no valid pixel"):
        gt_superpixels(np.zeros((8, 8)))
    with pytest.raises(InputError, match="aligned"):
        d3r_error(gt - 1.5, gt, superpixels=two_level_sp)
    with pytest.raises(ShapeError):
        boundary_f1(gt[:, :-1], gt)
    with pytest.raises(InputError, match="thresholds"):
        boundary_f1(gt, gt, thresholds=[0.9, 1.1])
    with pytest.raises(InputError, match="empty_direction"):
        boundary_f1(gt, gt, empty_direction="ignore")


def test_seeded_and_deterministic(scene_sp):
    gt = scene_disp()
    rng = np.random.default_rng(3)
    pred = gt * (1 + 0.05 * rng.standard_normal(gt.shape))
    a = ord_error(pred, gt, kind="disparity", superpixels=scene_sp, seed=0)
    b = ord_error(pred, gt, kind="disparity", superpixels=scene_sp, seed=0)
    c = ord_error(pred, gt, kind="disparity", superpixels=scene_sp, seed=1)
    assert a == b
    assert a != c  # other random pairs
    assert edge_metrics(pred, gt, gt_kind="disparity") == edge_metrics(
        pred, gt, gt_kind="disparity"
    )


def test_passing_superpixels_equals_computing_them():
    gt = two_level()
    pred = gaussian_filter(gt, 3.0)
    sp = gt_superpixels(gt, n_segments=600)
    assert d3r_error(pred, gt, n_segments=600) == d3r_error(pred, gt, superpixels=sp)
    assert ord_error(pred, gt, n_segments=600) == ord_error(pred, gt, superpixels=sp)
