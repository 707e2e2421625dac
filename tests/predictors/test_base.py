"""run_predictor: what the predictor receives, its failures, and outputs that look fine but
are wrong."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sddr_core
from sddr_core.errors import PredictorError
from sddr_core.predictors.base import CallablePredictor, predict_region, run_predictor


def image(h: int = 60, w: int = 90) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((h, w, 3), dtype=np.float32)


def test_predictor_gets_the_image_at_the_asked_resolution() -> None:
    seen = []

    def fn(img, res):
        seen.append(img.shape)
        return img[..., 0]

    run_predictor(CallablePredictor(fn), image(600, 900), 45)
    assert seen == [(30, 45, 3)]


def test_full_image_opt_in() -> None:
    class Full:
        name, native_resolution, kind, wants_full_image = "full", 32, "disparity", True

        def predict(self, img, res):
            self.shape = img.shape
            return img[..., 0]

    p = Full()
    run_predictor(p, image(60, 90), 32)
    assert p.shape == (60, 90, 3)


def test_exceptions_become_predictor_errors_with_the_cause() -> None:
    def fn(img, res):
        return 1 / 0

    with pytest.raises(PredictorError, match="ZeroDivisionError") as info:
        run_predictor(CallablePredictor(fn), image(), 32)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    with pytest.raises(PredictorError, match="ZeroDivisionError"):
        predict_region(CallablePredictor(fn), image(), (0, 0, 30, 30), 32)
    # also through the public refine(): no bare ZeroDivisionError
    with pytest.raises(PredictorError):
        sddr_core.refine(image(), fn, refiner="poisson")


def test_colour_map_is_refused_but_grey_rgb_is_fine() -> None:
    colour = CallablePredictor(lambda img, res: img)
    with pytest.raises(PredictorError, match="colourised"):
        run_predictor(colour, image(), 32)
    grey = CallablePredictor(lambda img, res: np.repeat(img[..., :1], 3, axis=2))
    assert run_predictor(grey, image(), 32).ndim == 2


def test_transposed_map_is_refused() -> None:
    p = CallablePredictor(lambda img, res: np.ascontiguousarray(img[..., 0].T))
    with pytest.raises(PredictorError, match="transposed"):
        run_predictor(p, image(60, 90), 45)


def test_non_positive_depth_is_refused() -> None:
    p = CallablePredictor(lambda img, res: img[..., 0] - 0.5, kind="depth")
    with pytest.raises(PredictorError, match="kind='disparity'"):
        run_predictor(p, image(), 32)


def test_constant_map_warns() -> None:
    p = CallablePredictor(lambda img, res: np.ones(img.shape[:2]))
    with pytest.warns(RuntimeWarning, match="constant"):
        run_predictor(p, image(), 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_predictor(CallablePredictor(lambda img, res: img[..., 0]), image(), 32)


class _Batching:
    name, native_resolution, kind = "batching", 64, "disparity"

    def __init__(self, wrong_count: bool = False) -> None:
        self.batches: list[list[tuple[int, ...]]] = []
        self.wrong_count = wrong_count

    def predict(self, img: np.ndarray, resolution: int) -> np.ndarray:
        return img[..., 0] + img[..., 1]

    def predict_batch(self, imgs: list[np.ndarray], resolution: int) -> list[np.ndarray]:
        self.batches.append([im.shape for im in imgs])
        out = [self.predict(im, resolution) for im in imgs]
        return out[:-1] if self.wrong_count else out


def test_run_predictor_batch_resizes_validates_and_equals_per_image() -> None:
    from sddr_core.predictors.base import run_predictor_batch

    imgs = [image(600, 900), image(60, 90)[::-1].copy(), image(600, 900) * 0.5]
    pred = _Batching()
    outs = run_predictor_batch(pred, imgs, 45)
    assert pred.batches == [[(30, 45, 3)] * 3]  # one call, each image at the resolution
    for out, im in zip(outs, imgs, strict=True):
        np.testing.assert_array_equal(out, run_predictor(pred, im, 45))
    # without predict_batch (or for one image): predict per image
    fn_calls = []

    def fn(img, res):
        fn_calls.append(img.shape)
        return img[..., 0]

    assert len(run_predictor_batch(CallablePredictor(fn), imgs, 45)) == 3 and len(fn_calls) == 3
    assert len(run_predictor_batch(pred, imgs[:1], 45)) == 1 and len(pred.batches) == 1
    with pytest.raises(PredictorError, match="given 3 images but returned 2 maps"):
        run_predictor_batch(_Batching(wrong_count=True), imgs, 45)
