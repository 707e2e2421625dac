"""Batch helpers: distinct output names, each file once, all-or-nothing writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sddr_core.cli.batch import Batch, dedupe, output_stems, write_outputs
from sddr_core.errors import OutputExistsError


def test_output_stems_are_distinct_and_keep_unique_names() -> None:
    paths = [Path("x/a.png"), Path("x/a.jpg"), Path("y/a.png"), Path("b.png"), Path("x/A.PNG")]
    stems = output_stems(paths)
    assert stems[3] == "b"
    assert len({s.lower() for s in stems}) == len(stems)
    assert stems[1] == "a_jpg" and stems[0] == "x_a_png" and stems[2] == "y_a_png"


def test_dedupe_finds_the_same_file_under_two_spellings(tmp_path: Path) -> None:
    f = tmp_path / "a.png"
    f.write_bytes(b"x")
    unique, repeated = dedupe([f, tmp_path / "." / "a.png", tmp_path / "b.png"])
    assert unique == [f, tmp_path / "b.png"] and repeated == [tmp_path / "." / "a.png"]


def test_write_outputs_is_all_or_nothing(tmp_path: Path) -> None:
    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt  # an interrupt between the depth map and its preview

    depth, preview = tmp_path / "d.npy", tmp_path / "p.png"
    with pytest.raises(KeyboardInterrupt):
        write_outputs([(depth, lambda t: t.write_bytes(b"d")), (preview, fail)], overwrite=False)
    assert list(tmp_path.iterdir()) == []  # neither file, no temporary left
    write_outputs([(depth, lambda t: t.write_bytes(b"d"))], overwrite=False)
    with pytest.raises(OutputExistsError):
        write_outputs([(preview, lambda t: t.write_bytes(b"p")), (depth, lambda t: None)],
                      overwrite=False)  # fmt: skip
    assert not preview.exists() and depth.read_bytes() == b"d"


def test_batch_removes_the_folder_it_created_when_nothing_was_written(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper"
    with Batch(out) as batch:
        assert out.is_dir()
        assert batch.run("x", lambda: 1 / 0, lambda _: None) is None
    assert not (tmp_path / "new").exists()
    assert batch.failures[0][0] == "x" and "ZeroDivisionError" in batch.failures[0][1]
    assert batch.finish(1) == 1
