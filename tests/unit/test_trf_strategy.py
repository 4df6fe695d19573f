"""Unit tests for lsqbox.strategies.trf.TRFStrategy on fixed linearizations."""
import numpy as np
import pytest
from numpy.linalg import norm
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse import csr_array
from scipy.sparse.linalg import aslinearoperator

from lsqbox.bounds import cl_scaling_vector, find_active_constraints
from lsqbox.strategies import Linearization, Trial
from lsqbox.strategies.trf import TRFStrategy

inf = np.inf


def linearization(seed, m=8, n=4, x=None, scale=None, J_kind="dense"):
    rng = np.random.default_rng(seed)
    J = rng.normal(size=(m, n))
    f = rng.normal(size=m) * 2
    x = rng.uniform(-0.5, 0.5, n) if x is None else np.asarray(x, dtype=float)
    scale = np.ones(n) if scale is None else np.asarray(scale, dtype=float)
    g = J.T @ f
    Jk = {"dense": J, "sparse": csr_array(J), "operator": aslinearoperator(J)}[J_kind]
    return Linearization(x, f, Jk, g, scale, 1.0 / scale), J


def hat_model(lin, J, lb, ub, step):
    """Model decrease of TRF in the hat variables, written independently:
    q(s_h) = 0.5 ||J_h s_h||^2 + g_h.s_h + 0.5 s_h diag(g dv scale) s_h."""
    v, dv = cl_scaling_vector(lin.x, lin.g, lb, ub)
    v = v.copy()
    v[dv != 0] *= lin.scale_inv[dv != 0]
    d = np.sqrt(v) * lin.scale
    s_h = step / d
    J_h = J * d
    q = 0.5 * norm(J_h @ s_h) ** 2 + (d * lin.g) @ s_h + 0.5 * s_h @ (lin.g * dv * lin.scale * s_h)
    return -q, s_h


def run_trial(strategy, lin, Delta):
    g_norm = strategy.optimality(lin)
    strategy.prepare(lin, g_norm, Delta)
    return strategy.propose(Delta)


UNBOUNDED = (np.full(4, -inf), np.full(4, inf))


@pytest.mark.parametrize("solver, J_kind", [("exact", "dense"), ("lsmr", "dense"),
                                            ("lsmr", "sparse"), ("lsmr", "operator")])
@pytest.mark.parametrize("Delta", [0.01, 0.3, 100.0])
def test_unbounded_step_within_radius_and_predicted_reduction(solver, J_kind, Delta):
    lb, ub = UNBOUNDED
    scale = np.array([1.0, 2.0, 0.5, 1.0])
    lin, J = linearization(1, scale=scale, J_kind=J_kind)
    strategy = TRFStrategy(lb, ub, solver, {})
    trial = run_trial(strategy, lin, Delta)
    assert isinstance(trial, Trial)
    step_h = trial.step / scale
    assert trial.step_h_norm == pytest.approx(norm(step_h), rel=1e-12)
    assert trial.step_h_norm <= Delta * (1 + 1e-10)
    assert_allclose(trial.x_new, lin.x + trial.step, rtol=1e-15)
    predicted = -(0.5 * norm(J @ trial.step) ** 2 + lin.g @ trial.step)
    assert trial.predicted_reduction == pytest.approx(predicted, rel=1e-10)
    assert trial.predicted_reduction > 0
    gn = np.linalg.lstsq(J, -lin.f, rcond=None)[0]
    if Delta == 100.0 and solver == "exact":
        assert_allclose(trial.step, gn, rtol=1e-10, atol=1e-12)
    elif Delta == 100.0:
        # LSMR's direction is regularized by reg_term = O(1 / Delta^2)
        assert_allclose(trial.step, gn, rtol=1e-2, atol=1e-3)
    else:
        assert trial.step_h_norm == pytest.approx(Delta, rel=1e-6)


def test_exact_steps_matches_brute_force_trust_region():
    lb, ub = UNBOUNDED
    lin, J = linearization(2)
    Delta = 0.2
    trial = run_trial(TRFStrategy(lb, ub, "exact", {}), lin, Delta)
    # brute force: scan alpha for ||(J^T J + a I)^-1 g|| = Delta
    lo, hi = 0.0, 1e6
    for _ in range(200):
        a = 0.5 * (lo + hi)
        p = -np.linalg.solve(J.T @ J + a * np.eye(4), lin.g)
        lo, hi = (a, hi) if norm(p) > Delta else (lo, a)
    q = lambda s: 0.5 * norm(J @ s) ** 2 + lin.g @ s  # noqa: E731
    assert q(trial.step) <= q(p) + 1e-2 * abs(q(p))
    assert norm(trial.step) == pytest.approx(Delta)


@pytest.mark.parametrize("solver", ["exact", "lsmr"])
@pytest.mark.parametrize("seed", range(8))
def test_bounded_step_strictly_feasible_and_model_decrease(solver, seed):
    rng = np.random.default_rng(100 + seed)
    n = 4
    lin, J = linearization(seed, scale=rng.uniform(0.5, 2.0, n))
    # a box the unconstrained step leaves, with the point strictly inside
    gn = np.linalg.lstsq(J, -lin.f, rcond=None)[0]
    lb = lin.x - np.abs(gn) * rng.uniform(0.05, 0.6, n)
    ub = lin.x + np.abs(gn) * rng.uniform(0.05, 0.6, n)
    lb[0] = -inf
    strategy = TRFStrategy(lb, ub, solver, {})
    for Delta in (0.05, 1.0, 50.0):
        trial = run_trial(strategy, lin, Delta)
        assert np.all(trial.x_new > lb) and np.all(trial.x_new < ub)
        predicted, s_h = hat_model(lin, J, lb, ub, trial.step)
        assert trial.predicted_reduction == pytest.approx(predicted, rel=1e-8, abs=1e-12)
        assert trial.predicted_reduction > 0
        assert trial.step_h_norm == pytest.approx(norm(s_h), rel=1e-10)
        assert trial.step_h_norm <= Delta * (1 + 1e-8)
        # x_new is x + step, moved at most one ulp off a bound
        assert_allclose(trial.x_new, lin.x + trial.step, rtol=1e-14, atol=1e-300)


