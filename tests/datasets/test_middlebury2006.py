"""Middlebury 2006 loader: file decoding by hand on tiny synthetic scenes, the split, the spec."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sddr_core.datasets import load_dataset
from sddr_core.datasets.base import SampleList
from sddr_core.datasets.middlebury2006 import (
    MIDDLEBURY2006_FAMILIES,
    MIDDLEBURY2006_SPLIT,
    find_scenes_2006,
    load_middlebury2006,
    load_scene_2006,
    scene_family,
)
from sddr_core.errors import InputError, ShapeError

from helpers import write_middlebury2006_scene as write_scene

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "middlebury2006"
H, W = 12, 20


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with every scene of the split (tiny and synthetic)."""
    base = tmp_path / "midd2006"
    for i, name in enumerate(MIDDLEBURY2006_SPLIT["train"] + MIDDLEBURY2006_SPLIT["val"]):
        write_scene(base / name, seed=i)
    return base


def test_scene_decoding_by_hand(tmp_path):
    folder = write_scene(tmp_path / "baby1")
    s = load_scene_2006(folder)
    assert s.rgb.dtype == np.uint8 and s.rgb.shape == (H, W, 3)
    assert s.gt_kind == "disparity" and s.gt.dtype == np.float32
    assert s.gt[5, 2] == pytest.approx(10.0) and s.gt[5, W - 1] == pytest.approx(20.0)
    assert np.isnan(s.gt[0, 0]) and not s.valid[0, 0] and s.valid.sum() == H * W - 1
    np.testing.assert_array_equal(s.rgb, np.asarray(Image.open(folder / "view1.png")))
    m = s.meta
    assert m["name"] == "baby1" and m["scene"] == "baby1" and m["family"] == "baby"
    assert m["path"] == str(folder) and m["view"] == "left" and m["units"] == "px"
    np.testing.assert_array_equal(m["right"], np.asarray(Image.open(folder / "view5.png")))
    assert m["right"].dtype == np.uint8
    assert m["gt_right"][5, 5] == pytest.approx(31 / 3) and np.isnan(m["gt_right"][1, :3]).all()
    assert m["gt_left"] is not None and "scene: baby1" in m["provenance"]


def test_right_view(tmp_path):
    folder = write_scene(tmp_path / "rocks1")
    s = load_scene_2006(folder, view="right")
    np.testing.assert_array_equal(s.rgb, s.meta["right"])
    assert s.gt[5, 5] == pytest.approx(31 / 3) and s.meta["view"] == "right"
    with pytest.raises(InputError, match="view"):
        load_scene_2006(folder, view="middle")


def test_missing_file_and_size_mismatch(tmp_path):
    folder = write_scene(tmp_path / "wood1")
    (folder / "disp5.png").unlink()
    with pytest.raises(InputError, match=r"disp5\.png"):
        load_scene_2006(folder)
    write_scene(tmp_path / "wood2")
    Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(tmp_path / "wood2" / "disp1.png")
    with pytest.raises(ShapeError, match="one size"):
        load_scene_2006(tmp_path / "wood2")


def test_rgb_disparity_file_rejected(tmp_path):
    folder = write_scene(tmp_path / "midd1")
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(folder / "disp1.png")
    with pytest.raises(InputError, match="8-bit"):
        load_scene_2006(folder)


def test_split_keeps_families_whole_and_covers_the_shared_scenes():
    train, val = set(MIDDLEBURY2006_SPLIT["train"]), set(MIDDLEBURY2006_SPLIT["val"])
    assert len(val) == 6 and len(train) == 14 and not train & val
    assert {scene_family(s) for s in train}.isdisjoint({scene_family(s) for s in val})
    for family, members in MIDDLEBURY2006_FAMILIES.items():
        sides = {("val" if m in val else "train") for m in members if m in train | val}
        assert len(sides) <= 1, family
        assert all(scene_family(m) == family for m in members)


def test_load_all_and_splits(root):
    ds = load_middlebury2006(root)
    assert isinstance(ds, SampleList) and len(ds) == 20 and ds.name == "middlebury2006"
    assert ds.names == sorted(ds.names)
    val = load_middlebury2006(root, "val")
    assert val.names == MIDDLEBURY2006_SPLIT["val"] and val.name == "middlebury2006-val"
    some = load_middlebury2006(root, ["ROCKS2", "baby1"])
    assert some.names == ["rocks2", "baby1"]
    with pytest.raises(InputError, match="nosuch"):
        load_middlebury2006(root, ["nosuch"])
    with pytest.raises(InputError, match="split name"):
        load_middlebury2006(root, "test")


def test_split_needs_its_scenes(tmp_path):
    write_scene(tmp_path / "r" / "baby1")
    with pytest.raises(InputError, match="bowling1"):
        load_middlebury2006(tmp_path / "r", "val")


def test_empty_or_missing_root(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_middlebury2006(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no Middlebury 2006 scene"):
        load_middlebury2006(tmp_path / "empty")


def test_one_scene_folder_as_root(tmp_path):
    folder = write_scene(tmp_path / "plastic")
    assert find_scenes_2006(folder) == [folder]
    assert load_middlebury2006(folder).names == ["plastic"]


def test_spec_and_detection(root):
    ds = load_dataset(f"middlebury2006:{root}@val")
    assert ds.names == MIDDLEBURY2006_SPLIT["val"] and ds.name == "middlebury2006-val"
    assert len(load_dataset(f"middlebury2006:{root}@train")) == 14
    assert len(load_dataset(f"middlebury2006:{root}@all")) == 20
    assert len(load_dataset(f"middlebury2006:{root}")) == 20
    detected = load_dataset(str(root))  # a bare PATH: layout detected
    assert len(detected) == 20 and detected.name == "middlebury2006"
    with pytest.raises(InputError, match="unknown split"):
        load_dataset(f"middlebury2006:{root}@test")
    with pytest.raises(InputError, match="lacks the folder"):
        load_dataset("middlebury2006:@val")


def test_path_with_at_sign(tmp_path):
    write_scene(tmp_path / "a@b" / "cloth1")
    assert load_dataset(f"middlebury2006:{tmp_path / 'a@b'}").names == ["cloth1"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared Middlebury 2006 folder is absent")
def test_real_shared_folder():
    ds = load_dataset(f"middlebury2006:{SHARED}@val")
    assert ds.names == MIDDLEBURY2006_SPLIT["val"]
    s = ds.sample(0)  # bowling1: 417x370, disparity 3.333 .. 76.667 px (provenance.txt)
    assert s.shape == (370, 417) and s.rgb.dtype == np.uint8
    assert np.nanmin(s.gt) == pytest.approx(10 / 3, abs=1e-4)
    assert np.nanmax(s.gt) == pytest.approx(230 / 3, abs=1e-4)
    assert 0.95 < s.valid.mean() < 0.99
    # left/right ground truth agree: the right disparity at x - d matches (within 1 px)
    ys, xs = np.nonzero(s.valid)
    xr = np.round(xs - s.gt[ys, xs]).astype(int)
    keep = xr >= 0
    dr = s.meta["gt_right"][ys[keep], xr[keep]]
    agree = np.abs(dr - s.gt[ys[keep], xs[keep]]) <= 1.0
    assert np.nanmean(agree) > 0.85
    assert len(load_dataset(str(SHARED))) == 20
