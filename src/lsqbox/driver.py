"""The trust-region loop, written once for every method.

The method-specific work lives in a step strategy (strategies/); the Jacobian
comes from a Jacobian source (jacobian/); the loss is applied in one place
(losses.py); every residual evaluation goes through the Problem (problem.py).

The loop follows SciPy's semantics to the letter where users can observe them:
``nfev`` counts the initial point and trial points, the budget is checked before
each trial, a trial with non-finite residuals shrinks the radius to a quarter of
the step, and a step that triggers a tolerance test is still accepted (its
Jacobian is evaluated) before the loop ends.
"""
import inspect
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from .linalg.operators import jac_scale
from .linalg.vector import norm2
from .problem import TRIAL, Failure
from .strategies import Linearization
from .termination import MESSAGES, Status
from .result import LeastSquaresResult

__all__ = ["run", "Settings"]

STEP_TOLERANCES = (Status.FTOL, Status.XTOL, Status.FTOL_AND_XTOL)


@dataclass(frozen=True)
class Settings:
    """Numbers the loop needs (validated by options.py)."""

    ftol: float
    xtol: float
    gtol: float
    max_nfev: int
    x_scale: object          # ndarray or 'jac'
    verbose: int
    callback: object = None
    report_njev: bool = True
    max_failures: int = 20       # consecutive failed trial evaluations
    max_time: float = None       # seconds of wall time


class _Iterate:
    """The accepted point: true and robustified residuals, Jacobian, cost."""

    def __init__(self, x, f_true, J, loss, settings, scale_inv=None):
        self.x = x
        self.f_true = f_true
        self.cost, self.J, self.f = loss.cost_and_robustify(J, f_true)
        self.g = _gradient(self.J, self.f)
        if isinstance(settings.x_scale, str):
            self.scale, self.scale_inv = jac_scale(self.J, scale_inv)
        else:
            self.scale = settings.x_scale
            self.scale_inv = 1.0 / settings.x_scale

    def linearization(self):
        return Linearization(self.x, self.f, self.J, self.g, self.scale, self.scale_inv)


def _evaluate_trial(problem, x, max_nfev):
    """(residuals or Failure, number of failed attempts) at a trial point; an
    exception or a timeout may be transient, so the point is tried once more
    (budget permitting). Non-finite residuals are a property of the point and
    are not retried."""
    f = problem.evaluate(x, TRIAL)
    failed = int(isinstance(f, Failure))
    if failed and not _non_finite(f) and problem.nfev < max_nfev:
        f = problem.evaluate(x, TRIAL)
        failed += int(isinstance(f, Failure))
    return f, failed


def _out_of_budget(problem, settings, deadline):
    if problem.nfev >= settings.max_nfev:
        return True
    return deadline is not None and time.monotonic() >= deadline


def _non_finite(failure):
    return failure.reason.startswith("non-finite")


def _without_step_tolerances(status):
    return None if status in STEP_TOLERANCES else status


def _gradient(J, f):
    return np.asarray(J.T.dot(f)).ravel()


def _print_header():
    print("{:^15}{:^15}{:^15}{:^15}{:^15}{:^15}".format(
        "Iteration", "Total nfev", "Cost", "Cost reduction", "Step norm", "Optimality"))


def _print_iteration(iteration, nfev, cost, reduction, step_norm, optimality):
    reduction = " " * 15 if reduction is None else f"{reduction:^15.2e}"
    step_norm = " " * 15 if step_norm is None else f"{step_norm:^15.2e}"
    print(f"{iteration:^15}{nfev:^15}{cost:^15.4e}{reduction}{step_norm}{optimality:^15.2e}")


def wrap_callback(callback):
    """SciPy's two callback signatures: ``callback(intermediate_result)`` when the
    only parameter has that name, else ``callback(x)``. Returns a function of the
    intermediate result that says whether to stop (True or StopIteration)."""
    if callback is None:
        return None
    try:
        params = list(inspect.signature(callback).parameters)
    except (TypeError, ValueError):
        params = []
    wants_result = params == ["intermediate_result"]

    def should_stop(intermediate):
        try:
            arg = intermediate if wants_result else np.copy(intermediate.x)
            return bool(callback(arg))
        except StopIteration:
            return True

    return should_stop


