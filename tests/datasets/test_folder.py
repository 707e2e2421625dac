"""The generic folder layout, with every ground-truth format."""

import numpy as np
import pytest
from PIL import Image

from sddr_core.datasets.folder import FolderDataset
from sddr_core.errors import InputError, ShapeError
from sddr_core.io.depth import _opencv_exr_works, write_depth

H, W = 24, 32
EXR = pytest.param(
    "exr",
    marks=pytest.mark.skipif(
        not _opencv_exr_works(), reason="this OpenCV build cannot write OpenEXR"
    ),
)


@pytest.mark.parametrize("ext", ["png", EXR, "npy", "pfm", "tif"])
def test_each_depth_format(tmp_path, ext, write_rgb_file, gt_map):
    write_rgb_file(tmp_path, "a")
    write_depth(tmp_path / "depth" / f"a.{ext}", gt_map(3.0))
    ds = FolderDataset(tmp_path)
    assert len(ds) == 1 and ds.names == ["a"]
    (sample,) = list(ds)
    assert sample.gt_kind == "depth" and sample.name == "a"
    assert sample.rgb.shape == (H, W, 3)
    tol = 1e-3 if ext == "png" else 1e-6  # 16-bit PNG quantises
    assert sample.gt[5, 2] == pytest.approx(3.0, abs=tol)
    assert sample.gt[5, W - 1] == pytest.approx(6.0, abs=tol)
    assert np.isnan(sample.gt[0, 0]) and not sample.valid[0, 0]
    assert sample.valid.sum() == H * W - 1


def test_disparity_folder_mask_and_jpg(tmp_path, write_rgb_file, gt_map):
    write_rgb_file(tmp_path, "b", "jpg")
    write_rgb_file(tmp_path, "c")
    write_depth(tmp_path / "disparity" / "b.npy", gt_map(0.5))
    write_depth(tmp_path / "depth" / "c.pfm", gt_map(2.0))
    mask = np.zeros((H, W), np.uint8)
    mask[:, :10] = 255
    (tmp_path / "mask").mkdir()
    Image.fromarray(mask).save(tmp_path / "mask" / "b.png")
    ds = FolderDataset(tmp_path)
    b, c = list(ds)
    assert (b.name, b.gt_kind, c.name, c.gt_kind) == ("b", "disparity", "c", "depth")
    assert b.valid.sum() == H * 10 - 1  # mask and the NaN pixel
    assert c.valid.sum() == H * W - 1 and "mask" not in c.meta


def test_folder_errors(tmp_path, write_rgb_file, gt_map):
    with pytest.raises(InputError, match="rgb/"):
        FolderDataset(tmp_path)
    write_rgb_file(tmp_path, "a")
    with pytest.raises(InputError, match="no ground truth"):
        FolderDataset(tmp_path)
    write_depth(tmp_path / "depth" / "a.npy", gt_map(1.0))
    write_depth(tmp_path / "disparity" / "a.npy", gt_map(1.0))
    with pytest.raises(InputError, match="both"):
        FolderDataset(tmp_path)
    (tmp_path / "disparity" / "a.npy").unlink()
    (tmp_path / "depth" / "a.npy").unlink()
    write_depth(tmp_path / "depth" / "a.npy", np.ones((H, W + 2), np.float32))
    with pytest.raises(ShapeError, match="image's size"):
        list(FolderDataset(tmp_path))


def test_sddr_png_kind_must_match_folder(tmp_path, write_rgb_file, gt_map):
    write_rgb_file(tmp_path, "a")
    write_depth(tmp_path / "depth" / "a.png", gt_map(1.0), kind="disparity")
    with pytest.raises(InputError, match="move it to disparity/"):
        list(FolderDataset(tmp_path))
