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

from .damping import GaussNewtonDamping
from .crawl import ValleyCrawl
from .linalg.operators import jac_scale
from .linalg.vector import norm2
from .problem import TRIAL, Failure
from .strategies import Linearization
from .termination import MESSAGES, Status
from .result import LeastSquaresResult

__all__ = ["run", "Settings"]

STEP_TOLERANCES = (Status.FTOL, Status.XTOL, Status.FTOL_AND_XTOL)
FTOL_VERDICTS = (Status.FTOL, Status.FTOL_AND_XTOL)
FTOL_CONFIRMATION = 1e-3      # see _Loop._ftol_confirmed


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
    speculative_trials: int = 0  # extra trial points per round (_speculative_round)


class _Iterate:
    """The accepted point: true and robustified residuals, Jacobian, cost."""

    def __init__(self, x, f_true, J, loss, fixed_scale, scale_inv=None):
        self.x = x
        self.f_true = f_true
        self.cost, self.J, self.f = loss.cost_and_robustify(J, f_true)
        self.g = _gradient(self.J, self.f)
        if fixed_scale is None:          # x_scale='jac'
            self.scale, self.scale_inv = jac_scale(self.J, scale_inv)
        else:
            self.scale, self.scale_inv = fixed_scale

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


def _without_ftol(status):
    """The verdict with its ftol part removed."""
    if status == Status.FTOL:
        return None
    if status == Status.FTOL_AND_XTOL:
        return Status.XTOL
    return status


def _without_step_tolerances(status):
    return None if status in STEP_TOLERANCES else status


def _flat_within_ftol(trial, verdict, cost, ftol):
    """MINPACK's ftol test (lmder: |actred| <= ftol and prered <= ftol, relative
    to the cost), for sources that opt in (jac='broyden'): the model predicts
    less than ftol and the function changed by less than that, so further
    steps cannot gain a relevant decrease. Without it a trust-region method
    at a minimum of a function that is flat at the ftol level (outputs
    printed with a few digits, as external programs do) shrinks the radius
    trial by trial until xtol, each trial a run. Convergence is then still
    confirmed by the source (a fresh Jacobian, see `refine`)."""
    predicted = trial.predicted_reduction
    if predicted is None or ftol <= 0:
        return None
    bound = ftol * cost
    if predicted <= bound and abs(verdict.actual_reduction) <= bound:
        return Status.FTOL
    return None


def _gradient(J, f):
    if type(J) is np.ndarray:
        return J.T.dot(f)           # as SciPy computes it (same rounding)
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


def run(problem, jacobian, strategy, loss, x0, f0, settings, J0=None):
    """Minimize; returns a `LeastSquaresResult` (message and success included).
    `J0`, when given, is the Jacobian at x0 already computed by `jacobian`."""
    return _Loop(problem, jacobian, strategy, loss, settings).solve(x0, f0, J0)


class _FailureLog:
    """The failure policy's memory: consecutive failures, the radius before
    them (their shrink is provisional), and the last trial outcomes."""

    def __init__(self, limit):
        self.limit = limit
        self.consecutive = 0
        self.Delta_before = None
        self.recent = deque(maxlen=20)      # last trial evaluations: True = evaluable

    def failed(self, failure, Delta):
        """Record a failed trial; True when the limit is reached."""
        # Non-finite residuals are a property of the region (SciPy's rule);
        # after an exception or a timeout the shrink is provisional.
        if self.Delta_before is None and not _non_finite(failure):
            self.Delta_before = Delta
        self.consecutive += 1
        return self.consecutive >= self.limit

    def evaluable(self, verdict, Delta):
        """Adjust a verdict reached right after failures; returns (status, Delta)."""
        status = verdict.status
        if self.Delta_before is not None:
            # The step was small because evaluations failed, not because the
            # solver converged: no ftol/xtol verdict (a band of failing points
            # across the path must not look like a minimum), and after a good
            # step the radius returns towards its size before the failures.
            status = _without_step_tolerances(status)
            if verdict.accepted:
                Delta = max(Delta, 0.5 * self.Delta_before)
            self.Delta_before = None
        self.consecutive = 0
        return status, Delta

    def at_the_edge(self):
        """Most of the last 20 trial evaluations failed: small steps there mean
        the points beyond fail, not that x is optimal. (Scattered random
        failures near a true minimum do not come in such numbers: with 10-20%
        failing calls, 12 of 20 practically never happens, and 5 of 10 did.)"""
        return self.recent.count(False) >= 12


