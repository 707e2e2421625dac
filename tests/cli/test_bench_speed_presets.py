"""``sddr bench speed`` as a user runs it (a subprocess): the quick default sizes, ``--full``,
and the progress bar. (Timing targets belong to the benchmark, not to tests: the quick default
is measured in docs/BENCHMARKS.md.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sddr_core.cli.bench import FULL_SPEED, QUICK_SPEED

from helpers import run_sddr


def sddr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_sddr(*args, cwd=cwd, timeout=600)


def test_quick_default_and_full_preset(tmp_path: Path) -> None:
    assert QUICK_SPEED[0] == (512, 1024) and QUICK_SPEED[2] < FULL_SPEED[2]
    assert FULL_SPEED[0] == (512, 1024, 2048)
    common = ["--methods", "predictor", "--variant", "sddr-tiny", "--device", "cpu"]
    quick = sddr("bench", "speed", *common, "--json", "q.json", cwd=tmp_path)
    assert quick.returncode == 0, quick.stderr
    data = json.loads((tmp_path / "q.json").read_text())
    assert [r["size"] for r in data["rows"]] == [512, 1024]
    assert data["header"]["budget_s"] == QUICK_SPEED[2]
    assert "the quick default: --full" in quick.stdout
    bar = quick.stderr.replace("\r", "\n")
    assert "bench speed: 100%" in bar and "1024px predictor done" in bar

    full = sddr("bench", "speed", "--full", *common, "--repeats", "1", "--json", "f.json",
                cwd=tmp_path)  # fmt: skip
    assert full.returncode == 0, full.stderr
    data = json.loads((tmp_path / "f.json").read_text())
    assert [r["size"] for r in data["rows"]] == [512, 1024, 2048]
    assert data["header"]["budget_s"] == FULL_SPEED[2] and data["header"]["repeats"] == 1
    assert "quick default" not in full.stdout
