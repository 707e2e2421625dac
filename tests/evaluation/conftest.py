"""Tiny in-memory datasets and a cheap refiner for the evaluation tests."""

import numpy as np
import pytest

from sddr_core.datasets.base import Sample, SampleList
from sddr_core.refiners.base import Fusion

from helpers import make_scene


def tiny_dataset(n: int = 2, h: int = 48, w: int = 64) -> SampleList:
    """``n`` synthetic scenes (slanted background, two raised boxes), disparity ground truth
    with a few unknown pixels."""
    samples = []
    for i in range(n):
        rgb, disp = make_scene(h, w, seed=i)
        disp = disp.copy()
        disp[:2, :2] = np.nan
        samples.append(
            Sample(rgb, disp, "disparity", np.isfinite(disp), {"name": f"scene{i}", "id": i})
        )
    return SampleList(samples, name="tiny")


class MeanRefiner:
    """A refiner that is not Poisson fusion: the average of low and high."""

    name = "mean"
    size_multiple = 1
    max_working_side = 4096

    def __init__(self) -> None:
        self.calls = 0

    def fuse(self, low, high):
        self.calls += 1
        return Fusion(((low + high) / 2).astype(np.float32))


@pytest.fixture
def mean_refiner():
    return MeanRefiner()


@pytest.fixture
def tiny():
    return tiny_dataset()


#: Simulated predictor options that suit the tiny scenes (native resolution below their size).
SIM = {"native_resolution": 32}


@pytest.fixture
def sim_options():
    return dict(SIM)
