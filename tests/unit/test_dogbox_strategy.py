"""Unit tests for lsqbox.strategies.dogbox.DogboxStrategy on fixed linearizations."""
import numpy as np
import pytest
from numpy.linalg import norm
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse import csr_array
from scipy.sparse.linalg import aslinearoperator

from lsqbox.strategies import Linearization, Trial
from lsqbox.strategies.dogbox import DogboxStrategy

inf = np.inf


def linearization(seed, x, m=8, scale=None, J_kind="dense"):
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=float)
    n = x.size
    J = rng.normal(size=(m, n))
    f = rng.normal(size=m) * 2
    scale = np.ones(n) if scale is None else np.asarray(scale, dtype=float)
    g = J.T @ f
    Jk = {"dense": J, "sparse": csr_array(J), "operator": aslinearoperator(J)}[J_kind]
    return Linearization(x, f, Jk, g, scale, 1.0 / scale), J


def model_decrease(J, g, s):
    return -(0.5 * norm(J @ s) ** 2 + g @ s)


def run_trial(strategy, lin, Delta):
    strategy.prepare(lin, strategy.optimality(lin), Delta)
    return strategy.propose(Delta)


@pytest.mark.parametrize("solver, J_kind", [("exact", "dense"), ("lsmr", "dense"),
                                            ("lsmr", "sparse"), ("lsmr", "operator")])
@pytest.mark.parametrize("seed", range(6))
def test_step_in_box_and_predicted_reduction(solver, J_kind, seed):
    rng = np.random.default_rng(seed)
    n = 4
    x = rng.uniform(-0.5, 0.5, n)
    scale = rng.uniform(0.5, 2.0, n)
    lin, J = linearization(seed, x, scale=scale, J_kind=J_kind)
    gn = np.linalg.lstsq(J, -lin.f, rcond=None)[0]
    lb = x - np.abs(gn) * rng.uniform(0.1, 1.5, n)
    ub = x + np.abs(gn) * rng.uniform(0.1, 1.5, n)
    lb[0], ub[1] = -inf, inf
    strategy = DogboxStrategy(lb, ub, solver, {"atol": 1e-12, "btol": 1e-12}
                              if solver == "lsmr" else {}, x)
    for Delta in (0.01, 0.2, 1.0, 100.0):
        trial = run_trial(strategy, lin, Delta)
        assert isinstance(trial, Trial)
        # inf-norm box in scaled variables
        assert trial.step_h_norm == pytest.approx(norm(trial.step / scale, ord=inf))
        assert trial.step_h_norm <= Delta * (1 + 1e-12)
        assert np.all(np.abs(trial.step) <= Delta * scale * (1 + 1e-12))
        # feasible, possibly on a bound
        assert np.all(trial.x_new >= lb) and np.all(trial.x_new <= ub)
        assert_allclose(trial.x_new, x + trial.step, rtol=1e-14, atol=1e-15)
        assert trial.predicted_reduction == pytest.approx(
            model_decrease(J, lin.g, trial.step), rel=1e-9)
        assert trial.predicted_reduction > 0


def test_newton_step_when_it_fits():
    x = np.zeros(3)
    lin, J = linearization(1, x)
    strategy = DogboxStrategy(np.full(3, -inf), np.full(3, inf), "exact", {}, x)
    trial = run_trial(strategy, lin, 1e3)
    gn = np.linalg.lstsq(J, -lin.f, rcond=None)[0]
    assert_allclose(trial.step, gn, rtol=1e-12)
    assert trial.tr_hit is False
    assert not strategy.bound_hit(trial, 1e3)


