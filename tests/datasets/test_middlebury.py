"""Middlebury scenes: calib.txt parsing and disparity -> depth in millimetres, by hand."""

import numpy as np
import pytest

from sddr_core.datasets.middlebury import (
    MiddleburyDataset,
    find_scenes,
    load_scene,
    read_calib,
)
from sddr_core.errors import InputError, ShapeError

CALIB_2021 = """cam0=[1000 0 30.5; 0 1000 20.5; 0 0 1]
cam1=[1000 0 30.5; 0 1000 20.5; 0 0 1]
doffs=0
baseline=100.5
width=60
height=40
ndisp=120
vmin=10
vmax=110
"""


def test_read_calib_2014(tmp_path, make_scene):
    path = make_scene(tmp_path / "s") / "calib.txt"
    calib = read_calib(path)
    assert calib["cam0"].shape == (3, 3)
    assert calib["cam0"][0, 0] == 1000.0 and calib["cam1"][0, 2] == 80.5
    assert calib["doffs"] == 50 and calib["baseline"] == 200 and calib["ndisp"] == 120
    assert calib["dyavg"] == pytest.approx(0.1)


def test_disparity_to_depth_by_hand(tmp_path, make_scene):
    sample = load_scene(make_scene(tmp_path / "Toy-perfect"))
    # Z = baseline * f / (d + doffs) = 200 * 1000 / (100 + 50) and 200 * 1000 / (150 + 50)
    assert sample.gt_kind == "depth" and sample.gt.dtype == np.float32
    assert sample.gt[5, 5] == pytest.approx(1333.3334, rel=1e-6)
    assert sample.gt[5, 45] == pytest.approx(1000.0, rel=1e-6)
    assert np.isnan(sample.gt[0, :3]).all()
    assert not sample.valid[0, :3].any() and sample.valid.sum() == 40 * 60 - 3
    assert sample.rgb.shape == (40, 60, 3)
    meta = sample.meta
    assert meta["name"] == "Toy-perfect" and meta["units"] == "mm"
    assert meta["calib_format"] == "2014" and meta["disparity_file"] == "disp0.pfm"
    assert (meta["focal"], meta["baseline"], meta["doffs"]) == (1000.0, 200.0, 50.0)


def test_2021_layout_and_disp0gt(tmp_path, make_scene):
    sample = load_scene(make_scene(tmp_path / "artroom", CALIB_2021, disp_name="disp0GT.pfm"))
    # doffs = 0: Z = 100.5 * 1000 / 100
    assert sample.gt[5, 5] == pytest.approx(1005.0, rel=1e-6)
    assert sample.meta["calib_format"] == "2021"
    assert sample.meta["disparity_file"] == "disp0GT.pfm"


def test_resized_scene_scales_focal_and_doffs(tmp_path, make_scene):
    # calib.txt describes a 120 px wide original; the files are 60 px wide.
    sample = load_scene(make_scene(tmp_path / "half", width=120))
    # f = 500, doffs = 25: Z = 200 * 500 / (100 + 25)
    assert sample.gt[5, 5] == pytest.approx(800.0, rel=1e-6)
    assert sample.meta["calib_scale"] == 0.5


def test_root_of_scenes_and_unique_names(tmp_path, make_scene):
    make_scene(tmp_path / "trainingF" / "Adirondack")
    make_scene(tmp_path / "trainingF" / "Motorcycle")
    make_scene(tmp_path / "trainingH" / "Motorcycle", width=120)
    (tmp_path / "not-a-scene").mkdir()
    assert len(find_scenes(tmp_path)) == 3
    ds = MiddleburyDataset(tmp_path)
    assert len(ds) == 3
    assert ds.names == [
        "trainingF_Adirondack",
        "trainingF_Motorcycle",
        "trainingH_Motorcycle",
    ]
    assert [s.name for s in ds] == ds.names
    single = MiddleburyDataset(tmp_path / "trainingF")
    assert single.names == ["Adirondack", "Motorcycle"]


def test_errors(tmp_path, make_scene):
    with pytest.raises(InputError, match="no Middlebury scene"):
        MiddleburyDataset(tmp_path)
    bad = make_scene(tmp_path / "bad")
    (bad / "calib.txt").write_text("width=60\n")
    with pytest.raises(InputError, match="cam0"):
        load_scene(bad)
    small = make_scene(tmp_path / "small", disp=np.ones((20, 30), np.float32))
    with pytest.raises(ShapeError, match="image's size"):
        load_scene(small)
