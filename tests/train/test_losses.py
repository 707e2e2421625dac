"""The training losses on constructed cases (METHOD.md section 5)."""

import numpy as np
import pytest
import torch

from sddr_core.train.losses import (
    edge_regions,
    fusion_loss,
    grad_loss,
    gradient_matching_loss,
    gt_loss,
    normalize_label,
    resize_area,
    ssi_normalize,
    total_loss,
    trimmed_mae_loss,
)


def _scene(b: int = 2, h: int = 48, w: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    base = 1.0 + 0.01 * xx + 0.02 * yy
    out = []
    for _ in range(b):
        d = base.clone().float()
        t, l = (
            torch.randint(0, h // 2, (1,), generator=g),
            torch.randint(0, w // 2, (1,), generator=g),
        )
        d[t : t + h // 3, l : l + w // 3] += 2.0
        out.append(d)
    return torch.stack(out)[:, None]


def _sides(x: torch.Tensor) -> list[torch.Tensor]:
    h, w = x.shape[-2:]
    return [resize_area(x, (h // 2, w // 2)), resize_area(x, (h // 4, w // 4))]


def test_gt_loss_zero_for_affine_prediction_and_invariant():
    t = _scene()
    pred = 3.0 * t + 7.0
    assert gt_loss(pred, t, side=_sides(pred)).item() < 1e-5
    noisy = t + 0.2 * torch.randn_like(t)
    base = gt_loss(noisy, t).item()
    assert base > 0.05
    assert gt_loss(0.5 * noisy - 2.0, t).item() == pytest.approx(base, rel=1e-4)


def test_gt_loss_side_outputs_count():
    t = _scene()
    good = _sides(t)
    bad = [torch.rand_like(s) for s in good]
    assert gt_loss(t, t, side=bad).item() > gt_loss(t, t, side=good).item() + 0.1


def test_trimmed_mae_ignores_a_small_outlier_region():
    t = ssi_normalize(_scene(1))
    p = t.clone()
    p[..., :5, :] += 100.0  # about 10% of the pixels
    assert trimmed_mae_loss(p, t, trim=0.2).item() < 1e-5
    assert trimmed_mae_loss(p, t, trim=0.0).item() > 1.0


def test_gradient_matching_sees_misplaced_edges_and_masks():
    t = ssi_normalize(_scene(1))
    assert gradient_matching_loss(t, t).item() == 0.0
    shifted = torch.roll(t, 3, dims=-1)
    assert gradient_matching_loss(shifted, t).item() > 0.1
    target = t.clone()
    target[..., :10, :10] = float("nan")  # unknown pixels are skipped, never NaN out
    assert torch.isfinite(gt_loss(t, target, torch.isfinite(target)))


def _label() -> np.ndarray:
    g = np.zeros((64, 80), np.float32)
    g[10:50, 20] = 1.0
    g[40, 30:75] = 2.0
    g[5:15, 60:70] = 0.5
    return normalize_label(g)


def test_edge_regions_cluster_the_top_edges():
    regions = edge_regions(_label(), n_regions=4, seed=0)
    assert regions.shape == (4, 64, 80) and regions.dtype == bool
    assert all(r.any() for r in regions)
    edges = _label() > 0.5
    assert np.all(regions.any(0)[edges])  # every strong edge pixel is in a region
    assert not regions.any(0)[0:3, 0:10].any()  # far from edges: no constraint
    assert not edge_regions(np.ones((32, 32), np.float32)).any()  # flat label


def test_grad_loss_zero_for_affine_edges_positive_otherwise():
    g = torch.from_numpy(_label())[None, None]
    regions = torch.from_numpy(edge_regions(_label()))[None]
    assert grad_loss(4.0 * g + 1.0, g, regions).item() < 1e-5
    moved = torch.roll(g, 4, dims=-1)
    assert grad_loss(moved, g, regions).item() > 0.05
    empty = torch.zeros_like(regions)
    assert grad_loss(moved, g, empty).item() == 0.0


def test_grad_loss_is_fitted_per_region():
    g = torch.from_numpy(_label())[None, None]
    r = edge_regions(_label(), n_regions=2, dilate=0)
    assert not (r[0] & r[1]).any()
    regions = torch.from_numpy(r)[None]
    # a different scale and shift in each (disjoint) region costs nothing
    pred = g.clone()
    pred[0, 0][torch.from_numpy(r[0])] = 5.0 * g[0, 0][torch.from_numpy(r[0])] + 2.0
    pred[0, 0][torch.from_numpy(r[1])] = 0.1 * g[0, 0][torch.from_numpy(r[1])] - 1.0
    assert grad_loss(pred, g, regions).item() < 1e-5


def _omegas_for(g: torch.Tensor, fn) -> list[torch.Tensor]:
    h, w = g.shape[-2:]
    return [fn(resize_area(g, (h // 2**k, w // 2**k))) for k in (1, 2, 3)]


def test_fusion_loss_zero_when_ranks_match():
    g = torch.rand(2, 1, 64, 64)
    omegas = _omegas_for(g, lambda x: torch.sigmoid(3 * x - 1))
    assert fusion_loss(omegas, g).item() == 0.0
    # ties (a flat label) are fine too
    flat = torch.zeros(1, 1, 32, 32)
    flat[..., 10, :] = 1.0
    assert fusion_loss(_omegas_for(flat, lambda x: x.clamp(0, 1)), flat).item() == 0.0


def test_fusion_loss_positive_when_ranks_disagree_and_gradients_flow():
    g = torch.rand(2, 1, 64, 64)
    omegas = [o.requires_grad_() for o in _omegas_for(g, lambda x: torch.sigmoid(-3 * x))]
    loss = fusion_loss(omegas, g)
    assert loss.item() > 0.01
    loss.backward()
    assert all(o.grad is not None and o.grad.abs().sum() > 0 for o in omegas)


def test_total_loss_backpropagates_into_the_network():
    from sddr_core.models import SDDRConfig, SDDRNet

    torch.manual_seed(0)
    net = SDDRNet(SDDRConfig.tiny())
    t = _scene(2, 64, 64)
    low = resize_area(resize_area(t, (16, 16)), (64, 64))
    high = t + 0.05 * torch.randn_like(t)
    out = net(low, high, edges=True)
    g = torch.from_numpy(_label()[:, :64].copy())[None, None].repeat(2, 1, 1, 1)
    regions = torch.from_numpy(edge_regions(g[0, 0].numpy()))[None].repeat(2, 1, 1, 1)
    loss, parts = total_loss(out, t, g_s=g, regions=regions)
    assert set(parts) == {"l_gt", "l_grad", "l_fusion", "loss"}
    assert parts["loss"] == pytest.approx(
        parts["l_gt"] + 0.5 * parts["l_grad"] + 0.1 * parts["l_fusion"], rel=1e-5
    )
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert len(grads) > 0.9 * len(list(net.parameters()))
    assert all(torch.isfinite(gr).all() for gr in grads)
    _only_gt, parts_gt = total_loss(out, t)
    assert set(parts_gt) == {"l_gt", "loss"}


def test_anchor_loss_pins_the_output_to_the_low_inputs_scale():
    from sddr_core.train.losses import anchor_loss

    low = _scene()
    sides = _sides(low)
    assert anchor_loss(low, low, side=sides).item() < 1e-5
    # L_gt cannot see a global scale or shift; the anchor does
    drifted = 3.0 * low + 50.0
    assert gt_loss(drifted, low).item() < 1e-5
    assert anchor_loss(drifted, low).item() > 1.0
    x = drifted.clone().requires_grad_()
    anchor_loss(x, low).backward()
    assert x.grad.abs().sum() > 0
    out = {"depth": drifted, "side": [], "omegas": []}
    loss, parts = total_loss(out, low, low=low, anchor_weight=0.1)
    assert parts["l_anchor"] > 1.0 and loss.item() == pytest.approx(0.1 * parts["l_anchor"], 1e-4)


def test_gt_loss_in_the_low_inputs_frame_pins_scale_and_shift():
    t = _scene()
    low = 2.0 * t + 1.0  # an affine copy of the truth, as a perfect predictor gives
    assert gt_loss(low, t, frame=low).item() < 1e-5
    assert gt_loss(low, 5.0 * t - 3.0, frame=low).item() < 1e-5  # target's scale: free
    assert gt_loss(low + 5.0, t).item() < 1e-5  # the invariant loss ignores a drift ...
    assert gt_loss(low + 5.0, t, frame=low).item() > 1.0  # ... the framed one does not
    assert gt_loss(3.0 * low, t, frame=low).item() > 1.0
