"""Unit tests for lsqbox.driver: radius rule, callbacks, and the loop's
bookkeeping with fake parts (strategy, Jacobian source) on 1-D problems."""
import numpy as np
import pytest
from numpy.linalg import norm
from numpy.testing import assert_allclose, assert_array_equal

from lsqbox import driver
from lsqbox.driver import Settings, run, wrap_callback
from lsqbox.executor import Failure, open_executor
from lsqbox.losses import make_loss
from lsqbox.problem import INITIAL, JACOBIAN, TRIAL, BoundFunction, Problem
from lsqbox.result import LeastSquaresResult
from lsqbox.strategies import Trial
from lsqbox.strategies.rules import TrustRegionRules, Verdict
from lsqbox.termination import MESSAGES, Status


# ---- wrap_callback ---------------------------------------------------------------
def intermediate(x=(1.0, 2.0)):
    return LeastSquaresResult(x=np.array(x), fun=np.zeros(1), cost=0.0, nit=1, nfev=2)


def test_wrap_callback_none():
    assert wrap_callback(None) is None


def test_wrap_callback_intermediate_result_signature():
    got = []

    def cb(intermediate_result):
        got.append(intermediate_result)

    stop = wrap_callback(cb)
    r = intermediate()
    assert stop(r) is False
    assert got[0] is r


def test_wrap_callback_x_signature_gets_a_copy():
    got = []

    def cb(xk):
        got.append(xk)
        xk[0] = 99.0              # must not touch the solver's x

    r = intermediate()
    assert wrap_callback(cb)(r) is False
    assert_array_equal(got[0], [99.0, 2.0])
    assert_array_equal(r.x, [1.0, 2.0])


def test_wrap_callback_other_signatures_get_x():
    got = []
    wrap_callback(lambda *args: got.append(args))(intermediate())
    wrap_callback(lambda x, extra=None: got.append(x))(intermediate())
    assert isinstance(got[0][0], np.ndarray)
    assert isinstance(got[1], np.ndarray)


def test_wrap_callback_stop_iteration_and_true():
    def raises(intermediate_result):
        raise StopIteration

    assert wrap_callback(raises)(intermediate()) is True
    assert wrap_callback(lambda x: True)(intermediate()) is True
    assert wrap_callback(lambda x: 1)(intermediate()) is True
    assert wrap_callback(lambda x: None)(intermediate()) is False
    assert wrap_callback(lambda x: False)(intermediate()) is False


def test_wrap_callback_other_exceptions_propagate():
    def bad(x):
        raise KeyError("oops")

    with pytest.raises(KeyError):
        wrap_callback(bad)(intermediate())


def test_wrap_callback_builtin_without_signature():
    # builtins like `print` may have no inspectable signature: called with x
    stop = wrap_callback(np.all)
    assert stop(intermediate()) is True


# ---- run() with fake parts -----------------------------------------------------------
class FakeJacobian:
    """Analytic Jacobian of the 1-D test problems; records calls.

    `refinements`: how many times `refine` answers True (a source that can
    offer a better Jacobian when the loop converged on step tolerances)."""

    def __init__(self, jac, refinements=0):
        self.jac = jac
        self.calls = []
        self.observed = []
        self.refinements = refinements
        self.refine_calls = 0
        self.refine_statuses = []

    def refine(self, x, status):
        self.refine_calls += 1
        self.refine_statuses.append(status)
        if self.refinements > 0:
            self.refinements -= 1
            return True
        return False

    def jacobian(self, x, f):
        self.calls.append(x.copy())
        return self.jac(x)

    def observe(self, x_from, f_from, x_to, f_to, *more, **kw):
        self.observed.append((x_from.copy(), x_to.copy(), np.all(np.isfinite(f_to))))

    def updated(self, x, f):
        """No secant updates (sources that have them return a new Jacobian)."""
        return None

    @property
    def n_evaluations(self):
        return len(self.calls)


class FakeStrategy(TrustRegionRules):
    """Gauss-Newton step clipped to [-Delta, Delta] with SciPy's trust-region
    rules (TrustRegionRules); records every call.

    `overshoot` multiplies the first proposal of every accepted point (to make
    rejected steps on purpose).
    """

    def __init__(self, radius=10.0, overshoot=None):
        self.radius0 = radius
        self.overshoot = overshoot
        self.prepared = []
        self.proposed = []
        self.radius_changes = []
        self.accepted = []

    def initial_radius(self, lin):
        return self.radius0

    def optimality(self, lin):
        return norm(lin.g, ord=np.inf)

    def prepare(self, lin, g_norm, Delta):
        self.lin = lin
        self.prepared.append((lin.x.copy(), g_norm, Delta))
        self.first = True

    def propose(self, Delta):
        lin = self.lin
        J = np.asarray(lin.J)
        gn = np.linalg.lstsq(J, -lin.f, rcond=None)[0]
        step = np.clip(gn, -Delta, Delta)
        if self.overshoot is not None and self.first:
            step = gn * self.overshoot
        self.first = False
        predicted = -(0.5 * np.sum((J @ step) ** 2) + lin.g @ step)
        self.proposed.append(Delta)
        return Trial(x_new=lin.x + step, step=step, step_h_norm=norm(step),
                     predicted_reduction=predicted, tr_hit=None)

    def radius_changed(self, Delta_old, Delta_new):
        self.radius_changes.append((Delta_old, Delta_new))

    def bound_hit(self, trial, Delta):
        return trial.step_h_norm > 0.95 * Delta

    def accept(self, trial):
        self.accepted.append(trial.x_new.copy())
        return trial.x_new

    def active_mask(self, x, xtol):
        return np.zeros(x.size, dtype=int)


