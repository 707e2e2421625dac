"""The band-fusion network: exact pyramid, anchoring to the low input, save/load."""

import numpy as np
import pytest
import torch

from sddr_core.models.band_fusion import (
    BandFusionNet,
    align_to,
    create_band_model,
    laplacian_pyramid,
    local_clamp,
    reconstruct,
)


def test_pyramid_reconstructs_exactly():
    x = torch.randn(2, 1, 64, 96)
    pyr = laplacian_pyramid(x, 6)
    assert [p.shape[-1] for p in pyr] == [96, 48, 24, 12, 6, 3]
    assert torch.allclose(reconstruct(pyr), x, atol=1e-5)


def test_align_to_recovers_scale_and_shift_and_rejects_inversion():
    t = torch.rand(1, 1, 32, 32)
    aligned, corr = align_to(3 * t - 2, t)
    assert torch.allclose(aligned, t, atol=1e-4) and corr.item() > 0.999
    _, corr = align_to(-t, t)
    assert corr.item() == 0.0


def test_trimmed_alignment_ignores_gross_errors():
    """A high pass right up to scale and shift but for a filled hole (5 % of the map): plain
    least squares is pulled by the hole, the trimmed fit recovers the rest exactly."""
    g = torch.Generator().manual_seed(0)
    t = torch.rand(1, 1, 64, 64, generator=g)
    x = 3 * t - 2
    x[..., 8:22, 8:22] = 10.0  # a hole filled with a wrong constant, 4.8 % of the pixels
    rest = torch.ones_like(t, dtype=torch.bool)
    rest[..., 4:26, 4:26] = False  # away from the hole and its pooling neighbourhood
    plain, corr_plain = align_to(x, t)
    trimmed, corr_trimmed = align_to(x, t, trim=0.1)
    assert (plain - t)[rest].abs().mean() > 0.05
    assert (trimmed - t)[rest].abs().max() < 1e-4
    assert torch.equal(corr_plain, corr_trimmed)  # the agreement is the whole map's
    # on a clean pass the trimmed fit is the plain one
    clean, _ = align_to(3 * t - 2, t, trim=0.1)
    assert torch.allclose(clean, t, atol=1e-4)


def test_trimmed_variant_and_bad_trim():
    from sddr_core.models.band_fusion import BAND_CONFIGS, BandFusionConfig

    cfg = BAND_CONFIGS["bandfusion-sbmr"]
    assert cfg.align_trim == 0.1 and cfg.trust_margin > 0 and cfg.base_trust
    assert BandFusionConfig.from_dict(cfg.to_dict()) == cfg
    assert BandFusionConfig.from_dict({"name": "old", "base_trust": True}).align_trim == 0.0
    with pytest.raises(ValueError, match="align_trim"):
        BandFusionConfig.from_dict({"align_trim": 0.6})


def test_local_clamp_bounds():
    a = torch.zeros(1, 1, 8, 8)
    b = torch.ones(1, 1, 8, 8)
    x = torch.linspace(-1, 2, 64).view(1, 1, 8, 8)
    y = local_clamp(x, [a, b], 1)
    assert y.min() >= 0 and y.max() <= 1


def _zero_trust(model: BandFusionNet) -> BandFusionNet:
    for head in model.heads:
        torch.nn.init.constant_(head[1].bias, -50.0)
    return model


def test_zero_trust_returns_the_low_input_and_full_trust_the_split():
    torch.manual_seed(0)
    low = torch.rand(1, 1, 64, 64) * 5 + 1
    high = torch.rand(1, 1, 64, 64) * 2
    model = _zero_trust(create_band_model("bandfusion-tiny")).eval()
    with torch.no_grad():
        out = model(low, high)
    assert torch.allclose(out["depth"], low, atol=1e-4)
    assert out["omegas"][0].shape == low.shape


def test_output_stays_in_the_local_range_of_its_inputs():
    torch.manual_seed(1)
    low = torch.rand(2, 1, 64, 64)
    high = low + 0.3 * torch.randn(2, 1, 64, 64)
    model = create_band_model("bandfusion-tiny").eval()
    with torch.no_grad():
        out = model(low, high)["depth"]
    assert torch.isfinite(out).all()
    lo = torch.minimum(low.min(), high.min())
    assert out.min() >= lo - 3 * high.std()  # aligned high may shift, never explode


