"""``sddr refine`` and ``sddr fuse`` run as a user runs them: ``sddr`` in a subprocess.

Bring-your-own predictors, batches that keep going and never lose work, and the error
messages that used to be tracebacks.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import make_scene, run_sddr

PREDICTORS = """
import numpy as np

def predict(image, resolution):
    assert max(image.shape[:2]) == resolution, "sddr resizes the image first"
    return image[..., 0] + 0.5

def boom(image, resolution):
    return 1 / 0

def flat(image, resolution):
    return np.ones(image.shape[:2])

class Predictor:
    name = "mine"
    native_resolution = 32
    kind = "depth"

    def predict(self, image, resolution):
        return 2.0 - image[..., 1]
"""


sddr = run_sddr


@pytest.fixture
def work(tmp_path: Path) -> Path:
    rgb, _ = make_scene(40, 56)
    img = Image.fromarray((rgb * 255).astype(np.uint8))
    img.save(tmp_path / "a.png")
    img.save(tmp_path / "a.jpg")
    (tmp_path / "sub").mkdir()
    img.save(tmp_path / "sub" / "a.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "mypreds.py").write_text(PREDICTORS)
    return tmp_path


def test_function_from_file_and_module_with_options(work: Path) -> None:
    r = sddr("refine", "a.png", "-o", "out", "--predictor", "mypreds.py:predict",
             "--refiner", "poisson", "--format", "npy", "--native-resolution", "24",
             "--kind", "depth", cwd=work)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert np.load(work / "out" / "a_depth.npy").shape == (40, 56)
    # a module on the current folder, and a protocol class (created without arguments)
    r = sddr("refine", "a.png", "-o", "out2", "--predictor", "mypreds:Predictor",
             "--refiner", "poisson", "--format", "tiff", cwd=work)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (work / "out2" / "a_depth.tif").is_file()  # --format tiff writes .tif


@pytest.mark.parametrize(
    ("predictor", "message"),
    [
        ("mypreds.py:nothing", "has no 'nothing'"),
        ("missing.py:predict", "does not exist"),
        ("no_such_module:predict", "cannot find the Python module"),
    ],
)
def test_bad_predictor_references(work: Path, predictor: str, message: str) -> None:
    r = sddr("refine", "a.png", "-o", "out", "--predictor", predictor, cwd=work)
    assert r.returncode == 1
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (work / "out").exists()  # no empty folder left behind


def test_options_for_registered_predictors_are_refused(work: Path) -> None:
    r = sddr("refine", "a.png", "-o", "out", "--predictor", "simulated", "--kind", "depth",
             cwd=work)  # fmt: skip
    assert r.returncode == 1 and "--native-resolution and --kind" in r.stderr


def test_same_stems_get_distinct_outputs_and_failures_are_reported(work: Path) -> None:
    r = sddr("refine", "a.png", "a.jpg", "sub/a.png", "a.png", "broken.png", "-o", "out",
             "--predictor", "mypreds.py:predict", "--refiner", "poisson", "--preview",
             cwd=work)  # fmt: skip
    assert r.returncode == 1  # one input failed
    names = sorted(p.name for p in (work / "out").iterdir())
    stems = (f"{work.name}_a_png", "sub_a_png", "a_jpg")
    assert names == sorted(f"{s}_depth{t}.png" for s in stems for t in ("", "_preview"))
    assert "1 of 4 input(s) failed" in r.stderr and "broken.png" in r.stderr
    assert "given more than once" in r.stdout
    assert "Traceback" not in r.stderr


def test_predictor_exceptions_are_reported_not_raised(work: Path) -> None:
    r = sddr("refine", "a.png", "-o", "out", "--predictor", "mypreds.py:boom",
             "--refiner", "poisson", cwd=work)  # fmt: skip
    assert r.returncode == 1
    assert "ZeroDivisionError" in r.stderr and "Traceback" not in r.stderr
    assert not (work / "out").exists()


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("a.png", "is an existing file"),
        ("a.png/inside", "is a file, not a folder"),
    ],
)
def test_unusable_output_folders(work: Path, out: str, message: str) -> None:
    before = (work / "a.png").read_bytes()
    r = sddr("refine", "a.png", "-o", out, "--predictor", "mypreds.py:predict", cwd=work)
    assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr
    assert (work / "a.png").read_bytes() == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_folder(work: Path) -> None:
    locked = work / "locked"
    locked.mkdir(mode=0o500)
    r = sddr("refine", "a.png", "-o", "locked/out", "--predictor", "mypreds.py:predict",
             cwd=work)  # fmt: skip
    assert r.returncode == 1 and "permission denied" in r.stderr


def test_folder_as_image_and_as_refiner(work: Path) -> None:
    r = sddr("refine", "sub", "-o", "out", "--predictor", "mypreds.py:predict", cwd=work)
    assert r.returncode == 1 and "is a folder, not an image" in r.stderr
    r = sddr("refine", "a.png", "-o", "out", "--predictor", "mypreds.py:predict",
             "--refiner", "sub", cwd=work)  # fmt: skip
    assert r.returncode == 1 and "is a folder" in r.stderr and "Traceback" not in r.stderr


def test_huge_image_is_refused_with_the_option_to_raise_the_limit(work: Path) -> None:
    r = sddr("refine", "a.png", "-o", "out", "--predictor", "mypreds.py:predict",
             "--max-pixels", "1000", cwd=work)  # fmt: skip
    assert r.returncode == 1
    assert "--max-pixels" in r.stderr and "Mpx" in r.stderr and "Traceback" not in r.stderr


def test_fuse_files_and_folders(work: Path) -> None:
    rng = np.random.default_rng(0)
    low = rng.random((20, 28)).astype(np.float32) + 1
    high = rng.random((40, 56)).astype(np.float32) + 1
    np.save(work / "low.npy", low)
    Image.fromarray((high * 30000).astype(np.uint16)).save(work / "high.png")
    r = sddr("fuse", "low.npy", "high.png", "-o", "fused", "--refiner", "poisson",
             "--format", "npy", "--image", "a.png", "--preview", cwd=work)  # fmt: skip
    assert r.returncode == 0, r.stderr
    fused = np.load(work / "fused" / "low_fused.npy")
    assert fused.shape == (40, 56) and np.isfinite(fused).all()
    assert (work / "fused" / "low_fused_preview.png").is_file()

    for d in ("L", "H"):
        (work / d).mkdir()
    for name in ("f1", "f2"):
        np.save(work / "L" / f"{name}.npy", low)
        np.save(work / "H" / f"{name}.npy", high)
    np.save(work / "H" / "lonely.npy", high)
    r = sddr("fuse", "L", "H", "-o", "seq", "--refiner", "poisson", "--kind", "depth",
             cwd=work)  # fmt: skip
    assert r.returncode == 1  # lonely.npy has no partner, reported at the end
    assert sorted(p.name for p in (work / "seq").iterdir()) == ["f1_fused.png", "f2_fused.png"]
    assert "lonely.npy has no match" in r.stderr


def test_fuse_keeps_low_in_the_holes_of_high(work: Path) -> None:
    yy, xx = np.mgrid[0:40, 0:56].astype(np.float32)
    high = 1.0 + xx / 56 + (yy > 20)
    low = high[::2, ::2].copy()
    high[5:15, 5:15] = np.nan  # a stereo matcher's hole, kept as NaN in the file
    np.save(work / "low.npy", low)
    np.save(work / "high.npy", high)
    r = sddr("fuse", "low.npy", "high.npy", "-o", "fused", "--refiner", "poisson",
             "--format", "npy", cwd=work)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "holes (high 4.5%)" in r.stdout
    fused = np.load(work / "fused" / "low_fused.npy")
    assert fused.shape == (40, 56) and np.isfinite(fused).all()


def test_fuse_invalid_value_marks_holes(work: Path) -> None:
    yy, xx = np.mgrid[0:40, 0:56].astype(np.float32)
    high = (1000 + 400 * xx / 56 + 500 * (yy > 20)).astype(np.uint16)
    np.save(work / "low.npy", high[::2, ::2].astype(np.float32))
    high[5:15, 5:15] = 0  # a stereo tool's "no match"
    Image.fromarray(high).save(work / "high.png")
    r = sddr("fuse", "low.npy", "high.png", "-o", "a", "--refiner", "poisson", "--format",
             "npy", "--invalid", "0", cwd=work)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "holes (high 4.5%)" in r.stdout
    assert np.load(work / "a" / "low_fused.npy")[5:15, 5:15].min() > 900  # not pulled to 0
    r = sddr("fuse", "low.npy", "high.png", "-o", "b", "--refiner", "poisson", cwd=work)
    assert r.returncode == 0 and "holes" not in r.stdout  # 0 is a valid far disparity
    np.save(work / "zeros.npy", np.zeros((20, 28), np.float32))
    r = sddr("fuse", "zeros.npy", "high.png", "-o", "c", "--invalid", "0", cwd=work)
    assert r.returncode == 1 and "no valid pixel" in r.stderr and "--invalid" in r.stderr
