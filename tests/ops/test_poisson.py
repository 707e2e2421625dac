import cv2
import numpy as np
import pytest

from sddr_core.errors import ShapeError
from sddr_core.ops import poisson_fuse, trust_map


def _step(h=64, w=96):
    x = np.linspace(0, 1, w, dtype=np.float32)[None].repeat(h, 0)
    return (np.where(x > 0.5, 2.0, 1.0) + 0.3 * x).astype(np.float32)


def test_identical_inputs_are_a_fixed_point():
    gt = _step()
    out, _ = poisson_fuse(gt, gt)
    np.testing.assert_allclose(out, gt, atol=1e-3)


def test_takes_values_from_low_and_edges_from_high():
    gt = _step()
    low = cv2.GaussianBlur(gt, (0, 0), 2)  # a low-resolution prediction upsampled 2-3x
    high = 1.7 * gt + 0.4  # sharp but in another scale and shift
    out, omega = poisson_fuse(low, high)
    band = slice(40, 56)
    assert np.abs(out - gt)[:, band].mean() < 0.25 * np.abs(low - gt)[:, band].mean()
    assert np.abs(out - gt)[:, :30].mean() < 0.02  # flat region keeps low's (true) values
    assert omega[:, 47:49].mean() > 0.9 and omega[:, :30].mean() < 0.1


def test_flat_noise_is_not_trusted():
    rng = np.random.default_rng(0)
    flat = np.ones((64, 64), np.float32) + rng.normal(0, 1e-3, (64, 64)).astype(np.float32)
    omega = trust_map(flat)
    assert omega.shape == flat.shape and omega.dtype == np.float32
    assert omega.min() >= 0 and omega.max() <= 1


def test_shape_mismatch():
    with pytest.raises(ShapeError):
        poisson_fuse(np.ones((8, 8)), np.ones((8, 9)))


def test_explicit_omega_zero_returns_low():
    gt = _step()
    low = cv2.GaussianBlur(gt, (0, 0), 3)
    out, _ = poisson_fuse(low, 2 * gt, np.zeros_like(gt))
    np.testing.assert_allclose(out, low, atol=1e-3)


def test_unconverged_solve_warns_instead_of_passing_silently():
    rng = np.random.default_rng(0)
    low = rng.random((48, 48)).astype(np.float32)
    high = rng.random((48, 48)).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="stopped after 2 conjugate-gradient iterations"):
        out, _ = poisson_fuse(low, high, tol=1e-12, max_iter=2)
    assert np.isfinite(out).all()


# -- the multigrid solver ----------------------------------------------------------------------


def _energy_system(low, high, omega, value_weight=1.0, anchor_weight=1e-3):
    """The normal equations of poisson_fuse's energy, built independently of sddr's solver
    code from difference matrices: E = Σ a (D − L)² + ‖Gx D − gx‖² + ‖Gy D − gy‖²."""
    import scipy.sparse as sp

    from sddr_core.ops import apply_scale_shift

    h, w = low.shape
    L = low.astype(np.float64).ravel()
    H = apply_scale_shift(high, low).astype(np.float64).ravel()
    om = omega.astype(np.float64)

    def diff(n):  # (n-1, n): x[i+1] - x[i]
        return sp.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n))

    gx_op = sp.kron(sp.identity(h), diff(w)).tocsr()
    gy_op = sp.kron(diff(h), sp.identity(w)).tocsr()
    om_x = 0.5 * (om[:, :-1] + om[:, 1:]).ravel()
    om_y = 0.5 * (om[:-1, :] + om[1:, :]).ravel()
    gx = om_x * (gx_op @ H) + (1 - om_x) * (gx_op @ L)
    gy = om_y * (gy_op @ H) + (1 - om_y) * (gy_op @ L)
    a = value_weight * (1 - om.ravel()) + anchor_weight
    A = sp.diags(a) + gx_op.T @ gx_op + gy_op.T @ gy_op
    b = a * L + gx_op.T @ gx + gy_op.T @ gy

    def energy(d):
        d = d.astype(np.float64).ravel()
        return float(
            np.sum(a * (d - L) ** 2) + np.sum((gx_op @ d - gx) ** 2) + np.sum((gy_op @ d - gy) ** 2)
        )

    return A.tocsc(), b, energy


