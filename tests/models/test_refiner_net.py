"""SDDRNet: shapes, dtypes, aspect ratios, determinism, invariances, budget."""

from __future__ import annotations

import math

import pytest
import torch

from sddr_core.errors import ShapeError, UnknownNameError
from sddr_core.models import (
    CONFIGS,
    SDDRConfig,
    SDDRNet,
    count_flops,
    count_parameters,
    create_model,
)
from sddr_core.models.interaction import position_encoding_2d

PAPER_PARAMS = 16.8e6
PAPER_GFLOPS = 16.7


pytestmark = pytest.mark.usefixtures("fast_cpu_torch")


def tiny(seed: int = 0) -> SDDRNet:
    torch.manual_seed(seed)
    return SDDRNet(SDDRConfig.tiny()).eval()


def scene(b: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    base = 1.0 + 2.0 * (xx > w // 2).float() + 0.01 * yy.float()
    low = base + 0.05 * torch.randn(b, 1, h, w, generator=g)
    high = 3.0 * base + 1.0 + 0.2 * torch.randn(b, 1, h, w, generator=g)
    return low, high


@pytest.mark.parametrize("shape", [(96, 160), (160, 96), (64, 64)])
def test_forward_shapes_dtype_finite(shape):
    h, w = shape
    low, high = scene(2, h, w)
    with torch.inference_mode():
        out = tiny()(low, high)
    assert out["depth"].shape == (2, 1, h, w)
    assert out["depth"].dtype == torch.float32
    assert torch.isfinite(out["depth"]).all()
    assert out["edges"].shape == (2, 1, h, w)
    assert len(out["omegas"]) == 6
    for i, omega in enumerate(out["omegas"]):
        assert omega.shape == (2, 1, math.ceil(h / 2 ** (i + 1)), math.ceil(w / 2 ** (i + 1)))
        assert omega.min() >= 0 and omega.max() <= 1
    assert [tuple(s.shape[-2:]) for s in out["side"]] == [(h // 2, w // 2), (h // 4, w // 4)]
    assert all(torch.isfinite(s).all() for s in out["side"])


@pytest.mark.parametrize("shape", [(32, 32), (64, 224), (224, 64), (50, 70), (33, 97)])
def test_any_size_keeps_shape(shape):
    low, high = scene(1, *shape)
    with torch.inference_mode():
        out = tiny()(low, high, edges=False)
    assert out["depth"].shape == (1, 1, *shape)
    assert "edges" not in out
    assert torch.isfinite(out["depth"]).all()


def test_deterministic_on_cpu():
    low, high = scene(1, 96, 160)
    with torch.inference_mode():
        a = tiny(3)(low, high)["depth"]
        b = tiny(3)(low, high)["depth"]
        net = tiny(3)
        c, d = net(low, high)["depth"], net(low, high)["depth"]
    assert torch.equal(a, b) and torch.equal(c, d) and torch.equal(a, c)


def test_output_follows_low_scale_and_shift():
    """Inputs are normalised inside: rescaling low rescales the output, rescaling high does
    nothing (up to float rounding)."""
    low, high = scene(1, 64, 96)
    net = tiny()
    with torch.inference_mode():
        ref = net(low, high, edges=False)["depth"]
        moved = net(2.5 * low - 4.0, 0.1 * high + 7.0, edges=False)["depth"]
    torch.testing.assert_close(moved, 2.5 * ref - 4.0, atol=1e-4, rtol=1e-4)


def test_output_depends_on_both_inputs():
    low, high = scene(1, 64, 96)
    net = tiny()
    with torch.inference_mode():
        a = net(low, high, edges=False)["depth"]
        b = net(low, torch.flip(high, dims=[-1]), edges=False)["depth"]
    assert not torch.allclose(a, b)


def test_batch_items_are_independent():
    low, high = scene(3, 64, 96)
    net = tiny()
    with torch.inference_mode():
        batch = net(low, high)["depth"]
        single = torch.cat([net(low[i : i + 1], high[i : i + 1])["depth"] for i in range(3)])
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=1e-5)


def test_gradients_reach_every_parameter():
    low, high = scene(2, 64, 64)
    net = tiny().train()
    out = net(low, high)
    loss = out["depth"].mean() + out["edges"].mean()
    loss = loss + sum(s.mean() for s in out["side"]) + sum(o.mean() for o in out["omegas"])
    loss.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing


def test_shape_errors():
    net = tiny()
    with pytest.raises(ShapeError, match="same"):
        net(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 64))
    with pytest.raises(ShapeError):
        net(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))


def test_constant_low_gives_finite_output():
    low = torch.full((1, 1, 32, 64), 5.0)
    high = torch.rand(1, 1, 32, 64)
    with torch.inference_mode():
        out = tiny()(low, high)
    assert torch.isfinite(out["depth"]).all()
    assert torch.allclose(out["depth"], torch.full_like(out["depth"], 5.0), atol=1e-3)


def test_config_round_trip_and_validation():
    for cfg in CONFIGS.values():
        assert SDDRConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        SDDRConfig.from_dict({**SDDRConfig().to_dict(), "colour": 3})
    with pytest.raises(ValueError, match="depths"):
        SDDRConfig(depths=(2, 2))
    with pytest.raises(ValueError, match="divisible"):
        SDDRConfig(num_heads=(3, 2, 5, 8))
    assert create_model("sddr-tiny").config == SDDRConfig.tiny()
    assert create_model(SDDRConfig.tiny().to_dict()).config == SDDRConfig.tiny()
    with pytest.raises(UnknownNameError):
        create_model("sddr-b9")


def test_position_encoding_any_size():
    for h, w in ((1, 1), (3, 5), (8, 8), (16, 12)):
        pe = position_encoding_2d(h, w, 16)
        assert pe.shape == (h * w, 16)
        assert torch.isfinite(pe).all() and pe.abs().max() <= 1.0
    pe = position_encoding_2d(4, 6, 32)
    assert torch.unique(pe, dim=0).shape[0] == 24  # every cell distinct
    with pytest.raises(ValueError):
        position_encoding_2d(4, 4, 30)


def test_default_config_runs_small_input():
    torch.manual_seed(0)
    net = SDDRNet().eval()
    low, high = scene(1, 64, 96)
    with torch.inference_mode():
        out = net(low, high)
    assert out["depth"].shape == (1, 1, 64, 96) and torch.isfinite(out["depth"]).all()


def test_default_budget_within_paper():
    """Measured, not estimated: parameters, and FLOPs at exactly 1024² (meta device)."""
    net = SDDRNet()
    params = count_parameters(net)
    assert params == net.num_parameters()
    assert params <= PAPER_PARAMS
    fc = count_flops(net, 1024)
    assert fc.macs * 2 == fc.flops
    # Within the paper's 16.7 G whether its "GFLOPs" are multiply-adds or FLOPs.
    assert fc.gmacs <= PAPER_GFLOPS
    assert fc.gflops <= PAPER_GFLOPS
    assert fc.gmacs > 1.0  # sanity: the counter saw the convolutions and matmuls
    # non-square sizes count too, and cost grows with area
    assert count_flops(net, 512, 1024).flops < fc.flops


def test_mixed_precision_runs():
    """bfloat16 autocast on the CPU stands in for the CUDA autocast of the refiner: the
    dtype mixing inside the network works and outputs stay float32 and close."""
    low, high = scene(2, 64, 96)
    net = tiny()
    with torch.inference_mode():
        ref = net(low, high)["depth"]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(low, high)
    assert out["depth"].dtype == torch.float32 and torch.isfinite(out["depth"]).all()
    assert all(o.dtype == torch.float32 for o in out["omegas"] + out["side"])
    assert (out["depth"] - ref).abs().max() < 0.05 * ref.std()
