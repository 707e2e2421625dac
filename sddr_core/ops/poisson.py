"""Training-free Poisson fusion (METHOD.md section 7): the baseline and fallback refiner.

Solves, on the pixel grid, the quadratic energy

    E(D) = Σ_p a_p (D_p − L_p)²  +  Σ_(p,q) (D_p − D_q − g_pq)²

with ``a_p = λ (1 − Ω_p) + ε`` and target gradients ``g = Ω̄ ∇H + (1 − Ω̄) ∇L``: inside the
high-frequency regions Ω the result takes the gradients (edges) of the high-resolution
prediction H, elsewhere it keeps the values of the low-resolution prediction L. The normal
equations are a sparse symmetric positive definite system solved by conjugate gradients with
a Jacobi preconditioner, started from L.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sddr_core.errors import ShapeError
from sddr_core.ops.align import apply_scale_shift
from sddr_core.ops.edges import edge_map

__all__ = ["poisson_fuse", "trust_map"]


def trust_map(
    high: np.ndarray,
    low: np.ndarray | None = None,
    *,
    quantile: float = 0.85,
    strong: float = 0.1,
    dilate: int = 2,
    reach: float = 0.02,
) -> np.ndarray:
    """Ω: where to trust the high-resolution prediction rather than the low-resolution one.

    Two cues, combined by a maximum:

    - edge density of ``high``: its edge map divided by a threshold, the larger of its
      ``quantile``-th value and ``strong`` times its maximum (so noise in a flat map does not
      count), clipped to ``[0, 1]`` and dilated by ``dilate`` pixels;
    - if ``low`` is given, disagreement near edges: within ``reach`` × the long side of an
      edge, pixels where ``low`` differs from the aligned ``high`` by more than a tenth of the
      map's robust spread. This covers the band that the low resolution blurred, whose width
      depends on how much the low prediction was upsampled.

    Returns float32 ``(H, W)`` in ``[0, 1]``, lightly smoothed.
    """
    g = edge_map(high)
    t = max(float(np.quantile(g, quantile)), strong * float(g.max()))
    edges = np.clip(g / max(t, 1e-6), 0.0, 1.0).astype(np.float32)
    omega = edges
    if dilate > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        omega = cv2.dilate(edges, k)
    if low is not None:
        aligned = apply_scale_shift(high, low)
        spread = float(np.mean(np.abs(low - np.median(low)))) + 1e-12
        disagree = np.clip(np.abs(low - aligned) / (0.1 * spread), 0.0, 1.0)
        r = max(int(round(reach * max(high.shape))), 1)
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        near_edge = cv2.dilate((edges > 0.5).astype(np.uint8), k).astype(np.float32)
        omega = np.maximum(omega, disagree.astype(np.float32) * near_edge)
    return cv2.GaussianBlur(omega, (0, 0), sigmaX=1.0).clip(0.0, 1.0)


def poisson_fuse(
    low: np.ndarray,
    high: np.ndarray,
    omega: np.ndarray | None = None,
    *,
    value_weight: float = 1.0,
    anchor_weight: float = 1e-3,
    tol: float = 1e-5,
    max_iter: int = 2000,
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse low-resolution values with high-resolution gradients.

    Args:
        low: float ``(H, W)`` low-resolution prediction resized to the working size.
        high: float ``(H, W)`` high-resolution prediction, same size and convention; it is
            aligned to ``low`` by a global least-squares scale and shift first.
        omega: optional ``(H, W)`` trust map in ``[0, 1]`` (default: :func:`trust_map` of
            both inputs).
        value_weight: λ, how strongly flat regions keep the values of ``low``.
        anchor_weight: ε, a weak pull to ``low`` everywhere (keeps large Ω regions anchored).
        tol, max_iter: conjugate-gradient stopping rule (relative residual).

    Returns:
        ``(depth, omega)``: the fused float32 map in the scale of ``low``, and Ω.
    """
    if low.shape != high.shape or low.ndim != 2:
        raise ShapeError(
            f"poisson_fuse needs two (H, W) maps of one size, got {low.shape} and {high.shape}."
        )
    h, w = low.shape
    L = low.astype(np.float64)
    Hh = apply_scale_shift(high, low).astype(np.float64)
    if omega is None:
        omega = trust_map(high, low)
    om = omega.astype(np.float64)
    n = h * w
    idx = np.arange(n).reshape(h, w)

    # Edges between horizontal and vertical neighbours, with blended target gradients.
    rows, cols, gvals = [], [], []
    for axis in (1, 0):
        p = idx[:, :-1] if axis == 1 else idx[:-1, :]
        q = idx[:, 1:] if axis == 1 else idx[1:, :]
        sl_p = (slice(None), slice(None, -1)) if axis == 1 else (slice(None, -1), slice(None))
        sl_q = (slice(None), slice(1, None)) if axis == 1 else (slice(1, None), slice(None))
        om_e = 0.5 * (om[sl_p] + om[sl_q])
        g = om_e * (Hh[sl_q] - Hh[sl_p]) + (1.0 - om_e) * (L[sl_q] - L[sl_p])
        rows.append(p.ravel())
        cols.append(q.ravel())
        gvals.append(g.ravel())
    p = np.concatenate(rows)
    q = np.concatenate(cols)
    g = np.concatenate(gvals)

    a = value_weight * (1.0 - om.ravel()) + anchor_weight
    deg = np.bincount(p, minlength=n) + np.bincount(q, minlength=n)
    diag = a + deg
    off = sp.coo_matrix(
        (np.full(2 * p.size, -1.0), (np.concatenate([p, q]), np.concatenate([q, p]))),
        shape=(n, n),
    )
    A = (sp.diags(diag) + off).tocsr()
    # Right-hand side: a L + divergence of the target gradient field.
    b = a * L.ravel()
    b -= np.bincount(p, weights=g, minlength=n)
    b += np.bincount(q, weights=g, minlength=n)

    precond = sp.diags(1.0 / diag)
    x, info = spla.cg(A, b, x0=L.ravel(), rtol=tol, maxiter=max_iter, M=precond)
    if info > 0:
        residual = float(np.linalg.norm(A @ x - b) / max(np.linalg.norm(b), 1e-30))
        warnings.warn(
            f"Poisson fusion stopped after {max_iter} conjugate-gradient iterations with "
            f"relative residual {residual:.1e} (asked for {tol:.0e}); the result may keep some "
            "of the low input's blur. Raise max_iter, or use the network refiner.",
            RuntimeWarning,
            stacklevel=2,
        )
    return x.reshape(h, w).astype(np.float32), omega.astype(np.float32)
