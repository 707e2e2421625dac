"""The ``sddr`` command line, run in process through ``main(argv)``."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import sddr_core
from sddr_core.cli.main import main
from sddr_core.plugins import temporary_plugin

from helpers import ToyPredictor, make_scene


class ToyPlugin:
    @sddr_core.hookimpl
    def sddr_register_predictors(self):
        return [
            sddr_core.PredictorSpec(
                "toy", lambda **_: ToyPredictor(), "disparity", 64, licence="MIT"
            )
        ]


@pytest.fixture
def images(tmp_path):
    paths = []
    for i in range(2):
        rgb, _ = make_scene(48 + 16 * i, 64, seed=i)
        p = tmp_path / f"img{i}.png"
        Image.fromarray((rgb * 255).astype(np.uint8)).save(p)
        paths.append(p)
    return paths


def test_refine_writes_every_image(tmp_path, images, capsys):
    out = tmp_path / "out"
    with temporary_plugin(ToyPlugin()):
        code = main(["refine", *map(str, images), "-o", str(out), "--predictor", "toy",
                     "--refiner", "poisson", "--format", "npy", "--preview"])  # fmt: skip
    assert code == 0
    for i, p in enumerate(images):
        depth = np.load(out / f"{p.stem}_depth.npy")
        assert depth.shape == (48 + 16 * i, 64)
        assert (out / f"{p.stem}_depth_preview.png").exists()


def test_refine_refuses_to_overwrite(tmp_path, images, capsys):
    out = tmp_path / "out"
    args = ["refine", str(images[0]), "-o", str(out), "--predictor", "toy", "--refiner", "poisson"]
    with temporary_plugin(ToyPlugin()):
        assert main(args) == 0
        before = (out / "img0_depth.png").read_bytes()
        assert main(args) == 1
        assert "--overwrite" in capsys.readouterr().err
        assert (out / "img0_depth.png").read_bytes() == before
        assert main([*args, "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["refine", "missing.png", "-o", "x"], "not found"),
        (["refine", "{img}", "-o", "{out}", "--predictor", "nope"], "Unknown predictor"),
        (["refine", "{img}", "-o", "{out}", "--predictor", "toy", "--refiner", "nah"], "refiner"),
    ],
)
def test_refine_errors_are_clean(tmp_path, images, capsys, argv, message):
    argv = [a.format(img=images[0], out=tmp_path / "o") for a in argv]
    with temporary_plugin(ToyPlugin()):
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("sddr: error:") and message in err and "Traceback" not in err


def test_predictors_listing(capsys):
    assert main(["predictors"]) == 0
    out = capsys.readouterr().out
    assert "depth-anything-v2-small" in out and "Apache-2.0" in out and "simulated" in out
    assert main(["predictors", "dpt-*"]) == 0
    out = capsys.readouterr().out
    assert "dpt-large" in out and "simulated" not in out


def test_refiners_plugins_info(capsys):
    assert main(["refiners"]) == 0
    assert "poisson" in capsys.readouterr().out
    assert main(["plugins"]) == 0
    assert "sddr_core.refiners.poisson" in capsys.readouterr().out
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "default device" in out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
