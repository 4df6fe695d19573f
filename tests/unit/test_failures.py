"""The failure policy end to end, through `lsqbox.least_squares`.

A failed evaluation of ``fun`` (an exception, non-finite residuals, a
timeout) is recorded in ``result.failures``. A failed trial point is an
infinitely bad step (exceptions and timeouts are retried once first);
a failed finite-difference column is retried with the opposite step, then half
the step, then frozen; after ``max_failures`` (20) consecutive failed trials
the solve stops with status -3. Only x0 is special: its exception propagates.

Known problems: Rosenbrock (solution [1, 1]), an exponential fit (exact data,
solution [2.5, 1.3, 0.5]) and Powell's singular function (solution 0, where
the Jacobian is singular and convergence is linear).
"""
import multiprocessing
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import lsqbox
from lsqbox.executor import Failure, open_executor
from lsqbox.problem import JACOBIAN, TRIAL, BoundFunction, Problem

METHODS = ["trf", "dogbox", "lm"]


# ---- problems (module level: picklable for process pools) ---------------------------
def rosenbrock(x):
    return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def rosenbrock_jac(x):
    return np.array([[-20.0 * x[0], 10.0], [-1.0, 0.0]])


T = np.linspace(0.0, 4.0, 25)
Y = 2.5 * np.exp(-1.3 * T) + 0.5


def exp_fit(p):
    return p[0] * np.exp(-p[1] * T) + p[2] - Y


def exp_fit_jac(p):
    e = np.exp(-p[1] * T)
    return np.column_stack((e, -p[0] * T * e, np.ones_like(T)))


def powell_singular(x):
    return np.array([x[0] + 10.0 * x[1], np.sqrt(5.0) * (x[2] - x[3]),
                     (x[1] - 2.0 * x[2]) ** 2, np.sqrt(10.0) * (x[0] - x[3]) ** 2])


# name: (fun, x0, solution, atol on x, tolerances)
PROBLEMS = {
    "rosenbrock": (rosenbrock, [-1.2, 1.0], [1.0, 1.0], 1e-6, {}),
    "exp_fit": (exp_fit, [1.0, 1.0, 0.0], [2.5, 1.3, 0.5], 1e-6, {}),
    # singular Jacobian at the solution: Gauss-Newton converges linearly and
    # even without failures trf stops 2e-6 away at these tolerances
    "powell": (powell_singular, [3.0, -1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], 1e-5,
               dict(ftol=1e-15, xtol=1e-15, gtol=1e-15)),
}


def check_solution(res, name):
    fun, x0, solution, atol, _ = PROBLEMS[name]
    assert res.status in (1, 2, 3, 4), res.message
    assert bool(res.success) is True
    assert_allclose(res.x, solution, rtol=0, atol=atol)
    assert res.cost < (1e-20 if name == "powell" else 1e-10)


def records(res):
    return [(f["purpose"], f["reason"]) for f in res.failures]


# ---- (a), (b): random failures with a seeded RNG ------------------------------------
class RandomlyFailing:
    """``fun`` that fails on a random fraction of calls (never at x0, the first).

    mode 'raise': raises ValueError; 'nan': one residual is NaN. Records every
    call and every point where it failed."""

    def __init__(self, fun, rate, seed, mode):
        self.fun = fun
        self.rate = rate
        self.rng = np.random.default_rng(seed)
        self.mode = mode
        self.calls = 0
        self.failed_at = []

    def __call__(self, x):
        self.calls += 1
        f = self.fun(x)
        if self.calls > 1 and self.rng.random() < self.rate:
            self.failed_at.append(np.array(x, copy=True))
            if self.mode == "raise":
                raise ValueError("injected failure")
            f = f.copy()
            f[self.rng.integers(f.size)] = np.nan
        return f


