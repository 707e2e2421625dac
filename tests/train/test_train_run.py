"""`sddr train --config tiny` end to end (the CI reproduction of a small run)."""

import csv
import json
from pathlib import Path

import pytest

from sddr_core.cli.main import main


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_tiny_training_run_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--config", "tiny", "--out", str(out)]
    assert main([*args, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "trained 8 steps" in printed
    for name in ("last.safetensors", "best.safetensors", "state.pt", "metrics.csv", "val.csv",
                 "metrics.json", "curve.png", "config.json"):  # fmt: skip
        assert (out / name).is_file(), name
    rows = _rows(out / "metrics.csv")
    assert [r["phase"] for r in rows] == ["gt", "gt", "distill", "distill"]
    assert all(float(r["loss"]) > 0 for r in rows)
    assert rows[-1]["l_fusion"] != "" and rows[-1]["l_grad"] != ""
    log = json.loads((out / "metrics.json").read_text())
    assert set(log["baselines"]) == {"low", "high", "poisson"}
    assert [v["step"] for v in log["val"]] == [0, 4, 8]

    from sddr_core.refiners.network import load_refiner

    refiner = load_refiner(out / "last.safetensors", device="cpu")
    assert refiner.model.config.name == "sddr-tiny"
    assert "8" in refiner.meta["train_step"]

    # resume: two more steps continue from step 8, not from scratch
    assert main([*args, "--steps", "10", "--no-progress"]) == 0
    rows = _rows(out / "metrics.csv")
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8, 10]

    # starting over in the same folder needs --overwrite
    assert main([*args, "--steps", "2", "--no-resume", "--no-progress"]) == 1
    assert "already holds a training run" in capsys.readouterr().err
    assert main([*args, "--steps", "2", "--no-resume", "--overwrite", "--no-progress"]) == 0
    assert [int(r["step"]) for r in _rows(out / "metrics.csv")] == [2]