def run(problem, jacobian, strategy, loss, x0, f0, settings):
    """Minimize; returns a `LeastSquaresResult` (message and success included)."""
    J0 = jacobian.jacobian(x0, f0)
    it = _Iterate(x0, f0, J0, loss, settings)
    Delta = strategy.initial_radius(it.linearization())
    should_stop = wrap_callback(settings.callback)
    deadline = None if settings.max_time is None else time.monotonic() + settings.max_time

    status = None
    iteration = 0
    consecutive_failures = 0
    recent_trials = deque(maxlen=20)     # last trial evaluations: True evaluable
    Delta_before_failures = None
    step_norm = None
    actual_reduction = None
    if settings.verbose == 2:
        _print_header()

    while True:
        lin = it.linearization()
        g_norm, status = strategy.first_order_status(lin, settings.gtol, status)
        if settings.verbose == 2:
            _print_iteration(iteration, problem.nfev, it.cost, actual_reduction,
                             step_norm, g_norm)
        if status is not None or _out_of_budget(problem, settings, deadline):
            if status is not None and status > 0 and jacobian.refine(it.x, status):
                # Converged with an approximate Jacobian that cannot support the
                # tolerances asked for: go on from here with a better one.
                J = jacobian.jacobian(it.x, it.f_true)
                it = _Iterate(it.x, it.f_true, J, loss, settings, it.scale_inv)
                # The radius shrank to what the old model allowed; near the
                # solution the new Gauss-Newton step fits in a fresh one.
                Delta = strategy.initial_radius(it.linearization())
                status = None
                continue
            break

        strategy.prepare(lin, g_norm, Delta)
        x_norm = norm2(it.x)
        accepted = False
        actual_reduction = -1.0
        while not accepted and not _out_of_budget(problem, settings, deadline):
            trial = strategy.propose(Delta)
            f_new, failed_attempts = _evaluate_trial(problem, trial.x_new, settings.max_nfev)
            recent_trials.extend([False] * failed_attempts)
            if isinstance(f_new, Failure):
                # An infinitely bad step: shrink and try again, up to a limit.
                # Non-finite residuals are a property of the region (SciPy's
                # rule); after an exception or a timeout the shrink is
                # provisional (see below): such a failure says little about
                # the model.
                if Delta_before_failures is None and not _non_finite(f_new):
                    Delta_before_failures = Delta
                Delta = strategy.failed_step(Delta, trial)
                consecutive_failures += 1
                if consecutive_failures >= settings.max_failures:
                    status = Status.FAILURES
                    break
                continue
            f_new = f_new.astype(float)
            recent_trials.append(True)
            cost_new = loss.cost(f_new)
            Delta_old = Delta
            verdict = strategy.judge(Delta, trial, it.cost, cost_new, x_norm,
                                     settings.ftol, settings.xtol)
            accepted = verdict.accepted
            actual_reduction = verdict.actual_reduction
            step_norm = norm2(trial.step)
            Delta = verdict.Delta
            status = verdict.status
            if Delta_before_failures is not None:
                # The step was small because evaluations failed, not because
                # the solver converged: no ftol/xtol verdict (a band of failing
                # points across the path must not look like a minimum), and
                # after a good step the radius returns towards its size before
                # the failures.
                status = _without_step_tolerances(status)
                if accepted:
                    Delta = max(Delta, 0.5 * Delta_before_failures)
                Delta_before_failures = None
            consecutive_failures = 0
            jacobian.observe(it.x, it.f_true, trial.x_new, f_new,
                             ratio=verdict.ratio, shrunk=verdict.Delta < Delta_old)
            if status is not None:
                break
            if not accepted:
                # A secant source learns from rejected steps too: re-factor.
                J_new = jacobian.updated(it.x, it.f_true)
                if J_new is not None:
                    it = _Iterate(it.x, it.f_true, J_new, loss, settings, it.scale_inv)
                    lin = it.linearization()
                    strategy.prepare(lin, strategy.optimality(lin), Delta)

        if accepted:
            x_new = strategy.accept(trial)
            J = jacobian.jacobian(x_new, f_new)
            it = _Iterate(x_new, f_new, J, loss, settings, it.scale_inv)
        else:
            step_norm = 0.0
            actual_reduction = 0.0
        iteration += 1

        if should_stop is not None:
            intermediate = LeastSquaresResult(x=it.x, fun=it.f_true, cost=it.cost,
                                              nit=iteration, nfev=problem.nfev)
            if should_stop(intermediate):
                status = Status.CALLBACK
                break

    message = None
    if status in STEP_TOLERANCES and recent_trials.count(False) >= 12:
        # Most of the last 20 trial evaluations failed: the steps became small
        # because the points beyond fail, not because the model says x is
        # optimal; x is at the edge of a failing region. (Scattered random
        # failures near a true minimum do not come in such numbers: with 10-20%
        # failing calls, 12 of 20 practically never happens, and 5 of 10 did.)
        status = Status.FAILURES
        message = ("Stopped at the edge of a region where `fun` fails: the steps "
                   "that remain evaluable are too small to make progress (see "
                   "`result.failures`).")
    if status is None:
        status = Status.MAX_NFEV
        if deadline is not None and time.monotonic() >= deadline:
            message = "The time budget `max_time` is exhausted."
    return LeastSquaresResult(
        x=it.x, cost=it.cost, fun=it.f_true, jac=it.J, grad=it.g,
        optimality=strategy.result_optimality(lin, g_norm),
        active_mask=strategy.active_mask(it.x, settings.xtol),
        nfev=problem.nfev,
        njev=jacobian.n_evaluations if settings.report_njev else None,
        status=int(status), message=message or MESSAGES[status], success=status > 0,
        nit=iteration, nfev_total=problem.nfev_total, failures=problem.failures)

