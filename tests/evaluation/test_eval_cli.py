"""``sddr eval`` in process."""

import json

import numpy as np
from PIL import Image

from sddr_core.cli.main import main
from sddr_core.io.depth import write_depth

from helpers import make_scene


def _folder_dataset(root):
    for i in range(2):
        rgb, disp = make_scene(48, 64, seed=i)
        (root / "rgb").mkdir(parents=True, exist_ok=True)
        Image.fromarray((rgb * 255).astype(np.uint8)).save(root / "rgb" / f"img{i}.png")
        write_depth(root / "disparity" / f"img{i}.npy", disp)
    return root


def test_eval_command(tmp_path, capsys):
    data = _folder_dataset(tmp_path / "data")
    out = tmp_path / "out"
    args = ["eval", "--dataset", f"folder:{data}", "--predictor", "simulated", "--quiet"]
    args += ["--methods", "low,poisson", "--refiner", "poisson", "--out", str(out)]
    args += ["--low-resolution", "32", "--high-resolution", "64", "--limit", "1"]
    args += ["--strength", "2"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "| method | δ1 ↑" in text and "| poisson |" in text and "Wrote" in text
    assert "predictor `simulated`" in text and "disparity space" in text
    # what was chosen is in the report, so that it can be repeated; defaults are not
    assert "low_resolution `32`" in text and "predictor strength `2.0`" in text
    assert "device" not in text.split("settings:")[1].splitlines()[0]
    assert "predictor strength `2.0`" in (out / "results.md").read_text()
    report = json.loads((out / "results.json").read_text())
    assert [s["name"] for s in report["samples"]] == ["img0"]
    assert report["settings"]["low_resolution"] == 32
    assert (out / "figures" / "img0.png").is_file()

    assert main(args) == 1  # refuses to overwrite
    assert "overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--no-figures", "--space", "depth"]) == 0


def test_eval_command_errors(tmp_path, capsys):
    assert main(["eval", "--dataset", "nowhere", "--predictor", "simulated"]) == 1
    assert "dataset spec" in capsys.readouterr().err
    data = _folder_dataset(tmp_path / "d")
    assert main(["eval", "--dataset", str(data), "--methods", "low,best", "--quiet"]) == 1
    assert "unknown method" in capsys.readouterr().err