def _scene(seed, h=72, w=90):
    """A low/high pair: layered depth with a slanted plane, the low blurred, the high sharp,
    in another scale and shift, with per-pixel noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gt = 1.0 + 0.01 * xx + 0.005 * yy
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(6, 20)
        gt = np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, gt + rng.uniform(0.5, 2), gt)
    low = cv2.GaussianBlur(gt.astype(np.float32), (0, 0), 3)
    high = (rng.uniform(0.5, 3) * gt + rng.uniform(-1, 1)).astype(np.float32)
    high += rng.normal(0, 0.02, high.shape).astype(np.float32)
    return low, high


@pytest.mark.parametrize("shape", [(40, 56), (37, 61), (1, 50), (23, 1), (5, 5)])
def test_matches_a_direct_sparse_solve(shape):
    import scipy.sparse.linalg as spla

    rng = np.random.default_rng(sum(shape))
    low = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 2).reshape(shape)
    high = (low + 0.3 * rng.random(shape)).astype(np.float32)
    omega = rng.random(shape).astype(np.float32)
    A, b, _ = _energy_system(low, high, omega)
    exact = spla.spsolve(A, b).reshape(shape)
    out, _ = poisson_fuse(low, high, omega, tol=1e-10)
    scale = np.ptp(exact) + 1e-12
    assert np.abs(out - exact).max() < 1e-5 * scale + 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_same_solution_as_the_jacobi_cg_solver(seed):
    """The multigrid solver minimises the same energy as the earlier solver, to its tolerance:
    same fused map (max and mean difference) and same energy."""
    low, high = _scene(seed)
    omega = trust_map(high, low) if seed % 2 else None
    new, om_new = poisson_fuse(low, high, omega)
    old, om_old = poisson_fuse(low, high, omega, solver="jacobi-cg")
    np.testing.assert_array_equal(om_new, om_old)
    span = float(np.ptp(old))
    assert np.abs(new - old).max() < 2e-3 * span
    assert np.abs(new - old).mean() < 2e-4 * span
    _, _, energy = _energy_system(low, high, om_new)
    e_new, e_old = energy(new), energy(old)
    assert abs(e_new - e_old) <= 1e-4 * e_old


def test_omega_zero_reproduces_low_exactly():
    low, high = _scene(5)
    out, _ = poisson_fuse(low, high, np.zeros_like(low), tol=1e-9)
    np.testing.assert_allclose(out, low, atol=1e-5 * np.ptp(low))


def test_constant_gradient_field_is_reproduced():
    """Ω = 1 and a negligible anchor: the result has the (constant) gradients of the aligned
    high input, a plane, and the mean of the low input."""
    h, w = 45, 67
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(3)
    low = (0.02 * xx - 0.01 * yy + 0.3 * rng.random((h, w))).astype(np.float32)
    high = (0.5 * xx + 0.2 * yy).astype(np.float32)  # only its gradients matter
    out, _ = poisson_fuse(low, high, np.ones_like(low), anchor_weight=1e-7, tol=1e-10)
    dx, dy = np.diff(out.astype(np.float64), axis=1), np.diff(out.astype(np.float64), axis=0)
    assert np.ptp(dx) < 1e-4 * abs(dx.mean()) + 1e-6 and np.ptp(dy) < 1e-4 * abs(dy.mean()) + 1e-6
    assert dx.mean() / dy.mean() == pytest.approx(0.5 / 0.2, rel=1e-4)
    assert out.mean() == pytest.approx(low.mean(), abs=1e-4)


def test_screened_poisson_recovers_a_known_solution():
    from sddr_core.ops.multigrid import ScreenedPoisson

    rng = np.random.default_rng(0)
    shape = (129, 97)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    truth = np.sin(xx / 9.0) * np.cos(yy / 13.0) + 0.01 * xx
    a = np.where(rng.random(shape) < 0.8, 1e-3, 1.0)  # mostly a Poisson problem
    system = ScreenedPoisson(a)
    x, info = system.solve(system.matvec(truth), tol=1e-10)
    assert info.converged and info.iterations <= 25  # multigrid: few iterations, not hundreds
    assert np.abs(x - truth).max() < 1e-6
    assert system.levels >= 3


def test_transfer_operators_are_adjoint_and_keep_constants():
    from sddr_core.ops.multigrid import prolong, restrict

    rng = np.random.default_rng(1)
    for fine in [(16, 12), (15, 9), (1, 7), (6, 1), (2, 3)]:
        coarse = ((fine[0] + 1) // 2, (fine[1] + 1) // 2)
        c = rng.normal(size=coarse).astype(np.float32)
        f = rng.normal(size=fine).astype(np.float32)
        assert prolong(c, fine).shape == fine and restrict(f).shape == coarse
        lhs, rhs = float(np.vdot(prolong(c, fine), f)), float(np.vdot(c, restrict(f)))
        assert lhs == pytest.approx(rhs, rel=1e-5, abs=1e-5)
        np.testing.assert_allclose(prolong(np.ones(coarse, np.float32), fine), 1.0)
        assert restrict(np.ones(fine, np.float32)).sum() == pytest.approx(fine[0] * fine[1])


def test_vcycle_is_a_symmetric_positive_preconditioner():
    """Conjugate gradients needs a symmetric positive definite preconditioner."""
    from sddr_core.ops.multigrid import ScreenedPoisson

    rng = np.random.default_rng(2)
    system = ScreenedPoisson(np.where(rng.random((50, 70)) < 0.5, 1e-3, 1.0))
    u, v = rng.normal(size=(2, 50, 70))
    mu, mv = system.vcycle(u).astype(np.float64), system.vcycle(v).astype(np.float64)
    assert np.vdot(mu, v) == pytest.approx(np.vdot(u, mv), rel=1e-4)
    assert np.vdot(mu, u) > 0 and np.vdot(mv, v) > 0


def test_screened_poisson_rejects_bad_weights():
    from sddr_core.ops.multigrid import ScreenedPoisson

    with pytest.raises(ValueError):
        ScreenedPoisson(np.zeros((8, 8)))  # no value term: singular
    with pytest.raises(ValueError):
        ScreenedPoisson(-np.ones((8, 8)))
    with pytest.raises(ShapeError):
        ScreenedPoisson(np.ones(8))


def test_unknown_solver():
    from sddr_core.errors import InputError

    with pytest.raises(InputError, match="solver"):
        poisson_fuse(np.ones((8, 8)), np.ones((8, 8)), solver="amg")  # type: ignore[arg-type]


def test_jacobi_cg_also_warns_when_unconverged():
    low, high = _scene(7, 32, 32)
    with pytest.warns(RuntimeWarning, match="stopped after 2 conjugate-gradient iterations"):
        poisson_fuse(low, high, tol=1e-12, max_iter=2, solver="jacobi-cg")


@pytest.mark.slow
def test_motorcycle_metrics_unchanged_by_the_faster_solver():
    """δ1 and D³R of Poisson refinement on Motorcycle (simulated predictor) are the same with
    the multigrid and the Jacobi-CG solver (within 0.002)."""
    pytest.importorskip("skimage")
    from sddr_core.datasets.motorcycle import load_motorcycle
    from sddr_core.inference import refine
    from sddr_core.metrics import depth_metrics, edge_metrics
    from sddr_core.predictors.simulated import SimulatedPredictor
    from sddr_core.refiners.poisson import PoissonRefiner

    sample = load_motorcycle()
    scores = {}
    for solver in ("multigrid", "jacobi-cg"):
        predictor = SimulatedPredictor(sample.gt, kind="disparity")
        result = refine(sample.rgb, predictor, refiner=PoissonRefiner(solver=solver), snap=False)
        kw = dict(mask=sample.valid, gt_kind="disparity", pred_kind="disparity")
        d = depth_metrics(result.depth, sample.gt, space="disparity", **kw)
        e = edge_metrics(result.depth, sample.gt, **kw)
        scores[solver] = (d["delta1"], e["d3r"], result.depth)
    (d1_new, d3r_new, new), (d1_old, d3r_old, old) = scores["multigrid"], scores["jacobi-cg"]
    assert abs(d1_new - d1_old) <= 0.002 and abs(d3r_new - d3r_old) <= 0.002
    assert np.abs(new - old).max() < 1e-3 * np.ptp(old)