def check_records(res, fun, mode):
    m = res.fun.size
    reason = ("ValueError: injected failure" if mode == "raise"
              else f"non-finite residuals (1 of {m})")
    assert len(res.failures) == len(fun.failed_at) > 0
    for item, x in zip(res.failures, fun.failed_at):
        assert_array_equal(item["x"], x)
        assert item["reason"] == reason
        assert item["purpose"] in (TRIAL, JACOBIAN)
    assert res.nfev_total == fun.calls


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_random_exceptions(name, method, seed):
    fun0, x0, _, _, tols = PROBLEMS[name]
    fun = RandomlyFailing(fun0, 0.2, seed, "raise")
    res = lsqbox.least_squares(fun, x0, method=method, **tols)
    check_solution(res, name)
    check_records(res, fun, "raise")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_random_nans(name, method, seed):
    fun0, x0, _, _, tols = PROBLEMS[name]
    fun = RandomlyFailing(fun0, 0.1, seed, "nan")
    res = lsqbox.least_squares(fun, x0, method=method, **tols)
    check_solution(res, name)
    check_records(res, fun, "nan")


def test_random_failures_are_reproducible():
    results = []
    for _ in range(2):
        fun = RandomlyFailing(exp_fit, 0.2, 5, "raise")
        results.append(lsqbox.least_squares(fun, [1.0, 1.0, 0.0]))
    a, b = results
    assert_array_equal(a.x, b.x)
    assert (a.nfev, a.njev, a.nfev_total) == (b.nfev, b.njev, b.nfev_total)
    assert records(a) == records(b)


def test_random_exceptions_with_an_analytic_jacobian():
    """Only trial points fail: each failed attempt is retried once."""
    fun = RandomlyFailing(rosenbrock, 0.2, 3, "raise")
    res = lsqbox.least_squares(fun, [-1.2, 1.0], jac=rosenbrock_jac)
    check_solution(res, "rosenbrock")
    check_records(res, fun, "raise")
    assert {f["purpose"] for f in res.failures} == {TRIAL}
    assert res.nfev == fun.calls            # no finite differences


# ---- (c): timeouts at the executor + Problem level -----------------------------------
def sleepy_rosenbrock(x):
    """Module level (picklable): sleeps 0.6 s when x[0] < 0."""
    if x[0] < 0:
        time.sleep(0.6)
    return rosenbrock(x)


@pytest.mark.parametrize("kind", ["serial", "threads", "processes"])
def test_timeout_is_a_failure_and_the_other_points_are_right(kind):
    xs = [np.array([0.5, 2.0]), np.array([-1.0, 1.0]), np.array([1.0, 1.0]),
          np.array([2.0, 3.0])]
    pool = ThreadPoolExecutor(max_workers=4) if kind == "threads" else None
    workers = {"serial": None, "threads": pool, "processes": 2}[kind]
    try:
        with open_executor(workers, timeout=0.2) as handle:
            problem = Problem(BoundFunction(sleepy_rosenbrock), handle)
            problem.m = 2
            start = time.monotonic()
            fs = problem.evaluate_many(xs, JACOBIAN)
            elapsed = time.monotonic() - start
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    assert elapsed < 0.55                       # nobody waited for the sleeper
    assert isinstance(fs[1], Failure)
    assert "timed out" in fs[1].reason and fs[1].reason == "timed out after 0.2 s"
    for i in (0, 2, 3):
        assert_array_equal(fs[i], rosenbrock(xs[i]))
    assert len(problem.failures) == 1
    assert problem.failures[0]["purpose"] == JACOBIAN
    assert_array_equal(problem.failures[0]["x"], xs[1])
    assert problem.counts[JACOBIAN] == 4


def test_exceptions_in_a_process_pool_come_back_as_failures():
    xs = [np.array([1.0, 1.0]), np.array([2.0, 0.0])]
    with open_executor(2) as handle:
        problem = Problem(BoundFunction(raises_beyond_1_5), handle)
        problem.m = 2
        fs = problem.evaluate_many(xs, TRIAL)
    assert_array_equal(fs[0], [0.0, 0.0])
    assert isinstance(fs[1], Failure)
    assert fs[1].reason == "ValueError: outside the model's domain"