def settings(**kw):
    base = dict(ftol=1e-8, xtol=1e-8, gtol=1e-8, max_nfev=100, x_scale=np.ones(1),
                verbose=0, callback=None, report_njev=True)
    base.update(kw)
    return Settings(**base)


def make_problem(fun, x0, executor=None):
    """A serial Problem with x0 evaluated (as api.solve does)."""
    problem = Problem(BoundFunction(fun), executor or open_executor(None))
    f0 = problem.evaluate_initial(x0)
    problem.m = f0.size
    return problem, f0


def solve(fun, jac, x0, strategy=None, loss="linear", f_scale=1.0, refinements=0,
          executor=None, **kw):
    x0 = np.atleast_1d(np.asarray(x0, dtype=float))
    problem, f0 = make_problem(fun, x0, executor)
    source = FakeJacobian(jac, refinements)
    strategy = strategy or FakeStrategy()
    res = run(problem, source, strategy, make_loss(loss, f_scale), x0, f0, settings(**kw))
    return res, problem, source, strategy


def line(x):
    return np.array([x[0] - 3.0])


def line_jac(x):
    return np.array([[1.0]])


def test_one_step_to_the_solution_then_gtol():
    res, problem, source, strategy = solve(line, line_jac, 0.0)
    assert isinstance(res, LeastSquaresResult)
    assert res.status == Status.GTOL == 1
    assert bool(res.success) is True
    assert res.message == MESSAGES[Status.GTOL]
    assert_allclose(res.x, [3.0])
    assert res.cost == 0.0
    assert res.nfev == 2 and res.nit == 1 and res.njev == 2
    assert res.nfev_total == 2
    assert problem.counts == {INITIAL: 1, TRIAL: 1}
    assert len(source.calls) == 2              # at x0 and at the accepted point
    assert len(source.observed) == 1           # every trial is observed
    assert res.optimality == 0.0
    assert_array_equal(res.active_mask, [0])
    assert_allclose(res.grad, [0.0])
    assert_allclose(res.fun, [0.0])
    assert_allclose(res.jac, [[1.0]])


def test_gtol_at_the_start_evaluates_nothing_more():
    res, problem, source, strategy = solve(line, line_jac, 3.0)
    assert res.status == Status.GTOL
    assert res.nfev == 1 and res.nit == 0 and res.njev == 1
    assert strategy.prepared == [] and strategy.proposed == []


def test_max_nfev_counts_initial_and_trials_only():
    strategy = FakeStrategy(radius=0.1)     # 0.1 per step: never gets there
    res, problem, source, _ = solve(line, line_jac, 0.0, strategy=strategy, max_nfev=5)
    assert res.status == Status.MAX_NFEV == 0
    assert bool(res.success) is False
    assert res.message == MESSAGES[Status.MAX_NFEV]
    assert res.nfev == 5                    # 1 initial + 4 trials
    assert res.nit == 4
    assert res.njev == 5
    # the radius doubles after each good step on the boundary
    assert_allclose(strategy.proposed, [0.1, 0.2, 0.4, 0.8])
    assert_allclose(res.x, [0.1 + 0.2 + 0.4 + 0.8])


def test_max_nfev_excludes_jacobian_evaluations():
    """nfev_total counts finite-difference evaluations; max_nfev does not."""
    x0 = np.zeros(1)
    problem, f0 = make_problem(line, x0)

    class FDJacobian(FakeJacobian):
        def jacobian(self, x, f):
            problem.evaluate_many([x + 1e-8, x + 2e-8], JACOBIAN)
            return super().jacobian(x, f)

    res = run(problem, FDJacobian(line_jac), FakeStrategy(radius=0.1), make_loss("linear", 1.0),
              x0, f0, settings(max_nfev=3))
    assert res.status == 0
    assert res.nfev == 3 and res.njev == 3
    assert res.nfev_total == 3 + 2 * 3


def offset_fun(x):
    return np.array([x[0] - 3.0, 1e3])


def offset_jac(x):
    return np.array([[1.0], [0.0]])


def test_ftol():
    # step 1 (radius-limited): reduction 2.5 < 1e-5 * cost (5e5 + 4.5), model
    # exact (ratio 1); the gradient at x = 1 is not zero, so ftol stands
    res, problem, source, _ = solve(offset_fun, offset_jac, 0.0,
                                    strategy=FakeStrategy(radius=1.0), ftol=1e-5)
    assert res.status == Status.FTOL == 2
    assert res.message == MESSAGES[Status.FTOL]
    assert_allclose(res.x, [1.0])            # the step is accepted ...
    assert res.njev == 2                     # ... and its Jacobian evaluated
    assert res.nfev == 2 and res.nit == 1
    assert res.optimality == 2.0


