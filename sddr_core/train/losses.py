"""The SDDR training losses (METHOD.md section 5), as pure torch functions.

``L = L_gt + 0.5·L_grad + 0.1·L_fusion``. [ours]: L_gt can normalise the prediction with
the low input's statistics (``frame``) so the output stays in the low input's scale and shift,
which a fully invariant L_gt leaves free to drift; :func:`anchor_loss` measures that drift.

- :func:`gt_loss` (L_gt): MiDaS-style scale-and-shift-invariant loss against ground truth:
  median / mean-absolute-deviation normalisation of prediction and target, a trimmed MAE that
  drops the largest 20% of residuals, plus multi-scale gradient matching (weight 0.5, 4
  scales), on the output and on the 1/2 and 1/4 side outputs.
- :func:`grad_loss` (L_grad): edge-guided gradient loss. The pseudo-label G_S is binarised
  (top 5%), its edge pixels are clustered into ``N_g = 4`` regions (k-means on coordinates,
  each region the cluster's dilated support; :func:`edge_regions`, numpy, computed once per
  label), and in each region the predicted edge map G_0 is fitted to G_S by a least-squares
  scale and shift before an L1 comparison. Flat areas get no gradient constraint.
- :func:`fusion_loss` (L_fusion): ties the rank distribution of every decoder Ω to that of
  G_S: with ``q ∈ {0.02, 0.04, 0.06, 0.08}``, pixels in the lowest ``q`` of G_S pay
  ``max(0, Ω − T_q)`` and pixels in the highest ``q`` pay ``max(0, T_{1−q} − Ω)``, ``T_q`` the
  (detached, per-image) ``q``-quantile of Ω.

Shapes follow kornia's convention: ``(B, 1, H, W)`` maps, masks bool of the same shape.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from sddr_core.errors import ShapeError

__all__ = [
    "FUSION_QUANTILES",
    "LOSS_WEIGHTS",
    "anchor_loss",
    "edge_regions",
    "fusion_loss",
    "grad_loss",
    "gradient_matching_loss",
    "gt_loss",
    "normalize_label",
    "resize_area",
    "ssi_normalize",
    "total_loss",
    "trimmed_mae_loss",
]

#: Quantiles of L_fusion (METHOD.md section 5).
FUSION_QUANTILES: tuple[float, ...] = (0.02, 0.04, 0.06, 0.08)
#: Weights of (L_gt, L_grad, L_fusion) in the total loss.
LOSS_WEIGHTS: tuple[float, float, float] = (1.0, 0.5, 0.1)


def _check_map(x: torch.Tensor, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != 1:
        raise ShapeError(f"{name} must be a (B, 1, H, W) tensor, got {tuple(x.shape)}.")


def _full_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    valid = torch.isfinite(x)
    if mask is not None:
        if mask.shape != x.shape:
            raise ShapeError(f"mask has shape {tuple(mask.shape)}, expected {tuple(x.shape)}.")
        valid = valid & mask.bool()
    return valid


def ssi_normalize(
    x: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-6
) -> torch.Tensor:
    """``(x − median) / mean|x − median|`` per image over ``mask`` (MiDaS normalisation).

    Args:
        x: ``(B, 1, H, W)``.
        mask: optional bool ``(B, 1, H, W)``; statistics use only masked (and finite) pixels.

    Returns:
        ``(B, 1, H, W)``; pixels outside the mask are normalised with the same statistics
        (and stay meaningless). Images with no valid pixel are returned as zeros.
    """
    _check_map(x, "ssi_normalize input")
    valid = _full_mask(x, mask)
    out = []
    for b in range(x.shape[0]):
        v = x[b][valid[b]]
        if v.numel() == 0:
            out.append(torch.zeros_like(x[b]))
            continue
        med = v.detach().median() if v.numel() % 2 else _even_median(v.detach())
        scale = (v - med).abs().mean().clamp_min(eps)
        out.append((torch.nan_to_num(x[b]) - med) / scale)
    return torch.stack(out)


def _even_median(v: torch.Tensor) -> torch.Tensor:
    n = v.numel()
    lo = torch.kthvalue(v, n // 2).values
    hi = torch.kthvalue(v, n // 2 + 1).values
    return 0.5 * (lo + hi)


def trimmed_mae_loss(
    pred_n: torch.Tensor,
    target_n: torch.Tensor,
    mask: torch.Tensor | None = None,
    trim: float = 0.2,
) -> torch.Tensor:
    """Trimmed mean absolute error of normalised maps: the largest ``trim`` fraction of each
    image's residuals is dropped. ``(B, 1, H, W)`` × 2 → scalar (mean over images)."""
    _check_map(pred_n, "pred")
    valid = _full_mask(target_n, mask) & torch.isfinite(pred_n)
    losses = []
    for b in range(pred_n.shape[0]):
        r = (pred_n[b] - target_n[b])[valid[b]].abs()
        if r.numel() == 0:
            continue
        keep = max(1, int(round((1.0 - trim) * r.numel())))
        if keep < r.numel():
            r = torch.topk(r, keep, largest=False, sorted=False).values
        losses.append(r.mean())
    if not losses:
        return pred_n.sum() * 0.0
    return torch.stack(losses).mean()


