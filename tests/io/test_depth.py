"""Depth map files: round trips for every format, PNG16 quantisation, errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import sddr_core
from sddr_core.errors import InputError, OutputExistsError, ShapeError, UnsupportedFormatError
from sddr_core.io import DEPTH_FORMATS, DepthFile, read_depth, write_depth
from sddr_core.io.depth import _opencv_exr_works

EXR_OK = _opencv_exr_works()
needs_exr = pytest.mark.skipif(not EXR_OK, reason="this OpenCV build cannot write OpenEXR")
FLOAT_FORMATS = [
    ".npy",
    ".pfm",
    ".tif",
    ".tiff",
    pytest.param(".exr", marks=needs_exr),
]


@pytest.fixture
def ramp() -> np.ndarray:
    """A non-square float32 map with distinct values and a negative part, (5, 7)."""
    rng = np.random.default_rng(0)
    return (rng.random((5, 7)) * 12.5 - 2.0).astype(np.float32)


def test_formats_table() -> None:
    assert set(DEPTH_FORMATS) == {".png", ".exr", ".npy", ".pfm", ".tif", ".tiff"}
    assert all(isinstance(v, str) and v for v in DEPTH_FORMATS.values())


@pytest.mark.parametrize("ext", FLOAT_FORMATS)
def test_float_formats_round_trip_exactly(tmp_path, ramp, ext) -> None:
    ramp[1, 2] = np.nan
    ramp[3, 4] = np.inf
    out = write_depth(tmp_path / f"d{ext}", ramp)
    assert out.is_absolute() and out.exists()
    got = read_depth(out)
    assert isinstance(got, DepthFile)
    assert got.depth.dtype == np.float32 and got.depth.shape == (5, 7)
    np.testing.assert_array_equal(got.depth, ramp)  # NaN == NaN here, inf kept
    assert got.kind is None and got.meta == {}


def test_png16_round_trip_within_one_level(tmp_path, ramp) -> None:
    out = write_depth(tmp_path / "d.png", ramp, kind="disparity", meta={"model": "x", "f": 2.5})
    got = read_depth(out)
    lo, hi = float(ramp.min()), float(ramp.max())
    assert got.depth.dtype == np.float32 and got.depth.shape == ramp.shape
    assert np.abs(got.depth - ramp).max() <= (hi - lo) / 65535
    assert got.depth.min() == pytest.approx(lo, abs=1e-6)
    assert got.depth.max() == pytest.approx(hi, abs=1e-6)
    assert got.kind == "disparity"
    assert got.meta == {"model": "x", "f": 2.5}


def test_png16_is_really_16_bit(tmp_path, ramp) -> None:
    out = write_depth(tmp_path / "d.png", ramp)
    with Image.open(out) as im:
        assert im.mode.startswith("I;16")
        assert im.info["sddr:min"] == repr(float(ramp.min()))
        assert im.info["sddr:version"] == sddr_core.__version__
    raw = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.ndim == 2
    assert raw.min() == 1 and raw.max() == 65535  # min..max spans the whole code range
    assert len(np.unique(raw)) == ramp.size  # distinct values stay distinct


def test_png16_nan_and_inf_become_invalid(tmp_path, ramp) -> None:
    ramp[0, 0] = np.nan
    ramp[2, 3] = -np.inf
    out = write_depth(tmp_path / "d.png", ramp)
    raw = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert raw[0, 0] == 0 and raw[2, 3] == 0
    assert (raw > 0).sum() == ramp.size - 2
    with Image.open(out) as im:
        assert im.info["sddr:invalid"] == "2"
    got = read_depth(out).depth
    assert np.isnan(got[0, 0]) and np.isnan(got[2, 3])
    finite = np.isfinite(ramp)
    span = float(ramp[finite].max() - ramp[finite].min())
    assert np.abs(got[finite] - ramp[finite]).max() <= span / 65535


def test_png16_constant_map(tmp_path) -> None:
    depth = np.full((4, 6), 3.25, dtype=np.float32)
    with np.errstate(all="raise"):  # no division by zero anywhere
        got = read_depth(write_depth(tmp_path / "c.png", depth)).depth
    np.testing.assert_array_equal(got, depth)


def test_png16_all_invalid(tmp_path) -> None:
    got = read_depth(write_depth(tmp_path / "n.png", np.full((3, 3), np.nan))).depth
    assert np.isnan(got).all()


def test_png_without_sddr_metadata(tmp_path) -> None:
    raw16 = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000).astype(np.uint16)
    Image.fromarray(raw16).save(tmp_path / "raw16.png")
    got = read_depth(tmp_path / "raw16.png")
    np.testing.assert_array_equal(got.depth, raw16.astype(np.float32))
    assert got.kind is None and got.meta == {}

    raw8 = np.array([[0, 51, 255]], dtype=np.uint8)
    Image.fromarray(raw8).save(tmp_path / "raw8.png")
    np.testing.assert_allclose(read_depth(tmp_path / "raw8.png").depth, [[0.0, 0.2, 1.0]])


def test_multichannel_inputs_take_first_channel(tmp_path) -> None:
    rgb = np.zeros((3, 4, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 255, 0, 51
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    np.testing.assert_allclose(read_depth(tmp_path / "rgb.png").depth, np.ones((3, 4)))

    hwc = np.stack([np.full((2, 5), 7.0), np.zeros((2, 5))], axis=-1).astype(np.float32)
    np.save(tmp_path / "hwc.npy", hwc)
    np.testing.assert_array_equal(read_depth(tmp_path / "hwc.npy").depth, np.full((2, 5), 7.0))

    chw = np.stack([np.full((6, 5), 2.0), np.zeros((6, 5))]).astype(np.float32)
    np.save(tmp_path / "chw.npy", chw)
    np.testing.assert_array_equal(read_depth(tmp_path / "chw.npy").depth, np.full((6, 5), 2.0))


def test_pfm_is_standard_and_reads_color_pfm(tmp_path, ramp) -> None:
    out = write_depth(tmp_path / "d.pfm", ramp)
    assert out.read_bytes().startswith(b"Pf\n7 5\n-1\n")
    # OpenCV's own PFM decoder agrees with ours (rows bottom-to-top, little endian).
    np.testing.assert_array_equal(cv2.imread(str(out), cv2.IMREAD_UNCHANGED), ramp)

    # 3-channel big-endian "PF", written by hand: the first channel comes back.
    color = np.stack([ramp, ramp + 100, ramp - 100], axis=-1)
    data = b"PF\n7 5\n1.0\n" + np.ascontiguousarray(color[::-1], dtype=">f4").tobytes()
    (tmp_path / "c.pfm").write_bytes(data)
    np.testing.assert_array_equal(read_depth(tmp_path / "c.pfm").depth, ramp)


def test_tiff_is_32_bit_float(tmp_path, ramp) -> None:
    out = write_depth(tmp_path / "d.TIF", ramp)  # extension case does not matter
    with Image.open(out) as im:
        assert im.mode == "F"
    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).dtype == np.float32


@pytest.mark.parametrize("ext", [".png", ".npy", ".pfm", ".tif"])
def test_overwrite_refused_then_allowed(tmp_path, ramp, ext) -> None:
    path = tmp_path / f"d{ext}"
    write_depth(path, ramp)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        write_depth(path, ramp + 1)
    assert path.read_bytes() == before  # untouched
    write_depth(path, ramp + 1, overwrite=True)
    np.testing.assert_allclose(read_depth(path).depth, ramp + 1, atol=1e-3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp files left


def test_creates_parent_folders(tmp_path, ramp) -> None:
    out = write_depth(tmp_path / "a" / "b" / "d.npy", ramp)
    assert out.exists()


def test_accepts_torch_tensor_and_singleton_axes(tmp_path, ramp) -> None:
    tensor = torch.from_numpy(ramp)[None, None]  # (1, 1, H, W)
    got = read_depth(write_depth(tmp_path / "t.npy", tensor)).depth
    np.testing.assert_array_equal(got, ramp)
    got = read_depth(write_depth(tmp_path / "f64.pfm", ramp.astype(np.float64))).depth
    np.testing.assert_array_equal(got, ramp)


def test_unknown_extension_lists_supported(tmp_path, ramp) -> None:
    with pytest.raises(UnsupportedFormatError, match=r"\.png.*\.pfm"):
        write_depth(tmp_path / "d.bmp", ramp)
    with pytest.raises(UnsupportedFormatError, match="no extension"):
        write_depth(tmp_path / "d", ramp)
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(UnsupportedFormatError, match=r"\.exr"):
        read_depth(tmp_path / "x.jpg")
    assert not (tmp_path / "d.bmp").exists()


def test_bad_arrays_and_metadata(tmp_path) -> None:
    with pytest.raises(ShapeError, match=r"\(H, W\)"):
        write_depth(tmp_path / "d.npy", np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ShapeError, match="empty"):
        write_depth(tmp_path / "d.npy", np.zeros((0, 3), np.float32))
    with pytest.raises(InputError, match="real numbers"):
        write_depth(tmp_path / "d.npy", np.zeros((2, 2), bool))
    with pytest.raises(InputError, match="meta"):
        write_depth(tmp_path / "d.png", np.zeros((2, 2)), meta={"a": [1, 2]})
    with pytest.raises(InputError, match="kind"):
        write_depth(tmp_path / "d.png", np.zeros((2, 2)), kind=3)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_names_the_path(tmp_path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(InputError, match=r"nope\.png") as info:
        read_depth(missing)
    assert "not found" in str(info.value)


@pytest.mark.parametrize("ext", [".png", ".exr", ".pfm", ".npy", ".tif"])
def test_corrupt_file(tmp_path, ext) -> None:
    path = tmp_path / f"x{ext}"
    path.write_bytes(b"this is not a depth map \x00\x01\x02" * 8)
    with pytest.raises(InputError, match=f"x\\{ext}"):  # UnsupportedFormatError is an InputError
        read_depth(path)


def test_truncated_pfm(tmp_path, ramp) -> None:
    path = write_depth(tmp_path / "t.pfm", ramp)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(InputError, match="truncated"):
        read_depth(path)


@pytest.mark.skipif(EXR_OK, reason="this OpenCV build can write OpenEXR")
def test_exr_unavailable_says_how_to_fix(tmp_path, ramp) -> None:
    with pytest.raises(UnsupportedFormatError, match=r"OpenEXR.*\.pfm") as info:
        write_depth(tmp_path / "d.exr", ramp)
    assert "OpenCV" in str(info.value)
    assert not (tmp_path / "d.exr").exists()


def test_atomic_write_no_clobber_race_and_cleanup(tmp_path) -> None:
    from sddr_core.errors import SddrError
    from sddr_core.io import atomic_write

    target = tmp_path / "out.bin"

    def sneaky(fh) -> None:  # another process creates the file while we write
        target.write_bytes(b"theirs")
        fh.write(b"ours")

    with pytest.raises(OutputExistsError, match="appeared"):
        atomic_write(target, sneaky)
    assert target.read_bytes() == b"theirs"

    def failing(fh) -> None:
        fh.write(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_write(target, failing, overwrite=True)
    assert target.read_bytes() == b"theirs"  # the old file survives a failed write
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temp file left

    with pytest.raises(InputError, match="folder"):
        atomic_write(tmp_path, lambda fh: None, overwrite=True)
    (tmp_path / "blocker").write_bytes(b"")
    with pytest.raises(SddrError, match="Cannot create the folder"):
        atomic_write(tmp_path / "blocker" / "x.bin", lambda fh: None)


@pytest.mark.parametrize("ext", [".npy", ".pfm", ".png", ".exr", ".tif"])
def test_empty_file_is_named_as_empty(tmp_path, ext) -> None:
    path = tmp_path / f"d{ext}"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty \(0 bytes\)"):
        read_depth(path)
