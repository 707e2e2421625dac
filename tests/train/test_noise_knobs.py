"""The simulated predictor's separate noise knobs (training and robustness curves use them)."""

import numpy as np

from sddr_core.ops.edges import sobel_magnitude
from sddr_core.predictors.simulated import SimulatedPredictor


def _gt() -> np.ndarray:
    _yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    gt = 1.0 + 0.01 * xx
    gt[20:70, 30:90] = 3.0
    gt[40:50, :] = 2.0
    return gt


def _err(pred: np.ndarray, gt: np.ndarray) -> float:
    from sddr_core.ops.align import apply_scale_shift
    from sddr_core.ops.resize import resize_map

    p = resize_map(pred, gt.shape)
    return float(np.abs(apply_scale_shift(p, gt) - gt).mean())


def test_defaults_unchanged_and_knobs_separate():
    gt = _gt()
    img = np.zeros((*gt.shape, 3), np.float32)
    base = SimulatedPredictor(gt, native_resolution=48, seed=1, affine=False)
    same = SimulatedPredictor(gt, native_resolution=48, seed=1, affine=False,
                              inconsistency=1.0, deformation=1.0)  # fmt: skip
    np.testing.assert_array_equal(base.predict(img, 128), same.predict(img, 128))
    blur_only = SimulatedPredictor(gt, native_resolution=48, strength=0.0, affine=False)
    cons = SimulatedPredictor(gt, native_resolution=48, seed=1, affine=False, deformation=0.0,
                              inconsistency=2.0)  # fmt: skip
    bumps = SimulatedPredictor(gt, native_resolution=48, seed=1, affine=False, inconsistency=0.0,
                               deformation=2.0)  # fmt: skip
    e0, ec, eb = (_err(p.predict(img, 128), gt) for p in (blur_only, cons, bumps))
    assert ec > e0 and eb > e0
    # bumps live on edges; the inconsistency noise also moves flat regions
    flat = sobel_magnitude(gt) == 0
    d_c = np.abs(cons.predict(img, 128) - blur_only.predict(img, 128))
    d_b = np.abs(bumps.predict(img, 128) - blur_only.predict(img, 128))
    assert d_c[flat].mean() > d_b[flat].mean()
    # at or below native resolution the knobs do nothing
    np.testing.assert_allclose(cons.predict(img, 48), blur_only.predict(img, 48), atol=1e-6)


def test_depth_kind_predictions_stay_positive_and_follow_the_truth():
    # a depth map with near objects at a small fraction of the far depth: additive noise of
    # the map's own scale would cross zero there; the log-depth noise cannot
    disparity = _gt() * 20.0
    depth = 1.0 / disparity  # 0.017 .. 0.05
    img = np.zeros((*depth.shape, 3), np.float32)
    for seed in range(5):
        pred = SimulatedPredictor(depth, kind="depth", native_resolution=48, seed=seed)
        for resolution in (48, 128):
            out = pred.predict(img, resolution)
            assert (out > 0).all() and np.isfinite(out).all()
    plain = SimulatedPredictor(depth, kind="depth", native_resolution=48, affine=False)
    out = plain.predict(img, 128)
    assert np.corrcoef(out.ravel(), depth.ravel())[0, 1] > 0.9
    noisy = SimulatedPredictor(depth, kind="depth", native_resolution=48, seed=3, affine=False)
    scaled = SimulatedPredictor(depth, kind="depth", native_resolution=48, seed=3)
    ratio = scaled.predict(img, 128) / noisy.predict(img, 128)
    assert np.allclose(ratio, ratio.mean(), rtol=1e-4)  # depth: a global scale, no shift