class _Loop:
    """One solve: the trust-region loop and the state it carries."""

    def __init__(self, problem, jacobian, strategy, loss, settings):
        self.problem = problem
        self.jacobian = jacobian
        self.strategy = strategy
        self.loss = loss
        self.settings = settings
        self.should_stop = wrap_callback(settings.callback)
        self.deadline = (None if settings.max_time is None
                         else time.monotonic() + settings.max_time)
        self.failures = _FailureLog(settings.max_failures)
        self.fixed_scale = (None if isinstance(settings.x_scale, str)
                            else (settings.x_scale, 1.0 / settings.x_scale))
        self.status = None
        self.iteration = 0
        self.step_norm = None
        self.actual_reduction = None
        self.Delta_before_shrinks = None     # secant sources only, see _after_refresh
        self.refresh_notice = getattr(jacobian, "take_refresh_notice", None)
        self.flat_model_stops = getattr(jacobian, "flat_model_stops", False)
        # Secant sources (jac='broyden') have a model error of their own that
        # the curvature along the step would mistake for the problem's; their
        # ftol verdict needs a model that agreed well (ratio > 1/2) instead of
        # the Gauss-Newton promise (_ftol_confirmed).
        self.secant = self.refresh_notice is not None
        self.damping = None if self.secant else GaussNewtonDamping()
        self._last_trial = None         # secant sources: (x, f) of the latest trial
        # Geodesic acceleration in a crawl along a valley (crawl.py).
        self.crawl = (ValleyCrawl() if not self.secant and loss.is_linear
                      and getattr(strategy, "accelerates", False) else None)

    # -- the story ------------------------------------------------------------
    def solve(self, x0, f0, J0=None):
        if J0 is None:
            J0 = self.jacobian.jacobian(x0, f0)
        self.it = self._iterate(x0, f0, J0)
        self.Delta = self.strategy.initial_radius(self.it.linearization())
        if self.settings.verbose == 2:
            _print_header()
        while True:
            self.lin = self.it.linearization()
            self.g_norm, self.status = self.strategy.first_order_status(
                self.lin, self.settings.gtol, self.status)
            if self.status in FTOL_VERDICTS and not self._ftol_confirmed():
                # Go on (or keep xtol): the first-order test of this point is
                # then asked as at any other.
                self.g_norm, self.status = self.strategy.first_order_status(
                    self.lin, self.settings.gtol, _without_ftol(self.status))
            self._report_iteration()
            if self.status is not None or self._out_of_budget():
                if self._refined_jacobian_goes_on():
                    continue
                break
            accepted, trial, f_new = self._try_steps()
            self._finish_iteration(accepted, trial, f_new)
            if self._callback_says_stop():
                self.status = Status.CALLBACK
                break
        return self._result()

    # -- the steps of the story ---------------------------------------------------
    def _ftol_confirmed(self):
        """The `ftol` test judged the last step: its reduction was below
        ftol * F with a model that agreed. On flat large-residual problems
        that converge linearly (NIST ENSO, Thurber, MGH09) such a step comes
        while the parameters are still wrong in the third or fourth digit; the
        model at the new point says so: its next step promises a reduction
        of the same order. The verdict stands when that promise is three
        orders below ftol * F (after superlinear convergence it is many
        orders below); otherwise the solve goes on. Without the measure
        ('lsmr' steps, jac='broyden') and when the trust region or the bounds
        limit the next step, the verdict stands as SciPy's (MINPACK's for lm).
        A damped step's verdict (damping.py) is confirmed the same way."""
        measure = (None if self.secant
                   else getattr(self.strategy, "promised_reduction", None))
        promised = None if measure is None else measure(self.lin, self.g_norm, self.Delta)
        return promised is None or promised <= FTOL_CONFIRMATION * self.settings.ftol * self.it.cost

    def _refined_jacobian_goes_on(self):
        """Converged with an approximate Jacobian that cannot support the
        verdict (or the tolerances asked for): go on with a better one."""
        if not (self.status is not None and self.status > 0
                and self.jacobian.refine(self.it.x, self.status)):
            return False
        it = self.it
        self.it = self._iterate(it.x, it.f_true, self.jacobian.jacobian(it.x, it.f_true))
        # The radius shrank to what the old model allowed; near the solution
        # the new Gauss-Newton step fits in a fresh one.
        self.Delta = self.strategy.initial_radius(self.it.linearization())
        self.status = None
        return True

    def _try_steps(self):
        """Trial steps from the current point until one is accepted, a verdict
        is reached or the budget runs out. Returns (accepted, trial, f_new)."""
        self.strategy.prepare(self.lin, self.g_norm, self.Delta)
        x_norm = norm2(self.it.x)
        trial = f_new = None
        self.actual_reduction = -1.0
        first = True
        while not self._out_of_budget():
            if self.settings.speculative_trials:
                outcome = self._speculative_round(x_norm, first)
                first = False
                if outcome is not None:
                    return outcome
                continue
            trial = self.strategy.propose(self.Delta)
            if first and self.damping is not None:
                trial = self.damping.adjust(trial, self.it.x)
            first = False
            if self.crawl is not None and self.crawl.engaged:
                trial = self.crawl.accelerate(trial, self.lin, self.strategy)
            f_new = self._evaluate(trial)
            if isinstance(f_new, Failure):
                if self._failed_step(trial, f_new):
                    break
                continue
            verdict = self._judge(trial, f_new, x_norm)
            if self.status is not None or verdict.accepted:
                return verdict.accepted, trial, f_new
            self._learn_from_rejection()
        return False, trial, f_new

    def _speculative_round(self, x_norm, first):
        """Trial points for several radii evaluated as one batch (option
        ``speculative_trials``): the step for the radius, then the step for
        the radius a rejection of the step before would leave (a quarter of
        its length, SciPy's rule), and so on; with idle workers they cost one
        round of wall time. The first of them, in that order, that lowers the
        cost is judged with its own radius, as the one-at-a-time loop would
        have reached it (if none does, the last); a secant source learns from
        the others too. Returns (accepted, trial, f_new) as `_try_steps`
        does, or None to go on (nothing accepted: the radius is below the
        smallest one tried). Measured in benchmarks/bench_speculative.py."""
        strategy, Delta = self.strategy, self.Delta
        names = getattr(strategy, "proposal_state", ())
        room = self.settings.max_nfev - self.problem.nfev
        trials, radii, states = [], [], []
        while len(trials) < min(1 + self.settings.speculative_trials, room):
            trial = strategy.propose(Delta)
            if first and not trials and self.damping is not None:
                trial = self.damping.adjust(trial, self.it.x)
            if trials and np.array_equal(trial.x_new, trials[-1].x_new):
                break       # the radius no longer changes the step
            trials.append(trial)
            radii.append(Delta)
            states.append({name: getattr(strategy, name) for name in names})
            Delta = 0.25 * trial.step_h_norm
        values = self.problem.evaluate_many([t.x_new for t in trials], TRIAL)
        evaluable = []
        for k, f_new in enumerate(values):
            self.failures.recent.append(not isinstance(f_new, Failure))
            if not isinstance(f_new, Failure):
                evaluable.append(k)
                if f_new.dtype != np.float64:
                    values[k] = f_new.astype(float)
        chosen = next((k for k in evaluable if self.loss.cost(values[k]) < self.it.cost),
                      evaluable[-1] if evaluable else None)
        if chosen is None:
            # Every point failed: the radius shrinks below the smallest one.
            limit_reached = self.failures.failed(values[-1], radii[-1])
            self.Delta = strategy.failed_step(radii[-1], trials[-1])
            if limit_reached:
                self.status = Status.FAILURES
                return False, trials[-1], values[-1]
            return None
        if self.secant:
            # Every point is secant information, also those beyond the one
            # judged (measured: observing only those before it, as the
            # one-at-a-time loop would have, saved fewer rounds with trf).
            for k, (trial, f_new) in enumerate(zip(trials, values)):
                if k != chosen and not isinstance(f_new, Failure):
                    self.jacobian.observe(self.it.x, self.it.f_true, trial.x_new, f_new)
        for name, value in states[chosen].items():
            setattr(strategy, name, value)
        self.Delta = radii[chosen]
        verdict = self._judge(trials[chosen], values[chosen], x_norm)
        if self.status is not None or verdict.accepted:
            return verdict.accepted, trials[chosen], values[chosen]
        # Nothing lowered the cost: below the smallest radius tried.
        self.Delta = min(self.Delta, Delta)
        self._learn_from_rejection()
        return None

    def _evaluate(self, trial):
        if self.secant and self._last_trial is not None and np.array_equal(
                trial.x_new, self._last_trial[0]):
            # The rejected trial again (its secant was not used, and the
            # shrunken radius still holds the step: lmder's rule can do this).
            # An expensive function is not run twice at one point.
            return self._last_trial[1]
        f_new, failed_attempts = _evaluate_trial(self.problem, trial.x_new,
                                                 self.settings.max_nfev)
        if self.secant and not isinstance(f_new, Failure):
            self._last_trial = (trial.x_new.copy(), f_new)
        if failed_attempts:
            self.failures.recent.extend([False] * failed_attempts)
        if not isinstance(f_new, Failure):
            self.failures.recent.append(True)
            if f_new.dtype != np.float64:
                f_new = f_new.astype(float)
        return f_new

    def _failed_step(self, trial, failure):
        """An infinitely bad step: shrink and try again, up to a limit.
        Returns True when the limit stops the solve."""
        limit_reached = self.failures.failed(failure, self.Delta)
        self.Delta = self.strategy.failed_step(self.Delta, trial)
        if limit_reached:
            self.status = Status.FAILURES
        return limit_reached

    def _judge(self, trial, f_new, x_norm):
        cost_new = self.loss.cost(f_new)
        Delta_old = self.Delta
        verdict = self.strategy.judge(self.Delta, trial, self.it.cost, cost_new, x_norm,
                                      self.settings.ftol, self.settings.xtol)
        self.actual_reduction = verdict.actual_reduction
        if self.damping is not None:
            self.damping.learn(trial, verdict.actual_reduction)
        if self.crawl is not None and verdict.accepted:
            self.crawl.observe(trial, Delta_old, verdict.bound_hit, self.it.x, self.it.f_true)
        if self.settings.verbose == 2:
            self.step_norm = norm2(trial.step)
        self.status, self.Delta = self.failures.evaluable(verdict, verdict.Delta)
        if self.secant and verdict.ratio <= 0.5:
            self.status = _without_ftol(self.status)
        if self.status is None and self.flat_model_stops:
            self.status = _flat_within_ftol(trial, verdict, self.it.cost, self.settings.ftol)
        self.jacobian.observe(self.it.x, self.it.f_true, trial.x_new, f_new,
                              ratio=verdict.ratio, shrunk=verdict.Delta < Delta_old)
        if self.Delta < Delta_old:
            if self.Delta_before_shrinks is None:
                self.Delta_before_shrinks = Delta_old
        else:
            self.Delta_before_shrinks = None
        return verdict

    def _learn_from_rejection(self):
        """A secant source learns from rejected steps too: re-factor."""
        J_new = self.jacobian.updated(self.it.x, self.it.f_true)
        if J_new is not None:
            it = self.it
            self.it = self._iterate(it.x, it.f_true, J_new)
            self.lin = self.it.linearization()
            self._after_refresh()
            self.strategy.prepare(self.lin, self.strategy.optimality(self.lin), self.Delta)

    def _finish_iteration(self, accepted, trial, f_new):
        if accepted:
            x_new = self.strategy.accept(trial)
            self.it = self._iterate(x_new, f_new, self.jacobian.jacobian(x_new, f_new))
            self._after_refresh()
        else:
            self.step_norm = 0.0
            self.actual_reduction = 0.0
        self.iteration += 1

    def _callback_says_stop(self):
        if self.should_stop is None:
            return False
        it = self.it
        return self.should_stop(LeastSquaresResult(
            x=it.x, fun=it.f_true, cost=it.cost, nit=self.iteration,
            nfev=self.problem.nfev))

    def _after_refresh(self):
        """Hook for secant sources (jac='broyden'; others lack the method): when
        they had to refresh J because their model went wrong, the radius shrank
        for the model's sake, not the problem's; it returns to its size before
        those shrinks (as after evaluation failures, see _FailureLog)."""
        if self.refresh_notice is None:
            return
        restarting = getattr(self.jacobian, "restarting", False)
        fraction = self.refresh_notice()
        if restarting and hasattr(self.strategy, "restart"):
            # A noisy restart is a new start (lm only): the strategy's state
            # and the radius begin afresh, as at the first iteration.
            self.Delta = max(self.Delta, self.strategy.restart(self.it.linearization()))
            self.Delta_before_shrinks = None
            return
        if not fraction:
            return
        if self.Delta_before_shrinks is not None:
            restored = fraction * self.Delta_before_shrinks
            if fraction > 1.0:      # widened after fruitless noisy restarts
                restored = min(restored, self.strategy.initial_radius(self.it.linearization()))
            self.Delta = max(self.Delta, restored)
        self.Delta_before_shrinks = None

    # -- helpers ----------------------------------------------------------------
    def _iterate(self, x, f, J):
        scale_inv = getattr(getattr(self, "it", None), "scale_inv", None)
        return _Iterate(x, f, J, self.loss, self.fixed_scale, scale_inv)

    def _out_of_budget(self):
        return _out_of_budget(self.problem, self.settings, self.deadline)

    def _report_iteration(self):
        if self.settings.verbose == 2:
            _print_iteration(self.iteration, self.problem.nfev, self.it.cost,
                             self.actual_reduction, self.step_norm, self.g_norm)

    def _result(self):
        status, message = self.status, None
        if status in STEP_TOLERANCES and self.failures.at_the_edge():
            status = Status.FAILURES
            message = ("Stopped at the edge of a region where `fun` fails: the steps "
                       "that remain evaluable are too small to make progress (see "
                       "`result.failures`).")
        source = self.jacobian
        restarted_after = getattr(source, "converged_status", None)
        if status is None and restarted_after is not None:
            # Hook for jac='broyden' with noise: it converged (at the noise
            # level) before it spent the rest of the budget on restarts.
            status = restarted_after
            message = (f"{MESSAGES[status]} The remaining evaluations were spent on "
                       f"{source.restarts} restart(s) from the best point (noisy residuals).")
        if status is None:
            status = Status.MAX_NFEV
            if self.deadline is not None and time.monotonic() >= self.deadline:
                message = "The time budget `max_time` is exhausted."
        it, settings = self.it, self.settings
        return LeastSquaresResult(
            x=it.x, cost=it.cost, fun=it.f_true, jac=it.J, grad=it.g,
            optimality=self.strategy.result_optimality(self.lin, self.g_norm),
            active_mask=self.strategy.active_mask(it.x, settings.xtol),
            nfev=self.problem.nfev,
            njev=self.jacobian.n_evaluations if settings.report_njev else None,
            status=int(status), message=message or MESSAGES[status], success=status > 0,
            nit=self.iteration, nfev_total=self.problem.nfev_total,
            nrounds=self.problem.rounds,
            failures=self.problem.failures)
