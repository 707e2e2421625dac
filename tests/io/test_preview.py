"""Previews: colour maps, near-is-bright, side-by-side figures, image files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sddr_core.errors import InputError, OutputExistsError, ShapeError, UnsupportedFormatError
from sddr_core.io import COLORMAPS, colorize, side_by_side, write_image


def _ramp(n: int = 64) -> np.ndarray:
    """(8, n) map increasing left to right from 1 to 10."""
    return np.tile(np.linspace(1.0, 10.0, n, dtype=np.float32), (8, 1))


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ [0.299, 0.587, 0.114]


@pytest.mark.parametrize("cmap", ["turbo", "INFERNO", "Magma", "viridis", "gray", "jet"])
def test_colorize_dtype_and_shape(cmap) -> None:
    rgb = colorize(_ramp(), cmap=cmap)
    assert rgb.dtype == np.uint8 and rgb.shape == (8, 64, 3)
    assert rgb.flags.c_contiguous
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 10  # really a colour ramp


def test_colormaps_listing() -> None:
    assert {"gray", "turbo", "inferno", "magma", "viridis"} <= set(COLORMAPS)
    assert all(name == name.lower() for name in COLORMAPS)


@pytest.mark.parametrize(
    ("kind", "near_col"),
    [("depth", 0), ("disparity", -1)],  # depth: smallest value is near; disparity: largest
)
def test_near_is_bright(kind, near_col) -> None:
    far_col = -1 - near_col
    bright = _gray(colorize(_ramp(), cmap="gray", kind=kind))
    assert bright[0, near_col] > bright[0, far_col] + 200
    dark = _gray(colorize(_ramp(), cmap="gray", kind=kind, near_is_bright=False))
    assert dark[0, near_col] < dark[0, far_col] - 200


def test_near_is_warm_in_turbo() -> None:
    rgb = colorize(_ramp(), cmap="turbo", kind="depth").astype(int)
    near, far = rgb[0, 0], rgb[0, -1]
    assert near[0] > near[2]  # red beats blue at the near end (RGB order, not BGR)
    assert far[2] > far[0]


def test_invalid_pixels_black_and_percentiles_robust() -> None:
    depth = _ramp()
    depth[0, 5] = np.nan
    depth[1, 7] = np.inf
    depth[2, 9] = 1e6  # one outlier must not squash the colour range
    valid = np.ones(depth.shape, bool)
    valid[3, 11] = False
    rgb = colorize(depth, cmap="gray", valid=valid)
    for y, x in [(0, 5), (1, 7), (3, 11)]:
        assert (rgb[y, x] == 0).all()
    gray = _gray(rgb)
    assert gray[4, -1] > 250 and gray[4, 0] < 5  # full range still used by ordinary pixels
    assert gray[4, 32] == pytest.approx(127, abs=10)


def test_degenerate_maps() -> None:
    assert (colorize(np.full((3, 4), np.nan)) == 0).all()
    const = colorize(np.full((3, 4), 2.0), cmap="gray")
    assert (const == const[0, 0]).all() and 100 < const[0, 0, 0] < 155


def test_colorize_accepts_torch() -> None:
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(colorize(torch.from_numpy(_ramp())[None]), colorize(_ramp()))


def test_colorize_errors() -> None:
    with pytest.raises(InputError, match="turbo"):  # the message lists the choices
        colorize(_ramp(), cmap="rainbowz")
    with pytest.raises(InputError, match="disparity"):
        colorize(_ramp(), kind="height")
    with pytest.raises(InputError, match="percentiles"):
        colorize(_ramp(), percentiles=(99, 1))
    with pytest.raises(ShapeError):
        colorize(np.zeros((4, 4, 3)))
    with pytest.raises(ShapeError, match="valid"):
        colorize(_ramp(), valid=np.ones((2, 2), bool))


def test_side_by_side_layout() -> None:
    image = np.full((40, 60, 3), 200, dtype=np.uint8)
    depth_rgb = colorize(np.random.default_rng(0).random((20, 20)))
    fig = side_by_side([image, depth_rgb], ["input", "refined"])
    assert fig.dtype == np.uint8 and fig.ndim == 3 and fig.shape[2] == 3
    strip = fig.shape[0] - 40
    assert strip > 0
    assert fig.shape[1] == 60 + 4 + 40  # depth panel scaled 20 -> 40 px, 4 px gap
    assert (fig[strip:, :60] == 200).all()  # first panel untouched below its title
    title = fig[:strip, :60]
    assert title.min() < 100 and title.max() == 255  # dark text on white


def test_side_by_side_height_and_no_titles() -> None:
    a = np.zeros((30, 30), dtype=np.uint8)
    b = np.ones((60, 90, 4), dtype=np.uint8)
    c = np.full((10, 10, 3), 0.5, dtype=np.float32)
    fig = side_by_side([a, b, c], height=20)
    assert fig.shape == (20, 20 + 4 + 30 + 4 + 20, 3)
    assert fig[:, -20:].mean() == pytest.approx(128, abs=1)


def test_side_by_side_errors() -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(InputError):
        side_by_side([])
    with pytest.raises(InputError, match="title"):
        side_by_side([img, img], ["one"])
    with pytest.raises(InputError, match="colorize"):
        side_by_side([img, np.zeros((8, 8), np.float32)])
    with pytest.raises(InputError, match="height"):
        side_by_side([img], height=0)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".JPEG"])
def test_write_image_round_trip_and_overwrite(tmp_path, ext) -> None:
    rgb = colorize(_ramp())
    path = tmp_path / "sub" / f"fig{ext}"
    out = write_image(path, rgb)
    with Image.open(out) as im:
        assert im.mode == "RGB" and im.size == (64, 8)
        back = np.asarray(im)
    if ext == ".png":
        np.testing.assert_array_equal(back, rgb)
    else:
        assert np.abs(back.astype(int) - rgb).mean() < 8
    with pytest.raises(OutputExistsError, match="overwrite"):
        write_image(path, rgb)
    write_image(path, np.zeros_like(rgb), overwrite=True)
    with Image.open(out) as im:
        assert np.asarray(im).max() < 10
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_write_image_errors(tmp_path) -> None:
    rgb = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(UnsupportedFormatError, match=r"\.png"):
        write_image(tmp_path / "x.bmp", rgb)
    with pytest.raises(InputError, match="uint8"):
        write_image(tmp_path / "x.png", rgb.astype(np.float32))
    with pytest.raises(InputError, match="alpha"):
        write_image(tmp_path / "x.jpg", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ShapeError):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 2), np.uint8))
    assert list(tmp_path.iterdir()) == []
