"""benchmarks/snap_sweep.py: the ground-truth row snaps the exact map, holes filled."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import snap_sweep  # noqa: E402


def test_ground_truth_row_is_the_ground_truth_with_holes_filled():
    from sddr_core.datasets.base import Sample

    gt = np.full((20, 30), 2.0, np.float32)
    gt[:, 15:] = 5.0
    gt[5:9, 10:14] = np.nan  # unknown, beside the far side
    sample = Sample(
        rgb=np.zeros((20, 30, 3), np.uint8),
        gt=gt,
        gt_kind="disparity",
        valid=np.isfinite(gt),
        meta={},
    )
    out = snap_sweep._ground_truth(sample)
    known = np.isfinite(gt)
    assert out.kind == "disparity"
    assert np.isfinite(out.depth).all()
    np.testing.assert_array_equal(out.depth[known], gt[known])
    assert np.all(out.depth[~known] == 2.0)  # from the background (far) side


def test_settings_parse():
    assert snap_sweep.parse_setting("base=7,taps=none,iterations=3") == {
        "base": 7.0,
        "taps": None,
        "iterations": 3,
    }
    assert snap_sweep.parse_setting("base=5,cleanup=none") == {"base": 5.0, "cleanup": None}
