"""``sddr refine`` (a subprocess) on a constant predictor map and with a high resolution
below the low one (issue 12 section 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from helpers import make_scene, run_sddr

PREDICTOR = """
import numpy as np

def flat(image, resolution):
    return np.full(image.shape[:2], 5.0, np.float32)

def ramp(image, resolution):
    return 1.0 + image[..., 0]
"""


sddr = run_sddr


def _work(tmp_path: Path) -> Path:
    rgb, _ = make_scene(60, 80)
    Image.fromarray((rgb * 255).astype(np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "preds.py").write_text(PREDICTOR)
    return tmp_path


def test_constant_map_gives_a_constant_depth_map_and_preview(tmp_path: Path) -> None:
    work = _work(tmp_path)
    run = sddr("refine", "a.png", "-o", "out", "--predictor", "preds.py:flat",
               "--refiner", "poisson", "--format", "npy", "--preview", cwd=work)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "constant" in run.stderr  # the predictor's output is reported
    depth = np.load(work / "out" / "a_depth.npy")
    assert np.all(depth == 5.0)
    preview = np.asarray(Image.open(work / "out" / "a_depth_preview.png"))
    assert len(np.unique(preview.reshape(-1, preview.shape[-1]), axis=0)) == 1


def test_high_resolution_below_low_is_refused_in_flag_syntax(tmp_path: Path) -> None:
    work = _work(tmp_path)
    run = sddr("refine", "a.png", "-o", "out", "--predictor", "preds.py:ramp",
               "--low-resolution", "64", "--high-resolution", "48", cwd=work)  # fmt: skip
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "--high-resolution 64 or more" in run.stderr
    assert "--low-resolution 48 or less" in run.stderr
    assert not (work / "out").exists()
