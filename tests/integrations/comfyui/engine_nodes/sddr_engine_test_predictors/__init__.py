"""A custom node package used only by the ComfyUI engine tests (never shipped).

ComfyUI imports it from the test's custom_nodes folder next to the sddr pack. At import it
registers two cheap, deterministic predictors with sddr through the plugin hooks
(``sddr_core.plugins.register_plugin``), which the sddr nodes then list like any other:

* ``sddr-test-scene``: reads disparity from the image's red channel (the test scenes encode it
  there) and degrades it as a real predictor would (sddr's simulated predictor: blurry at the
  native resolution, locally inconsistent above it);
* ``sddr-test-slow``: the same, 1 s per call, for the Cancel test.

Each predictor call appends a line to the file named by ``SDDR_TEST_PREDICTOR_LOG`` when set.
It defines no nodes (an empty NODE_CLASS_MAPPINGS keeps ComfyUI's loader content).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

import sddr_core
from sddr_core.plugins import register_plugin

NODE_CLASS_MAPPINGS: dict[str, Any] = {}

NATIVE = 64


class RedChannelPredictor:
    """Disparity = 0.25 + red channel, degraded by sddr's simulated predictor."""

    kind = "disparity"
    native_resolution = NATIVE

    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.name = name
        self.delay = float(delay)
        self._key: tuple[Any, ...] | None = None
        self._sim: Any = None

    def _simulated(self, image: np.ndarray) -> Any:
        key = (image.shape, float(image[..., 0].sum()))
        if key != self._key:
            truth = 0.25 + image[..., 0].astype(np.float32)
            self._sim = sddr_core.create_predictor(
                "simulated", ground_truth=truth, native_resolution=NATIVE, seed=1
            )
            self._key = key
        return self._sim

    def _note(self, what: str) -> None:
        log = os.environ.get("SDDR_TEST_PREDICTOR_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"{time.time():.3f} {self.name} {what}\n")
        if self.delay:
            time.sleep(self.delay)

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        self._note(f"predict {resolution}")
        return self._simulated(image).predict(image, resolution)

    def predict_region(self, image: np.ndarray, box: Any, resolution: int) -> np.ndarray:
        self._note(f"region {tuple(box)} {resolution}")
        return self._simulated(image).predict_region(image, box, resolution)


def _factory(name: str, delay: float) -> Any:
    def factory(device: Any = None, weights: Any = None) -> RedChannelPredictor:
        return RedChannelPredictor(name, delay)

    return factory


class _Predictors:
    @sddr_core.hookimpl
    def sddr_register_predictors(self) -> list[sddr_core.PredictorSpec]:
        return [
            sddr_core.PredictorSpec(
                name=name,
                factory=_factory(name, delay),
                kind="disparity",
                native_resolution=NATIVE,
                licence="Apache-2.0 (test only)",
                description=f"engine test predictor, red channel as disparity, {delay:g} s/call",
                source="sddr engine tests",
            )
            for name, delay in (("sddr-test-scene", 0.0), ("sddr-test-slow", 1.0))
        ]


register_plugin(_Predictors(), name="sddr-engine-test-predictors")