def test_gtol_overrides_a_step_tolerance_met_on_the_way():
    # the exact step meets ftol, and then the gradient is zero: SciPy reports gtol
    res, *_ = solve(offset_fun, offset_jac, 0.0, ftol=1e-5)
    assert res.status == Status.GTOL
    assert_allclose(res.x, [3.0])


def test_xtol():
    strategy = FakeStrategy(radius=1e-10)
    res, *_ = solve(line, line_jac, 1.0, strategy=strategy, xtol=1e-8, ftol=0.0)
    assert res.status == Status.XTOL == 3
    assert_allclose(res.x, [1.0 + 1e-10], rtol=1e-15)
    assert res.nfev == 2 and res.njev == 2 and res.nit == 1


def test_ftol_and_xtol():
    res, *_ = solve(offset_fun, offset_jac, 1.0, strategy=FakeStrategy(radius=1e-10),
                    ftol=1e-5)
    assert res.status == Status.FTOL_AND_XTOL == 4
    assert res.message == MESSAGES[Status.FTOL_AND_XTOL]


def test_rejected_step_shrinks_radius_and_retries():
    strategy = FakeStrategy(radius=100.0, overshoot=7 / 3)   # first try lands at 7
    res, problem, source, _ = solve(line, line_jac, 0.0, strategy=strategy)
    # try 1: x = 7, cost 8 > 4.5, rejected: Delta = 0.25 * 7; try 2: exact step 1.75
    assert strategy.proposed[:2] == [100.0, 1.75]
    assert strategy.radius_changes[0] == (100.0, 1.75)
    assert len(strategy.prepared) >= 2
    assert strategy.prepared[0][2] == 100.0
    # rejected trials count in nfev and are observed, but get no Jacobian
    assert len(source.observed) == problem.counts[TRIAL]
    assert res.njev == 1 + len(strategy.accepted)
    assert res.nfev == 1 + problem.counts[TRIAL]
    assert res.status > 0
    assert_allclose(res.x, [3.0], atol=1e-8)


def test_non_finite_trial_is_an_infinitely_bad_step():
    def fun(x):
        fun.trials.append(x.copy())
        return np.array([x[0] - 10.0]) if x[0] <= 5 else np.array([np.nan])

    fun.trials = []

    strategy = FakeStrategy(radius=100.0)
    res, problem, source, _ = solve(fun, line_jac, 0.0, strategy=strategy, max_nfev=50)
    # step 10 -> NaN: radius 0.25 * 10 = 2.5 without a radius_changed call; the
    # step of 2.5 is good and on the boundary: 5; step 5 -> x = 7.5, NaN: 1.25
    assert strategy.proposed[:4] == [100.0, 2.5, 5.0, 1.25]
    assert (100.0, 2.5) not in strategy.radius_changes
    # failed trials are not observed (no secant information), but are counted
    # and recorded; non-finite residuals are not retried
    assert all(finite for _, _, finite in source.observed)
    assert len(source.observed) == problem.counts[TRIAL] - len(problem.failures)
    assert problem.counts[TRIAL] == res.nfev - 1
    fun.trials.pop(0)                         # x0
    assert len(res.failures) == len(problem.failures) > 0
    assert res.failures[0]["x"].tolist() == [10.0]
    assert all(f["purpose"] == TRIAL and f["reason"] == "non-finite residuals (1 of 1)"
               and f["x"][0] > 5 for f in res.failures)
    trials = [x[0] for x in fun.trials]
    assert len(trials) == problem.counts[TRIAL]
    assert all(a != b for a, b in zip(trials, trials[1:]))   # no retry at the same point
    assert np.all(np.isfinite(res.fun))
    assert res.x[0] <= 5.0


def test_all_trials_fail_until_max_nfev():
    def fun(x):
        return np.array([x[0] - 3.0]) if x[0] == 0.0 else np.array([np.inf])

    res, problem, *_ = solve(fun, line_jac, 0.0, max_nfev=6)
    assert res.status == Status.MAX_NFEV
    assert res.nfev == 6 and res.nit == 1 and res.njev == 1
    assert_array_equal(res.x, [0.0])
    assert res.cost == 4.5
    assert len(res.failures) == 5


# ---- failed trial evaluations ----------------------------------------------------------
class Flaky:
    """line(), but raises on the calls whose (0-based) index is in `fail`."""

    def __init__(self, fail=(), fail_if=None):
        self.fail = set(fail)
        self.fail_if = fail_if
        self.n = 0
        self.points = []

    def __call__(self, x):
        i = self.n
        self.n += 1
        self.points.append(x.copy())
        if i in self.fail or (self.fail_if is not None and self.fail_if(x)):
            raise RuntimeError(f"call {i} failed")
        return line(x)