def gradient_matching_loss(
    pred_n: torch.Tensor,
    target_n: torch.Tensor,
    mask: torch.Tensor | None = None,
    scales: int = 4,
) -> torch.Tensor:
    """MiDaS multi-scale gradient matching: at scales ``1, 1/2, …, 1/2^(scales−1)``
    (subsampling), the mean of ``|∂x R| + |∂y R|`` of ``R = pred_n − target_n`` over pixel
    pairs whose both ends are valid; summed over scales. ``(B, 1, H, W)`` × 2 → scalar."""
    _check_map(pred_n, "pred")
    valid = _full_mask(target_n, mask) & torch.isfinite(pred_n)
    diff = torch.where(valid, pred_n - torch.nan_to_num(target_n), torch.zeros_like(pred_n))
    total = pred_n.sum() * 0.0
    for k in range(scales):
        step = 2**k
        d = diff[..., ::step, ::step]
        m = valid[..., ::step, ::step]
        if d.shape[-1] < 2 or d.shape[-2] < 2:
            break
        mx = m[..., :, 1:] & m[..., :, :-1]
        my = m[..., 1:, :] & m[..., :-1, :]
        gx = (d[..., :, 1:] - d[..., :, :-1]).abs() * mx
        gy = (d[..., 1:, :] - d[..., :-1, :]).abs() * my
        count = (mx.sum() + my.sum()).clamp_min(1)
        total = total + (gx.sum() + gy.sum()) / count
    return total