# ---- (d): a region where fun fails ------------------------------------------------------
def exp_curve(x):
    """Solution [1, 1]; from [-2, 0] Gauss-Newton overshoots far beyond x[0] = 1.5."""
    return np.array([np.exp(x[0]) - np.e, 10.0 * (x[1] - x[0] ** 2)])


def raises_beyond_1_5(x):
    if x[0] > 1.5:
        raise ValueError("outside the model's domain")
    return exp_curve(x)


def nan_beyond_1_5(x):
    if x[0] > 1.5:
        return np.array([np.nan, 0.0])
    return exp_curve(x)


@pytest.mark.parametrize("method", METHODS)
def test_failure_region_raising(method):
    res = lsqbox.least_squares(raises_beyond_1_5, [-2.0, 0.0], method=method)
    assert res.status in (1, 2, 3, 4) and bool(res.success)
    assert_allclose(res.x, [1.0, 1.0], rtol=0, atol=1e-6)
    assert len(res.failures) > 0
    assert set(records(res)) == {(TRIAL, "ValueError: outside the model's domain")}
    assert all(f["x"][0] > 1.5 for f in res.failures)
    # a raising point is tried twice (the error might be transient)
    assert len(res.failures) % 2 == 0
    for first, second in zip(res.failures[::2], res.failures[1::2]):
        assert_array_equal(first["x"], second["x"])


@pytest.mark.parametrize("method", METHODS)
def test_failure_region_nan(method):
    res = lsqbox.least_squares(nan_beyond_1_5, [-2.0, 0.0], method=method)
    assert res.status in (1, 2, 3, 4) and bool(res.success)
    assert_allclose(res.x, [1.0, 1.0], rtol=0, atol=1e-6)
    assert len(res.failures) > 0
    assert set(records(res)) == {(TRIAL, "non-finite residuals (1 of 2)")}
    xs = [f["x"][0] for f in res.failures]
    assert all(x > 1.5 for x in xs)
    # non-finite residuals are a property of the point: no retry
    assert all(a != b for a, b in zip(xs, xs[1:]))


@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_failure_region_with_bounds_elsewhere(method):
    res = lsqbox.least_squares(raises_beyond_1_5, [-2.0, 0.0], method=method,
                               bounds=([-3.0, -1.0], [np.inf, 5.0]))
    assert bool(res.success)
    assert_allclose(res.x, [1.0, 1.0], rtol=0, atol=1e-6)


# ---- (e): failure at x0 ---------------------------------------------------------------
class FailsAtX0(Exception):
    pass


def raises_always(x):
    raise FailsAtX0(f"cannot evaluate at {x[0]}")


@pytest.mark.parametrize("workers", [None, 2])
@pytest.mark.parametrize("method", METHODS)
def test_exception_at_x0_propagates_with_a_note(method, workers):
    with pytest.raises(FailsAtX0, match="cannot evaluate at 0.25") as info:
        lsqbox.least_squares(raises_always, [0.25, 4.0], method=method, workers=workers)
    if sys.version_info >= (3, 11):
        notes = getattr(info.value, "__notes__", [])
        assert any("x0" in note and "0.25" in note and "4." in note for note in notes)


def test_non_finite_at_x0_is_scipys_error():
    with pytest.raises(ValueError, match="Residuals are not finite in the initial point"):
        lsqbox.least_squares(nan_beyond_1_5, [2.0, 0.0])


# ---- (f): everything fails after x0 ---------------------------------------------------
class FailsAfterX0:
    def __init__(self, fun, mode="raise"):
        self.fun = fun
        self.mode = mode
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == 1:
            return self.fun(x)
        if self.mode == "raise":
            raise RuntimeError("the simulator crashed")
        return np.full(2, np.inf)


