"""benchmarks/mono_cnn.py: the weak monocular CNN used as an unseen real estimator."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import mono_cnn  # noqa: E402

from helpers import write_middlebury2006_scene  # noqa: E402

pytestmark = pytest.mark.usefixtures("fast_cpu_torch")


def test_loss_ignores_scale_and_shift_and_unknown_pixels():
    g = torch.rand(2, 20, 24) + 0.5
    valid = torch.ones_like(g, dtype=torch.bool)
    valid[:, :3] = False
    pred = 3.0 * g + 2.0
    pred[:, :3] = 100.0  # unknown pixels do not count
    assert mono_cnn._ssi_loss(pred, g, valid).item() < 1e-5
    assert mono_cnn._ssi_loss(torch.rand(2, 20, 24), g, valid).item() > 0.05


def test_trains_on_training_scenes_only_and_predicts(tmp_path, monkeypatch):
    from sddr_core.datasets.middlebury2006 import MIDDLEBURY2006_SPLIT

    monkeypatch.setitem(MIDDLEBURY2006_SPLIT, "train", ["baby1"])  # a one-scene training side
    rng = np.random.default_rng(0)
    data = tmp_path / "mb"
    write_middlebury2006_scene(data / "baby1", 1, (40, 48))  # a training scene
    write_middlebury2006_scene(data / "rocks1", 2, (40, 48))  # a validation scene: must not be read
    (data / "rocks1" / "view1.png").write_bytes(b"not an image")
    out = tmp_path / "mono.safetensors"
    args = argparse.Namespace(
        data=str(data), out=str(out), steps=3, batch=2, crop=32, width=4, lr=1e-3, seed=0,
        threads=1, scenes=None,
    )  # fmt: skip
    mono_cnn.train(args)
    pred = mono_cnn.MonoCNNPredictor(str(out))
    image = rng.random((40, 48, 3)).astype(np.float32)
    low = pred.predict(image, 32)
    high = pred.predict(image, 48)
    assert low.shape == (24, 32) and high.shape == (40, 48)
    assert np.isfinite(high).all() and (high > 0).all()  # softplus: positive disparity

    # passes on another training scene, for the refiner's data.real_passes
    from sddr_core.train.band import load_real_passes

    write_middlebury2006_scene(data / "baby2", 3, (40, 48))
    npz = tmp_path / "passes.npz"
    mono_cnn.write_passes(
        argparse.Namespace(data=str(data), weights=str(out), scenes="baby2", out=str(npz),
                           threads=1)
    )  # fmt: skip
    monkeypatch.setitem(MIDDLEBURY2006_SPLIT, "train", ["baby1", "baby2"])
    pairs = load_real_passes([str(npz)])
    assert set(pairs) == {("baby2", "left"), ("baby2", "right")}
    assert all(len(v) == len(mono_cnn.PASS_PAIRS) for v in pairs.values())
    lo, hi = pairs[("baby2", "left")][0]
    assert max(hi.shape) > max(lo.shape)  # the high pass at the image's size

    # as an unseen estimator: the rows of benchmarks/generalisation.py, fused and snapped
    monkeypatch.setitem(MIDDLEBURY2006_SPLIT, "val", ["baby2"])
    report = tmp_path / "report"
    mono_cnn.evaluate_refiners(
        argparse.Namespace(data=str(data), weights=str(out), refiner=["net=poisson"],
                           split="val", two_stage=False, snap="both", out=str(report),
                           threads=1)
    )  # fmt: skip
    table = (report / "mono_cnn.md").read_text()
    rows = json.loads((report / "mono_cnn.json").read_text())
    assert set(rows) == {
        "low", "high", "poisson", "split", "one-stage:net",
        "poisson+snap", "split+snap", "one-stage:net+snap",
    }  # fmt: skip
    assert all(len(v) == 1 and set(v[0]) == {"delta1", "abs_rel", "d3r", "boundary_f1"}
               for v in rows.values())  # fmt: skip
    assert "| mono-cnn @ middlebury2006:" in table and "| one-stage:net+snap |" in table


def test_no_training_scene_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no Middlebury 2006 training scenes"):
        mono_cnn._training_views(str(tmp_path))


def test_half_writes_passes_training_reads_within_float16_rounding(tmp_path):
    from sddr_core.datasets.middlebury2006 import MIDDLEBURY2006_SPLIT
    from sddr_core.train.band import load_real_passes

    scene = MIDDLEBURY2006_SPLIT["train"][0]
    rng = np.random.default_rng(0)
    arrays = {
        f"{scene}/left/0/low": rng.uniform(0.01, 2.0, (12, 16)).astype(np.float32),
        f"{scene}/left/0/high": rng.uniform(0.01, 2.0, (24, 32)).astype(np.float32),
    }
    src, out = tmp_path / "passes.npz", tmp_path / "half.npz"
    np.savez_compressed(src, **arrays)
    args = argparse.Namespace(src=str(src), out=str(out), overwrite=False)
    mono_cnn.write_half(args)
    ((low, high),) = load_real_passes([str(out)])[(scene, "left")]
    assert low.dtype == np.float32 and high.shape == (24, 32)
    np.testing.assert_allclose(low, arrays[f"{scene}/left/0/low"], rtol=1e-3)
    with pytest.raises(SystemExit, match="--overwrite"):
        mono_cnn.write_half(args)  # an existing file is never replaced silently
    np.savez_compressed(src, **{f"{scene}/left/0/low": np.full((4, 4), 1e6, np.float32)})
    with pytest.raises(SystemExit, match="float16"):
        mono_cnn.write_half(argparse.Namespace(src=str(src), out=str(tmp_path / "x.npz"),
                                               overwrite=False))  # fmt: skip
