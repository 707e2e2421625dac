"""Training-free Poisson fusion (METHOD.md section 7): the baseline and fallback refiner.

Solves, on the pixel grid, the quadratic energy

    E(D) = Σ_p a_p (D_p − L_p)²  +  Σ_(p,q) (D_p − D_q − g_pq)²

with ``a_p = λ (1 − Ω_p) + ε`` and target gradients ``g = Ω̄ ∇H + (1 − Ω̄) ∇L``: inside the
high-frequency regions Ω the result takes the gradients (edges) of the high-resolution
prediction H, elsewhere it keeps the values of the low-resolution prediction L. The normal
equations ``(diag(a) + L_grid) D = a L − div g`` are a sparse symmetric positive definite
system, solved from ``D = L`` by conjugate gradients preconditioned with a geometric multigrid
V-cycle (:mod:`sddr_core.ops.multigrid`): about ten iterations at any size, linear time.
"""

from __future__ import annotations

import warnings
from typing import Literal

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sddr_core.errors import InputError, ShapeError
from sddr_core.ops.align import apply_scale_shift
from sddr_core.ops.edges import edge_map
from sddr_core.ops.multigrid import ScreenedPoisson, grid_laplacian

__all__ = ["Solver", "poisson_fuse", "trust_map"]


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


Solver = Literal["multigrid", "jacobi-cg"]


def poisson_fuse(
    low: np.ndarray,
    high: np.ndarray,
    omega: np.ndarray | None = None,
    *,
    value_weight: float = 1.0,
    anchor_weight: float = 1e-3,
    tol: float = 1e-5,
    max_iter: int = 2000,
    solver: Solver = "multigrid",
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
        tol, max_iter: conjugate-gradient stopping rule: relative residual
            ``‖b − A x‖ ≤ tol · ‖b‖`` of the normal equations, at most ``max_iter``
            iterations.
        solver: ``"multigrid"`` (default): conjugate gradients preconditioned by a geometric
            multigrid V-cycle (:class:`sddr_core.ops.multigrid.ScreenedPoisson`), about 10
            iterations on any map; ``"jacobi-cg"``: the earlier Jacobi-preconditioned
            conjugate gradients of scipy (hundreds of iterations; kept as a reference). Both
            minimise the same energy to the same stopping rule.

    Returns:
        ``(depth, omega)``: the fused float32 map in the scale of ``low``, and Ω.

    Warns:
        RuntimeWarning: the solver stopped at ``max_iter`` before reaching ``tol``.
    """
    if low.shape != high.shape or low.ndim != 2:
        raise ShapeError(
            f"poisson_fuse needs two (H, W) maps of one size, got {low.shape} and {high.shape}."
        )
    if solver not in ("multigrid", "jacobi-cg"):
        raise InputError(f"solver must be 'multigrid' or 'jacobi-cg', got {solver!r}.")
    h, w = low.shape
    L = low.astype(np.float64)
    Hh = apply_scale_shift(high, low).astype(np.float64)
    if omega is None:
        omega = trust_map(high, low)
    om = omega.astype(np.float64)

    # Target gradients on horizontal (gx: D[:, j+1] - D[:, j]) and vertical edges, blending
    # those of the aligned high input (weight Ω on the edge) and of the low input.
    om_x = 0.5 * (om[:, :-1] + om[:, 1:])
    gx = om_x * np.diff(Hh, axis=1) + (1.0 - om_x) * np.diff(L, axis=1)
    om_y = 0.5 * (om[:-1, :] + om[1:, :])
    gy = om_y * np.diff(Hh, axis=0) + (1.0 - om_y) * np.diff(L, axis=0)

    a = value_weight * (1.0 - om) + anchor_weight
    # Right-hand side of the normal equations: a L − div(g).
    b = a * L
    b[:, :-1] -= gx
    b[:, 1:] += gx
    b[:-1, :] -= gy
    b[1:, :] += gy

    if solver == "multigrid":
        system = ScreenedPoisson(a)
        x, info = system.solve(b, L, tol=tol, max_iter=max_iter)
        converged, iterations, residual = info.converged, info.iterations, info.residual
    else:
        A = (sp.diags(a.ravel()) + grid_laplacian((h, w))).tocsr()
        precond = sp.diags(1.0 / A.diagonal())
        flat, status = spla.cg(A, b.ravel(), x0=L.ravel(), rtol=tol, maxiter=max_iter, M=precond)
        x = flat.reshape(h, w)
        converged, iterations = status == 0, max_iter if status > 0 else -1
        residual = float(np.linalg.norm(A @ flat - b.ravel()) / max(np.linalg.norm(b), 1e-30))
    if not converged:
        warnings.warn(
            f"Poisson fusion stopped after {iterations} conjugate-gradient iterations with "
            f"relative residual {residual:.1e} (asked for {tol:.0e}); the result may keep some "
            "of the low input's blur. Raise max_iter, or use the network refiner.",
            RuntimeWarning,
            stacklevel=2,
        )
    return x.astype(np.float32), omega.astype(np.float32)