def resize_area(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Area-average ``(B, C, H, W)`` to ``size = (h, w)`` (bilinear when enlarging)."""
    size = (int(size[0]), int(size[1]))
    if tuple(x.shape[-2:]) == size:
        return x
    if size[0] <= x.shape[-2] and size[1] <= x.shape[-1]:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _frame_normalize(x: torch.Tensor, frame: torch.Tensor, mask: torch.Tensor | None):
    """``x`` normalised with the median and mean absolute deviation of ``frame``."""
    valid = _full_mask(frame, mask)
    out = []
    for b in range(x.shape[0]):
        v = frame[b][valid[b]].detach()
        if v.numel() == 0:
            out.append(torch.zeros_like(x[b]))
            continue
        med = v.median() if v.numel() % 2 else _even_median(v)
        scale = (v - med).abs().mean().clamp_min(1e-6)
        out.append((x[b] - med) / scale)
    return torch.stack(out)


def _ssi_term(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None,
    alpha: float,
    trim: float,
    frame: torch.Tensor | None = None,
) -> torch.Tensor:
    p = ssi_normalize(pred, mask) if frame is None else _frame_normalize(pred, frame, mask)
    t = ssi_normalize(target, mask)
    return trimmed_mae_loss(p, t, mask, trim) + alpha * gradient_matching_loss(p, t, mask)


def gt_loss(
    depth: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    side: Sequence[torch.Tensor] = (),
    side_weights: Sequence[float] = (0.5, 0.25),
    alpha: float = 0.5,
    trim: float = 0.2,
    frame: torch.Tensor | None = None,
) -> torch.Tensor:
    """L_gt: scale-and-shift-invariant trimmed MAE + ``alpha`` × gradient matching.

    Args:
        depth: ``(B, 1, H, W)`` network output D_0.
        target: ``(B, 1, H, W)`` ground truth in the same convention (NaN = unknown).
        mask: optional bool ``(B, 1, H, W)`` of pixels to supervise.
        side: side outputs ``(B, 1, h_i, w_i)`` (1/2 and 1/4); the target and mask are area
            downsampled to each (a pixel is valid when its whole footprint is).
        side_weights: weight of each side output's term (the output's weight is 1).
        alpha: weight of gradient matching.
        trim: fraction of the largest residuals the MAE drops (MiDaS: 0.2, for real ground
            truth with outliers). Exact ground truth (procedural scenes) needs none, and
            trimming lets a network ignore whole regions such as a frame along the image
            border: it costs nothing there, so it is never learned away.
        frame: optional ``(B, 1, H, W)`` map (the low input) whose median and mean absolute
            deviation normalise the *prediction* instead of its own ([ours]). The target is
            still normalised by its own statistics, so the loss stays invariant to the scale
            and shift of the ground truth and of the inputs (the network normalises both),
            but the output is pinned to the low input's scale and shift, which the refiner
            promises and which a fully invariant loss leaves free to drift.

    Returns:
        Scalar tensor; 0 for a prediction that is an affine function of the target.
    """
    _check_map(depth, "depth")
    _check_map(target, "target")
    if depth.shape != target.shape:
        raise ShapeError(f"depth {tuple(depth.shape)} and target {tuple(target.shape)} differ.")
    valid = _full_mask(target, mask)
    loss = _ssi_term(depth, target, valid, alpha, trim, frame)
    tgt = torch.where(valid, target, torch.zeros_like(target))
    for s, w in zip(side, side_weights, strict=False):
        _check_map(s, "side output")
        size = s.shape[-2:]
        m = resize_area(valid.float(), size) > 0.999
        t = resize_area(tgt, size)
        f = None if frame is None else resize_area(frame, size)
        loss = loss + w * _ssi_term(s, t, m, alpha, trim, f)
    return loss


def anchor_loss(
    depth: torch.Tensor, low: torch.Tensor, *, side: Sequence[torch.Tensor] = ()
) -> torch.Tensor:
    """Keeps the output in the scale and shift of the low input ([ours], not in the paper).

    L_gt is invariant to the output's scale and shift, so nothing else pins them; but the
    refiner promises its result in the low input's scale, and a network left free drifts
    (a large learned constant, which zero padding turns into a frame along the image border,
    and which half-precision inference cannot represent). With ``m, s`` the median and mean
    absolute deviation of ``low``, the output normalised as ``(D − m) / s`` should have
    median 0 and deviation 1: the loss is ``|median| + |log deviation|``, averaged over
    images and over the output and ``side`` outputs.

    Shapes: ``depth`` and ``low`` ``(B, 1, H, W)``; ``side`` ``(B, 1, h_i, w_i)``.
    Returns a scalar, 0 when the output has the low input's median and deviation.
    """
    _check_map(depth, "depth")
    _check_map(low, "low")
    terms = []
    for x in (depth, *side):
        lo = low if x.shape == low.shape else resize_area(low, x.shape[-2:])
        flat_low = lo.flatten(1)
        m = flat_low.median(dim=1).values[:, None]
        s = (flat_low - m).abs().mean(dim=1).clamp_min(1e-6)[:, None]
        xn = (x.flatten(1) - m) / s
        med = xn.median(dim=1).values
        dev = (xn - med[:, None]).abs().mean(dim=1).clamp_min(1e-6)
        terms.append((med.abs() + dev.log().abs()).mean())
    return torch.stack(terms).mean()


def normalize_label(g_s: np.ndarray, top: float = 0.05) -> np.ndarray:
    """Scale a pseudo-label so the mean of its top ``top`` fraction is 1 (G is defined up to
    scale; this makes L1 values comparable across images). Float32 ``(H, W)``."""
    g = np.asarray(g_s, dtype=np.float32)
    g = g - float(np.min(g))
    thr = float(np.quantile(g, 1.0 - top))
    hi = g[g >= thr]
    if hi.size > 2 * top * g.size:  # ties at the threshold (a mostly flat label)
        hi = g[g > thr]
    m = float(hi.mean()) if hi.size else 0.0
    return (g / m if m > 1e-12 else g).astype(np.float32)


def edge_regions(
    g_s: np.ndarray,
    *,
    top: float = 0.05,
    n_regions: int = 4,
    dilate: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The regions P_n of L_grad from a pseudo-label G_S.

    The top ``top`` fraction of G_S are edge pixels; k-means on their ``(y, x)`` coordinates
    splits them into ``n_regions`` clusters; each region is its cluster's pixels dilated by
    ``dilate`` pixels (default: 2% of the long side, at least 2), so it also holds the flat
    surroundings that say where an edge is *not*.

    Args:
        g_s: float ``(H, W)`` pseudo-label.

    Returns:
        Bool ``(n_regions, H, W)``; empty regions (fewer edge pixels than clusters, a flat
        label) are all False.
    """
    import cv2
    from scipy.cluster.vq import kmeans2

    g = np.asarray(g_s, dtype=np.float32)
    if g.ndim != 2:
        raise ShapeError(f"edge_regions expects a (H, W) map, got {g.shape}.")
    h, w = g.shape
    out = np.zeros((n_regions, h, w), bool)
    thr = float(np.quantile(g, 1.0 - top))
    edge = g >= thr
    if edge.mean() > 2 * top:  # ties at the threshold (a mostly flat label)
        edge = g > thr
    if float(g.max()) - float(g.min()) <= 1e-12 or not edge.any():
        return out  # flat label: no edges to constrain
    ys, xs = np.nonzero(edge)
    if ys.size < n_regions:
        return out
    pts = np.stack([ys, xs], 1).astype(np.float64)
    rng = np.random.default_rng(seed)
    init = pts[rng.choice(len(pts), n_regions, replace=False)]
    with warnings.catch_warnings():  # an empty cluster is fine: its region stays empty
        warnings.simplefilter("ignore", UserWarning)
        _, lab = kmeans2(pts, init, iter=10, minit="matrix", seed=rng)
    r = max(2, int(round(0.02 * max(h, w)))) if dilate is None else int(dilate)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    for n in range(n_regions):
        sel = lab == n
        if not sel.any():
            continue
        m = np.zeros((h, w), np.uint8)
        m[ys[sel], xs[sel]] = 1
        out[n] = cv2.dilate(m, kernel).astype(bool) if r > 0 else m.astype(bool)
    return out


