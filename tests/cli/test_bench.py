"""``sddr bench speed`` on a tiny network: the table, the JSON and the measurement helpers.

(Lives with the model tests because the benchmark measures the network; timing targets
themselves belong to the benchmark, never to tests.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sddr_core.cli.bench import PeakMemory, StandInPredictor, format_table, run_speed
from sddr_core.cli.main import main
from sddr_core.errors import InputError


def test_bench_speed_cli_prints_table_and_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    methods = ["network", "poisson", "one-stage", "two-stage", "predictor"]
    code = main(["bench", "speed", "--sizes", "64", "--repeats", "1", "--budget", "5",
                 "--variant", "sddr-tiny", "--device", "cpu", "--json", str(out),
                 "--methods", *methods])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    for word in ("network", "poisson", "one-stage", "two-stage", "predictor", "GMACs"):
        assert word in text
    data = json.loads(out.read_text())
    rows = {r["method"]: r for r in data["rows"]}
    assert rows["two-stage"]["predictor_calls"] == 15 and rows["two-stage"]["network_calls"] == 14
    assert rows["one-stage"]["predictor_calls"] == 2 and rows["one-stage"]["network_calls"] == 1
    assert rows["poisson"]["gmacs"] is None and rows["poisson"]["network_calls"] == 0
    # MACs of two-stage = whole-image pass + windows, more than one pass
    assert rows["two-stage"]["gmacs"] > rows["one-stage"]["gmacs"] >= rows["network"]["gmacs"] > 0
    assert all(r["median_s"] > 0 and r["peak_bytes"] >= 0 for r in data["rows"])
    assert rows["network"]["vs_predictor"] > 0
    assert data["header"]["parameters"] < 100_000
    # an existing --json file is never replaced silently, and that is known before the run
    assert main(["bench", "speed", "--sizes", "64", "--json", str(out)]) == 1
    assert "overwrite" in capsys.readouterr().err


def test_bench_speed_counts_a_band_network_at_its_padded_size(tmp_path):
    """Two-stage windows have sides that are no multiple of 32; band fusion runs them padded,
    and the MAC count must use the padded shape too (it raised ShapeError before)."""
    from sddr_core.models.band_fusion import create_band_model
    from sddr_core.refiners.network import save_refiner

    path = save_refiner(create_band_model("bandfusion-tiny"), tmp_path / "bf.safetensors",
                        meta={"training": "none"})  # fmt: skip
    _, rows = run_speed([64], repeats=1, budget=2.0, methods=["two-stage"], device="cpu",
                        refiner=str(path))  # fmt: skip
    assert rows[0].network_calls == 14 and rows[0].gmacs > 0


def test_bench_rejects_bad_sizes():
    with pytest.raises(InputError, match="multiples of 32"):
        from argparse import Namespace

        from sddr_core.cli.bench import run_speed_cmd

        run_speed_cmd(Namespace(sizes=[100], repeats=1, budget=1.0, threads=None, json=None))


def test_markdown_table():
    header, rows = run_speed([64], repeats=1, budget=2.0, methods=["poisson"], device="cpu",
                             variant="sddr-tiny")  # fmt: skip
    md = format_table(header, rows, markdown=True)
    assert "| size | method |" in md and "| 64 | poisson |" in md


def test_peak_memory_sees_an_allocation():
    with PeakMemory("cpu") as mem:
        block = np.ones(64 * 2**20 // 8)  # 64 MB, touched
        block += 1
        del block
    assert mem.growth >= 48 * 2**20


def test_stand_in_predictor():
    pred = StandInPredictor("cpu")
    assert pred.num_parameters() == 23873
    out = pred.predict(np.random.default_rng(0).random((48, 80, 3)).astype(np.float32), 40)
    assert out.shape == (24, 40) and np.isfinite(out).all() and out.min() >= 1.0


# -- sddr bench fraction -----------------------------------------------------------------------

_TINY_BACKBONE = {
    "hidden_size": 32,
    "num_hidden_layers": 4,
    "num_attention_heads": 2,
    "mlp_ratio": 2,
    "image_size": 518,
    "patch_size": 14,
    "out_indices": [1, 2, 3, 4],
    "reshape_hidden_states": False,
}
_TINY_HEAD = {
    "neck_hidden_sizes": [16, 16, 32, 32],
    "fusion_hidden_size": 16,
    "head_hidden_size": 8,
    "reassemble_hidden_size": 32,
}


def test_fraction_rows_with_a_stand_in_predictor():
    from sddr_core.cli.bench import format_fraction, run_fraction

    pred = StandInPredictor("cpu")
    header, rows = run_fraction(
        (80, 48), refiners=["poisson", "poisson-jacobi-cg"], repeats=2, predictor=pred
    )
    assert pred.calls == 2 + 3  # low + high, then one warm-up and two timed high passes
    assert [r.refiner for r in rows] == ["poisson", "poisson-jacobi-cg"]
    assert header["high_shape"] == [48, 80] and header["photo"] == "80x48"
    assert len(header["predictor_s"]) == 2
    for r in rows:
        assert r.working_shape == (48, 80) and len(r.times_s) == 2
        assert r.fraction == pytest.approx(r.median_s / header["predictor_median_s"])
    assert rows[0].target == 0.15 and rows[1].target is None
    assert "solver='jacobi-cg'" in rows[1].loaded
    md = format_fraction(header, rows, markdown=True)
    assert "| refiner | runs | working size |" in md and "| poisson | 2 | 80x48 |" in md
    assert "≤ 15 %" in md
    with pytest.raises(InputError, match="unknown refiner"):
        run_fraction((80, 48), refiners=["amg"], predictor=pred)
    # NAME+snap: the fusion and the snap to the photo, timed together, said in the header
    header, rows = run_fraction(
        (80, 48), refiners=["poisson", "poisson+snap"], repeats=1, predictor=pred
    )
    assert [r.refiner for r in rows] == ["poisson", "poisson+snap"] and rows[1].target == 0.15
    snap = header["snap"]["poisson+snap"]
    assert snap["snap_radius"] >= 2 and 0 <= snap["share"] <= 1
    assert "poisson+snap: the snap (radius" in format_fraction(header, rows)
    # --compile: three untimed warm-up rounds (compiling, CUDA-graph capture), said in the header
    pred = StandInPredictor("cpu")
    header, rows = run_fraction((80, 48), refiners=["poisson"], repeats=2, predictor=pred,
                                compile=True)  # fmt: skip
    assert pred.calls == 2 + 3 + 2 and len(rows[0].times_s) == 2 and header["compiled"]
    assert "network compiled" in format_fraction(header, rows)


def test_bench_fraction_cli_times_depth_anything_and_the_default_refiner(
    tmp_path, capsys, monkeypatch
):
    """The real path (a Depth Anything model saved from a config and loaded through
    HFDepthPredictor, the default refiner from as_refiner(None)) on a tiny config."""
    pytest.importorskip("transformers")
    import sddr_core.cli.bench as bench

    def tiny(folder, *, seed=0):
        return bench.save_depth_anything(folder, _TINY_BACKBONE, _TINY_HEAD, seed=seed)

    monkeypatch.setattr(bench, "depth_anything_v2_small", tiny)
    out = tmp_path / "fraction.json"
    code = main(["bench", "fraction", "--size", "96x64", "--repeats", "1",
                 "--refiners", "poisson", "network", "--json", str(out)])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "depth-anything-v2-small architecture" in text and "× predictor" in text
    data = json.loads(out.read_text())
    rows = {r["refiner"]: r for r in data["rows"]}
    assert set(rows) == {"poisson", "network"}
    assert all(r["fraction"] > 0 and r["median_s"] > 0 for r in rows.values())
    assert rows["network"]["target"] == 0.10 and rows["poisson"]["target"] == 0.15
    assert data["header"]["high_resolution"] == 96
    # the high-resolution pass ran at the photo's long side, rounded to the patch size
    assert max(data["header"]["high_shape"]) in (84, 98)


def test_size_argument():
    import argparse

    from sddr_core.cli.bench import _size_arg

    assert _size_arg("1024x768") == (1024, 768)
    for bad in ("1024", "axb", "8x8"):
        with pytest.raises(argparse.ArgumentTypeError):
            _size_arg(bad)


@pytest.mark.slow
def test_depth_anything_v2_small_has_the_real_architecture(tmp_path):
    pytest.importorskip("transformers")
    from transformers import AutoConfig

    from sddr_core.cli.bench import depth_anything_v2_small

    folder = depth_anything_v2_small(tmp_path / "da")
    cfg = AutoConfig.from_pretrained(folder)
    assert cfg.model_type == "depth_anything" and cfg.backbone_config.hidden_size == 384
    assert cfg.backbone_config.num_hidden_layers == 12 and list(cfg.neck_hidden_sizes) == [
        48, 96, 192, 384
    ]  # fmt: skip
    # 24.8 M float32 parameters (Depth-Anything-V2-Small-hf: 24,785,089)
    size = (folder / "model.safetensors").stat().st_size
    assert 24.7e6 * 4 < size < 25.0e6 * 4


def test_bench_speed_times_the_default_refiner_unless_told_otherwise():
    """By default the network refine() uses (the bundled band-fusion checkpoint); --variant
    builds one with random weights, band-fusion variants included; not both at once."""
    from sddr_core.errors import UnknownNameError
    from sddr_core.refiners.network import default_checkpoint

    header, _ = run_speed([64], repeats=1, budget=1.0, methods=["network"], device="cpu")
    assert header["weights"] == str(default_checkpoint())
    assert header["network"] == "bandfusion-sbm"
    header, _ = run_speed([64], repeats=1, budget=1.0, methods=["network"], device="cpu",
                          variant="bandfusion-tiny")  # fmt: skip
    assert header["network"] == "bandfusion-tiny" and header["weights"] == "random initialisation"
    with pytest.raises(InputError, match="not both"):
        run_speed([64], methods=["network"], refiner=str(default_checkpoint()), variant="sddr-b0")
    with pytest.raises(UnknownNameError, match="bandfusion-tiny"):
        run_speed([64], methods=["network"], device="cpu", variant="bandfusion-tny")
