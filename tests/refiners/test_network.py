"""The network refiner: the Refiner protocol, checkpoints, loading by name/path, fallback."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import sddr_core
from sddr_core.errors import InputError, OutputExistsError, ShapeError, WeightsError
from sddr_core.hookspecs import hookimpl
from sddr_core.models import SDDRConfig, SDDRNet
from sddr_core.plugins import temporary_plugin
from sddr_core.refiners import network
from sddr_core.refiners.base import Refiner
from sddr_core.refiners.network import (
    NetworkRefiner,
    checkpoint_spec,
    load_network,
    load_refiner,
    max_side_for_memory,
    read_checkpoint,
    save_refiner,
)
from sddr_core.refiners.poisson import PoissonRefiner
from sddr_core.registry import create_refiner, default_refiner_name, get_refiner_spec

pytestmark = pytest.mark.usefixtures("fast_cpu_torch")


def tiny_net(seed: int = 0) -> SDDRNet:
    torch.manual_seed(seed)
    return SDDRNet(SDDRConfig.tiny())


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "tiny.safetensors"
    save_refiner(tiny_net(), path, meta={"training": "nothing (test)", "epochs": 0})
    return path


@pytest.fixture
def no_default(tmp_path, monkeypatch):
    monkeypatch.setattr(network, "DEFAULT_CHECKPOINT", tmp_path / "absent.safetensors")
    monkeypatch.delenv("SDDR_WEIGHTS_DIR", raising=False)


def maps(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = (1.0 + 2.0 * (xx > w / 2) + 0.01 * yy).astype(np.float32)
    low = base + rng.normal(0, 0.02, (h, w)).astype(np.float32)
    high = 2 * base + rng.normal(0, 0.1, (h, w)).astype(np.float32)
    return low, high


# -- the Refiner protocol ---------------------------------------------------------------


@pytest.mark.parametrize("shape", [(96, 160), (160, 96), (50, 70), (64, 64)])
def test_fuse_shapes_and_values(ckpt, shape):
    ref = load_network(ckpt, device="cpu")
    low, high = maps(*shape)
    fusion = ref.fuse(low, high)
    assert fusion.depth.shape == shape and fusion.depth.dtype == np.float32
    assert np.isfinite(fusion.depth).all()
    assert fusion.omega.shape == shape and fusion.omega.dtype == np.float32
    assert fusion.omega.min() >= 0.0 and fusion.omega.max() <= 1.0
    # in the scale of the low input, not of the (doubled) high input
    assert abs(np.median(fusion.depth) - np.median(low)) < 0.5


def test_protocol_attributes(ckpt):
    ref = load_network(ckpt, device="cpu")
    assert isinstance(ref, Refiner)
    assert ref.size_multiple == 1 and ref.pad_multiple == 32 and ref.max_working_side >= 512
    assert isinstance(ref.model, SDDRNet) and not ref.model.training
    assert ref.device == torch.device("cpu")
    assert ref.name == "tiny"
    assert "sddr-tiny" in ref.describe() and "nothing (test)" in ref.describe()


def test_fuse_equals_the_model_at_multiples_of_32(ckpt):
    ref = load_network(ckpt, device="cpu")
    low, high = maps(64, 96)
    with torch.inference_mode():
        out = ref.model(torch.from_numpy(low)[None, None], torch.from_numpy(high)[None, None])
    np.testing.assert_allclose(ref.fuse(low, high).depth, out["depth"][0, 0].numpy(), atol=1e-6)


def test_fuse_is_deterministic(ckpt):
    a = load_network(ckpt, device="cpu").fuse(*maps(70, 90))
    b = load_network(ckpt, device="cpu").fuse(*maps(70, 90))
    assert np.array_equal(a.depth, b.depth) and np.array_equal(a.omega, b.omega)


def test_fuse_batch_matches_fuse_in_order(ckpt):
    ref = load_network(ckpt, device="cpu")
    pairs = [maps(64, 96, 0), maps(40, 60, 1), maps(64, 96, 2), maps(64, 96, 3)]
    singles = [ref.fuse(lo, hi).depth for lo, hi in pairs]
    batch = ref.fuse_batch([p[0] for p in pairs], [p[1] for p in pairs])
    assert [f.depth.shape for f in batch] == [s.shape for s in singles]
    for f, s in zip(batch, singles, strict=True):
        np.testing.assert_allclose(f.depth, s, atol=1e-5)
    # a pixel budget smaller than two maps splits the batch; results are unchanged
    ref.max_working_side = 96
    for f, s in zip(
        ref.fuse_batch([p[0] for p in pairs], [p[1] for p in pairs]), singles, strict=True
    ):
        np.testing.assert_allclose(f.depth, s, atol=1e-5)


def test_fuse_rejects_bad_inputs(ckpt):
    ref = load_network(ckpt, device="cpu")
    low, high = maps(32, 32)
    with pytest.raises(ShapeError):
        ref.fuse(low, high[:16])
    with pytest.raises(ShapeError):
        ref.fuse(np.zeros((2, 32, 32), np.float32), np.zeros((2, 32, 32), np.float32))
    bad = high.copy()
    bad[3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        ref.fuse(low, bad)
    shared = tiny_net().train()  # a trainer's model keeps its training mode
    NetworkRefiner(shared, device="cpu").fuse(low, high)
    assert shared.training
    with pytest.raises(InputError, match="precision"):
        NetworkRefiner(tiny_net(), device="cpu", precision="fp8")


def test_max_working_side_from_memory():
    assert max_side_for_memory(None) == 2048
    assert max_side_for_memory(64 * 2**30) == 2048
    assert max_side_for_memory(1) == 512
    mid = max_side_for_memory(2 * 2**30)
    assert 512 < mid < 2048 and mid % 32 == 0
    assert mid**2 * network.BYTES_PER_PIXEL <= 2**30  # half of the free memory


# -- checkpoints --------------------------------------------------------------------------


def test_round_trip(ckpt):
    model, meta = read_checkpoint(ckpt)
    original = tiny_net()
    for (k, a), (k2, b) in zip(
        original.state_dict().items(), model.state_dict().items(), strict=True
    ):
        assert k == k2 and torch.equal(a, b)
    assert model.config == SDDRConfig.tiny()
    assert meta["format"] == "sddr-refiner" and meta["architecture"] == "SDDRNet"
    assert json.loads(meta["config"])["name"] == "sddr-tiny"
    assert meta["sddr_version"] == sddr_core.__version__
    assert meta["training"] == "nothing (test)" and meta["epochs"] == "0"


def test_save_refuses_to_overwrite(ckpt):
    with pytest.raises(OutputExistsError):
        save_refiner(tiny_net(1), ckpt)
    save_refiner(load_network(ckpt, device="cpu"), ckpt, overwrite=True)  # a NetworkRefiner
    with pytest.raises(InputError):
        save_refiner(torch.nn.Linear(2, 2), ckpt.with_name("linear.safetensors"))


def _rewrite(src, dst, *, tensors=None, meta_update=None, meta=None):
    t = load_file(str(src)) if tensors is None else tensors
    if meta is None:
        from safetensors import safe_open

        with safe_open(str(src), "pt") as fh:
            meta = dict(fh.metadata())
        meta.update(meta_update or {})
    save_file(t, str(dst), metadata=meta)
    return dst


def test_broken_files_raise_weights_error(ckpt, tmp_path):
    data = ckpt.read_bytes()
    cases = {
        "missing": (tmp_path / "nope.safetensors", "not found"),
        "garbage": (tmp_path / "garbage.safetensors", "corrupt or truncated"),
        "truncated": (tmp_path / "truncated.safetensors", "corrupt or truncated"),
        "empty": (tmp_path / "empty.safetensors", "corrupt or truncated"),
    }
    cases["garbage"][0].write_bytes(b"\x00\x01not a safetensors file" * 50)
    cases["truncated"][0].write_bytes(data[: len(data) // 2])
    cases["empty"][0].write_bytes(b"")
    for path, message in cases.values():
        with pytest.raises(WeightsError, match=message):
            load_refiner(path)


def test_mismatched_files_raise_weights_error(ckpt, tmp_path):
    state = load_file(str(ckpt))
    other = SDDRConfig.tiny().to_dict() | {"stem_channels": [8, 8, 8]}
    cases = [
        (_rewrite(ckpt, tmp_path / "plain.safetensors", meta={}), "not an sddr refiner"),
        (
            _rewrite(ckpt, tmp_path / "arch.safetensors", meta_update={"architecture": "UNet"}),
            "architecture 'UNet'",
        ),
        (
            _rewrite(
                ckpt, tmp_path / "shape.safetensors", meta_update={"config": json.dumps(other)}
            ),
            "wrong shape",
        ),
        (
            _rewrite(ckpt, tmp_path / "cfg.safetensors", meta_update={"config": '{"depth": 3}'}),
            "cannot build",
        ),
        (
            _rewrite(ckpt, tmp_path / "json.safetensors", meta_update={"config": "{oops"}),
            "cannot build",
        ),
        (
            _rewrite(
                ckpt,
                tmp_path / "missing_key.safetensors",
                tensors={k: v for k, v in state.items() if not k.startswith("decoder.head")},
            ),
            "missing: decoder.head",
        ),
        (
            _rewrite(
                ckpt, tmp_path / "extra.safetensors", tensors={**state, "bogus": torch.zeros(1)}
            ),
            "unexpected: bogus",
        ),
        (
            _rewrite(
                ckpt,
                tmp_path / "nan.safetensors",
                tensors={**state, "decoder.head.2.bias": torch.tensor([float("nan")])},
            ),
            "NaN",
        ),
    ]
    for path, message in cases:
        with pytest.raises(WeightsError, match=message):
            read_checkpoint(path)


# -- loading by name, default and fallback ---------------------------------------------------


def test_default_missing_falls_back_to_poisson_with_warning(no_default):
    with pytest.warns(UserWarning, match="weights are missing.*Poisson"):
        ref = load_refiner(None)
    assert isinstance(ref, PoissonRefiner)
    with pytest.warns(UserWarning, match="Poisson"):
        assert isinstance(sddr_core.load_refiner(), PoissonRefiner)
    spec = get_refiner_spec("sddr")
    assert spec.priority == 10 and not spec.available()
    assert default_refiner_name() == "poisson"
    with pytest.raises(WeightsError, match="bundled checkpoint"):
        create_refiner("sddr")


def test_default_present_is_loaded(ckpt, monkeypatch):
    monkeypatch.setattr(network, "DEFAULT_CHECKPOINT", ckpt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = load_refiner()
    assert isinstance(ref, NetworkRefiner) and ref.name == "sddr"
    assert get_refiner_spec("sddr").available()
    assert default_refiner_name() == "sddr"
    assert isinstance(create_refiner(None, device="cpu"), NetworkRefiner)
    assert isinstance(sddr_core.load_refiner("sddr", device="cpu"), NetworkRefiner)


def test_default_found_in_host_weight_folders(ckpt, no_default, tmp_path, monkeypatch):
    folder = tmp_path / "host_models"
    (folder / "sddr_default").mkdir(parents=True)
    (folder / "sddr_default" / "sddr_default.safetensors").write_bytes(ckpt.read_bytes())

    class Host:
        @hookimpl
        def sddr_weight_dirs(self, model_id):
            return [str(folder)] if model_id == "sddr_default" else []

    with temporary_plugin(Host()):
        assert network.default_checkpoint().parent == folder / "sddr_default"
        assert isinstance(load_refiner(device="cpu"), NetworkRefiner)
    env_dir = tmp_path / "env_weights"
    env_dir.mkdir()
    (env_dir / "sddr_default.safetensors").write_bytes(ckpt.read_bytes())
    monkeypatch.setenv("SDDR_WEIGHTS_DIR", str(env_dir))
    assert network.default_checkpoint() == env_dir / "sddr_default.safetensors"
    assert get_refiner_spec("sddr").available()


def test_load_by_registered_name_and_path(ckpt):
    assert isinstance(load_refiner("poisson"), PoissonRefiner)
    assert isinstance(load_refiner(str(ckpt), device="cpu"), NetworkRefiner)
    assert isinstance(load_refiner(ckpt, device="cpu"), NetworkRefiner)
    with pytest.raises(sddr_core.UnknownNameError):
        load_refiner("no-such-refiner")


def test_plugin_registers_a_named_checkpoint(ckpt, no_default):
    class Plugin:
        @hookimpl
        def sddr_register_refiners(self):
            return [checkpoint_spec("test-sddr", ckpt, priority=20, max_working_side=1024)]

    with temporary_plugin(Plugin()):
        ref = load_refiner("test-sddr", device="cpu")
        assert isinstance(ref, NetworkRefiner) and ref.name == "test-sddr"
        assert ref.max_working_side == 1024
        assert default_refiner_name() == "test-sddr"
        result = sddr_core.refine_depths(*maps(48, 64), refiner="test-sddr")
        assert result.info["refiner"] == "test-sddr" and result.depth.shape == (48, 64)
    assert default_refiner_name() == "poisson"