def grad_loss(g_pred: torch.Tensor, g_s: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """L_grad: per region, least-squares scale/shift fit of ``g_pred`` to ``g_s``, then L1.

    Args:
        g_pred: ``(B, 1, H, W)`` edge map G_0 of the prediction
            (:func:`sddr_core.models.edge_map`).
        g_s: ``(B, 1, H, W)`` pseudo-label (ideally :func:`normalize_label`-ed).
        regions: bool ``(B, N_g, H, W)`` from :func:`edge_regions`.

    Returns:
        Scalar: mean over non-empty regions of the mean L1 of the fitted ``g_pred`` against
        ``g_s``; 0 when there is no region. Invariant to scale and shift of ``g_pred`` in
        each region.
    """
    _check_map(g_pred, "g_pred")
    _check_map(g_s, "g_s")
    if regions.ndim != 4 or regions.shape[0] != g_pred.shape[0]:
        raise ShapeError(f"regions must be (B, N_g, H, W), got {tuple(regions.shape)}.")
    m = regions.to(g_pred.dtype)  # (B, N, H, W)
    cnt = m.sum(dim=(2, 3))  # (B, N)
    keep = cnt > 2
    if not bool(keep.any()):
        return g_pred.sum() * 0.0
    c = cnt.clamp_min(1)
    p = g_pred  # (B, 1, H, W) broadcasts over N
    t = g_s
    mp = (m * p).sum(dim=(2, 3)) / c
    mt = (m * t).sum(dim=(2, 3)) / c
    dp = p - mp[..., None, None]
    dt = t - mt[..., None, None]
    var = (m * dp * dp).sum(dim=(2, 3))
    cov = (m * dp * dt).sum(dim=(2, 3))
    scale = cov / var.clamp_min(1e-12)
    fitted = scale[..., None, None] * dp + mt[..., None, None]
    l1 = (m * (fitted - t).abs()).sum(dim=(2, 3)) / c
    return l1[keep].mean()


def fusion_loss(
    omegas: Sequence[torch.Tensor],
    g_s: torch.Tensor,
    quantiles: Sequence[float] = FUSION_QUANTILES,
) -> torch.Tensor:
    """L_fusion: the rank distribution of each Ω should follow that of G_S.

    For each Ω ``(B, 1, h, w)`` (every decoder level, at its own resolution), G_S is area
    resized to ``(h, w)``; per image and per ``q``: pixels with G_S at or below its
    ``q``-quantile pay ``relu(Ω − T_q)``, pixels at or above its ``(1 − q)``-quantile pay
    ``relu(T_{1−q} − Ω)``, ``T`` the detached quantiles of Ω. Each set's penalty is its mean.
    Levels with fewer than ``1 / min(q)`` pixels are skipped.

    Args:
        omegas: list of ``(B, 1, h_i, w_i)`` masks in [0, 1].
        g_s: ``(B, 1, H, W)`` pseudo-label.
        quantiles: the ``q`` values.

    Returns:
        Scalar; 0 when every Ω is a non-decreasing function of the resized G_S.
    """
    _check_map(g_s, "g_s")
    qs = torch.tensor(list(quantiles), dtype=torch.float32)
    terms = []
    min_pixels = 1.0 / float(min(quantiles))
    for omega in omegas:
        _check_map(omega, "omega")
        h, w = omega.shape[-2:]
        if h * w < min_pixels:
            continue
        g = resize_area(g_s.to(omega.dtype), (h, w)).flatten(1)  # (B, N)
        o = omega.flatten(1)
        q_all = torch.cat([qs, 1.0 - qs]).to(o.dtype)
        t_o = torch.quantile(o.detach(), q_all, dim=1).T  # (B, 2Q)
        t_g = torch.quantile(g.detach(), q_all, dim=1).T
        nq = len(quantiles)
        for i in range(nq):
            low = g <= t_g[:, i : i + 1]
            high = g >= t_g[:, nq + i : nq + i + 1]
            pen_low = F.relu(o - t_o[:, i : i + 1]) * low
            pen_high = F.relu(t_o[:, nq + i : nq + i + 1] - o) * high
            terms.append(
                (pen_low.sum(1) / low.sum(1).clamp_min(1)).mean()
                + (pen_high.sum(1) / high.sum(1).clamp_min(1)).mean()
            )
    if not terms:
        return g_s.sum() * 0.0
    return torch.stack(terms).mean()


def total_loss(
    out: dict,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    g_s: torch.Tensor | None = None,
    regions: torch.Tensor | None = None,
    g_pred: torch.Tensor | None = None,
    weights: Sequence[float] = LOSS_WEIGHTS,
    use_grad: bool = True,
    use_fusion: bool = True,
    trim: float = 0.2,
    low: torch.Tensor | None = None,
    anchor_weight: float = 0.0,
    low_frame: bool = False,
) -> tuple[torch.Tensor, dict[str, float]]:
    """``L = L_gt + 0.5·L_grad + 0.1·L_fusion`` from a network output dict.

    Args:
        out: :class:`~sddr_core.models.SDDRNet` output (``depth``, ``side``, ``omegas`` and,
            for L_grad, ``edges`` unless ``g_pred`` is given).
        target, mask: ground truth ``(B, 1, H, W)`` and optional bool mask.
        g_s, regions: pseudo-label ``(B, 1, H, W)`` and regions ``(B, N_g, H, W)``; without
            them only L_gt is used (the first phase of the schedule).
        g_pred: edge map of ``out["depth"]`` when ``out`` has no ``edges``.
        weights: weights of the three terms.
        use_grad, use_fusion: switch terms off (ablations).
        trim: the trimmed fraction of L_gt's MAE (see :func:`gt_loss`).
        low, anchor_weight: the low input ``(B, 1, H, W)`` and the weight of
            :func:`anchor_loss` (added when both are given and the weight is positive).
        low_frame: normalise the prediction in L_gt with ``low``'s statistics (see
            :func:`gt_loss`'s ``frame``).

    Returns:
        ``(loss, parts)`` with ``parts`` the float value of each term.
    """
    frame = low if (low_frame and low is not None) else None
    l_gt = gt_loss(out["depth"], target, mask, side=out.get("side", ()), trim=trim, frame=frame)
    loss = weights[0] * l_gt
    parts = {"l_gt": float(l_gt.detach())}
    if g_s is not None:
        if use_grad and regions is not None:
            gp = g_pred if g_pred is not None else out.get("edges")
            if gp is None:
                from sddr_core.models.edges import edge_map

                gp = edge_map(out["depth"])
            l_grad = grad_loss(gp, g_s, regions)
            loss = loss + weights[1] * l_grad
            parts["l_grad"] = float(l_grad.detach())
        if use_fusion:
            l_fus = fusion_loss(out["omegas"], g_s)
            loss = loss + weights[2] * l_fus
            parts["l_fusion"] = float(l_fus.detach())
    if low is not None:
        if anchor_weight > 0:
            l_anchor = anchor_loss(out["depth"], low, side=out.get("side", ()))
            loss = loss + anchor_weight * l_anchor
        else:  # still worth watching: how far the output strays from the low input's frame
            with torch.no_grad():
                l_anchor = anchor_loss(out["depth"], low)
        parts["l_anchor"] = float(l_anchor.detach())
    parts["loss"] = float(loss.detach())
    return loss, parts
