"""``load_dataset(spec)``: the --dataset forms and their errors; the Sample contract."""

import sys

import numpy as np
import pytest

from sddr_core.datasets.base import Dataset, Sample, SampleList, load_dataset
from sddr_core.datasets.folder import FolderDataset
from sddr_core.datasets.middlebury import MiddleburyDataset
from sddr_core.datasets.motorcycle import MotorcycleDataset
from sddr_core.errors import InputError, ShapeError
from sddr_core.io.depth import write_depth


def test_specs(tmp_path, make_scene, write_rgb_file, gt_map):
    make_scene(tmp_path / "mb" / "Toy")
    write_rgb_file(tmp_path / "fl", "a")
    write_depth(tmp_path / "fl" / "depth" / "a.npy", gt_map(1.0))
    assert isinstance(load_dataset("motorcycle"), MotorcycleDataset)
    assert isinstance(load_dataset(f"middlebury:{tmp_path / 'mb'}"), MiddleburyDataset)
    assert isinstance(load_dataset(f"folder:{tmp_path / 'fl'}"), FolderDataset)
    assert isinstance(load_dataset(str(tmp_path / "mb")), MiddleburyDataset)  # detected
    assert isinstance(load_dataset(tmp_path / "fl"), FolderDataset)
    for ds in (load_dataset("motorcycle"), load_dataset(tmp_path / "fl")):
        assert isinstance(ds, Dataset)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("kitti", "neither a known dataset"),
        ("folder:", "lacks its argument"),
        ("procedural:many", "number of scenes"),
        ("procedural:0", "at least one"),
        ("motorcycle:x", "takes no argument"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(InputError, match=message):
        load_dataset(spec)


def test_undetectable_folder(tmp_path):
    with pytest.raises(InputError, match="cannot tell the layout"):
        load_dataset(tmp_path)


def test_procedural(monkeypatch):
    pytest.importorskip("sddr_core.datasets.procedural")
    ds = load_dataset("procedural:2")
    assert len(ds) == 2
    first = next(iter(ds))
    assert isinstance(first, Sample) and first.valid.all()
    monkeypatch.setitem(sys.modules, "sddr_core.datasets.procedural", None)
    with pytest.raises(InputError, match="this build does not have"):
        load_dataset("procedural:2")


def test_sample_contract():
    gt = np.array([[1.0, np.inf], [0.0, 2.0]], np.float32)
    s = Sample(np.zeros((2, 2, 3), np.uint8), gt, "depth", np.ones((2, 2), bool), {"name": "x"})
    assert s.valid.tolist() == [[True, False], [False, True]]
    assert np.isnan(s.gt[0, 1]) and np.isnan(s.gt[1, 0])
    assert s.gt_as("disparity")[1, 1] == pytest.approx(0.5)
    with pytest.raises(ShapeError):
        Sample(np.zeros((2, 3, 3)), gt, "depth", np.ones((2, 2), bool))
    with pytest.raises(InputError, match="gt_kind"):
        Sample(np.zeros((2, 2, 3)), gt, "height", np.ones((2, 2), bool))
    with pytest.raises(InputError, match="unique"):
        SampleList([s, s])
