"""Unit tests for lsqbox.termination: status codes, messages, convergence tests."""
import numpy as np
import pytest
from scipy.optimize._lsq.least_squares import TERMINATION_MESSAGES

from lsqbox.termination import MESSAGES, Status, gtol_satisfied, step_tolerances


SCIPY_CODES = (-1, 0, 1, 2, 3, 4)


def test_status_integers_are_scipys():
    """SciPy's codes -1..4 (SciPy's own -1 is unused by least_squares' TRF and
    dogbox), the callback's -2 (SciPy >= 1.15), and lsqbox's -3 for failed
    evaluations, which SciPy does not have."""
    assert [int(s) for s in Status] == [-3, -2, -1, 0, 1, 2, 3, 4]
    assert Status.FAILURES == -3
    assert Status.CALLBACK == -2
    assert Status.IMPROPER_INPUT == -1
    assert Status.MAX_NFEV == 0
    assert Status.GTOL == 1
    assert Status.FTOL == 2
    assert Status.XTOL == 3
    assert Status.FTOL_AND_XTOL == 4
    assert set(TERMINATION_MESSAGES) <= {int(s) for s in Status}
    assert -3 not in TERMINATION_MESSAGES


def test_messages_match_scipy_word_for_word():
    assert set(MESSAGES) == set(Status)
    shared = [s for s in Status if int(s) in TERMINATION_MESSAGES]
    assert {int(s) for s in shared} >= set(SCIPY_CODES)
    for status in shared:
        assert MESSAGES[status] == TERMINATION_MESSAGES[int(status)]


def test_failures_message():
    message = MESSAGES[Status.FAILURES]
    assert message == ("Stopped after too many consecutive failed evaluations of "
                       "`fun` (see `result.failures`).")
    assert message not in TERMINATION_MESSAGES.values()
    assert not Status.FAILURES > 0                     # not a success


def test_gtol_is_a_strict_inequality():
    assert gtol_satisfied(0.9e-8, 1e-8)
    assert not gtol_satisfied(1e-8, 1e-8)
    assert not gtol_satisfied(1.1e-8, 1e-8)
    assert not gtol_satisfied(0.0, 0.0)


# step_tolerances(actual_reduction, cost, step_norm, x_norm, ratio, ftol, xtol)
@pytest.mark.parametrize("args, expected", [
    # ftol: reduction < ftol * cost and ratio > 1/4 (SciPy's rule)
    ((1e-9, 1.0, 1.0, 1.0, 0.6, 1e-8, 1e-8), Status.FTOL),
    ((1e-9, 1.0, 1.0, 1.0, 0.5, 1e-8, 1e-8), Status.FTOL),
    ((1e-9, 1.0, 1.0, 1.0, 0.26, 1e-8, 1e-8), Status.FTOL),
    # ftol needs a model that agreed (ratio > 1/4)
    ((1e-9, 1.0, 1.0, 1.0, 0.25, 1e-8, 1e-8), None),
    ((1e-9, 1.0, 1.0, 1.0, 0.2, 1e-8, 1e-8), None),
    # reduction equal to ftol * cost is not enough (strict)
    ((1e-8, 1.0, 1.0, 1.0, 0.9, 1e-8, 1e-8), None),
    # xtol: ||dx|| < xtol * (xtol + ||x||)
    ((1.0, 1.0, 0.9e-8 * (1e-8 + 2.0), 2.0, 0.6, 1e-8, 1e-8), Status.XTOL),
    ((1.0, 1.0, 1.0e-8 * (1e-8 + 2.0), 2.0, 0.5, 1e-8, 1e-8), None),
    # xtol does not care about the ratio
    ((-1.0, 1.0, 1e-20, 1.0, 0.0, 1e-8, 1e-8), Status.XTOL),
    # both
    ((1e-10, 1.0, 1e-10, 1.0, 0.9, 1e-8, 1e-8), Status.FTOL_AND_XTOL),
    # x = 0: xtol test is step < xtol**2
    ((1.0, 1.0, 0.5e-16, 0.0, 0.5, 1e-8, 1e-8), Status.XTOL),
    ((1.0, 1.0, 2e-16, 0.0, 0.5, 1e-8, 1e-8), None),
    # zero tolerances disable the tests
    ((0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0), None),
])
def test_step_tolerances(args, expected):
    assert step_tolerances(*args) == expected


def test_step_tolerances_matches_scipy_outside_the_stricter_ratio_band():
    """Identical to SciPy's check_termination except that lsqbox's ftol test
    needs ratio > 1/2 instead of > 1/4 (documented in termination.py)."""
    from scipy.optimize._lsq.common import check_termination
    rng = np.random.default_rng(0)
    for _ in range(2000):
        cost = 10.0 ** rng.uniform(-3, 3)
        dF = cost * 10.0 ** rng.uniform(-12, 0) * rng.choice([-1, 1])
        x_norm = 10.0 ** rng.uniform(-3, 3)
        step = x_norm * 10.0 ** rng.uniform(-12, 0)
        ratio = rng.uniform(-1, 2)
        if 0.25 < ratio <= 0.5:
            ratio = rng.choice([0.2, 0.7])
        ftol, xtol = 10.0 ** rng.uniform(-10, -4, size=2)
        ours = step_tolerances(dF, cost, step, x_norm, ratio, ftol, xtol)
        theirs = check_termination(dF, cost, step, x_norm, ratio, ftol, xtol)
        assert (None if ours is None else int(ours)) == theirs
