"""``evaluate``: methods on a tiny dataset, the written reports and figures, errors."""

import csv
import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from sddr_core.errors import InputError, OutputExistsError
from sddr_core.evaluation import (
    METHODS,
    CachingPredictor,
    EvalReport,
    available_methods,
    evaluate,
    parse_methods,
)
from sddr_core.evaluation.report import METRICS, SampleResult

from helpers import ToyPredictor


def test_evaluate_writes_tables_and_figures(tmp_path, tiny, sim_options):
    out = tmp_path / "report"
    methods = ["low", "high", "poisson", "one-stage"]
    report = evaluate(
        tiny,
        "simulated",
        ",".join(methods),
        refiner="poisson",
        out_dir=out,
        progress=False,
        predictor_options=sim_options,
    )
    assert report.methods == methods and [s.name for s in report.samples] == ["scene0", "scene1"]
    mean = report.mean
    for m in methods:
        row = mean[m]
        assert set(row) == {k for k, _, _ in METRICS}
        assert 0 < row["delta1"] <= row["delta2"] <= row["delta3"] <= 1
        assert row["abs_rel"] >= 0 and row["rmse"] >= 0 and row["time"] >= 0
        assert 0 <= row["d3r"] <= 2 and 0 <= row["boundary_f1"] <= 1
        assert row["see"] >= 0 and 0 <= row["dbe_acc"] <= 10 and 0 <= row["dbe_comp"] <= 10
    # The blurry low pass smears and misses edges the high pass keeps.
    assert mean["low"]["dbe_comp"] > mean["high"]["dbe_comp"]
    # With Poisson as the refiner, one-stage is the Poisson result (not run twice).
    assert mean["one-stage"] == mean["poisson"]
    # Fusion takes longer than the high-resolution prediction it needs; the methods differ.
    assert mean["poisson"]["time"] >= mean["high"]["time"]
    assert mean["low"]["abs_rel"] != mean["high"]["abs_rel"] != mean["poisson"]["abs_rel"]

    data = json.loads((out / "results.json").read_text())
    assert data["space"] == "disparity" and data["predictor"] == "simulated"
    assert data["refiner"] == "poisson" and data["sddr_version"]
    first = data["samples"][0]
    assert first["methods"]["low"]["n_valid"] == 48 * 64 - 4
    assert first["methods"]["poisson"]["predictor_calls"] == 2
    assert first["meta"]["low_resolution"] == 32 and first["meta"]["id"] == 0
    assert data["mean"]["low"]["delta1"] == pytest.approx(mean["low"]["delta1"])
    again = EvalReport.from_dict(data).mean
    assert all(again[m] == pytest.approx(mean[m]) for m in methods)

    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    assert len(rows) == 2 * 4 + 4
    assert {r["sample"] for r in rows} == {"scene0", "scene1", "mean"}
    assert rows[-1]["method"] == "one-stage" and rows[-1]["refiner"] == "poisson"
    assert float(rows[0]["delta1"]) == pytest.approx(report.samples[0].metrics["low"]["delta1"])

    md = (out / "results.md").read_text()
    assert "| method | δ1 ↑" in md and "| one-stage (poisson) |" in md
    assert "disparity space" in md and "figures/scene1.png" in md
    for name in ("scene0", "scene1"):
        png = out / "figures" / f"{name}.png"
        assert 10_000 < png.stat().st_size < 1_500_000
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size[1] > im.size[0]  # one row per method


def test_no_overwrite_before_any_work(tmp_path, tiny):
    out = tmp_path / "r"
    evaluate(tiny, ToyPredictor(), ["low"], out_dir=out, progress=False, figures=False)
    toy = ToyPredictor()
    with pytest.raises(OutputExistsError, match="results"):
        evaluate(tiny, toy, ["low"], out_dir=out, progress=False)
    assert toy.calls == []
    evaluate(tiny, toy, ["low"], out_dir=out, progress=False, overwrite=True, limit=1)
    assert len(json.loads((out / "results.json").read_text())["samples"]) == 1


def test_predictor_runs_once_per_resolution(tiny, mean_refiner):
    toy, ref = ToyPredictor(), mean_refiner
    report = evaluate(
        tiny, toy, ["low", "high", "poisson", "one-stage"], refiner=ref, progress=False
    )
    assert len(toy.calls) == 2 * len(tiny)  # low and high, shared by all four methods
    assert ref.calls == len(tiny)
    assert report.refiner == "mean" and report.label("one-stage") == "one-stage (mean)"
    s = report.samples[0].metrics
    assert s["one-stage"]["abs_rel"] != s["poisson"]["abs_rel"]
    # one-stage is timed as if alone: its predictor time is counted although it was cached
    assert s["one-stage"]["time"] >= s["low"]["time"] + s["high"]["time"]


