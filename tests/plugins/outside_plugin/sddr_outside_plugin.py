"""A third-party plugin as it would ship in its own package (used by test_hooks.py)."""

import numpy as np

import sddr_core

EVENTS: list[tuple[str, int, int]] = []


class GradientPredictor:
    name = "outside-gradient"
    native_resolution = 32
    kind = "depth"

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        h, w = image.shape[:2]
        s = resolution / max(h, w)
        hh, ww = max(2, round(h * s)), max(2, round(w * s))
        return np.tile(np.linspace(1.0, 2.0, ww, dtype=np.float32), (hh, 1))


@sddr_core.hookimpl
def sddr_register_predictors():
    return [
        sddr_core.PredictorSpec(
            name="outside-gradient",
            factory=lambda **_: GradientPredictor(),
            kind="depth",
            native_resolution=32,
            licence="MIT",
            description="a left-to-right ramp",
        )
    ]


@sddr_core.hookimpl
def sddr_progress(stage, done, total):
    EVENTS.append((stage, done, total))
