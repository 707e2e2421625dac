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


def test_checkpoint_whose_header_length_starts_with_0x80_is_not_a_pickle(tmp_path: Path) -> None:
    """A safetensors file begins with its header's length; when that length's first byte is
    0x80 (the pickle PROTO opcode) it is still a checkpoint (found by a GPU run's file)."""
    import pickle

    from sddr_core.models.band_fusion import create_band_model
    from sddr_core.refiners.network import save_refiner

    model = create_band_model("bandfusion-tiny")
    for pad in range(0, 400):
        path = save_refiner(model, tmp_path / f"m{pad}.safetensors", meta={"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no padding gave a header length starting with 0x80")
    assert sddr_core.load_refiner(path).name
    raw = tmp_path / "raw.safetensors"
    raw.write_bytes(pickle.dumps({"w": 1}, protocol=2))  # a legacy raw pickle still is one
    with pytest.raises(WeightsError, match="pickle"):
        read_checkpoint(raw)


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
