"""``sddr demo``: the newcomer's first run must work offline and show a real improvement."""

import pytest

from sddr_core.cli.main import main


@pytest.mark.slow
def test_demo_runs_and_refined_is_sharper(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--refiner", "poisson"]) == 0
    text = capsys.readouterr().out
    assert (out / "motorcycle.png").stat().st_size > 10_000
    assert (out / "motorcycle_refined.png").exists()
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line[:4] in
            ("low ", "high", "refi")}  # fmt: skip
    low, high, ref = (list(map(float, rows[k])) for k in ("low", "high", "refined"))
    # columns: δ1, REL, D³R, ORD, boundary F1
    assert ref[2] < low[2]  # sharper edges than the low-resolution input
    assert ref[4] > low[4]
    assert ref[0] > high[0]  # more consistent than the high-resolution input
    assert main(["demo", "-o", str(out), "--refiner", "poisson"]) == 1  # no overwrite


@pytest.mark.slow
def test_demo_reruns_in_its_own_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--refiner", "poisson"]) == 0
    first = capsys.readouterr().out
    assert "motorcycle_refined.png" in first and "ground truth" in first  # says both files
    assert main(["demo", "--refiner", "poisson"]) == 0  # a re-run replaces its own files
    assert sorted(p.name for p in (tmp_path / "sddr-demo").iterdir()) == [
        "motorcycle.png",
        "motorcycle_refined.png",
    ]
