"""Exporting checkpoints: float16 copies and the mean of several runs (a model soup)."""

import json

import pytest
import torch

from sddr_core.errors import OutputExistsError, WeightsError
from sddr_core.models.band_fusion import create_band_model
from sddr_core.refiners.network import read_checkpoint, save_refiner
from sddr_core.train.export import average_checkpoints, export_checkpoint, main


def _saved(tmp_path, name, variant="bandfusion-tiny", seed=0):
    torch.manual_seed(seed)
    model = create_band_model(variant)
    return save_refiner(model, tmp_path / f"{name}.safetensors", meta={"training": name}), model


def test_export_writes_float16_with_metadata(tmp_path):
    src, model = _saved(tmp_path, "a")
    out = export_checkpoint(src, tmp_path / "out.safetensors")
    back, meta = read_checkpoint(out)
    assert meta["precision"] == "float16" and meta["exported_from"] == "a.safetensors"
    assert meta["training"] == "a"
    for k, v in model.state_dict().items():
        assert back.state_dict()[k].dtype == v.dtype  # loaded back as float32
        torch.testing.assert_close(back.state_dict()[k], v.half().to(v.dtype))
    assert out.stat().st_size < src.stat().st_size


def test_average_is_the_elementwise_mean(tmp_path):
    saved = [_saved(tmp_path, n, seed=s) for n, s in (("a", 0), ("b", 1), ("c", 2))]
    paths, models = [p for p, _ in saved], [m for _, m in saved]
    avg, meta = average_checkpoints(paths)
    assert json.loads(meta["averaged_from"]) == ["a.safetensors", "b.safetensors", "c.safetensors"]
    some_differ = False
    for k, v in avg.state_dict().items():
        stack = torch.stack([m.state_dict()[k].double() for m in models])
        torch.testing.assert_close(v.double(), stack.mean(0), rtol=1e-6, atol=1e-7)
        some_differ |= not torch.equal(stack[0], stack[1])
    assert some_differ  # the runs really had different weights

    out = export_checkpoint(paths, tmp_path / "soup.safetensors", fp16=False)
    back, meta = read_checkpoint(out)
    assert meta["exported_from"] == "a.safetensors, b.safetensors, c.safetensors"
    for k, v in back.state_dict().items():
        torch.testing.assert_close(v, avg.state_dict()[k])


def test_average_refuses_different_architectures(tmp_path):
    a, _ = _saved(tmp_path, "a", variant="bandfusion-tiny")
    b, _ = _saved(tmp_path, "b", variant="bandfusion-s")
    with pytest.raises(WeightsError, match="different networks"):
        average_checkpoints([a, b])


def test_repeated_file_names_are_recorded_as_paths(tmp_path):
    paths = []
    for i in range(2):
        (tmp_path / f"run{i}").mkdir()
        torch.manual_seed(i)
        paths.append(
            save_refiner(
                create_band_model("bandfusion-tiny"), tmp_path / f"run{i}" / "last.safetensors"
            )
        )
    out = export_checkpoint(paths, tmp_path / "soup.safetensors")
    meta = read_checkpoint(out)[1]
    assert json.loads(meta["averaged_from"]) == [str(p) for p in paths]
    assert meta["exported_from"] == ", ".join(str(p) for p in paths)


def test_export_never_overwrites_unless_asked(tmp_path):
    src, _ = _saved(tmp_path, "a")
    dst = tmp_path / "out.safetensors"
    dst.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        export_checkpoint(src, dst)
    assert dst.read_bytes() == b"keep me"
    export_checkpoint(src, dst, overwrite=True)
    assert read_checkpoint(dst)[1]["precision"] == "float16"


def test_command_line_averages_and_reports_errors(tmp_path, capsys):
    a, _ = _saved(tmp_path, "a", seed=0)
    b, _ = _saved(tmp_path, "b", seed=1)
    soup = tmp_path / "soup.safetensors"
    assert main([str(a), str(b), str(soup), "--meta", "run=soup", "--meta", "training=a=b"]) == 0
    assert "wrote" in capsys.readouterr().out
    meta = read_checkpoint(soup)[1]
    assert meta["run"] == "soup" and meta["training"] == "a=b"
    with pytest.raises(SystemExit):
        main([str(a), str(tmp_path / "y.safetensors"), "--meta", "no-equals"])
    assert "KEY=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "missing.safetensors"), str(tmp_path / "x.safetensors")])
    assert exc.value.code == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()