def test_a_transient_exception_is_retried_once_at_the_same_point():
    fun = Flaky(fail={1})                     # the first trial's first attempt
    strategy = FakeStrategy(radius=10.0)
    res, problem, source, _ = solve(fun, line_jac, 0.0, strategy=strategy)
    assert res.status == Status.GTOL
    assert_allclose(res.x, [3.0])
    assert_array_equal(fun.points[1], fun.points[2])       # same point again
    assert strategy.proposed == [10.0]                     # no shrink: the retry worked
    assert res.nfev == 3 and problem.counts[TRIAL] == 2 and res.nit == 1
    assert res.failures == problem.failures
    assert len(res.failures) == 1
    assert res.failures[0]["purpose"] == TRIAL
    assert res.failures[0]["reason"] == "RuntimeError: call 1 failed"
    assert res.failures[0]["x"].tolist() == [3.0]


def test_a_persistent_exception_costs_two_evaluations_per_trial():
    fun = Flaky(fail_if=lambda x: x[0] > 5)
    strategy = FakeStrategy(radius=100.0, overshoot=3.0)   # first try lands at 9
    res, problem, *_ = solve(fun, line_jac, 0.0, strategy=strategy)
    assert res.status == Status.GTOL
    assert_allclose(res.x, [3.0])
    assert strategy.proposed[:2] == [100.0, 0.25 * 9.0]
    assert [f["x"].tolist() for f in res.failures] == [[9.0], [9.0]]
    # initial, 9 twice, 2.25, then the rest
    assert_array_equal(np.concatenate(fun.points[:4]), [0.0, 9.0, 9.0, 2.25])


def test_too_many_consecutive_failures_stop_with_status_minus_three():
    fun = Flaky(fail_if=lambda x: x[0] != 0.0)
    strategy = FakeStrategy(radius=10.0)
    res, problem, source, _ = solve(fun, line_jac, 0.0, strategy=strategy, max_failures=3)
    assert res.status == Status.FAILURES == -3
    assert res.message == MESSAGES[Status.FAILURES]
    assert "failed evaluations" in res.message
    assert bool(res.success) is False
    assert_array_equal(res.x, [0.0])
    assert res.cost == 4.5
    assert res.nfev == 1 + 2 * 3             # each failed trial tried twice
    assert len(res.failures) == 6
    assert res.nit == 1 and res.njev == 1
    # each failure quarters the step
    assert_allclose(strategy.proposed, [10.0, 0.75, 0.1875])
    assert source.observed == []


def test_non_finite_failures_count_once_toward_max_failures():
    def fun(x):
        return line(x) if x[0] == 0.0 else np.array([np.nan])

    res, problem, *_ = solve(fun, line_jac, 0.0, max_failures=4)
    assert res.status == Status.FAILURES
    assert res.nfev == 1 + 4 and len(res.failures) == 4


def test_default_max_failures_is_twenty():
    assert settings().max_failures == 20
    fun = Flaky(fail_if=lambda x: x[0] != 0.0)
    res, *_ = solve(fun, line_jac, 0.0, max_nfev=1000)
    assert res.status == Status.FAILURES
    assert res.nfev == 1 + 2 * 20


def test_successful_trial_resets_the_failure_count():
    # fails on the first attempt at every new point (odd calls), succeeds on
    # the retry: never two failures in a row at a trial
    fun = Flaky(fail_if=None, fail=set(range(1, 200, 2)))
    strategy = FakeStrategy(radius=0.5)
    res, *_ = solve(fun, line_jac, 0.0, strategy=strategy, max_failures=2)
    assert res.status == Status.GTOL
    assert_allclose(res.x, [3.0])
    assert len(res.failures) == res.nfev // 2


def test_the_retry_respects_max_nfev():
    fun = Flaky(fail_if=lambda x: x[0] != 0.0)
    res, problem, *_ = solve(fun, line_jac, 0.0, max_nfev=4)
    # trial 1: two attempts (nfev 3); trial 2: one attempt, the budget is spent
    assert res.status == Status.MAX_NFEV
    assert res.nfev == 4 and len(res.failures) == 3
    assert fun.n == 4


class TimeoutOnce:
    """An executor handle whose first batch times out."""

    def __init__(self):
        self.batches = 0

    def run(self, func, xs):
        self.batches += 1
        if self.batches == 1:
            return [Failure("timed out after 1 s") for _ in xs]
        return [func(x) for x in xs]

    def close(self):
        pass


def test_a_timed_out_trial_is_retried():
    executor = TimeoutOnce()
    res, problem, *_ = solve(line, line_jac, 0.0, executor=executor)
    assert res.status == Status.GTOL
    assert_allclose(res.x, [3.0])
    assert executor.batches == 2 and res.nfev == 3
    assert res.failures[0]["reason"] == "timed out after 1 s"
    assert res.failures[0]["purpose"] == TRIAL


def test_a_wrong_shape_trial_is_an_error_not_a_failure():
    def fun(x):
        return line(x) if x[0] == 0.0 else np.zeros(2)

    with pytest.raises(ValueError, match=r"shape \(2,\).*at x0 they had shape \(1,\)"):
        solve(fun, line_jac, 0.0)


