"""Stand-in predictors for the worker tests, loaded by the worker as ``this_file.py:name``."""

from __future__ import annotations

import os
import time

import numpy as np


class Smooth:
    """A cheap deterministic disparity: brightness plus a left-to-right ramp."""

    name = "standin-smooth"
    native_resolution = 48
    kind = "disparity"
    delay = 0.0

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        if self.delay:
            time.sleep(self.delay)
        h, w = image.shape[:2]
        ramp = np.linspace(0.5, 1.0, w, dtype=np.float32)[None].repeat(h, 0)
        return ramp + 0.2 * image.mean(axis=2)


class Slow(Smooth):
    """Each call takes 1.5 s: long enough to cancel between calls."""

    name = "standin-slow"
    delay = 1.5


class Hang(Smooth):
    """Never returns in time (for the timeout test)."""

    name = "standin-hang"
    delay = 60.0


class Broken(Smooth):
    name = "standin-broken"

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        raise ValueError("stand-in predictor failed on purpose")


class Crash(Smooth):
    """Ends the whole process, like a segfault in a native library would."""

    name = "standin-crash"

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        os._exit(7)
