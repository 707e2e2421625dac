"""Input-file checks shared by the image and depth readers (sddr_core.io.files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sddr_core.errors import InputError
from sddr_core.io.files import check_input_file


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def test_a_non_empty_file_passes(tmp_path: Path) -> None:
    f = tmp_path / "a.png"
    f.write_bytes(b"x")
    check_input_file(f, "an image file")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.png", r"Image file not found: '.*missing\.png' does not exist"),
        (lambda d: d, r"is a folder, not an image file\. Pass its files"),
        (lambda d: _empty(d / "e.png"), r"is empty \(0 bytes\)"),
    ],
)
def test_each_refusal_names_the_file_and_what_to_do(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError, match=message):
        check_input_file(path, "an image file", folder_hint="Pass its files.")