def test_bad_shapes_are_refused():
    from sddr_core.errors import ShapeError

    model = create_band_model("bandfusion-tiny")
    with pytest.raises(ShapeError):
        model(torch.zeros(1, 1, 60, 64), torch.zeros(1, 1, 60, 64))


def test_save_and_load_through_the_refiner(tmp_path):
    from sddr_core.refiners.network import load_refiner, save_refiner

    model = create_band_model("bandfusion-tiny")
    path = save_refiner(model, tmp_path / "bf.safetensors", meta={"training": "test"})
    refiner = load_refiner(path)
    assert type(refiner.model).__name__ == "BandFusionNet"
    low = np.random.default_rng(0).random((50, 70)).astype(np.float32) + 1
    fusion = refiner.fuse(low, low * 2 + 1)
    assert fusion.depth.shape == low.shape and np.isfinite(fusion.depth).all()
    # the same input twice: the output is the low input (both are the same up to scale/shift)
    np.testing.assert_allclose(fusion.depth, low, atol=2e-3)


def test_refiner_runs_a_band_network_channels_last_on_the_cpu_with_the_same_output():
    from sddr_core.refiners.network import NetworkRefiner

    torch.manual_seed(0)
    model = create_band_model("bandfusion-tiny").eval()
    rng = np.random.default_rng(1)
    low = rng.random((64, 96)).astype(np.float32) + 1
    high = low * 2 + 0.1 * rng.random(low.shape).astype(np.float32)
    with torch.inference_mode():  # the model as it was built: contiguous (NCHW) weights
        ref = model(*(torch.from_numpy(m)[None, None] for m in (low, high)), edges=False)
    refiner = NetworkRefiner(model, device="cpu")
    conv = refiner.model.stem.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    np.testing.assert_allclose(refiner.fuse(low, high).depth, ref["depth"][0, 0].numpy(),
                               atol=1e-5)  # fmt: skip


def _tiny_with_base_trust() -> BandFusionNet:
    from sddr_core.models.band_fusion import BandFusionConfig

    return BandFusionNet(BandFusionConfig(name="t", widths=(4, 8, 8, 8, 8), base_trust=True))


def test_base_trust_picks_the_layout_of_either_input():
    torch.manual_seed(2)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    low = (1 + xx + 0.1 * torch.rand(64, 64))[None, None]
    high = (2 * yy + 0.1 * torch.rand(64, 64))[None, None]  # another layout entirely
    model = _zero_trust(_tiny_with_base_trust()).eval()
    torch.nn.init.constant_(model.base_head[1].bias, -50.0)
    with torch.no_grad():
        out = model(low, high)
    assert out["base_omega"].max() < 1e-6
    assert torch.allclose(out["depth"], low, atol=1e-4)
    for head in model.heads:
        torch.nn.init.constant_(head[1].bias, 50.0)
    torch.nn.init.constant_(model.base_head[1].bias, 50.0)
    with torch.no_grad():
        out = model(low, high)
    assert len(out["logits"]) == len(out["omegas"]) + 1  # the base's logit is bounded too
    # full trust everywhere: the high input in the low input's scale, its layout kept
    corr = torch.corrcoef(torch.stack([out["depth"].flatten(), high.flatten()]))[0, 1]
    assert corr > 0.99


def test_init_from_a_checkpoint_without_the_base_head(tmp_path):
    from sddr_core.errors import InputError
    from sddr_core.train.band import _init_weights

    plain = create_band_model("bandfusion-tiny")
    model = _tiny_with_base_trust()
    bias = model.base_head[1].bias.detach().clone()
    _init_weights(model, plain.state_dict())
    assert torch.equal(model.base_head[1].bias, bias)  # the new head keeps its start
    assert torch.equal(model.heads[0][1].weight, plain.heads[0][1].weight)
    with pytest.raises(InputError, match="does not fit"):
        _init_weights(plain, create_band_model("bandfusion-s").state_dict())


def test_base_trust_survives_save_and_load(tmp_path):
    from sddr_core.refiners.network import load_refiner, save_refiner

    path = save_refiner(_tiny_with_base_trust(), tmp_path / "bt.safetensors", meta={})
    refiner = load_refiner(path)
    assert refiner.model.config.base_trust and refiner.model.base_head is not None


