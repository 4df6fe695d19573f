"""Unit tests for lsqbox.strategies.lm.LMStrategy on fixed linearizations."""
import numpy as np
import pytest
from numpy.linalg import norm
from numpy.testing import assert_allclose

from lsqbox.strategies import Linearization
from lsqbox.strategies.lm import LMStrategy
from lsqbox.termination import Status


def linearization(seed, x, m=8):
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=float)
    J = rng.normal(size=(m, x.size)) * rng.uniform(0.5, 5, x.size)
    f = rng.normal(size=m)
    ones = np.ones(x.size)
    return Linearization(x, f, J, J.T @ f, ones, ones), J


def test_initial_radius_adaptive_and_fixed():
    x = np.array([1.0, -2.0, 0.5])
    lin, J = linearization(0, x)
    s = LMStrategy("jac")
    assert s.initial_radius(lin) == pytest.approx(100 * norm(norm(J, axis=0) * x))
    s = LMStrategy(np.array([2.0, 1.0, 4.0]))
    assert s.initial_radius(lin) == pytest.approx(100 * norm(x / [2.0, 1.0, 4.0]))
    lin0, _ = linearization(0, np.zeros(3))
    assert LMStrategy("jac").initial_radius(lin0) == 100.0


def test_optimality_is_the_largest_cosine():
    lin, J = linearization(1, np.zeros(4))
    s = LMStrategy("jac")
    cos = np.abs(J.T @ lin.f) / (norm(J, axis=0) * norm(lin.f))
    assert s.optimality(lin) == pytest.approx(cos.max(), rel=1e-12)
    assert s.result_optimality(lin, None) == pytest.approx(norm(lin.g, ord=np.inf))
    g_norm, status = s.first_order_status(lin, 1e-8, None)
    assert g_norm == pytest.approx(cos.max()) and status is None
    g_norm, status = s.first_order_status(lin, 1.0, None)
    assert status == Status.GTOL
    # after a step tolerance the gradient test is skipped; ||g||_inf is reported
    g_norm, status = s.first_order_status(lin, 1.0, Status.XTOL)
    assert status == Status.XTOL and g_norm == pytest.approx(norm(lin.g, ord=np.inf))


@pytest.mark.parametrize("scale", ["jac", "fixed"])
def test_propose_step_on_scaled_sphere(scale):
    x = np.array([0.1, 0.2, -0.3, 0.4])
    lin, J = linearization(2, x)
    s = LMStrategy("jac" if scale == "jac" else np.array([1.0, 0.5, 2.0, 1.0]))
    s.initial_radius(lin)
    s.prepare(lin, s.optimality(lin), 1.0)
    D = s.diag
    gn = np.linalg.lstsq(J, -lin.f, rcond=None)[0]
    Delta = 0.2 * norm(D * gn)
    trial = s.propose(Delta)
    assert trial.step_h_norm == pytest.approx(norm(D * trial.step))
    assert abs(trial.step_h_norm - Delta) <= 0.1 * Delta * (1 + 1e-12)
    assert_allclose(trial.x_new, x + trial.step)
    assert trial.Jp_norm == pytest.approx(norm(J @ trial.step), rel=1e-10)
    # step solves (J^T J + par D^2) step = -J^T f
    assert_allclose((J.T @ J + s.par * np.diag(D ** 2)) @ trial.step, -lin.g,
                    rtol=1e-8, atol=1e-10)
    # Gauss-Newton when it fits
    big = s.propose(10 * norm(D * gn))
    assert s.par == 0.0
    assert_allclose(big.step, gn, rtol=1e-10)


def test_judge_accepts_a_decrease_and_clips_first_radius():
    x = np.zeros(3)
    lin, J = linearization(3, x)
    s = LMStrategy("jac")
    Delta = s.initial_radius(lin)
    s.first_order_status(lin, 0.0, None)
    s.prepare(lin, 0.0, Delta)
    trial = s.propose(Delta)
    cost = 0.5 * norm(lin.f) ** 2
    f_new = lin.f + J @ trial.step                     # linear model: exact
    v = s.judge(Delta, trial, cost, 0.5 * norm(f_new) ** 2, 0.0, 1e-8, 1e-8)
    assert v.accepted
    assert v.ratio == pytest.approx(1.0, rel=1e-8)
    assert v.Delta <= 2 * trial.step_h_norm * (1 + 1e-12)
    # an increase is rejected and shrinks the radius
    v = s.judge(Delta, trial, cost, 4 * cost, 0.0, 1e-8, 1e-8)
    assert not v.accepted
    # MINPACK: Delta = temp * min(Delta, pnorm / 0.1) with temp in [0.1, 0.5]
    bound = min(Delta, trial.step_h_norm / 0.1)
    assert 0.1 * bound * (1 - 1e-12) <= v.Delta <= 0.5 * bound * (1 + 1e-12)
