"""Training configs and the sample pool."""

from pathlib import Path

import numpy as np
import pytest

from sddr_core.errors import InputError
from sddr_core.train.config import DataConfig, TrainingConfig, load_config
from sddr_core.train.data import SamplePool


def test_builtin_configs_are_package_data_and_resolve_by_name(tmp_path, monkeypatch):
    from sddr_core.train.config import CONFIG_DIR, builtin_configs, resolve_config

    monkeypatch.chdir(tmp_path)  # nothing named like a config here
    names = builtin_configs()
    assert {"tiny", "default", "default_stage2", "bandfusion", "ablation/grad"} <= set(names)
    assert CONFIG_DIR.parent.name == "sddr_core"
    for spelling in ("tiny", "tiny.toml", "configs/tiny.toml"):
        assert resolve_config(spelling) == CONFIG_DIR / "tiny.toml"
    (tmp_path / "tiny").write_text("[train]\nsteps = 1\n")  # a file of that name wins
    assert resolve_config("tiny") == Path("tiny")
    with pytest.raises(InputError, match=r"neither a file nor a built-in.*ablation/grad"):
        resolve_config("tiyn")
    with pytest.raises(InputError, match="is a folder"):
        resolve_config(tmp_path)


@pytest.mark.parametrize(
    "name",
    [
        "tiny",
        "default",
        "default_stage2",
        *(f"ablation/{v}" for v in ("gt_only", "grad", "fusion", "all")),
        "experiments/stage3_range_labels",
    ],
)
def test_shipped_configs_load(name):
    cfg = load_config(name)  # built-in configs by name, from any folder
    assert cfg.train.steps >= cfg.train.gt_only_steps >= 0
    assert cfg.model_config().name in ("sddr-tiny", "sddr-b0")


def test_overrides_and_yaml(tmp_path):
    cfg = load_config("tiny", {"train.lr": 0.01, "data.crop": 96})
    assert cfg.train.lr == 0.01 and cfg.data.crop == 96
    pytest.importorskip("yaml")
    y = tmp_path / "c.yaml"
    y.write_text("model:\n  variant: sddr-tiny\ntrain:\n  steps: 3\n  gt_only_steps: 1\n")
    cfg = load_config(y)
    assert cfg.train.steps == 3 and cfg.model.variant == "sddr-tiny"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[train]\nstep = 3\n", "unknown key"),
        ("[trian]\nsteps = 3\n", "unknown section"),
        ("[train]\nsteps = 'many'\n", "integer"),
        ("[model]\nvariant = 'huge'\n", "unknown model variant"),
        ("[train]\nlabel_levels = [2, 3]\nlabel_overlaps = [0.2]\n", "overlap"),
        ("[data]\ncrop = 16\n", "crop"),
    ],
)
def test_bad_configs_say_what_is_wrong(tmp_path, text, words):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(InputError, match=words):
        load_config(p)


def test_missing_config():
    with pytest.raises(InputError, match="not found"):
        load_config("no/such/config.toml")


def test_pool_batches_and_restores_exactly():
    data = DataConfig(crop=48, pool_size=3, native_range=(0.4, 0.6))
    pool = SamplePool(data, TrainingConfig(batch_size=2), seed=1)
    pool.fill()
    s = pool.samples[0]
    assert s.low.shape == s.high.shape == s.gt.shape == (48, 48)
    # the low input is blurrier than the high one
    assert np.abs(np.diff(s.low, axis=1)).max() < np.abs(np.diff(s.high, axis=1)).max()
    batch = pool.batch(2, labels=False)
    assert batch["low"].shape == (2, 1, 48, 48) and batch["mask"].dtype.is_floating_point is False
    state = pool.state()
    other = SamplePool(data, TrainingConfig(batch_size=2), seed=1)
    other.restore(state)
    for a, b in zip(pool.samples, other.samples, strict=True):
        np.testing.assert_array_equal(a.low, b.low)
        np.testing.assert_array_equal(a.gt, b.gt)
    replaced = pool.refresh(0.5)
    assert len(replaced) == 2 and pool.next_scene == 5


def test_pool_mixes_in_a_folder_of_real_ground_truth(tmp_path):
    """A folder with depth maps only (no rgb/) is a training source: crops of it, with the
    simulated predictor; unknown pixels stay NaN and out of the mask."""
    (tmp_path / "depth").mkdir()
    for i in range(2):
        d = 1.0 + np.random.default_rng(i).random((70, 90)).astype(np.float32)
        d[:5, :5] = 0.0  # unknown
        np.save(tmp_path / "depth" / f"s{i}.npy", d)
    data = DataConfig(crop=48, pool_size=4, folders=[str(tmp_path)], folder_fraction=1.0)
    from sddr_core.train.data import open_folder

    pool = SamplePool(data, TrainingConfig(batch_size=2), seed=0, folders=[open_folder(tmp_path)])
    pool.fill()
    assert all(s.spec.source == "folder:0" for s in pool.samples)
    batch = pool.batch(4, labels=False)
    assert batch["gt"].shape == (4, 1, 48, 48)
    assert bool(batch["mask"].all()) or not bool(batch["mask"].all())  # NaN-free where masked
    assert not batch["gt"][batch["mask"]].isnan().any()
    with pytest.raises(InputError, match="nothing to train on"):
        open_folder(tmp_path / "depth")


def test_cli_set_values_are_parsed_as_toml():
    from sddr_core.cli.train_cmd import _parse_set

    got = _parse_set(["train.lr=1e-4", "data.native_range=[0.3, 1.0]", "run.name=abc"])
    assert got == {"train.lr": 1e-4, "data.native_range": [0.3, 1.0], "run.name": "abc"}
    with pytest.raises(InputError, match=r"SECTION\.KEY=VALUE"):
        _parse_set(["lr=1"])