def test_active_set_and_optimality():
    # variable 0 at its lower bound with g > 0 (pushing out): held fixed
    x = np.array([0.0, 0.3, 0.4])
    lin, J = linearization(2, x)
    g = lin.g.copy()
    lb = np.array([0.0, -inf, -inf])
    ub = np.full(3, inf)
    if g[0] < 0:          # make g[0] > 0 by flipping the sign of that column
        J[:, 0] *= -1
        lin = Linearization(x, lin.f, J, J.T @ lin.f, lin.scale, lin.scale_inv)
    assert lin.g[0] > 0
    strategy = DogboxStrategy(lb, ub, "exact", {}, x)
    assert_array_equal(strategy.on_bound, [-1, 0, 0])
    assert strategy.optimality(lin) == pytest.approx(norm(lin.g[1:], ord=inf))
    for Delta in (0.05, 10.0):
        trial = run_trial(strategy, lin, Delta)
        assert trial.step[0] == 0.0
        assert trial.x_new[0] == 0.0
        # model over the free variables only
        assert trial.predicted_reduction == pytest.approx(
            model_decrease(J[:, 1:], lin.g[1:], trial.step[1:]), rel=1e-10)
    # with the gradient pointing inward the variable is free again
    lin_in = Linearization(x, -lin.f, J, -lin.g, lin.scale, lin.scale_inv)
    assert strategy.optimality(lin_in) == pytest.approx(norm(lin.g, ord=inf))


def test_initial_on_bound_from_x0():
    x0 = np.array([0.0, 1.0, 0.5])
    strategy = DogboxStrategy(np.zeros(3), np.ones(3), "exact", {}, x0)
    assert_array_equal(strategy.on_bound, [-1, 1, 0])
    assert_array_equal(strategy.active_mask(x0, 1e-8), [-1, 1, 0])
    assert strategy.active_mask(x0, 1e-8) is not strategy.on_bound


def test_accept_snaps_to_bounds():
    x = np.array([0.5, 0.5])
    lin, J = linearization(3, x, m=5)
    gn = np.linalg.lstsq(J, -lin.f, rcond=None)[0]
    # bounds just short of the Newton step in both coordinates
    lb = np.where(gn < 0, x + 0.3 * gn, -inf)
    ub = np.where(gn > 0, x + 0.3 * gn, inf)
    strategy = DogboxStrategy(lb, ub, "exact", {}, x)
    trial = run_trial(strategy, lin, 100.0)
    assert np.any(trial.on_bound != 0)
    x_acc = strategy.accept(trial)
    for i in range(2):
        if strategy.on_bound[i] == -1:
            assert x_acc[i] == lb[i]              # exactly, not within rounding
        elif strategy.on_bound[i] == 1:
            assert x_acc[i] == ub[i]
        else:
            assert x_acc[i] == trial.x_new[i]
    assert_array_equal(strategy.active_mask(x_acc, 1e-8), strategy.on_bound)
    assert trial.x_new is not x_acc


def test_accept_releases_bounds_for_free_variables():
    x0 = np.array([0.0, 0.5])
    lb, ub = np.zeros(2), np.full(2, inf)
    lin, J = linearization(4, x0, m=5)
    if lin.g[0] > 0:       # make the gradient pull variable 0 inside
        J[:, 0] *= -1
        lin = Linearization(x0, lin.f, J, J.T @ lin.f, lin.scale, lin.scale_inv)
    strategy = DogboxStrategy(lb, ub, "exact", {}, x0)
    assert strategy.on_bound[0] == -1
    trial = run_trial(strategy, lin, 0.01)
    strategy.accept(trial)
    assert strategy.on_bound[0] == trial.on_bound[0]


def test_initial_radius_and_bound_hit():
    x = np.array([2.0, -3.0])
    lin, J = linearization(5, x, scale=np.array([1.0, 0.5]))
    strategy = DogboxStrategy(np.full(2, -inf), np.full(2, inf), "exact", {}, x)
    assert strategy.initial_radius(lin) == pytest.approx(6.0)   # ||x / scale||_inf
    lin0, _ = linearization(5, np.zeros(2))
    assert strategy.initial_radius(lin0) == 1.0
    trial = run_trial(strategy, lin, 1e-3)
    assert trial.tr_hit is True
    assert strategy.bound_hit(trial, 1e-3) is True
    # radius changes keep no state
    strategy.radius_changed(1.0, 2.0)
