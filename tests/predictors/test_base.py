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
