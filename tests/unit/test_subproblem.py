"""Unit tests for lsqbox.linalg.subproblem against brute-force solutions."""
import numpy as np
import pytest
from numpy.linalg import norm
from numpy.testing import assert_allclose
from scipy.linalg import svd

from lsqbox.linalg.subproblem import solve_lsq_trust_region, solve_trust_region_2d


def model(J, f, p):
    r = J @ p + f
    return 0.5 * r @ r


def lm_step(J, f, alpha):
    n = J.shape[1]
    return -np.linalg.solve(J.T @ J + alpha * np.eye(n), J.T @ f)


def brute_force_tr(J, f, Delta):
    """Minimizer of 0.5 ||J p + f||^2 on ||p|| <= Delta by bisection on alpha
    with explicit (J^T J + alpha I)^-1 J^T f (the constrained, non-hard case)."""
    lo, hi = 0.0, 1.0
    while norm(lm_step(J, f, hi)) > Delta:
        hi *= 10.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if norm(lm_step(J, f, mid)) > Delta:
            lo = mid
        else:
            hi = mid
    return lm_step(J, f, hi), hi


def factors(J, f):
    U, s, Vt = svd(J, full_matrices=False)
    return U.T @ f, s, Vt.T


def random_problem(rng, m, n, rank=None):
    if rank is None:
        J = rng.normal(size=(m, n))
    else:
        J = rng.normal(size=(m, rank)) @ rng.normal(size=(rank, n))
    f = rng.normal(size=m)
    return J, f


def min_norm_ls(J, f):
    return -np.linalg.pinv(J) @ f


CASES = [
    # (m, n, rank, label)
    (8, 4, None, "full rank"),
    (10, 6, 3, "rank deficient"),
    (3, 6, None, "m < n"),
    (4, 7, 2, "m < n, rank deficient"),
]


@pytest.mark.parametrize("m, n, rank, label", CASES)
def test_boundary_solution_vs_brute_force(m, n, rank, label):
    rng = np.random.default_rng(m * 100 + n)
    for _ in range(20):
        J, f = random_problem(rng, m, n, rank)
        p_mn = min_norm_ls(J, f)
        # a radius the constraint binds at (Delta < ||min-norm LS step||)
        Delta = norm(p_mn) * rng.uniform(0.05, 0.9)
        uf, s, V = factors(J, f)
        p, alpha, n_iter = solve_lsq_trust_region(n, m, uf, s, V, Delta)
        p_ref, alpha_ref = brute_force_tr(J, f, Delta)
        assert norm(p) == pytest.approx(Delta, rel=1e-12)
        assert alpha > 0
        assert 1 <= n_iter <= 10
        q, q_ref, q0 = model(J, f, p), model(J, f, p_ref), model(J, f, np.zeros(n))
        # never better than the optimum, and within 1% of the optimal decrease
        assert q >= q_ref - 1e-12 * q0
        assert (q - q_ref) <= 1e-2 * (q0 - q_ref)
        # the LM parameter is close to the exact one
        assert alpha == pytest.approx(alpha_ref, rel=0.1)


@pytest.mark.parametrize("m, n, rank, label", CASES)
def test_tight_rtol_reproduces_brute_force_step(m, n, rank, label):
    rng = np.random.default_rng(7 + m + n)
    for _ in range(10):
        J, f = random_problem(rng, m, n, rank)
        Delta = norm(min_norm_ls(J, f)) * rng.uniform(0.05, 0.9)
        uf, s, V = factors(J, f)
        p, alpha, _ = solve_lsq_trust_region(n, m, uf, s, V, Delta, rtol=1e-12, max_iter=100)
        p_ref, alpha_ref = brute_force_tr(J, f, Delta)
        assert_allclose(p, p_ref, rtol=1e-7, atol=1e-9 * Delta)
        assert alpha == pytest.approx(alpha_ref, rel=1e-6)