def test_point_on_a_bound_moves_inside():
    lb = np.array([0.0, -inf, -inf, -inf])
    ub = np.full(4, inf)
    lin, J = linearization(5, x=[1e-12, 0.0, 0.0, 0.0])
    strategy = TRFStrategy(lb, ub, "exact", {})
    trial = run_trial(strategy, lin, 1.0)
    assert trial.x_new[0] > 0


def test_optimality_initial_radius_and_active_mask():
    lb = np.array([0.0, -1.0, -inf, -inf])
    ub = np.array([2.0, 1.0, inf, inf])
    x = np.array([0.5, 0.5, 3.0, 0.0])
    lin, J = linearization(6, x=x, scale=np.array([1.0, 2.0, 1.0, 1.0]))
    strategy = TRFStrategy(lb, ub, "exact", {})
    v, _ = cl_scaling_vector(x, lin.g, lb, ub)
    assert strategy.optimality(lin) == pytest.approx(norm(v * lin.g, ord=inf))
    assert strategy.initial_radius(lin) == pytest.approx(norm(x * lin.scale_inv / np.sqrt(v)))
    lin0, _ = linearization(6, x=np.zeros(4))
    assert TRFStrategy(*UNBOUNDED, "exact", {}).initial_radius(lin0) == 1.0
    xa = np.array([1e-11, 1.0, 5.0, 0.0])
    assert_array_equal(strategy.active_mask(xa, 1e-8), find_active_constraints(xa, lb, ub, 1e-8))
    assert_array_equal(strategy.active_mask(xa, 1e-8), [-1, 1, 0, 0])


def test_bound_hit_accept_and_radius_changed():
    lin, J = linearization(7)
    strategy = TRFStrategy(*UNBOUNDED, "exact", {})
    trial = run_trial(strategy, lin, 0.1)
    assert strategy.bound_hit(trial, 0.1)                 # on the sphere
    assert not strategy.bound_hit(trial, trial.step_h_norm / 0.9)
    assert strategy.accept(trial) is trial.x_new
    alpha = strategy.alpha
    assert alpha > 0
    strategy.radius_changed(0.1, 0.4)
    assert strategy.alpha == pytest.approx(alpha / 4)


def test_rejected_radius_reuses_factorization():
    """prepare once, propose for several radii: smaller radius, shorter step."""
    lin, J = linearization(8)
    strategy = TRFStrategy(*UNBOUNDED, "exact", {})
    strategy.prepare(lin, strategy.optimality(lin), 1.0)
    previous = np.inf
    for Delta in (1.0, 0.25, 0.0625):
        trial = strategy.propose(Delta)
        assert trial.step_h_norm <= Delta * (1 + 1e-10)
        assert trial.step_h_norm <= previous
        previous = trial.step_h_norm


def test_lsmr_without_regularization_finds_gauss_newton():
    lin, J = linearization(11)
    trial = run_trial(TRFStrategy(*UNBOUNDED, "lsmr", {"regularize": False,
                                                       "atol": 1e-12, "btol": 1e-12}),
                      lin, 100.0)
    gn = np.linalg.lstsq(J, -lin.f, rcond=None)[0]
    assert_allclose(trial.step, gn, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("regularize", [True, False])
def test_lsmr_regularize_option(regularize):
    lin, J = linearization(9)
    trial = run_trial(TRFStrategy(*UNBOUNDED, "lsmr", {"regularize": regularize}), lin, 0.3)
    assert trial.step_h_norm <= 0.3 * (1 + 1e-10)
    assert trial.predicted_reduction > 0


@pytest.mark.parametrize("bounds", ["unbounded", "bounded"])
def test_lsmr_damp_option_like_scipy(bounds):
    """SciPy's trf pops `damp` from tr_options and uses
    sqrt(damp**2 + reg_term) as LSMR's damping (trf_no_bounds).

    BUG (src/lsqbox/strategies/trf.py: TRFStrategy.prepare): `damp` is left in
    the LSMR options and passed again next to ``damp=reg_term ** 0.5``:
    TypeError "lsmr() got multiple values for keyword argument 'damp'"
    (unbounded problems, and bounded ones whose diag_h is all zero). End to end,
    least_squares(f, x0, tr_solver='lsmr', tr_options={'damp': 0.1}) raises,
    where SciPy solves.
    """
    lin, J = linearization(10, x=np.zeros(4))
    if bounds == "unbounded":
        lb, ub = UNBOUNDED
    else:
        # finite bounds away from where the gradient points: diag_h == 0
        lb = np.where(lin.g < 0, -10.0, -inf)
        ub = np.where(lin.g > 0, 10.0, inf)
    trial = run_trial(TRFStrategy(lb, ub, "lsmr", {"damp": 0.1}), lin, 0.3)
    assert trial.step_h_norm <= 0.3 * (1 + 1e-10)
    assert trial.predicted_reduction > 0
