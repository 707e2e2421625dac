"""Image loading: the pixel limit (sddr's, not Pillow's), folders and unreadable files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from sddr_core.errors import ImageTooLargeError, InputError, command_line_syntax
from sddr_core.io.images import MAX_PIXELS_ENV, load_image, max_pixels


def test_huge_array_is_refused_before_any_conversion(monkeypatch) -> None:
    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    # 20000 x 20000 x 3 bytes, never touched: broadcast_to allocates nothing
    huge = np.broadcast_to(np.zeros(1, np.uint8), (20000, 20000, 3))
    with pytest.raises(ImageTooLargeError) as info:
        load_image(huge)
    message = str(info.value)
    assert "20000x20000" in message and "max_pixels=" in message and MAX_PIXELS_ENV in message
    with command_line_syntax(), pytest.raises(ImageTooLargeError, match="--max-pixels 400000000"):
        load_image(huge)


def test_limit_follows_the_environment(monkeypatch, tmp_path) -> None:
    path = tmp_path / "img.png"
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(path)
    monkeypatch.setenv(MAX_PIXELS_ENV, "1000")
    assert max_pixels() == 1000
    with pytest.raises(ImageTooLargeError, match="50x40"):
        load_image(path)
    monkeypatch.setenv(MAX_PIXELS_ENV, "2000")
    assert load_image(path).shape == (40, 50, 3)
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(InputError, match="not a positive number"):
        max_pixels()


def test_pillow_bomb_limit_gives_way_to_sddrs(monkeypatch, tmp_path) -> None:
    path = tmp_path / "img.jpg"
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow would raise/warn on this file
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning reaches the user
        assert load_image(path).shape == (40, 50, 3)
    assert Image.MAX_IMAGE_PIXELS == 100  # Pillow's global is restored


def test_folder_is_named_as_a_folder(tmp_path) -> None:
    with pytest.raises(InputError, match="is a folder, not an image file"):
        load_image(tmp_path)


def test_empty_file_is_named_as_empty(tmp_path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty \(0 bytes\)"):
        load_image(path)