def test_no_step_tolerance_right_after_failed_evaluations():
    """A step made small because evaluations raised (or timed out) is not
    convergence: an ftol or xtol verdict on the first evaluable trial is
    dropped (a band of failing points across the path must not look like a
    minimum), and an accepted step gives back at least half the radius before
    the failures."""
    fun = Flaky(fail_if=lambda x: x[0] >= 5)
    strategy = ScriptedStrategy([(True, 0.3, Status.XTOL), (True, 0.4, Status.XTOL)],
                                radius=100.0, overshoot=7 / 3)   # first try: x = 7
    res, problem, *_ = solve(fun, line_jac, 0.0, strategy=strategy)
    assert strategy.proposed == [100.0, 1.75, 50.0]
    assert len(strategy.accepted) == 2
    assert res.status == Status.XTOL          # the second xtol counts
    assert res.nit == 2 and len(res.failures) == 2     # x = 7, tried twice

    fun = Flaky(fail_if=lambda x: x[0] >= 5)
    strategy = ScriptedStrategy([(True, 0.3, Status.FTOL_AND_XTOL),
                                 (True, 0.4, Status.FTOL)],
                                radius=100.0, overshoot=7 / 3)
    res, *_ = solve(fun, line_jac, 0.0, strategy=strategy)
    assert res.status == Status.FTOL          # only the second verdict counts
    assert res.nit == 2


def test_a_rejected_step_after_failures_keeps_the_verdict_radius():
    fun = Flaky(fail_if=lambda x: x[0] >= 5)
    strategy = ScriptedStrategy([(False, 0.3, None), (True, 0.2, Status.FTOL)],
                                radius=100.0, overshoot=7 / 3)
    res, *_ = solve(fun, line_jac, 0.0, strategy=strategy)
    assert strategy.proposed == [100.0, 1.75, 0.3]
    assert res.status == Status.FTOL          # the failure was two trials ago


def test_a_non_finite_shrink_is_final():
    """Non-finite residuals are a property of the region (SciPy's rule): the
    radius stays shrunk and an xtol verdict right after stands."""
    def fun(x):
        return line(x) if x[0] < 5 else np.array([np.nan])

    strategy = ScriptedStrategy([(True, 0.3, None), (True, 0.4, Status.XTOL)],
                                radius=100.0, overshoot=7 / 3)   # first try: x = 7
    res, *_ = solve(fun, line_jac, 0.0, strategy=strategy)
    assert strategy.proposed == [100.0, 1.75, 0.3]
    assert res.status == Status.XTOL and res.nit == 2

    strategy = ScriptedStrategy([(True, 0.3, Status.XTOL)], radius=100.0,
                                overshoot=7 / 3)
    res, *_ = solve(fun, line_jac, 0.0, strategy=strategy)
    assert res.status == Status.XTOL
    assert_allclose(res.x, [1.75])


@pytest.mark.parametrize("how", ["raise", "true"])
def test_callback_stops_with_status_minus_two(how):
    seen = []

    def cb(intermediate_result):
        seen.append(intermediate_result)
        if intermediate_result.nit == 2:
            if how == "raise":
                raise StopIteration
            return True
        return None

    strategy = FakeStrategy(radius=0.1)
    res, problem, *_ = solve(line, line_jac, 0.0, strategy=strategy, callback=cb)
    assert res.status == Status.CALLBACK == -2
    assert res.message == MESSAGES[Status.CALLBACK]
    assert bool(res.success) is False
    assert res.nit == 2 and res.nfev == 3
    assert [r.nit for r in seen] == [1, 2]
    assert [r.nfev for r in seen] == [2, 3]
    assert_allclose(seen[-1].x, [0.3])
    assert_allclose(seen[-1].x, res.x)
    assert seen[-1].cost == pytest.approx(0.5 * 2.7 ** 2)
    assert_allclose(seen[-1].fun, [0.3 - 3.0])


def test_callback_with_x_signature():
    xs = []
    res, *_ = solve(line, line_jac, 0.0, strategy=FakeStrategy(radius=1.0),
                    callback=lambda x: xs.append(x.copy()))
    assert res.status == Status.GTOL
    assert len(xs) == res.nit
    assert_allclose(xs[-1], res.x)


def test_loss_is_applied_before_the_strategy():
    def fun(x):
        return np.array([x[0] - 3.0, 2 * x[0] + 1.0])

    def jac(x):
        return np.array([[1.0], [2.0]])

    strategy = FakeStrategy(radius=1e-3)
    loss = make_loss("soft_l1", 0.5)
    res, *_ = solve(fun, jac, 0.0, strategy=strategy, loss="soft_l1", f_scale=0.5, max_nfev=2)
    x0_lin = strategy.prepared[0]
    f0 = fun(np.zeros(1))
    J_s, f_s = loss.robustify(jac(np.zeros(1)), f0)
    # the gradient handed to the strategy is the true gradient of the robust cost
    assert x0_lin[1] == pytest.approx(abs((J_s.T @ f_s)[0]))
    assert res.cost == pytest.approx(loss.cost(res.fun))
    assert_allclose(res.grad, res.jac.T @ loss.robustify(jac(res.x), res.fun)[1])


