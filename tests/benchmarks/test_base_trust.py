"""benchmarks/base_trust.py: forcing the base trust of a real checkpoint to 0 or 1."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import base_trust  # noqa: E402

pytestmark = pytest.mark.usefixtures("fast_cpu_torch")


def test_forced_base_trust_takes_either_layout(tmp_path):
    from sddr_core.models.band_fusion import BandFusionConfig, BandFusionNet
    from sddr_core.refiners.network import save_refiner

    torch.manual_seed(0)
    model = BandFusionNet(BandFusionConfig(name="t", widths=(4, 8, 8, 8, 8), base_trust=True))
    path = save_refiner(model, tmp_path / "bt.safetensors", meta={})
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32) / 64
    low, high = 1 + xx, 1 + xx + 2 * yy  # two layouts, related enough to align
    taken = {}
    for force in (0.0, 1.0):
        fusion = base_trust.refiner_with_base(str(path), force).fuse_batch([low], [high])[0]
        taken[force] = fusion.info["layout_from_high"]
    assert taken[0.0] < 0.01 and taken[1.0] > 0.99
    learned = base_trust.refiner_with_base(str(path), None).fuse_batch([low], [high])[0]
    assert 0.01 < learned.info["layout_from_high"] < 0.99  # a fresh head: near its init


def test_a_checkpoint_without_base_head_is_refused(tmp_path):
    from sddr_core.models.band_fusion import create_band_model
    from sddr_core.refiners.network import save_refiner

    path = save_refiner(create_band_model("bandfusion-tiny"), tmp_path / "p.safetensors", meta={})
    with pytest.raises(SystemExit, match="no base trust head"):
        base_trust.refiner_with_base(str(path), 1.0)