def test_keep_low_layout_ignores_the_base_trust(tmp_path):
    """Two-stage windows keep the current estimate's layout (refiner and network)."""
    from sddr_core.inference.two_stage import _fuse_all
    from sddr_core.refiners.network import load_refiner, save_refiner

    torch.manual_seed(3)
    model = _zero_trust(_tiny_with_base_trust()).eval()
    torch.nn.init.constant_(model.base_head[1].bias, 50.0)  # trust the high input's layout
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32) / 64
    low, high = 1 + xx, 1 + xx + 2 * yy  # two layouts, related enough to align
    with torch.no_grad():
        kept = model(
            torch.from_numpy(low)[None, None],
            torch.from_numpy(high)[None, None],
            keep_low_layout=True,
        )
    assert kept["base_omega"] is None
    assert torch.allclose(kept["depth"][0, 0], torch.from_numpy(low), atol=1e-4)
    refiner = load_refiner(save_refiner(model, tmp_path / "bt.safetensors", meta={}))
    free = refiner.fuse_batch([low], [high])[0]
    assert np.abs(free.depth - low).max() > 0.1  # follows high's layout
    assert free.info["layout_from_high"] > 0.99  # and says so
    window = _fuse_all(refiner, [low], [high])[0]
    np.testing.assert_allclose(window.depth, low, atol=1e-3)
    assert "layout_from_high" not in window.info


def test_trust_margin_reaches_zero_and_one_within_the_logit_bound():
    """``trust_margin``: logits of ±4 (the bound training keeps them in) give Ω of exactly 0
    and 1, and at logit 0 Ω is still one half; without it Ω stays about 0.018 from either end."""
    from dataclasses import replace

    from sddr_core.models.band_fusion import BAND_CONFIGS

    logits = torch.tensor([-4.0, 0.0, 4.0])
    plain = BandFusionNet(replace(BAND_CONFIGS["bandfusion-tiny"], base_trust=True))
    margin = BandFusionNet(replace(plain.config, trust_margin=0.02))
    assert torch.allclose(plain._trust(logits), torch.sigmoid(logits))
    assert plain._trust(logits)[2] < 0.99
    om = margin._trust(logits)
    assert om[0] == 0.0 and om[2] == 1.0 and abs(float(om[1]) - 0.5) < 1e-6
    assert create_band_model("bandfusion-sbm").config.trust_margin == 0.02
    # a full-trust model with the margin returns the aligned high pass's bands whole
    low = torch.rand(1, 1, 64, 64)
    high = 2 * low + 1 + 0.1 * torch.rand(1, 1, 64, 64)
    for head in [*margin.heads, margin.base_head]:
        torch.nn.init.zeros_(head[1].weight)
        torch.nn.init.constant_(head[1].bias, 4.0)
    with torch.no_grad():
        out = margin.eval()(low, high)
    assert all(float(om.min()) == 1.0 for om in out["omegas"])


def test_compiled_refiner_gives_the_eager_output_or_warns_and_runs_eager():
    """``compile=True``: the same fusion as the network run as it is; where torch.compile
    cannot build (here: a C++ compiler that does not exist), a warning and the eager result."""
    import shutil

    from sddr_core.refiners.network import NetworkRefiner

    torch.manual_seed(0)
    model = create_band_model("bandfusion-tiny").eval()
    rng = np.random.default_rng(2)
    low = rng.random((64, 96)).astype(np.float32) + 1
    high = low * 2 + 0.1 * rng.random(low.shape).astype(np.float32)
    eager = NetworkRefiner(model, device="cpu").fuse(low, high).depth
    refiner = NetworkRefiner(model, device="cpu", compile=True)
    import torch._inductor.config as inductor

    saved = inductor.cpp.cxx, inductor.fx_graph_cache
    try:  # no cache either: a graph compiled by an earlier run would need no compiler
        inductor.cpp.cxx, inductor.fx_graph_cache = ("/nonexistent/c++",), False
        torch._dynamo.reset()
        with pytest.warns(UserWarning, match="runs uncompiled"):
            np.testing.assert_allclose(refiner.fuse(low, high).depth, eager, atol=1e-5)
        assert refiner.compile is False
    finally:
        inductor.cpp.cxx, inductor.fx_graph_cache = saved
        torch._dynamo.reset()
    if shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("no C++ compiler here: torch.compile cannot build on the CPU")
    refiner.compile = True
    np.testing.assert_allclose(refiner.fuse(low, high).depth, eager, atol=1e-5)
    assert refiner.compile is True and refiner._compiled is not None
