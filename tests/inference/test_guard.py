"""No harm at inference: unusable high passes are backed off, depth-kind outputs positive."""

import numpy as np
import pytest

import sddr_core
from sddr_core.inference.guard import (
    REJECT_AGREEMENT,
    guard_fusion,
    keep_positive,
    pass_agreement,
)
from sddr_core.metrics import depth_metrics
from sddr_core.refiners.base import Fusion


def _scene(h: int = 96, w: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    d = 1.0 + 0.5 * xx / w
    d[(yy - 48) ** 2 + (xx - 60) ** 2 < 600] = 3.0
    return d.astype(np.float32)


def test_agreement_ignores_scale_and_shift_and_sees_noise_and_inversion():
    d = _scene()
    assert pass_agreement(d, 3 * d + 7) == pytest.approx(1.0, abs=1e-5)
    noise = np.random.default_rng(0).random(d.shape).astype(np.float32)
    assert pass_agreement(d, noise) < REJECT_AGREEMENT
    assert pass_agreement(d, -d) < 0


def test_guard_keeps_agreeing_fusions_and_rejects_noise():
    d = _scene()
    fused = d + 0.01
    kept = guard_fusion(Fusion(fused), d, d * 2)
    np.testing.assert_array_equal(kept.depth, fused)
    assert "guard" not in kept.info and kept.info["agreement"] > 0.99
    noise = np.random.default_rng(1).random(d.shape).astype(np.float32)
    backed = guard_fusion(Fusion(fused, np.ones_like(d)), d, noise)
    np.testing.assert_allclose(backed.depth, d)
    assert backed.info["high_weight"] == 0.0 and "ignored" in backed.info["guard"]
    assert backed.omega.max() == 0.0


def test_keep_positive():
    low = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    out, n = keep_positive(np.array([[-1.0, 2.0], [0.0, np.nan]], np.float32), low)
    assert n == 3 and (out > 0).all()


def _predictor(kind: str, noisy_high: bool):
    gt = _scene(120, 160)
    rng = np.random.default_rng(0)

    def predict(image: np.ndarray, resolution: int) -> np.ndarray:
        import cv2

        h, w = image.shape[:2]
        if resolution <= 64:
            small = cv2.resize(gt, (w, h), interpolation=cv2.INTER_AREA)
            out = cv2.GaussianBlur(small, (0, 0), 2.0)
        elif noisy_high:
            out = rng.random((h, w)).astype(np.float32) * 3
        else:
            out = cv2.resize(gt, (w, h), interpolation=cv2.INTER_AREA)
        out = out.astype(np.float32)
        return 1.0 / out if kind == "depth" else out

    return gt, sddr_core.CallablePredictor(predict, native_resolution=64, kind=kind)


@pytest.mark.parametrize("refiner", [None, "poisson", "split"])
def test_noise_high_pass_gives_the_low_input(refiner):
    gt, pred = _predictor("disparity", noisy_high=True)
    image = np.zeros((120, 160, 3), np.uint8)
    res = sddr_core.refine(image, pred, refiner=refiner, high_resolution=160)
    mask = np.ones(gt.shape, bool)
    d_out = depth_metrics(res.depth, gt, mask=mask, gt_kind="disparity", pred_kind="disparity")[
        "delta1"
    ]
    d_low = depth_metrics(res.low, gt, mask=mask, gt_kind="disparity", pred_kind="disparity")[
        "delta1"
    ]
    assert abs(d_out - d_low) <= 0.01
    assert "guard" in res.info


@pytest.mark.parametrize("mode", ["one-stage", "two-stage"])
def test_depth_kind_is_strictly_positive(mode):
    _, pred = _predictor("depth", noisy_high=False)
    image = np.random.default_rng(2).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    res = sddr_core.refine(image, pred, mode=mode, high_resolution=160)
    assert (res.depth > 0).all()
    assert np.isfinite(res.to_disparity()).all()


def test_depth_kind_is_fused_as_disparity():
    from sddr_core.inference.one_stage import fuse_at
    from sddr_core.inference.refine import as_refiner

    disp = _scene(64, 96)
    high = disp + 0.05 * np.random.default_rng(3).standard_normal(disp.shape).astype(np.float32)
    split = as_refiner("split")
    fused = fuse_at(split, 1.0 / disp, 1.0 / high, disp.shape, kind="depth")
    assert fused.info["fusion_space"] == "disparity"
    expected = 1.0 / split.fuse(disp, high).depth
    np.testing.assert_allclose(fused.depth, expected, rtol=1e-4)
    as_depth = fuse_at(split, 1.0 / disp, 1.0 / high, disp.shape, kind="depth", space="depth")
    assert "fusion_space" not in as_depth.info and (as_depth.depth > 0).all()


def test_depth_kind_guard_judges_the_disparity():
    # a high pass half of which is unrelated noise: the guard blends towards the low pass, and
    # for depth-kind passes it does so on the disparity the refiner fused, exactly as for the
    # same passes returned as disparity
    from sddr_core.inference.one_stage import fuse_at
    from sddr_core.inference.refine import as_refiner

    disp = _scene(64, 96)
    rng = np.random.default_rng(5)
    high = disp.copy()
    high[:, 48:] = 1.0 + 2.0 * rng.random((64, 48)).astype(np.float32)
    split = as_refiner("split")
    as_disp = fuse_at(split, disp, high, disp.shape, kind="disparity")
    as_depth = fuse_at(split, 1.0 / disp, 1.0 / high, disp.shape, kind="depth")
    assert as_depth.info["agreement"] == as_disp.info["agreement"]
    assert 0.0 < as_disp.info.get("high_weight", 1.0) < 1.0  # a blend, not all or nothing
    assert as_depth.info["high_weight"] == as_disp.info["high_weight"]
    np.testing.assert_allclose(1.0 / as_depth.depth, as_disp.depth, rtol=1e-4)
