"""Writers of tiny datasets on disk, shared by the dataset tests (as fixtures)."""

import numpy as np
import pytest
from PIL import Image

from sddr_core.io.depth import write_depth

H, W = 24, 32

CALIB_2014 = """cam0=[1000 0 30.5; 0 1000 20.5; 0 0 1]
cam1=[1000 0 80.5; 0 1000 20.5; 0 0 1]
doffs=50
baseline=200
width={width}
height=40
ndisp=120
isint=0
vmin=10
vmax=110
dyavg=0.1
dymax=0.3
"""


def middlebury_disparity() -> np.ndarray:
    """40x60 disparity: 100 px on the left half, 150 px on the right, three unknown pixels."""
    d = np.full((40, 60), 100.0, dtype=np.float32)
    d[:, 30:] = 150.0
    d[0, 0] = np.inf  # unknown in Middlebury files
    d[0, 1] = 0.0  # unknown too
    d[0, 2] = np.nan
    return d


def write_middlebury_scene(folder, calib=CALIB_2014, width=60, disp_name="disp0.pfm", disp=None):
    """A Middlebury scene folder: im0.png, a disparity PFM and calib.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(folder / "im0.png")
    write_depth(folder / disp_name, middlebury_disparity() if disp is None else disp)
    (folder / "calib.txt").write_text(calib.format(width=width))
    return folder


def write_rgb(root, name, ext="png"):
    """rgb/NAME.ext of the folder layout, HxW noise."""
    (root / "rgb").mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    Image.fromarray(img).save(root / "rgb" / f"{name}.{ext}")


def two_level_gt(value: float) -> np.ndarray:
    """HxW ground truth: ``value`` on the left half, twice it on the right, NaN at (0, 0)."""
    gt = np.full((H, W), value, dtype=np.float32)
    gt[:, W // 2 :] = 2 * value
    gt[0, 0] = np.nan
    return gt


@pytest.fixture
def make_scene():
    """``make_scene(folder, calib=CALIB_2014, width=60, disp_name="disp0.pfm", disp=None)``."""
    return write_middlebury_scene


@pytest.fixture
def write_rgb_file():
    """``write_rgb_file(root, name, ext="png")``."""
    return write_rgb


@pytest.fixture
def gt_map():
    """``gt_map(value)``: see :func:`two_level_gt`."""
    return two_level_gt
