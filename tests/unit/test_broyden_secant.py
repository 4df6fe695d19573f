"""Unit tests for the mw-broyden additions: multiple secant conditions, the
noisy restarts, the refresh notice for the driver, and the noise estimate at
zero residuals."""
import warnings

import numpy as np
import pytest

from lsqbox import least_squares
from lsqbox.jacobian.broyden import BroydenJacobian
from lsqbox.noise import MAX_LEVEL, _sigma_from_table, estimate_noise


class _NoFD:
    pattern = None
    noise = None
    eps_r = 1.5e-8
    step_factor = 1.0


def _source(n=3):
    src = BroydenJacobian(_NoFD(), n, np.ones(n))
    src.J = np.zeros((2, n))
    return src


def test_earlier_secant_conditions_are_kept():
    # f(x) = A x: after steps along e0 and e1 from the same point, plain
    # Broyden would have spoiled the first condition; the kept one holds.
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    src = _source()
    x = np.zeros(3)
    f = A @ x
    for step in (np.array([1.0, 0, 0]), np.array([0.3, 1.0, 0])):
        src.observe(x, f, x + step, A @ (x + step))
    np.testing.assert_allclose(src.J @ [1.0, 0, 0], A @ [1.0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(src.J @ [0.3, 1.0, 0], A @ [0.3, 1.0, 0], atol=1e-12)
    # Without memory only the newest one holds.
    plain = _source()
    plain.options["secant_memory"] = 0
    for step in (np.array([1.0, 0, 0]), np.array([0.3, 1.0, 0])):
        plain.observe(x, f, x + step, A @ (x + step))
    assert np.abs(plain.J @ [1.0, 0, 0] - A @ [1.0, 0, 0]).max() > 0.1


def test_far_or_parallel_points_are_not_kept():
    src = _source()
    x = np.zeros(3)
    S, _ = src._secant_conditions(x, np.zeros(2), np.array([1.0, 0, 0]), np.zeros(2), 1.0)
    assert S.shape == (3, 1)
    src.points = [(np.array([100.0, 0, 1]), np.zeros(2)),      # too far (> 10 |s|)
                  (np.array([2.0, 0.01, 0]), np.zeros(2)),     # parallel to s
                  (np.array([0.0, 1.0, 0]), np.zeros(2))]      # kept
    S, _ = src._secant_conditions(x, np.zeros(2), np.array([1.0, 0, 0]), np.zeros(2), 1.0)
    assert S.shape == (3, 2)
    np.testing.assert_array_equal(S[:, 1], [0.0, 1.0, 0])


def test_wild_trial_makes_no_update():
    src = _source()
    x = np.zeros(3)
    f = np.array([1.0, 1.0])
    src.observe(x, f, np.array([1.0, 0, 0]), np.array([1e3, 0.0]))
    np.testing.assert_array_equal(src.J, 0.0)
    assert src.updates == 0


def test_refresh_notice_is_given_once_and_carries_the_fraction():
    src = _source()
    src._refresh_notice = True
    assert src.take_refresh_notice() == src.options["radius_restore"] == 0.25
    assert src.take_refresh_notice() == 0.0


def test_noise_estimate_skips_zero_residuals():
    # Residual 0 is exactly zero at x and stays zero: no relative level.
    def fun(x):
        return np.array([0.0 * x[0], 1.0 + 1e-3 * np.sin(1e6 * x[0])])

    from lsqbox.problem import Problem
    from lsqbox.executor import open_executor
    from lsqbox.api import BoundFunction
    x0 = np.array([0.3, 0.2])
    with open_executor(None, None) as ex:
        problem = Problem(BoundFunction(fun, (), {}), ex)
        f0 = problem.evaluate_initial(x0)
        level = estimate_noise(problem, x0, f0, np.full(2, -np.inf), np.full(2, np.inf))
    assert np.isfinite(level) and level <= MAX_LEVEL


def test_sigma_of_a_smooth_table_is_none():
    assert _sigma_from_table(np.arange(9.0) ** 2) is None


class _RelNoise:
    """Rosenbrock (plus a constant residual) with 1e-3 relative noise from a seeded stream (new noise at
    every call, as in the Moré-Wild benchmark)."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        # A third, constant residual keeps the noise alive at the solution.
        f = np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0], 1.0])
        return f * (1.0 + 1e-3 * self.rng.standard_normal(3))


@pytest.mark.parametrize("method", ["trf", "lm"])
def test_noisy_solve_spends_the_budget_and_reports_its_verdict(method):
    fun = _RelNoise()
    res = least_squares(fun, [-1.2, 1.0], jac="broyden", method=method, noise=1e-3,
                        max_nfev=300)
    assert fun.calls >= 300 - 3           # restarts used the budget
    assert res.status > 0 and "restart" in res.message
    # Within the noise of the optimum: f's noise has std ~2e-3 here, and
    # Rosenbrock's valley is flat (measured: 7.6e-4 with trf, 4.0e-5 with lm, above f*).
    x = res.x
    excess = (10.0 * (x[1] - x[0] ** 2)) ** 2 + (1.0 - x[0]) ** 2
    assert excess <= 5e-3, (res.x, excess)


def test_smooth_solve_does_not_restart():
    fun = _RelNoise()
    fun.rng = np.random.default_rng(0)
    calls = []

    def smooth(x):
        calls.append(1)
        return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])

    res = least_squares(smooth, [-1.2, 1.0], jac="broyden", max_nfev=300)
    assert res.status > 0 and "restart" not in res.message
    assert len(calls) < 100
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-8)


# -- lm starts its scaling afresh at a noisy restart (branch mw-broyden-2) ------
def _lin(J):
    from lsqbox.strategies import Linearization
    n = J.shape[1]
    f = np.ones(J.shape[0])
    return Linearization(np.zeros(n), f, J, J.T.dot(f), np.ones(n), np.ones(n))


def test_lm_restart_resets_scaling_and_parameter():
    from lsqbox.strategies.lm import LMStrategy
    lm = LMStrategy("jac")
    lm.initial_radius(_lin(np.array([[300.0, 0.0, 1.0], [400.0, 0.0, 0.0]])))
    np.testing.assert_array_equal(lm.diag, [500.0, 1.0, 1.0])
    lm.par = 7.5
    # A noisy Jacobian inflated the first column once; the running maximum
    # would keep 500 for good, the restart takes the new column norms.
    lm.restart(_lin(np.array([[3.0, 0.0, 2.0], [4.0, 0.0, 0.0]])))
    np.testing.assert_array_equal(lm.diag, [5.0, 1.0, 2.0])
    assert lm.par == 0.0


def test_lm_restart_keeps_a_fixed_scale():
    from lsqbox.strategies.lm import LMStrategy
    lm = LMStrategy(np.array([2.0, 4.0]))
    lm.par = 3.0
    lm.restart(_lin(np.array([[30.0, 1.0], [40.0, 0.0]])))
    np.testing.assert_array_equal(lm.diag, [0.5, 0.25])
    assert lm.par == 0.0


@pytest.mark.parametrize("noise, expected", [(1e-3, True), (None, False)])
def test_driver_calls_lm_restart_only_at_noisy_restarts(monkeypatch, noise, expected):
    from lsqbox.strategies.lm import LMStrategy
    seen = []
    original = LMStrategy.restart

    def spy(self, lin):
        radius = original(self, lin)
        seen.append((self.diag.copy(), np.sqrt((lin.J ** 2).sum(axis=0))))
        return radius

    monkeypatch.setattr(LMStrategy, "restart", spy)
    fun = _RelNoise()
    res = least_squares(fun, [-1.2, 1.0], jac="broyden", method="lm", noise=noise,
                        max_nfev=300)
    assert bool(seen) is expected
    if expected:
        # Measured on this stream: 32 restarts, all at the noise level (55
        # before the steps learned the curvature, noise_optimal_scale).
        assert res.status > 0 and "restart" in res.message
        assert 25 <= len(seen) <= res.nfev // 3
        for diag, acnorm in seen:
            np.testing.assert_array_equal(diag, np.where(acnorm == 0, 1.0, acnorm))


# -- trf with Broyden: MINPACK's radius after a poor step (smooth only) -------
def _strategy_flag(monkeypatch, **kwargs):
    from lsqbox import api
    seen = {}
    real = api.driver.run

    def spy(problem, jacobian, strategy, *args, **kw):
        seen["flag"] = strategy.interpolated_shrink
        return real(problem, jacobian, strategy, *args, **kw)

    monkeypatch.setattr(api.driver, "run", spy)
    fun = _RelNoise() if kwargs.get("noise") else (lambda x: np.array([x[0] - 1.0, x[1]]))
    least_squares(fun, [0.5, 0.5], max_nfev=30, **kwargs)
    return seen["flag"]


@pytest.mark.parametrize("kwargs, expected", [
    (dict(jac="broyden"), True),
    (dict(jac="broyden", noise=1e-3), False),
    (dict(jac="broyden", jac_options={"interpolated_shrink": False}), False),
    (dict(jac="broyden", noise=1e-3, jac_options={"interpolated_shrink": True}), True),
    (dict(jac="2-point"), False),
    (dict(jac="broyden", method="dogbox"), False),
])
def test_interpolated_shrink_is_on_for_smooth_broyden_trf_only(monkeypatch, kwargs,
                                                               expected):
    assert _strategy_flag(monkeypatch, **kwargs) is expected


@pytest.mark.parametrize("name, before, after", [
    # measured: nfev with SciPy's quarter of the step -> with MINPACK's rule
    ("freudenstein_roth", 200, 64),     # was out of budget (status 0), now ftol
    ("watson", 73, 62),
    ("bard", 21, 16),
])
def test_interpolated_shrink_saves_runs(name, before, after):
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "behavior"))
    import problems
    p = problems.get(name)
    old = least_squares(p.fun, p.x0.copy(), jac="broyden",
                        jac_options={"interpolated_shrink": False})
    new = least_squares(p.fun, p.x0.copy(), jac="broyden")
    assert (old.nfev, new.nfev) == (before, after)
    assert new.status > 0
    assert new.cost <= old.cost * (1 + 1e-8) + 1e-12


# -- noisy restarts: lm starts afresh, new points, stochastic or not ----------
def test_lm_restart_returns_lmders_initial_radius():
    from lsqbox.strategies.lm import FACTOR, LMStrategy
    from lsqbox.strategies import Linearization
    lm = LMStrategy("jac")
    J = np.array([[3.0, 0.0], [4.0, 2.0]])
    lin = Linearization(np.array([1.0, -2.0]), np.ones(2), J, J.T.dot(np.ones(2)),
                        np.ones(2), np.ones(2))
    # D = column norms (5, 2); FACTOR |D x| = 100 |(5, -4)|
    assert lm.restart(lin) == pytest.approx(FACTOR * np.sqrt(41.0))


def test_driver_takes_the_restart_radius(monkeypatch):
    from lsqbox.strategies.lm import LMStrategy
    restarted, radii = [], []
    original_restart, original_prepare = LMStrategy.restart, LMStrategy.prepare

    def restart(self, lin):
        radius = original_restart(self, lin)
        restarted.append(radius)
        return radius

    def prepare(self, lin, g_norm, Delta):
        if len(restarted) > len(radii):
            radii.append(Delta)         # the first radius after each restart
        return original_prepare(self, lin, g_norm, Delta)

    monkeypatch.setattr(LMStrategy, "restart", restart)
    monkeypatch.setattr(LMStrategy, "prepare", prepare)
    least_squares(_RelNoise(), [-1.2, 1.0], jac="broyden", method="lm", noise=1e-3,
                  max_nfev=300)
    assert len(restarted) >= 10
    assert all(Delta >= r for Delta, r in zip(radii, restarted))


def test_restart_steps_never_repeat_for_deterministic_noise():
    from lsqbox.jacobian.broyden import restart_step_factor
    factors = [restart_step_factor(k) for k in range(1, 65)]
    assert factors[:3] == pytest.approx([-1.0, 2 ** -0.5, -(2 ** 0.5)])
    assert len(set(factors)) == 64
    assert all(0.5 <= abs(c) <= 2.0 for c in factors)
    assert all(a * b < 0 for a, b in zip(factors, factors[1:]))      # sides alternate


def test_restart_steps_repeat_for_stochastic_noise():
    from lsqbox.jacobian.broyden import restart_step_factor
    assert [restart_step_factor(k, True) for k in range(1, 6)] == [-1.0, 0.5, -0.5, 0.5, -0.5]


class _QuadraticFD:
    """Forward differences of f(x) = x^2 at step eps_r * step_factor: 2x + h."""
    pattern = None
    noise = 1e-3
    eps_r = 0.1
    frozen = np.array([], dtype=int)

    def __init__(self):
        self.step_factor = 1.0
        self.column_scale = 1.0
        self.last_steps = None

    def jacobian(self, x, f):
        h = self.eps_r * self.step_factor * self.column_scale
        self.last_steps = np.array([h])
        return np.array([[2.0 * x[0] + h]])


@pytest.mark.parametrize("stochastic", [False, True])
def test_restarts_at_one_point_cancel_the_first_order_error(stochastic):
    src = BroydenJacobian(_QuadraticFD(), 1, np.ones(1), stochastic_noise=stochastic)
    x, f = np.array([3.0]), np.array([9.0])
    assert src.jacobian(x, f)[0, 0] == pytest.approx(6.1)       # forward, h = 0.1
    for _ in range(4):
        # Each restart's step is on the other side of the last one, with
        # another size (deterministic) or 1/2 (stochastic): their mean
        # weighted by the other's step is exact for a quadratic.
        src._begin_restart()
        src._refresh(x, f)
        assert src.J[0, 0] == pytest.approx(6.0, abs=1e-12)


def _probe(fun, level):
    from lsqbox.api import BoundFunction
    from lsqbox.executor import open_executor
    from lsqbox.noise import probe_noise
    from lsqbox.problem import Problem
    x0 = np.array([0.3, 0.2])
    with open_executor(None, None) as ex:
        problem = Problem(BoundFunction(fun, (), {}), ex)
        f0 = problem.evaluate_initial(x0)
        level, stochastic = probe_noise(problem, x0, f0, np.full(2, -np.inf),
                                        np.full(2, np.inf), level)
        return level, stochastic, problem.nfev_total


def _deterministic_noise(x):
    return np.array([1.0 + x[0] + 1e-3 * np.sin(1e7 * x[0]), 2.0 + 1e-3 * np.cos(1e7 * x[1])])


def test_probe_noise_deterministic_auto_and_number():
    level, stochastic, nfev = _probe(_deterministic_noise, "auto")
    assert not stochastic and nfev == 1 + 1 + 8        # x0, x0 again, the table
    assert 1e-5 < level <= MAX_LEVEL
    assert _probe(_deterministic_noise, 2e-3) == (2e-3, False, 2)


def test_probe_noise_stochastic():
    rng = np.random.default_rng(1)

    def fun(x):
        return np.array([1.0 + x[0], 2.0 + x[1]]) * (1.0 + 1e-3 * rng.standard_normal(2))

    level, stochastic, nfev = _probe(fun, "auto")
    assert stochastic and nfev == 10
    assert 2e-4 < level < 5e-3                          # the true level is 1e-3


def test_probe_noise_failure_at_the_repeat_counts_as_deterministic():
    calls = []

    def fun(x):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("crashed")
        return np.array([1.0 + x[0], 2.0])

    assert _probe(fun, 1e-3)[:2] == (1e-3, False)


def _bdqrtic(x):
    """CUTEr's BDQRTIC as a least-squares problem (Moré-Wild's problem 19)."""
    k = x.size - 4
    r = np.empty(2 * k)
    r[:k] = 3.0 - 4.0 * x[:k]
    r[k:] = (x[:k] ** 2 + 2.0 * x[1:k + 1] ** 2 + 3.0 * x[2:k + 2] ** 2
             + 4.0 * x[3:k + 3] ** 2 + 5.0 * x[-1] ** 2)
    return r


def test_a_rejected_trial_proposed_again_is_not_run_again():
    # lmder's radius after a poor step, 1/2 min(Delta, 10 |p|), can still hold
    # the Gauss-Newton step p; when the trial's secant was not used (its
    # residuals grew tenfold) J is unchanged and the same point comes back.
    # Measured before the driver remembered the last trial: 5 points run
    # twice, 890 runs. The path is long and rounding-dependent (on one CPU it
    # converged in 885 runs, on another it meets the budget at 900 with 4
    # trials proposed again), so the count is bounded, not pinned.
    points = []

    def fun(x):
        points.append(x.tobytes())
        return _bdqrtic(x)

    res = least_squares(fun, np.ones(8), jac="broyden", method="lm", max_nfev=900)
    assert len(points) == len(set(points)) == res.nfev <= 900
    # At the minimum (f* = 2 * 5.1194867...) to 7 digits either way.
    assert res.cost == pytest.approx(5.1194867, rel=1e-7)


# -- noisy finite-difference steps from the measured curvature ---------------
def test_noise_optimal_scale_from_two_sides():
    from lsqbox.jacobian.broyden import noise_optimal_scale
    # f = (a x0^2, x1 + 5) at x = (1, 2): column 0 is curved (f'' = 2a),
    # column 1 is straight. Exact forward differences over h_a and h_b.
    a, x = 100.0, np.array([1.0, 2.0])
    f = np.array([a * x[0] ** 2, x[1] + 5.0])
    h_a, h_b = np.array([0.03, 0.03]), np.array([-0.015, -0.015])

    def forward(h):
        return np.array([[a * (2.0 * x[0] + h[0]), 0.0], [0.0, 1.0]])

    scale = noise_optimal_scale(forward(h_a), h_a, forward(h_b), h_b, f, 1e-5, 1.0, -0.5)
    # h = 8^(1/4) sqrt(noise |f| / |f''|), as a multiple of the default step
    # |h_b| / 0.5 = 0.03; the straight column keeps its step.
    h_opt = 8.0 ** 0.25 * np.sqrt(1e-5 * np.linalg.norm(f) / (2.0 * a))
    np.testing.assert_allclose(scale, [h_opt / 0.03, 1.0], rtol=1e-12)
    # Both steps on one side (the bounds flipped one), or the same step
    # twice (held by a bound): no measurement, and no division by zero.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for h_same in (-h_b, h_a):
            np.testing.assert_array_equal(
                noise_optimal_scale(forward(h_a), h_a, forward(h_same), h_same, f, 1e-5,
                                    1.0, -0.5),
                [1.0, 1.0])
    # Curvature not clearly above the noise in the difference: no change.
    np.testing.assert_array_equal(
        noise_optimal_scale(forward(h_a), h_a, forward(h_b), h_b, f, 1e-3, 0.5, -0.5),
        [0.5, 0.5])


class _ScaledFD:
    """Noisy forward differences with steps sqrt(1e-3) |x_j|."""
    pattern = None
    noise = 1e-3
    eps_r = np.sqrt(1e-3)
    step_factor = 1.0
    column_scale = 1.0

    def step_sizes(self, x):
        return self.eps_r * np.abs(x)


def test_noisy_short_steps_are_judged_per_coordinate():
    # x = (1000, 0.001): the stencil is (31.6, 3.2e-5). A step of 0.01 in the
    # small variable is 300 of its steps (a secant worth having), though far
    # shorter than the big variable's step; 1 and 1e-5 are inside the stencil.
    x, f = np.array([1000.0, 0.001]), np.array([1.0, 2.0])
    src = BroydenJacobian(_ScaledFD(), 2, np.ones(2))
    src.J = np.zeros((2, 2))
    src.observe(x, f, x + [0.0, 0.01], f + [0.0, 3.0], ratio=0.0)
    assert src.updates == 1 and not src._at_noise_level
    np.testing.assert_allclose(src.J[:, 1], [0.0, 300.0])
    src.observe(x, f, x + [1.0, 1e-5], f + [5.0, 5.0], ratio=0.0)
    assert src.updates == 1 and src._at_noise_level


def _chebyquad(x):
    """Moré, Garbow & Hillstrom's problem 35 (m = n)."""
    y = 2.0 * x - 1.0
    T = np.empty((x.size, x.size))
    T[0], T[1] = y, 2.0 * y * y - 1.0
    for k in range(2, x.size):
        T[k] = 2.0 * y * T[k - 1] - T[k - 2]
    f = T.mean(axis=1)
    i = np.arange(2, x.size + 1, 2)
    f[1::2] += 1.0 / (i ** 2 - 1.0)
    return f


@pytest.mark.parametrize("method, solved", [("trf", 6), ("lm", 5)])
def test_noisy_chebyquad_reaches_the_noise_free_minimum(method, solved):
    # Chebyquad 8 with 1e-3 relative noise, six noise streams, budget 100 (n+1).
    # Its columns curve far more than sqrt(noise) |x| steps assume: forward
    # differences there were wrong by tens of percent and the restarts failed
    # at every radius (measured before: f = 0.0053-0.0069 with lm, up to 0.022
    # with trf). With steps from the measured curvature: within 1.2% of
    # f* = 0.00351687 in every stream with trf, in 5 of 6 with lm.
    x0 = np.arange(1.0, 9.0) / 9.0
    count = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        res = least_squares(lambda x: _chebyquad(x) * (1.0 + 1e-3 * rng.standard_normal(8)),
                            x0, jac="broyden", method=method, noise="auto", max_nfev=900)
        f = _chebyquad(res.x)
        count += f.dot(f) <= 1.02 * 0.0035168737
    assert count == solved


@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_noisy_restarts_with_a_variable_at_its_bound(method):
    # x[2] ends at its upper bound: its finite-difference step stays on one
    # side in every restart (no curvature measured there, no warning).
    rng = np.random.default_rng(0)

    def fun(x):
        f = np.array([x[0] - 1.0, 10.0 * (x[1] - x[0] ** 2), x[2] - 3.0, 0.5])
        return f * (1.0 + 1e-3 * rng.standard_normal(4))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = least_squares(fun, [0.5, 0.5, 0.5], jac="broyden", method=method,
                            noise="auto", max_nfev=300, bounds=([0, 0, 0], [2, 2, 2.9]))
    assert res.status == 3 and res.nfev == 300 and "restart" in res.message
    assert res.x[2] == pytest.approx(2.9, abs=1e-9)      # trf: strictly inside
    np.testing.assert_allclose(res.x[:2], [1.0, 1.0], atol=0.03)


def test_fruitless_noisy_restarts_widen_the_radius():
    src = _source()
    src._begin_restart()                       # the first: nothing to judge
    src._restart_notice = True
    assert src.take_refresh_notice() == 1.0
    for expected in (4.0, 16.0):               # restarts in a row without a decrease
        src._begin_restart()
        src._restart_notice = True
        assert src.take_refresh_notice() == expected
    src.observe(np.zeros(3), np.ones(2), np.full(3, 0.1), np.zeros(2), ratio=0.5)
    src._begin_restart()                       # this one lowered the cost
    src._restart_notice = True
    assert src.take_refresh_notice() == 1.0
    src.fruitless_restarts = 10 ** 6           # no overflow, however many
    src._restart_notice = True
    assert src.take_refresh_notice() == 4.0 ** 20


def test_noisy_rosenbrock_from_far_escapes_the_restart_loop():
    # Rosenbrock from (-12, 10) (Moré-Wild's problem 8) with 1e-3 relative
    # noise, 12 streams, trf: on the wall of the valley (f ~ 1e5) the noise of
    # the cost decides every trial of the radius the restarts restored, and
    # 4 of the 12 streams spent the budget there (f = 2.4e4-1.1e5). Widening
    # the radius after fruitless restarts: all 12 reach f < 1e-19.
    def ros(x):
        return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])

    finals = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        res = least_squares(lambda x: ros(x) * (1.0 + 1e-3 * rng.standard_normal(2)),
                            [-12.0, 10.0], jac="broyden", noise="auto", max_nfev=300)
        f = ros(res.x)
        finals.append(f.dot(f))
    assert max(finals) < 1e-19, finals


@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
@pytest.mark.parametrize("noise", [None, 1e-3])
def test_refreshes_never_run_past_max_nfev(method, noise):
    # max_nfev counts every call with jac='broyden'; a refresh near the end
    # takes only the columns the budget pays for (a full one ran past it:
    # Freudenstein-Roth took 202 of 200 before).
    rng = np.random.default_rng(0)
    n = 6

    def fun(x):
        f = np.concatenate([x - np.arange(n), [np.sum(x ** 2) - 1.0]])
        return f * (1.0 + (noise or 0.0) * rng.standard_normal(n + 1))

    for budget in range(n + 3, 60, 7):
        calls = []
        res = least_squares(lambda x: calls.append(1) or fun(x), np.ones(n) * 3.0,
                            jac="broyden", method=method, noise=noise, max_nfev=budget)
        assert len(calls) == res.nfev <= budget, (budget, len(calls))
