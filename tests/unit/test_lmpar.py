"""Unit tests for lsqbox.linalg.lmpar (Moré's LM parameter from a pivoted QR)."""
import numpy as np
import pytest
from numpy.linalg import norm
from numpy.testing import assert_allclose
from scipy.linalg import qr

from lsqbox.linalg.lmpar import LMSubproblem, lmpar


def factor(J, f):
    Q, R, perm = qr(J, mode="economic", pivoting=True)
    return R, perm, Q.T @ f


def regularized(J, f, D, par):
    return np.linalg.solve(J.T @ J + par * np.diag(D ** 2), J.T @ f)


def brute_force(J, f, D, Delta):
    """x with ||D x|| = Delta on the LM curve, by bisection on lambda."""
    lo, hi = 0.0, 1.0
    while norm(D * regularized(J, f, D, hi)) > Delta:
        hi *= 10
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if norm(D * regularized(J, f, D, mid)) > Delta else (lo, mid)
    return regularized(J, f, D, hi), hi


def test_gauss_newton_inside_gives_par_zero():
    rng = np.random.default_rng(0)
    J, f = rng.normal(size=(8, 4)), rng.normal(size=8)
    D = rng.uniform(0.5, 2, 4)
    x_gn = np.linalg.lstsq(J, f, rcond=None)[0]
    R, perm, qtf = factor(J, f)
    for Delta in (norm(D * x_gn) * 0.95, norm(D * x_gn) * 5):   # 10% slack
        par, x = lmpar(R, perm, D, qtf, Delta, 0.0)
        assert par == 0.0
        assert_allclose(x, x_gn, rtol=1e-10)


@pytest.mark.parametrize("seed", range(10))
def test_boundary_step_solves_regularized_equations(seed):
    rng = np.random.default_rng(seed)
    m, n = 9, 5
    J, f = rng.normal(size=(m, n)), rng.normal(size=m)
    D = rng.uniform(0.3, 3.0, n)
    x_gn = np.linalg.lstsq(J, f, rcond=None)[0]
    Delta = norm(D * x_gn) * rng.uniform(0.05, 0.7)
    R, perm, qtf = factor(J, f)
    par, x = lmpar(R, perm, D, qtf, Delta, 0.0)
    assert par > 0
    # Moré's acceptance: within 10% of the radius
    assert abs(norm(D * x) - Delta) <= 0.1 * Delta * (1 + 1e-12)
    # x is the LM step for that lambda
    assert_allclose(x, regularized(J, f, D, par), rtol=1e-9, atol=1e-12)
    # and close to the exact trust-region solution
    x_ref, par_ref = brute_force(J, f, D, Delta)
    assert par == pytest.approx(par_ref, rel=0.5)
    q = lambda p: 0.5 * norm(J @ p - f) ** 2  # noqa: E731  (step is -x: J(-x) + f)
    assert q(x) <= q(x_ref) + 0.1 * (q(np.zeros(n)) - q(x_ref))


def test_warm_start_same_answer():
    rng = np.random.default_rng(3)
    J, f = rng.normal(size=(7, 3)), rng.normal(size=7)
    D = np.ones(3)
    Delta = 0.3 * norm(np.linalg.lstsq(J, f, rcond=None)[0])
    R, perm, qtf = factor(J, f)
    par0, x0 = lmpar(R, perm, D, qtf, Delta, 0.0)
    for start in (par0, 10 * par0, 0.1 * par0, 1e8):
        par, x = lmpar(R, perm, D, qtf, Delta, start)
        assert abs(norm(D * x) - Delta) <= 0.1 * Delta * (1 + 1e-12)
        assert_allclose(x, regularized(J, f, D, par), rtol=1e-9)


def test_rank_deficient_R():
    rng = np.random.default_rng(4)
    J = rng.normal(size=(8, 2)) @ rng.normal(size=(2, 4))
    J[:, 3] = 0.0
    f = rng.normal(size=8)
    R, perm, qtf = factor(J, f)
    R[np.abs(R) < 1e-12] = 0.0            # exact zero pivots as MINPACK sees them
    D = np.ones(4)
    Delta = 0.2 * norm(np.linalg.pinv(J) @ f)
    par, x = lmpar(R, perm, D, qtf, Delta, 0.0)
    assert np.all(np.isfinite(x)) and par > 0
    assert abs(norm(x) - Delta) <= 0.1 * Delta * (1 + 1e-12)
    assert x[3] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("par", [0.0, 1e-3, 2.5])
def test_solve_regularized_for_another_right_hand_side(par):
    rng = np.random.default_rng(5)
    J, f = rng.normal(size=(9, 4)), rng.normal(size=9)
    D = rng.uniform(0.3, 3.0, 4)
    R, perm, qtf = factor(J, f)
    c = J.T @ rng.normal(size=9)
    x = LMSubproblem(R, perm, D, qtf).solve_regularized(c, par)
    assert_allclose((J.T @ J + par * np.diag(D ** 2)) @ x, c, rtol=1e-9, atol=1e-12)


def test_solve_regularized_leaves_out_a_null_direction_at_par_zero():
    rng = np.random.default_rng(6)
    J = rng.normal(size=(8, 3))
    J = np.column_stack((J, np.zeros(8)))         # column 3 does nothing
    R, perm, qtf = factor(J, rng.normal(size=8))
    R[np.abs(R) < 1e-12] = 0.0
    c = J.T @ rng.normal(size=8)                  # no component along e_3
    x = LMSubproblem(R, perm, np.ones(4), qtf).solve_regularized(c, 0.0)
    assert np.all(np.isfinite(x))
    assert x[3] == pytest.approx(0.0, abs=1e-12)
    assert_allclose(J.T @ J @ x, c, rtol=1e-9, atol=1e-12)
