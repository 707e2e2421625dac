"""benchmarks/generalisation.py: architecture options changed on a saved checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import generalisation  # noqa: E402

pytestmark = pytest.mark.usefixtures("fast_cpu_torch")


def test_model_options_change_the_alignment_of_a_saved_band_network(tmp_path):
    from sddr_core.models.band_fusion import create_band_model
    from sddr_core.refiners.network import save_refiner

    torch.manual_seed(0)
    path = save_refiner(create_band_model("bandfusion-tiny"), tmp_path / "b.safetensors", meta={})
    plain = generalisation.with_model_options(str(path), [])
    trimmed = generalisation.with_model_options(str(path), ["align_trim=0.1"])
    assert plain.model.config.align_trim == 0.0 and trimmed.model.config.align_trim == 0.1
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32) / 64
    low = 1 + xx + yy
    high = low.copy()
    high[8:24, 8:24] = 0.0  # a hole filled with zero pulls a plain least-squares fit
    a, b = plain.fuse(low, high).depth, trimmed.fuse(low, high).depth
    assert np.abs(a - b)[40:, 40:].mean() > 1e-4  # away from the hole the two differ


def test_model_options_need_a_band_network(tmp_path):
    from sddr_core.models.refiner_net import create_model
    from sddr_core.refiners.network import save_refiner

    path = save_refiner(create_model("sddr-tiny"), tmp_path / "s.safetensors", meta={})
    with pytest.raises(SystemExit, match="band-fusion"):
        generalisation.with_model_options(str(path), ["align_trim=0.1"])


class _LeftEdge:
    """A refiner that marks its input's left column: it prefers a side."""

    name = "left-edge"
    size_multiple = 1
    max_working_side = 2048

    def fuse_batch(self, lows, highs, **options):
        from sddr_core.refiners.base import Fusion

        out = []
        for lo in lows:
            d = lo.copy()
            d[:, 0] += 1.0
            out.append(Fusion(d, np.zeros_like(d), {}))
        return out


def test_mirrored_runs_the_refiner_on_the_mirrored_pair_and_mirrors_back():
    low = np.arange(12, dtype=np.float32).reshape(3, 4)
    mirrored = generalisation.Mirrored(_LeftEdge()).fuse(low, low)
    expected = low.copy()
    expected[:, -1] += 1.0  # the mark lands on the right: the refiner saw the mirrored pair
    np.testing.assert_array_equal(mirrored.depth, expected)
    assert mirrored.depth.shape == low.shape
    mean = generalisation.Mirrored(_LeftEdge(), average=True).fuse(low, low)
    expected = low.copy()
    expected[:, 0] += 0.5
    expected[:, -1] += 0.5
    np.testing.assert_array_equal(mean.depth, expected)
    assert mean.depth.dtype == np.float32