@pytest.mark.parametrize("method", METHODS)
def test_every_trial_failing_stops_with_status_minus_three(method):
    fun = FailsAfterX0(rosenbrock)
    x0 = np.array([-1.2, 1.0])
    res = lsqbox.least_squares(fun, x0, jac=rosenbrock_jac, method=method)
    assert res.status == -3 == lsqbox.Status.FAILURES
    assert bool(res.success) is False
    assert res.message == ("Stopped after too many consecutive failed evaluations "
                           "of `fun` (see `result.failures`).")
    assert_array_equal(res.x, x0)
    assert res.cost == pytest.approx(0.5 * np.sum(rosenbrock(x0) ** 2))
    # 20 consecutive failed trials, each tried twice
    assert len(res.failures) == 40 == fun.calls - 1
    assert res.nfev == 41
    assert set(records(res)) == {(TRIAL, "RuntimeError: the simulator crashed")}
    assert res.to_dict()["failures"][0]["reason"] == "RuntimeError: the simulator crashed"


def test_every_trial_non_finite_stops_after_twenty():
    fun = FailsAfterX0(rosenbrock, mode="inf")
    res = lsqbox.least_squares(fun, [-1.2, 1.0], jac=rosenbrock_jac)
    assert res.status == -3 and not res.success
    assert len(res.failures) == 20 and res.nfev == 21


@pytest.mark.parametrize("max_failures", [1, 5])
def test_max_failures_argument(max_failures):
    fun = FailsAfterX0(rosenbrock)
    res = lsqbox.least_squares(fun, [-1.2, 1.0], jac=rosenbrock_jac,
                               max_failures=max_failures)
    assert res.status == -3 and not res.success
    assert res.nfev == 1 + 2 * max_failures == fun.calls
    assert len(res.failures) == 2 * max_failures


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3"])
def test_max_failures_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="`max_failures` must be a positive integer"):
        lsqbox.least_squares(rosenbrock, [-1.2, 1.0], max_failures=bad)


def test_max_nfev_comes_first_when_smaller():
    fun = FailsAfterX0(rosenbrock)
    res = lsqbox.least_squares(fun, [-1.2, 1.0], jac=rosenbrock_jac, max_nfev=7)
    assert res.status == 0 and res.nfev == 7 and len(res.failures) == 6


@pytest.mark.parametrize("method", METHODS)
def test_every_call_failing_after_x0_with_finite_differences(method):
    """With finite differences not even the Jacobian at x0 can be computed.

    Every column fails (forward, opposite and half steps) and there is no
    previous Jacobian to fall back on: a zero column would make the gradient
    test certify a parameter that was never measured, so this is a failure at
    x0 and raises a ValueError naming x0, the columns and the reason (it used
    to return a false gtol success).
    """
    fun = FailsAfterX0(rosenbrock)
    with pytest.raises(ValueError, match=r"Finite differences failed at the initial "
                                         r"point x0 = .* for columns \[0, 1\]"):
        lsqbox.least_squares(fun, [-1.2, 1.0], method=method)
    assert fun.calls == 1 + 3 * 2          # x0, then forward/opposite/half per column