def test_caching_predictor_counts_replayed_time():
    toy = ToyPredictor()
    cached = CachingPredictor(toy)
    img = np.zeros((16, 16, 3), np.float32)
    a = cached.predict(img, 8)
    b = cached.predict(img, 8)
    assert np.array_equal(a, b) and toy.calls == [8] and cached.calls == 1
    assert cached.replayed > 0  # the first call's duration, counted again for the hit
    assert not hasattr(cached, "predict_region")  # as the wrapped predictor
    a[:] = -1  # callers get copies
    assert cached.predict(img, 8).min() >= 0
    cached.reset_clock()
    assert cached.replayed == 0


def test_caching_predictor_windows():
    from sddr_core.predictors.simulated import SimulatedPredictor

    sim = SimulatedPredictor(np.ones((16, 16), np.float32), native_resolution=8)
    cached = CachingPredictor(sim)
    img = np.zeros((16, 16, 3), np.float32)
    first = cached.predict_region(img, (0, 0, 8, 8), 8)
    assert np.array_equal(first, cached.predict_region(img, (0, 0, 8, 8), 8))
    cached.predict_region(img, (8, 8, 16, 16), 8)
    assert cached.calls == 2 and cached.size_multiple == 1


def test_depth_space_and_depth_predictor(tiny, sim_options):
    report = evaluate(
        tiny,
        "simulated",
        ["low", "poisson"],
        space="depth",
        progress=False,
        predictor_options={**sim_options, "kind": "depth"},
    )
    assert report.space == "depth"
    assert report.mean["poisson"]["delta1"] > 0.5


def test_errors(tiny):
    with pytest.raises(InputError, match="unknown method"):
        parse_methods("low,sharpest")
    with pytest.raises(InputError, match="at least one"):
        parse_methods(" , ")
    assert parse_methods(["poisson", "low", "low"]) == ["low", "poisson"]
    with pytest.raises(InputError, match="space"):
        evaluate(tiny, ToyPredictor(), ["low"], space="log", progress=False)
    with pytest.raises(InputError, match="limit"):
        evaluate(tiny, ToyPredictor(), ["low"], limit=0, progress=False)
    with pytest.raises(InputError, match="neither a known dataset"):
        evaluate("no-such-dataset", ToyPredictor(), ["low"], progress=False)
    assert set(available_methods()) <= set(METHODS)
    if "two-stage" not in available_methods():
        with pytest.raises(InputError, match="not available"):
            parse_methods("two-stage")


@pytest.mark.skipif("two-stage" not in available_methods(), reason="two-stage not built yet")
def test_two_stage(tiny, sim_options):
    report = evaluate(
        tiny, "simulated", ["two-stage"], limit=1, progress=False, predictor_options=sim_options
    )
    assert 0 < report.mean["two-stage"]["delta1"] <= 1


def test_mean_skips_nan():
    rep = EvalReport("d", "p", "poisson", "disparity", ["low"], version="x")
    for i, d3r in enumerate([0.2, math.nan]):
        metrics = {k: 1.0 for k, _, _ in METRICS} | {"d3r": d3r}
        rep.samples.append(SampleResult(f"s{i}", (4, 4), {"low": metrics}))
    assert rep.mean["low"]["d3r"] == pytest.approx(0.2)
    assert "–" not in rep.mean_table()
    assert json.loads(rep.to_json())["samples"][1]["methods"]["low"]["d3r"] is None


def test_split_method_is_the_split_refiner(tiny, sim_options):
    import sddr_core
    from sddr_core.evaluation import run_methods
    from sddr_core.inference import as_refiner

    report = evaluate(
        tiny,
        "simulated",
        "low,high,split",
        refiner="poisson",
        progress=False,
        predictor_options=sim_options,
    )
    assert report.method_refiners["split"] == "split" and report.label("split") == "split"
    row = report.mean["split"]
    assert 0 < row["delta1"] <= 1 and row["time"] >= 0
    # the method equals refining the same predictions with the registered refiner
    sample = next(iter(tiny))
    from sddr_core.registry import create_predictor

    pred = create_predictor("simulated", ground_truth=sample.gt, **sim_options)
    outs = run_methods(
        sample.rgb, pred, ["split"], refiner=as_refiner("split"), poisson=as_refiner("poisson")
    )
    direct = sddr_core.refine(sample.rgb, pred, refiner="split")
    np.testing.assert_allclose(outs["split"].depth, direct.depth, atol=1e-5)
    assert parse_methods("split,low") == ["low", "split"] and "split" in METHODS