def test_boundary_solution_vs_scipy_minimize():
    """A second, independent oracle: SLSQP on the sphere."""
    from scipy.optimize import minimize
    rng = np.random.default_rng(11)
    J, f = random_problem(rng, 6, 3)
    Delta = 0.3 * norm(min_norm_ls(J, f))
    uf, s, V = factors(J, f)
    p, _, _ = solve_lsq_trust_region(3, 6, uf, s, V, Delta, rtol=1e-10, max_iter=50)
    res = minimize(lambda q: model(J, f, q), np.zeros(3), jac=lambda q: J.T @ (J @ q + f),
                   constraints=[{"type": "ineq", "fun": lambda q: Delta ** 2 - q @ q}],
                   method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
    assert_allclose(p, res.x, atol=1e-6 * Delta)


def test_interior_gauss_newton_step_has_alpha_zero():
    rng = np.random.default_rng(3)
    for _ in range(10):
        J, f = random_problem(rng, 9, 4)
        p_gn = -np.linalg.lstsq(J, f, rcond=None)[0]
        uf, s, V = factors(J, f)
        for Delta in (norm(p_gn) * 1.0001, norm(p_gn) * 10):
            p, alpha, n_iter = solve_lsq_trust_region(4, 9, uf, s, V, Delta)
            assert alpha == 0.0
            assert n_iter == 0
            assert_allclose(p, p_gn, rtol=1e-10, atol=1e-12)


def test_rank_deficient_never_takes_gauss_newton_shortcut():
    """With a rank-deficient J the Gauss-Newton step does not exist; the
    iteration runs and returns a boundary step with alpha > 0."""
    rng = np.random.default_rng(4)
    J, f = random_problem(rng, 8, 5, rank=3)
    uf, s, V = factors(J, f)
    Delta = 0.5 * norm(min_norm_ls(J, f))
    p, alpha, n_iter = solve_lsq_trust_region(5, 8, uf, s, V, Delta)
    assert alpha > 0 and n_iter >= 1
    assert norm(p) == pytest.approx(Delta)
    # the step lies in the row space of J (no null-space component)
    null = svd(J)[2][3:]
    assert_allclose(null @ p, 0.0, atol=1e-10)


def test_warm_start_gives_same_step():
    rng = np.random.default_rng(5)
    J, f = random_problem(rng, 8, 4)
    Delta = 0.2 * norm(min_norm_ls(J, f))
    uf, s, V = factors(J, f)
    p1, alpha1, _ = solve_lsq_trust_region(4, 8, uf, s, V, Delta)
    for start in (alpha1, alpha1 * 3, alpha1 / 3, 1e6, 1e-9):
        p2, alpha2, _ = solve_lsq_trust_region(4, 8, uf, s, V, Delta, initial_alpha=start)
        assert model(J, f, p2) == pytest.approx(model(J, f, p1), rel=1e-3)
        assert norm(p2) == pytest.approx(Delta)


def test_zero_singular_values_in_the_factors():
    """A J with exactly zero columns (s has exact zeros) is handled."""
    J = np.zeros((5, 3))
    J[:, 0] = [1.0, 2.0, 0.0, 1.0, 0.0]
    f = np.array([1.0, -1.0, 2.0, 0.5, 0.0])
    uf, s, V = factors(J, f)
    assert s[-1] == 0.0
    Delta = 0.05          # the min-norm LS step has norm 1/12: constraint binds
    p, alpha, _ = solve_lsq_trust_region(3, 5, uf, s, V, Delta)
    p_ref, _ = brute_force_tr(J, f, Delta)
    assert np.all(np.isfinite(p))
    assert_allclose(p, p_ref, rtol=1e-2, atol=1e-3 * Delta)


# ---- 2-D subproblem ---------------------------------------------------------------
def q2(B, g, p):
    return 0.5 * p @ B @ p + g @ p


def circle_scan(B, g, Delta, k=200001):
    theta = np.linspace(0, 2 * np.pi, k)
    P = Delta * np.vstack((np.cos(theta), np.sin(theta)))
    values = 0.5 * np.sum(P * (B @ P), axis=0) + g @ P
    i = np.argmin(values)
    return P[:, i], values[i]


def disc_scan(B, g, Delta, k=801):
    xs = np.linspace(-Delta, Delta, k)
    X, Y = np.meshgrid(xs, xs)
    inside = X ** 2 + Y ** 2 <= Delta ** 2
    P = np.vstack((X[inside], Y[inside]))
    return np.min(0.5 * np.sum(P * (B @ P), axis=0) + g @ P)


def test_2d_interior_newton_point():
    B = np.array([[2.0, 0.5], [0.5, 1.0]])
    g = np.array([0.3, -0.4])
    p_newton = -np.linalg.solve(B, g)
    p, newton = solve_trust_region_2d(B, g, 2 * norm(p_newton))
    assert newton is True
    assert_allclose(p, p_newton, rtol=1e-14)


@pytest.mark.parametrize("seed", range(12))
def test_2d_boundary_vs_angle_scan(seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(2, 2))
    if seed % 3 == 0:
        B = A @ A.T                       # positive definite
    elif seed % 3 == 1:
        B = A + A.T                       # usually indefinite
    else:
        v = rng.normal(size=2)
        B = np.outer(v, v)                # singular PSD
    g = rng.normal(size=2)
    if seed % 3 == 0:
        Delta = 0.5 * norm(np.linalg.solve(B, g))   # Newton point outside
    else:
        Delta = rng.uniform(0.1, 3.0)
    p, newton = solve_trust_region_2d(B, g, Delta)
    if newton:
        # only possible when B is PD and the Newton point is inside
        assert np.all(np.linalg.eigvalsh(B) > 0)
        assert norm(p) <= Delta
        assert_allclose(B @ p, -g, atol=1e-12)
    else:
        assert norm(p) == pytest.approx(Delta, rel=1e-10)
        _, best = circle_scan(B, g, Delta)
        # no worse than a dense angle scan (which is itself a hair from optimal)
        assert q2(B, g, p) <= best + 1e-9 * (1 + abs(best))
        assert q2(B, g, p) <= disc_scan(B, g, Delta) + 1e-9


def test_2d_minimum_at_the_tangent_half_angle_pole():
    """p = (0, -Delta) is t -> inf in the tangent half-angle parametrization."""
    p, newton = solve_trust_region_2d(np.zeros((2, 2)), np.array([0.0, 1.0]), 2.0)
    assert not newton
    assert_allclose(p, [0.0, -2.0], atol=1e-14)
    p, _ = solve_trust_region_2d(np.diag([1.0, -1.0]), np.array([0.0, 0.5]), 1.5)
    assert_allclose(p, [0.0, -1.5], atol=1e-12)


# ---- the minimum-norm step inside the region, without full column rank ------------
def test_underdetermined_min_norm_step_inside_region():
    """m < n (full row rank, so J p + f = 0 is solvable) with the minimum-norm
    solution inside the region: the answer is that step (model value 0) with
    alpha = 0, or any optimal step of norm <= Delta.

    BUG (src/lsqbox/linalg/subproblem.py: solve_lsq_trust_region; SciPy's copy
    has it too): the Gauss-Newton shortcut requires m >= n, and with V of shape
    (n, m) ||p(alpha)|| < Delta for every alpha >= 0, so the Newton iteration
    drives alpha negative (here -0.498) and the step, rescaled to Delta, makes
    the model worse than p = 0 (0.715 vs 0.339). End to end,
    least_squares(lambda x: J @ x + f, zeros(6)) for this linear 3 x 6 problem
    takes nfev=30 and stops at cost 1.6e-16 (SciPy: identical).
    """
    rng = np.random.default_rng(1)
    J, f = random_problem(rng, 3, 6)
    uf, s, V = factors(J, f)
    p_mn = min_norm_ls(J, f)
    Delta = 2 * norm(p_mn)
    p, alpha, _ = solve_lsq_trust_region(6, 3, uf, s, V, Delta)
    assert alpha >= 0
    assert norm(p) <= Delta * (1 + 1e-12)
    assert model(J, f, p) <= 1e-2 * model(J, f, np.zeros(6))


def test_exact_zero_singular_value_gives_finite_step():
    """J = diag(1, 0), f = (-1, -1): the iteration reaches alpha == 0 exactly
    (alpha_lower) and then divides 0 / (0 + 0).

    BUG (src/lsqbox/linalg/subproblem.py: solve_lsq_trust_region; SciPy's copy
    has it too): with initial_alpha=1.0 and Delta=1 the result is p = [nan, nan],
    alpha = nan. This happens inside lsqbox.least_squares when a Jacobian column
    is exactly zero (e.g. after the finite-difference problem in
    test_finite_difference.py::test_tiny_nonzero_start_gives_usable_steps).
    """
    uf = np.array([-1.0, -1.0])
    s = np.array([1.0, 0.0])
    V = np.eye(2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p, alpha, _ = solve_lsq_trust_region(2, 3, uf, s, V, 1.0, initial_alpha=1.0)
    assert np.all(np.isfinite(p)) and np.isfinite(alpha)
    assert alpha >= 0
    assert norm(p) <= 1.0 * (1 + 1e-12)


def test_secular_sums_lists_and_arrays_agree():
    from lsqbox.linalg.subproblem import as_short_vectors, secular_sums
    a = np.array([3.0, -1.0, 0.5])
    s2 = np.array([4.0, 1.0, 0.25])
    p2, dp = secular_sums(0.3, a, s2)
    q = a / (s2 + 0.3)
    assert_allclose((p2, dp), (q @ q, q @ (q / (s2 + 0.3))), rtol=1e-15)
    short = as_short_vectors(a, s2)
    assert isinstance(short[0], list)
    assert_allclose(secular_sums(0.3, *short), (p2, dp), rtol=1e-14)
    # A zero denominator (s = 0, alpha = 0) falls back to numpy's inf/nan.
    with np.errstate(divide="ignore", invalid="ignore"):
        p2_zero, _ = secular_sums(0.0, [1.0, 2.0], [0.0, 1.0])
    assert p2_zero == np.inf
    long_vectors = as_short_vectors(np.ones(40), np.ones(40))
    assert isinstance(long_vectors[0], np.ndarray)


def test_rank_deficient_fallback_never_stretches_the_minimum_norm_step():
    """J of rank 1 with the minimum-norm step (length 1) inside a radius of 5:
    Moré's iteration has no root and falls back to the minimum-norm step. It
    is returned as it is; stretched to the radius the model would predict an
    increase (0.5 * 25 - 5 = 7.5 > 0)."""
    J = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    f = np.array([-1.0, 0.5, 0.5])
    U, s, Vt = svd(J, full_matrices=False)
    p, alpha, _ = solve_lsq_trust_region(2, 3, U.T.dot(f), s, Vt.T, 5.0)
    assert_allclose(p, [1.0, 0.0], atol=1e-15)
    assert alpha == 0.0
    model = 0.5 * norm(J.dot(p) + f) ** 2 - 0.5 * norm(f) ** 2
    assert model < 0


def test_python_float_iteration_falls_back_to_numpy_on_zero_division():
    """Moré's iteration runs on Python floats for short vectors; where they
    would raise (phi' underflows to -0.0 while ||p|| > 0: s = 1e50,
    U^T f = 1e-100), it runs again on numpy floats, whose inf/nan lead to the
    minimum-norm fallback: a finite step of length Delta, alpha 0."""
    s, uf, V = np.array([1e50]), np.array([1e-100]), np.eye(1)
    Delta = 1e-160
    with np.errstate(all="ignore"):
        p, alpha, _ = solve_lsq_trust_region(1, 1, uf, s, V, Delta)
    assert np.all(np.isfinite(p))
    assert alpha == 0.0
    assert_allclose(p, [-Delta], rtol=1e-12)


def test_python_and_numpy_float_iterations_agree():
    from lsqbox.linalg.subproblem import _more_iteration, as_short_vectors
    rng = np.random.default_rng(3)
    J, f = random_problem(rng, 8, 4)
    uf, s, V = factors(J, f)
    suf, s2 = s * uf, s * s
    Delta = 0.1 * norm(V @ (uf / s))
    upper = norm(suf) / Delta
    fast = _more_iteration(*as_short_vectors(suf, s2), float(Delta), None, 0.0, float(upper),
                           True, 0.01, 10)
    slow = _more_iteration(suf, s2, np.float64(Delta), None, np.float64(0.0),
                           np.float64(upper), True, 0.01, 10)
    assert type(fast[0]) is float and type(slow[0]) is np.float64
    assert fast[1] == slow[1]
    assert fast[0] == pytest.approx(slow[0], rel=1e-12)
