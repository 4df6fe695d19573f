"""Unit tests for lsqbox.strategies.rules (SciPy's trust-region rules)."""
import numpy as np
import pytest

from lsqbox.strategies import Trial
from lsqbox.strategies.rules import (TrustRegionRules, Verdict, interpolated_shrink,
                                     update_radius)
from lsqbox.termination import Status


@pytest.mark.parametrize("args, expected", [
    # (Delta, actual, predicted, step_norm, bound_hit) -> (Delta_new, ratio)
    ((2.0, 0.1, 1.0, 1.6, True), (0.4, 0.1)),     # poor: quarter of the step
    ((2.0, -1.0, 1.0, 1.6, False), (0.4, -1.0)),  # increase: quarter of the step
    ((2.0, 0.5, 1.0, 1.6, True), (2.0, 0.5)),     # fair: unchanged
    ((2.0, 0.25, 1.0, 1.6, True), (2.0, 0.25)),   # 0.25 is "fair"
    ((2.0, 0.75, 1.0, 1.6, True), (2.0, 0.75)),   # 0.75 is "fair"
    ((2.0, 0.9, 1.0, 1.9, True), (4.0, 0.9)),     # good and on the boundary: double
    ((2.0, 0.9, 1.0, 1.0, False), (2.0, 0.9)),    # good but interior: unchanged
    ((2.0, 1.5, 1.0, 2.0, True), (4.0, 1.5)),     # better than predicted
    ((2.0, 0.0, 0.0, 1.0, False), (2.0, 1.0)),    # 0 == 0: ratio 1
    ((2.0, 0.0, 0.0, 1.9, True), (4.0, 1.0)),     # ... which is "good"
    ((2.0, 0.1, 0.0, 1.0, True), (0.25, 0.0)),    # predicted 0, actual not: ratio 0
    ((2.0, 0.1, -1.0, 1.0, True), (0.25, 0.0)),   # predicted < 0: ratio 0
])
def test_update_radius_cases(args, expected):
    Delta, ratio = update_radius(*args)
    assert Delta == pytest.approx(expected[0])
    assert ratio == pytest.approx(expected[1])


def test_update_radius_matches_scipy():
    from scipy.optimize._lsq.common import update_tr_radius
    rng = np.random.default_rng(0)
    for _ in range(1000):
        Delta = rng.uniform(0.1, 10)
        pred = rng.choice([0.0, rng.uniform(-1, 2)])
        act = rng.choice([0.0, pred * rng.uniform(-0.5, 1.5), rng.uniform(-1, 2)])
        step = rng.uniform(0, Delta)
        hit = bool(rng.integers(2))
        assert update_radius(Delta, act, pred, step, hit) == \
            pytest.approx(update_tr_radius(Delta, act, pred, step, hit))


class Rules(TrustRegionRules):
    def __init__(self, g_norm=1.0, hit=True):
        self.g_norm = g_norm
        self.hit = hit
        self.changes = []

    def optimality(self, lin):
        return self.g_norm

    def bound_hit(self, trial, Delta):
        return self.hit

    def radius_changed(self, Delta_old, Delta_new):
        self.changes.append((Delta_old, Delta_new))


def trial(step, predicted):
    step = np.asarray(step, dtype=float)
    return Trial(x_new=step, step=step, step_h_norm=float(np.linalg.norm(step)),
                 predicted_reduction=predicted, tr_hit=None)


def test_first_order_status():
    assert Rules(g_norm=1e-9).first_order_status(None, 1e-8, None) == (1e-9, Status.GTOL)
    assert Rules(g_norm=1.0).first_order_status(None, 1e-8, None) == (1.0, None)
    # a step tolerance met on the way stays unless gtol overrides it
    assert Rules(g_norm=1.0).first_order_status(None, 1e-8, Status.XTOL) == (1.0, Status.XTOL)
    assert Rules(g_norm=0.0).first_order_status(None, 1e-8, Status.XTOL) == (0.0, Status.GTOL)
    assert Rules().result_optimality(None, 0.3) == 0.3


def test_failed_step_quarters_the_step():
    assert Rules().failed_step(10.0, trial([3.0, 4.0], 1.0)) == 1.25