# ---- (g): a finite-difference column that fails -----------------------------------------
class FailsOnUpwardStepOfX1:
    """``fun`` that raises exactly when x is the current center with x[1]
    moved up by a tiny amount (column 1's forward-difference step).

    The center is the last point evaluated that is not such a perturbation
    (x0, then each trial point; a Jacobian is evaluated right after its trial
    point is accepted). Perturbations are recorded as (index, offset)."""

    def __init__(self, fun):
        self.fun = fun
        self.center = None
        self.calls = 0
        self.raised = []
        self.perturbations = []
        self.jacobian_centers = []

    def __call__(self, x):
        self.calls += 1
        x = np.asarray(x, dtype=float)
        if self.center is not None:
            d = x - self.center
            nz = np.flatnonzero(d)
            if nz.size == 1 and abs(d[nz[0]]) <= 1e-4 * max(1.0, abs(self.center[nz[0]])):
                j = int(nz[0])
                self.perturbations.append((j, d[j]))
                if not any(c is self.center for c in self.jacobian_centers):
                    self.jacobian_centers.append(self.center)
                if j == 1 and d[j] > 0:
                    self.raised.append(x.copy())
                    raise FloatingPointError("upward step of x[1]")
                return self.fun(x)
        self.center = x.copy()
        return self.fun(x)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name, jac, x0", [
    ("rosenbrock", rosenbrock_jac, [-1.2, 1.0]),
    ("exp_fit", exp_fit_jac, [1.0, 1.0, 0.0]),
])
def test_failing_column_is_retried_with_the_opposite_step(name, jac, x0, method):
    fun0 = PROBLEMS[name][0]
    fun = FailsOnUpwardStepOfX1(fun0)
    res = lsqbox.least_squares(fun, x0, method=method)
    check_solution(res, name)
    plain = lsqbox.least_squares(fun0, x0, method=method)
    assert_allclose(res.x, plain.x, rtol=0, atol=1e-9)
    # every Jacobian had one failure, and only there
    assert len(fun.raised) > 0
    assert len(res.failures) == len(fun.raised)
    assert set(records(res)) == {(JACOBIAN, "FloatingPointError: upward step of x[1]")}
    for item, x in zip(res.failures, fun.raised):
        assert_array_equal(item["x"], x)
    # the forward step of x[1] goes up where x[1] >= 0 (sign of x): exactly
    # those Jacobians had a failure
    centers = fun.jacobian_centers
    if method != "lm":
        assert len(centers) == res.njev
    assert len(fun.raised) == sum(c[1] >= 0 for c in centers)
    # each failed upward step h was followed by the step -h
    steps = fun.perturbations
    for k, (j, d) in enumerate(steps):
        if j == 1 and d > 0:
            later = [dd for jj, dd in steps[k + 1:] if jj == 1]
            assert later and later[0] == -d
    # the Jacobian's column 1 (one-sided, backward) is still right
    J_true = jac(res.x)
    scale = np.abs(J_true).max()
    assert_allclose(res.jac[:, 1], J_true[:, 1], rtol=1e-6, atol=1e-6 * scale)
    assert_allclose(res.jac, J_true, rtol=1e-6, atol=1e-6 * scale)


def test_failing_column_with_central_differences():
    """The central difference of column 1 falls back to a one-sided one with
    the central step eps^(1/3) |x|: first-order, relative error ~1e-5."""
    fun = FailsOnUpwardStepOfX1(exp_fit)
    res = lsqbox.least_squares(fun, [1.0, 1.0, 0.0], jac="3-point")
    check_solution(res, "exp_fit")
    assert len(res.failures) == len(fun.raised) == res.njev
    J_true = exp_fit_jac(res.x)
    scale = np.abs(J_true).max()
    assert_allclose(res.jac[:, [0, 2]], J_true[:, [0, 2]], rtol=1e-9, atol=1e-9 * scale)
    assert_allclose(res.jac[:, 1], J_true[:, 1], rtol=1e-4, atol=1e-4 * scale)


# ---- (h): workers give the serial results ---------------------------------------------
def run_exp_fit(workers, fun=exp_fit, x0=(1.0, 1.0, 0.0), **kw):
    return lsqbox.least_squares(fun, list(x0), jac="2-point", workers=workers, **kw)


def check_identical(res, ref):
    assert_array_equal(res.x, ref.x)
    assert (res.nfev, res.njev, res.nfev_total, res.status, res.nit) == \
        (ref.nfev, ref.njev, ref.nfev_total, ref.status, ref.nit)
    assert res.cost == ref.cost
    assert_array_equal(res.jac, ref.jac)
    assert records(res) == records(ref)
    for a, b in zip(res.failures, ref.failures):
        assert_array_equal(a["x"], b["x"])


@pytest.mark.parametrize("method", METHODS)
def test_workers_give_identical_results(method):
    ref = run_exp_fit(None, method=method)
    check_solution(ref, "exp_fit")
    with ThreadPoolExecutor(max_workers=3) as ex:
        check_identical(run_exp_fit(ex, method=method), ref)
    check_identical(run_exp_fit(2, method=method), ref)
    with multiprocessing.Pool(2) as pool:
        check_identical(run_exp_fit(pool.map, method=method), ref)


