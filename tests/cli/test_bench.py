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