def test_x_scale_jac_uses_running_maximum_of_column_norms():
    scales = []

    class Recording(FakeStrategy):
        def prepare(self, lin, g_norm, Delta):
            scales.append(lin.scale_inv.copy())
            super().prepare(lin, g_norm, Delta)

    norms = iter([4.0, 2.0, 8.0, 1.0, 1.0, 1.0, 1.0])

    def jac(x):
        return np.array([[next(norms)]])

    solve(line, jac, 0.0, strategy=Recording(radius=0.1), x_scale="jac", max_nfev=5)
    assert_allclose(np.concatenate(scales), [4.0, 4.0, 8.0, 8.0])


def test_verbose_two_prints_a_table(capsys):
    solve(line, line_jac, 0.0, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert "Iteration" in out[0] and "Total nfev" in out[0] and "Optimality" in out[0]
    assert len(out) == 1 + 2                  # header, iteration 0, iteration 1
    assert out[1].split()[:2] == ["0", "1"]
    assert out[2].split()[:2] == ["1", "2"]


def test_driver_does_not_import_concrete_strategies():
    import inspect
    src = inspect.getsource(driver)
    assert "TRFStrategy" not in src and "DogboxStrategy" not in src


class ScriptedStrategy(FakeStrategy):
    """Verdicts come from a script, to check how the loop uses them."""

    def __init__(self, verdicts, **kw):
        super().__init__(**kw)
        self.script = list(verdicts)
        self.judged = []

    def judge(self, Delta, trial, cost, cost_new, x_norm, ftol, xtol):
        self.judged.append((Delta, cost, cost_new, x_norm, ftol, xtol))
        accepted, Delta_new, status = self.script.pop(0)
        return Verdict(accepted=accepted, Delta=Delta_new, status=status,
                       actual_reduction=cost - cost_new, ratio=1.0)


def test_loop_follows_the_verdicts():
    strategy = ScriptedStrategy([(False, 0.5, None), (True, 0.7, None),
                                 (False, 0.2, None), (True, 0.3, Status.XTOL)], radius=1.0)
    res, problem, source, _ = solve(line, line_jac, 0.0, strategy=strategy, ftol=1e-3,
                                    xtol=1e-4)
    # the radius handed to propose is the one of the previous verdict
    assert strategy.proposed == [1.0, 0.5, 0.7, 0.2]
    # judge gets the current cost, the trial cost, ||x|| and the tolerances
    assert strategy.judged[0][1:] == (4.5, 2.0, 0.0, 1e-3, 1e-4)
    assert len(strategy.accepted) == 2
    assert res.status == Status.XTOL
    assert res.nfev == 5 and res.njev == 3 and res.nit == 2
    assert len(strategy.prepared) == 2
    assert_allclose(res.x, strategy.accepted[-1])


def test_status_on_a_rejected_step_keeps_the_point():
    strategy = ScriptedStrategy([(False, 0.5, Status.XTOL)], radius=1.0)
    res, problem, source, _ = solve(line, line_jac, 0.0, strategy=strategy)
    assert res.status == Status.XTOL
    assert_array_equal(res.x, [0.0])
    assert res.nfev == 2 and res.njev == 1 and res.nit == 1
    assert strategy.accepted == []


def test_report_njev_false_gives_none():
    res, *_ = solve(line, line_jac, 0.0, report_njev=False)
    assert res.njev is None
    assert res.nfev == 2


# The driver asks the Jacobian source to refine before reporting convergence.
driver_refines = pytest.mark.skipif(
    "refine" not in __import__("inspect").getsource(driver),
    reason="this driver has no Jacobian refinement step")


@driver_refines
def test_step_tolerance_asks_the_source_to_refine_once():
    strategy = FakeStrategy(radius=1e-10)
    res, problem, source, _ = solve(line, line_jac, 1.0, strategy=strategy, ftol=0.0,
                                    refinements=1)
    # xtol met -> refine() True -> new J at the same point, loop goes on;
    # xtol met again -> refine() False -> stop
    assert res.status == Status.XTOL
    assert source.refine_calls == 2
    assert res.nit == 2 and res.nfev == 3
    assert res.njev == 4                     # x0, step 1, refinement, step 2
    assert_array_equal(source.calls[1], source.calls[2])


@driver_refines
def test_refinement_is_offered_on_every_convergence_but_not_on_max_nfev():
    # The source decides (finite differences refine on ftol/xtol only, a
    # Broyden source on any convergence); the driver asks on any status > 0.
    _, _, source, _ = solve(line, line_jac, 0.0, refinements=0)
    assert source.refine_calls == 1 and source.refine_statuses == [Status.GTOL]
    _, _, source, _ = solve(line, line_jac, 0.0, strategy=FakeStrategy(radius=0.1),
                            refinements=5, max_nfev=3)
    assert source.refine_calls == 0          # max_nfev


def test_a_given_first_jacobian_is_used_at_x0_and_not_recomputed():
    x0 = np.array([0.0])
    problem, f0 = make_problem(line, x0)
    source = FakeJacobian(line_jac)
    res = run(problem, source, FakeStrategy(), make_loss("linear", 1.0), x0, f0,
              settings(), J0=np.array([[1.0]]))
    assert res.status == Status.GTOL
    assert_allclose(res.x, [3.0])
    # Without J0 the source is asked at x0 too: one call more.
    problem2, f02 = make_problem(line, x0)
    source2 = FakeJacobian(line_jac)
    run(problem2, source2, FakeStrategy(), make_loss("linear", 1.0), x0, f02, settings())
    assert len(source2.calls) == len(source.calls) + 1


# ---- MINPACK's ftol for sources that opt in (jac='broyden') ---------------------------
def test_flat_within_ftol_is_minpacks_test_relative_to_the_cost():
    from lsqbox.driver import _flat_within_ftol
    trial = Trial(x_new=np.zeros(1), step=np.zeros(1), step_h_norm=0.0,
                  predicted_reduction=5e-9, tr_hit=None)
    flat = Verdict(accepted=False, Delta=1.0, status=None, actual_reduction=-4e-9, ratio=-0.8)
    assert _flat_within_ftol(trial, flat, 1.0, 1e-8) == Status.FTOL
    steep = Verdict(accepted=False, Delta=1.0, status=None, actual_reduction=-4e-7, ratio=-80)
    assert _flat_within_ftol(trial, steep, 1.0, 1e-8) is None
    trial.predicted_reduction = 2e-8                    # the model still expects more
    assert _flat_within_ftol(trial, flat, 1.0, 1e-8) is None
    assert _flat_within_ftol(trial, flat, 100.0, 1e-8) == Status.FTOL   # relative to cost
    assert _flat_within_ftol(trial, flat, 1.0, 0.0) is None             # ftol disabled
    trial.predicted_reduction = None                    # lm: its own (MINPACK's) test
    assert _flat_within_ftol(trial, flat, 1.0, 1e-8) is None


def quantized(x):
    """A nonzero-residual problem whose outputs are printed with 6 decimals, as
    an external program's: flat at the 1e-6 level around its minimum."""
    return np.round(np.array([np.exp(0.3 * x[0]) - 2.0, 1.0 + 0.2 * np.sin(x[0])]), 6)


def quantized_jac(x):
    return np.array([[0.3 * np.exp(0.3 * x[0])], [0.2 * np.cos(x[0])]])


def test_a_source_that_opts_in_stops_on_a_flat_function_instead_of_shrinking_to_xtol():
    results = {}
    for opt_in in (False, True):
        x0 = np.array([0.0])
        problem, f0 = make_problem(quantized, x0)
        source = FakeJacobian(quantized_jac)
        source.flat_model_stops = opt_in
        results[opt_in] = run(problem, source, FakeStrategy(radius=0.5),
                              make_loss("linear", 1.0), x0, f0,
                              settings(ftol=1e-8, xtol=1e-12, gtol=0.0))
    assert results[False].status == Status.XTOL and results[False].nfev == 23
    assert results[True].status == Status.FTOL and results[True].nfev == 15
    assert_allclose(results[True].x, results[False].x, rtol=1e-12)
    assert_allclose(results[True].x, [2.76243665], rtol=1e-8)


# ---- damped Gauss-Newton steps and the ftol confirmation (damping.py) ----------------
class GaussNewtonFake(FakeStrategy):
    """FakeStrategy that says when its step is the full Gauss-Newton step and
    can report the model's promise (as trf/dogbox with exact steps, no bounds)."""

    exact_steps = True

    def propose(self, Delta):
        trial = super().propose(Delta)
        gn = np.linalg.lstsq(np.asarray(self.lin.J), -self.lin.f, rcond=None)[0]
        trial.gauss_newton = bool(np.all(trial.step == gn))
        trial.gn_reduction = trial.predicted_reduction if trial.gauss_newton else None
        return trial


def overshooting(x):
    """Large residual at x* = 1: S = 0.6 against J^T J = 1, so a Gauss-Newton
    step overshoots by kappa = 1.6 and undamped iterates flip over x* with
    ratio -0.6."""
    return np.array([x[0] - 1.0, 0.3 * (x[0] - 1.0) ** 2 + 1.0])


def overshooting_jac(x):
    return np.array([[1.0], [0.6 * (x[0] - 1.0)]])


def test_overshooting_gauss_newton_steps_are_damped():
    strategy = GaussNewtonFake(radius=10.0)
    res, problem, *_ = solve(overshooting, overshooting_jac, 1.5, strategy=strategy,
                             ftol=1e-12, xtol=1e-12, gtol=1e-12)
    assert res.success
    assert_allclose(res.x, [1.0], atol=1e-7)
    steps = np.diff(np.concatenate(([1.5], np.ravel(strategy.accepted))))
    # the first step is the full Gauss-Newton step (it flips over x* = 1)...
    assert steps[0] < -0.5
    # ... the second, parallel to it and told kappa ~ 1.6 by the first, is
    # shortened to ~1/kappa of the Gauss-Newton step and lands much closer
    x1 = 1.5 + steps[0]
    gn = -np.linalg.lstsq(overshooting_jac([x1]), overshooting([x1]), rcond=None)[0][0]
    assert 0.5 < steps[1] / gn < 0.75
    assert abs(x1 + steps[1] - 1.0) < 0.2 * abs(x1 - 1.0)
    # undamped Gauss-Newton gains a factor 0.6 per step: ~30 trials to 1e-7
    assert res.nfev <= 12


def test_ftol_verdict_waits_for_the_models_promise():
    """With SciPy's ftol rule alone the loop would stop as soon as a step gains
    less than ftol * F; the confirmation asks for a Gauss-Newton promise three
    orders below that, so x ends much closer to x* = 1."""
    strategy = GaussNewtonFake(radius=10.0)
    res, *_ = solve(overshooting, overshooting_jac, 1.5, strategy=strategy, ftol=1e-4,
                    xtol=1e-15, gtol=1e-15)
    assert res.status == Status.FTOL
    F = res.cost
    promised = strategy.promised_reduction(driver.Linearization(
        res.x, res.fun, res.jac, res.grad, np.ones(1), np.ones(1)), 0.0, 10.0)
    assert promised <= 1e-3 * 1e-4 * F


def test_ftol_verdict_stands_without_the_measure():
    # FakeStrategy has no exact_steps: SciPy's verdict at the first small step
    res, *_ = solve(overshooting, overshooting_jac, 1.5, strategy=FakeStrategy(radius=10.0),
                    ftol=1e-4, xtol=1e-15, gtol=1e-15)
    assert res.status == Status.FTOL
    res2, *_ = solve(overshooting, overshooting_jac, 1.5,
                     strategy=GaussNewtonFake(radius=10.0), ftol=1e-4, xtol=1e-15,
                     gtol=1e-15)
    assert abs(res2.x[0] - 1.0) < 1e-2 * abs(res.x[0] - 1.0)


# ---- speculative trials (several radii in one round) -------------------------------
def _rosenbrock(x):
    return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


@pytest.mark.parametrize("jac", ["2-point", "broyden"])
@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
def test_speculative_trials_solve_in_fewer_rounds(method, jac):
    from lsqbox import least_squares
    plain = least_squares(_rosenbrock, [-1.2, 1.0], method=method, jac=jac)
    spec = least_squares(_rosenbrock, [-1.2, 1.0], method=method, jac=jac,
                         speculative_trials=2)
    assert_allclose(spec.x, [1.0, 1.0], atol=1e-7)
    assert spec.status > 0 and spec.cost < 1e-20
    # Serially: one round for x0, one per Jacobian, one per trial.
    if jac == "2-point" and method != "lm":
        assert plain.nrounds == plain.nfev + plain.njev
    assert spec.nrounds < plain.nrounds
    assert spec.nfev_total > plain.nfev_total       # the price: more evaluations


def test_speculative_trials_take_the_one_at_a_time_path_with_fixed_jacobians():
    # trf with finite differences and SciPy's radius rule: the radii of a round
    # are those a run of rejections would try, and the first trial that lowers
    # the cost is the one the one-at-a-time loop accepts.
    from lsqbox import least_squares
    plain = least_squares(_rosenbrock, [-1.2, 1.0])
    spec = least_squares(_rosenbrock, [-1.2, 1.0], speculative_trials=2)
    assert (spec.nit, spec.njev) == (plain.nit, plain.njev) == (17, 18)
    assert_array_equal(spec.x, plain.x)
    assert (plain.nrounds, spec.nrounds) == (43, 36)


def test_speculative_trials_do_not_depend_on_the_workers():
    from concurrent.futures import ThreadPoolExecutor
    from lsqbox import least_squares
    serial = least_squares(_rosenbrock, [-1.2, 1.0], jac="broyden", method="lm",
                           speculative_trials=2)
    with ThreadPoolExecutor(3) as pool:
        parallel = least_squares(_rosenbrock, [-1.2, 1.0], jac="broyden", method="lm",
                                 speculative_trials=2, workers=pool)
    assert_array_equal(serial.x, parallel.x)
    assert (serial.nfev, serial.nrounds) == (parallel.nfev, parallel.nrounds)


def test_speculative_trials_respect_the_budget():
    from lsqbox import least_squares
    calls = []

    def fun(x):
        calls.append(1)
        return _rosenbrock(x)

    res = least_squares(fun, [-1.2, 1.0], jac="broyden", speculative_trials=5, max_nfev=20)
    assert len(calls) == res.nfev == 20 and res.status == 0


def test_speculative_round_of_failures_shrinks_and_goes_on():
    from lsqbox import least_squares
    calls = []

    def fun(x):
        calls.append(x.copy())
        if 4 <= len(calls) <= 6:            # the first round's three trials
            raise RuntimeError("crashed")
        return np.array([x[0] + 0.5, 2.0 * (x[1] - 1.0)])

    res = least_squares(fun, [-2.0, 3.0], speculative_trials=2)
    assert_allclose(res.x, [-0.5, 1.0], atol=1e-8)
    assert res.status > 0
    assert [f["purpose"] for f in res.failures] == ["trial"] * 3
    # The next round starts below the smallest radius of the failed one.
    failed_steps = [norm(c - calls[0]) for c in calls[3:6]]
    assert norm(calls[6] - calls[0]) < min(failed_steps)


@pytest.mark.parametrize("value", [-1, 1.5, True, "2"])
def test_speculative_trials_must_be_a_non_negative_integer(value):
    from lsqbox import least_squares
    with pytest.raises(ValueError, match="speculative_trials"):
        least_squares(_rosenbrock, [-1.2, 1.0], speculative_trials=value)
