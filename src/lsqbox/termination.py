"""Termination status codes, messages, and the small convergence tests.

The integers are SciPy's, so code that inspects ``result.status`` keeps working.
Each test is a tiny function that decides one thing; the driver asks them in turn.
"""
from enum import IntEnum

__all__ = ["Status", "MESSAGES", "gtol_satisfied", "step_tolerances"]


class Status(IntEnum):
    """Why the solver stopped (SciPy's integers)."""

    FAILURES = -3
    CALLBACK = -2
    IMPROPER_INPUT = -1
    MAX_NFEV = 0
    GTOL = 1
    FTOL = 2
    XTOL = 3
    FTOL_AND_XTOL = 4


MESSAGES = {
    Status.FAILURES: "Stopped after too many consecutive failed evaluations of `fun` "
                     "(see `result.failures`).",
    Status.CALLBACK: "Stopped because `callback` function raised `StopIteration` "
                     "or returned `True`",
    Status.IMPROPER_INPUT: "Improper input parameters status returned from `leastsq`",
    Status.MAX_NFEV: "The maximum number of function evaluations is exceeded.",
    Status.GTOL: "`gtol` termination condition is satisfied.",
    Status.FTOL: "`ftol` termination condition is satisfied.",
    Status.XTOL: "`xtol` termination condition is satisfied.",
    Status.FTOL_AND_XTOL: "Both `ftol` and `xtol` termination conditions are satisfied.",
}


def gtol_satisfied(g_norm, gtol):
    """First-order optimality: the (scaled) gradient's infinity norm is below `gtol`."""
    return g_norm < gtol


def step_tolerances(actual_reduction, cost, step_norm, x_norm, ratio, ftol, xtol):
    """The combined `ftol`/`xtol` test after a trial step.

    ``ftol``: the relative cost reduction is small *and* the quadratic model agreed
    (ratio > 1/4), SciPy's rule. On large-residual problems Gauss-Newton
    converges linearly with a steady ratio near 0.4 and each step reduces the
    cost by less than ftol * F while x is still wrong in the third digit (NIST
    ENSO, MGH09, Thurber); the driver then asks the model at the new point
    before it accepts the verdict (driver._Loop._ftol_confirmed), and damped
    steps (damping.py) make that regime converge fast.
    ``xtol``: ``||dx|| < xtol (xtol + ||x||)``.

    Returns the matching `Status` or None.
    """
    ftol_ok = actual_reduction < ftol * cost and ratio > 0.25
    xtol_ok = step_norm < xtol * (xtol + x_norm)
    if ftol_ok and xtol_ok:
        return Status.FTOL_AND_XTOL
    if ftol_ok:
        return Status.FTOL
    if xtol_ok:
        return Status.XTOL
    return None
