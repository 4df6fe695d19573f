"""Unit tests for lsqbox.damping: curvature along Gauss-Newton steps and the
shortened steps it asks for."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from lsqbox.damping import OVERSHOOT, SHORTEST, GaussNewtonDamping
from lsqbox.strategies import Trial


def gn_trial(step, predicted, x=(0.0, 0.0), gauss_newton=True):
    step = np.asarray(step, dtype=float)
    return Trial(x_new=np.asarray(x) + step, step=step, step_h_norm=np.linalg.norm(step),
                 predicted_reduction=predicted, tr_hit=False, gauss_newton=gauss_newton,
                 gn_reduction=predicted if gauss_newton else None)


def taught(ratio, step=(1.0, 0.0), P=2.0):
    """A damping that saw one full Gauss-Newton step with the given ratio."""
    d = GaussNewtonDamping()
    d.learn(gn_trial(step, P), ratio * P)
    return d


def test_curvature_from_a_full_step_is_two_minus_ratio():
    assert taught(0.4).kappa == pytest.approx(1.6)
    assert taught(0.36).kappa == pytest.approx(1.64)


def test_good_or_mild_steps_leave_no_curvature():
    assert taught(1.0).kappa is None          # the model was exact
    assert taught(1.3).kappa is None          # undershoot: a longer step would gain
    assert taught(0.85).kappa is None         # kappa 1.15 < OVERSHOOT
    assert OVERSHOOT == 1.2


def test_a_parallel_full_step_is_shortened_to_one_over_kappa():
    d = taught(0.4)
    x = np.array([1.0, 2.0])
    trial = d.adjust(gn_trial([-0.5, 0.01], 3.0, x=x), x)
    t = 1 / 1.6
    assert trial.t == pytest.approx(t)
    assert_allclose(trial.step, t * np.array([-0.5, 0.01]))
    assert_allclose(trial.x_new, x + trial.step)
    assert trial.step_h_norm == pytest.approx(t * np.hypot(0.5, 0.01))
    # the model along the step: P (2t - t^2)
    assert trial.predicted_reduction == pytest.approx(3.0 * t * (2 - t))
    assert trial.full_prediction == 3.0
    assert not trial.gauss_newton


def test_steps_in_another_direction_or_not_gauss_newton_are_kept():
    d = taught(0.4)
    x = np.zeros(2)
    across = gn_trial([0.0, 1.0], 1.0)
    assert d.adjust(across, x) is across
    limited = gn_trial([1.0, 0.0], 1.0, gauss_newton=False)
    assert d.adjust(limited, x) is limited
    fresh = gn_trial([1.0, 0.0], 1.0)
    assert GaussNewtonDamping().adjust(fresh, x) is fresh


def test_the_shortening_is_bounded_below():
    d = taught(-8.0)                          # kappa 10
    trial = d.adjust(gn_trial([1.0, 0.0], 1.0), np.zeros(2))
    assert trial.t == SHORTEST == 0.25


def test_curvature_from_a_damped_step():
    d = taught(0.4)
    damped = d.adjust(gn_trial([1.0, 0.0], 2.0), np.zeros(2))
    t = damped.t
    # a quadratic with kappa = 1.6 along the step: phi(t) = -2P t + kappa P t^2
    ared = 2 * 2.0 * t - 1.6 * 2.0 * t * t
    d.learn(damped, ared)
    assert d.kappa == pytest.approx(1.6)


def test_other_trials_forget_the_curvature():
    d = taught(0.4)
    d.learn(gn_trial([1.0, 0.0], 1.0, gauss_newton=False), 0.1)
    assert d.kappa is None
    d = taught(0.4)
    d.learn(gn_trial([1.0, 0.0], 1.0), np.nan)
    assert d.kappa is None
