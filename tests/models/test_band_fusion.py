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