def test_judge_good_step_on_boundary_doubles():
    r = Rules(hit=True)
    v = r.judge(5.0, trial([3.0, 4.0], 2.0), cost=10.0, cost_new=8.0, x_norm=1.0,
                ftol=1e-8, xtol=1e-8)
    assert isinstance(v, Verdict)
    assert v.accepted and v.status is None
    assert v.Delta == 10.0 and v.ratio == 1.0 and v.actual_reduction == 2.0
    assert r.changes == [(5.0, 10.0)]


def test_judge_bad_step_rejected_and_radius_shrinks():
    r = Rules()
    v = r.judge(5.0, trial([3.0, 4.0], 2.0), cost=10.0, cost_new=11.0, x_norm=1.0,
                ftol=1e-8, xtol=1e-8)
    assert not v.accepted and v.status is None
    assert v.Delta == 1.25 and v.actual_reduction == -1.0
    assert r.changes == [(5.0, 1.25)]


def test_judge_tolerance_keeps_radius_and_skips_hook():
    r = Rules()
    v = r.judge(5.0, trial([1e-12, 0.0], 1e-13), cost=10.0, cost_new=10.0 - 1e-13,
                x_norm=1.0, ftol=1e-8, xtol=1e-8)
    assert v.accepted
    assert v.status == Status.FTOL_AND_XTOL
    assert v.Delta == 5.0
    assert r.changes == []
    # ratio 0.2 is not good enough for ftol (SciPy's > 1/4); xtol alone
    v = r.judge(5.0, trial([1e-12, 0.0], 1e-13), cost=10.0, cost_new=10.0 - 0.2e-13,
                x_norm=1.0, ftol=1e-8, xtol=1e-8)
    assert v.status == Status.XTOL


def test_bound_hit_is_abstract():
    with pytest.raises(NotImplementedError):
        TrustRegionRules().bound_hit(None, 1.0)


# -- MINPACK's radius after a poor step (jac='broyden', method='trf') ---------
@pytest.mark.parametrize("args, expected", [
    # (Delta, actual, slope, cost, cost_new, step_norm) -> Delta_new
    ((2.0, 0.1, -2.0, 10.0, 9.9, 1.6), 0.5),         # decrease, poor: quarter of the radius
    ((2.0, -1.0, -2.0, 10.0, 11.0, 1.6), 2.0 / 3),   # 0.5 * 2 / 3 = 1/3 of the radius
    ((10.0, -1.0, -2.0, 10.0, 11.0, 0.5), 5.0 / 3),  # step well inside: 1/3 of 10 |step|
    ((2.0, -50.0, -2.0, 10.0, 60.0, 1.6), 0.2),      # interpolation below 0.1: 0.1
    ((2.0, -990.0, -2.0, 10.0, 1000.0, 1.6), 0.2),   # cost grew 100-fold: 0.1
    ((2.0, -0.01, -2.0, 10.0, 10.01, 1.6), 0.5 * 2 / 2.01 * 2.0),  # mild increase: near 1/2
    ((2.0, -1.0, None, 10.0, 11.0, 1.6), 0.2),       # no slope: 0.1
    ((2.0, -1.0, 0.5, 10.0, 11.0, 1.6), 0.2),        # not a descent direction: 0.1
])
def test_interpolated_shrink_cases(args, expected):
    assert interpolated_shrink(*args) == pytest.approx(expected)


def test_judge_uses_the_interpolated_shrink_only_when_asked():
    t = trial([3.0, 4.0], 2.0)
    t.slope = -2.0
    plain = Rules().judge(10.0, t, cost=10.0, cost_new=11.0, x_norm=1.0, ftol=1e-8,
                          xtol=1e-8)
    assert plain.Delta == 1.25                      # SciPy: a quarter of the step
    r = Rules()
    r.interpolated_shrink = True
    v = r.judge(10.0, t, cost=10.0, cost_new=11.0, x_norm=1.0, ftol=1e-8, xtol=1e-8)
    assert not v.accepted and v.ratio == plain.ratio
    assert v.Delta == pytest.approx(10.0 / 3)       # 1/3 of min(10, 10 * 5)
    assert r.changes == [(10.0, pytest.approx(10.0 / 3))]
    # A fair step leaves the radius to SciPy's rule either way.
    v = r.judge(10.0, t, cost=10.0, cost_new=9.0, x_norm=1.0, ftol=1e-8, xtol=1e-8)
    assert v.Delta == 10.0
