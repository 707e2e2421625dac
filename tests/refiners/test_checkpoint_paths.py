"""``load_refiner`` / ``read_checkpoint`` from Python on paths that are not sddr checkpoints:
pickles are explained (never unpickled), folders named, missing files answered in the
caller's syntax."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import sddr_core
from sddr_core.errors import InputError, WeightsError, command_line_syntax
from sddr_core.refiners.network import read_checkpoint


def _pickle(path: Path) -> Path:
    torch.save({"w": torch.zeros(3)}, path)
    return path


@pytest.mark.parametrize("name", ["model.pt", "model.pth", "disguised.safetensors"])
def test_pickle_checkpoint_is_explained_not_called_corrupt(tmp_path: Path, name: str) -> None:
    path = _pickle(tmp_path / name)
    for load in (sddr_core.load_refiner, read_checkpoint):
        with pytest.raises(WeightsError, match="pickle") as info:
            load(path)
        msg = str(info.value)
        assert "weights_only=True" in msg and "save_refiner" in msg
        assert "corrupt" not in msg


def test_bare_pickle_name_in_the_current_folder_is_a_path(tmp_path: Path, monkeypatch) -> None:
    _pickle(tmp_path / "x.pt")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsError, match="pickle"):
        sddr_core.load_refiner("x.pt")


def test_missing_checkpoint_names_the_poisson_option_in_the_callers_syntax(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "gone.safetensors"
    with pytest.raises(WeightsError, match=r"not found.*refiner='poisson'"):
        sddr_core.load_refiner(missing)
    with command_line_syntax(), pytest.raises(WeightsError) as info:
        read_checkpoint(missing)
    assert "--refiner poisson" in str(info.value) and "refiner='poisson'" not in str(info.value)


def test_folder_is_called_a_folder(tmp_path: Path) -> None:
    (tmp_path / "ckpts").mkdir()
    (tmp_path / "ckpts" / "a.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match=r"is a folder.*a\.safetensors"):
        read_checkpoint(tmp_path / "ckpts")