def test_workers_give_identical_results_with_a_failure_region():
    kw = dict(fun=raises_beyond_1_5, x0=(-2.0, 0.0))
    ref = run_exp_fit(None, **kw)
    assert len(ref.failures) > 0 and bool(ref.success)
    with ThreadPoolExecutor(max_workers=2) as ex:
        check_identical(run_exp_fit(ex, **kw), ref)
    check_identical(run_exp_fit(2, **kw), ref)
    with multiprocessing.Pool(2) as pool:
        check_identical(run_exp_fit(pool.map, **kw), ref)


def just_above_the_solution_fails(p):
    """Deterministic (and picklable) failures: raises when p[1] lies in a thin
    band just above its solution value 1.3 (reached by forward-difference steps
    of column 1 near the solution, and by some trial points)."""
    if 1.3 + 5e-9 < p[1] < 1.3 + 1e-6:
        raise ArithmeticError("band above 1.3")
    return exp_fit(p)


def test_workers_give_identical_results_with_failing_evaluations():
    """Failed evaluations in a pool: the retries go through the pool too."""
    ref = run_exp_fit(None, fun=just_above_the_solution_fails)
    check_solution(ref, "exp_fit")
    assert JACOBIAN in {f["purpose"] for f in ref.failures}
    check_identical(run_exp_fit(2, fun=just_above_the_solution_fails), ref)
    with multiprocessing.Pool(2) as pool:
        check_identical(run_exp_fit(pool.map, fun=just_above_the_solution_fails), ref)


# ---- (c) end to end: least_squares(eval_timeout=...) ---------------------------------
def sleeps_beyond_1_5(x):
    """Module level (picklable): takes 0.35 s where x[0] > 1.5."""
    if x[0] > 1.5:
        time.sleep(0.35)
    return exp_curve(x)


@pytest.mark.parametrize("kind", ["serial", "threads", "processes"])
def test_eval_timeout_end_to_end(kind):
    pool = ThreadPoolExecutor(max_workers=2) if kind == "threads" else None
    workers = {"serial": None, "threads": pool, "processes": 2}[kind]
    try:
        res = lsqbox.least_squares(sleeps_beyond_1_5, [-2.0, 0.0], workers=workers,
                                   eval_timeout=0.2)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    assert bool(res.success)
    assert_allclose(res.x, [1.0, 1.0], rtol=0, atol=1e-6)
    assert len(res.failures) > 0
    assert set(records(res)) == {(TRIAL, "timed out after 0.2 s")}
    assert all(f["x"][0] > 1.5 for f in res.failures)
    # a timeout may be transient: each late point was tried twice
    assert len(res.failures) % 2 == 0
    for first, second in zip(res.failures[::2], res.failures[1::2]):
        assert_array_equal(first["x"], second["x"])
    plain = lsqbox.least_squares(raises_beyond_1_5, [-2.0, 0.0])
    assert_array_equal(res.x, plain.x)
    assert (res.nfev, res.njev) == (plain.nfev, plain.njev)


def test_a_band_of_failures_across_the_path_is_not_reported_as_convergence():
    """The minimum (x = 2) lies in a band where ``fun`` raises: the solver can
    only creep up to the band's edge. It must not stop there with a
    step-tolerance "success" (the tiny steps are forced by the failures, not
    by convergence)."""
    def fun(x):
        if 1.5 < x[0] < 2.5:
            raise RuntimeError("solver crashed")
        return np.array([np.exp(x[0]) - np.exp(2.0), 0.1 * (x[0] - 2.0) ** 2])

    for x0 in ([1.0], [3.5]):
        res = lsqbox.least_squares(fun, x0, max_nfev=200)
        assert not res.success and res.status in (0, -3), (res.status, res.x)
        assert res.failures and all("solver crashed" in f["reason"]
                                    for f in res.failures)
        assert res.x[0] <= 1.5 or res.x[0] >= 2.5
