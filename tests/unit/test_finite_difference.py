"""Unit tests for lsqbox.jacobian.finite_difference."""
import numpy as np

from lsqbox.termination import Status
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse import csr_array, csr_matrix, issparse

from lsqbox.jacobian.coloring import group_columns
from lsqbox.executor import Failure, open_executor
from lsqbox.jacobian.finite_difference import FiniteDifferenceJacobian, relative_step
from lsqbox.problem import JACOBIAN, BoundFunction, Problem

EPS = np.finfo(float).eps
inf = np.inf


class RecordingProblem:
    """A fake Problem: records every evaluation point, batch and purpose.

    `fail(x)` True makes the evaluation a `Failure` (as Problem returns them)."""

    def __init__(self, fun, fail=None):
        self.fun = fun
        self.fail = fail
        self.points = []
        self.purposes = []
        self.batch_sizes = []

    @property
    def batches(self):
        return len(self.batch_sizes)

    def evaluate_many(self, xs, purpose):
        xs = [np.array(x, copy=True) for x in xs]
        self.points.extend(xs)
        self.purposes.append(purpose)
        self.batch_sizes.append(len(xs))
        return [Failure("failed on purpose") if self.fail is not None and self.fail(x)
                else self.fun(x) for x in xs]

    def evaluate_block(self, X, purpose):
        return Problem._as_block(self.evaluate_many(X, purpose))


def fun(x):
    return np.array([x[0] ** 2 + np.sin(x[1]),
                     np.exp(0.5 * x[0] * x[1]),
                     x[2] ** 3 - x[0],
                     np.log(x[1] + 3.0) * x[2]])


def jac(x):
    e = np.exp(0.5 * x[0] * x[1])
    return np.array([[2 * x[0], np.cos(x[1]), 0.0],
                     [0.5 * x[1] * e, 0.5 * x[0] * e, 0.0],
                     [-1.0, 0.0, 3 * x[2] ** 2],
                     [0.0, x[2] / (x[1] + 3.0), np.log(x[1] + 3.0)]])


def make(scheme, x0, lb=None, ub=None, fn=fun, f_dtype=np.dtype(float), fail=None, **kw):
    n = x0.size
    lb = np.full(n, -inf) if lb is None else lb
    ub = np.full(n, inf) if ub is None else ub
    problem = RecordingProblem(fn, fail)
    return FiniteDifferenceJacobian(problem, scheme, x0, lb, ub, f_dtype, **kw), problem


X0 = np.array([0.7, -1.3, 2.1])


@pytest.mark.parametrize("scheme, rtol", [("2-point", 2e-7), ("3-point", 1e-9), ("cs", 1e-14)])
def test_accuracy_vs_analytic(scheme, rtol):
    fd, _ = make(scheme, X0)
    for x in (X0, np.array([1.5, 0.2, -0.4]), np.array([-2.0, 4.0, 0.0])):
        J = fd.jacobian(x, fun(x))
        assert isinstance(J, np.ndarray) and J.shape == (4, 3)
        J_true = jac(x)
        scale = np.max(np.abs(J_true))
        assert_allclose(J, J_true, rtol=rtol, atol=rtol * scale)


def test_relative_step():
    assert relative_step("2-point", np.dtype(float)) == EPS ** 0.5
    assert relative_step("cs", np.dtype(float)) == EPS ** 0.5
    assert relative_step("3-point", np.dtype(float)) == EPS ** (1 / 3)
    e32 = float(np.finfo(np.float32).eps)
    assert relative_step("2-point", np.dtype(np.float32)) == pytest.approx(e32 ** 0.5)
    assert relative_step("3-point", np.dtype(np.float32)) == pytest.approx(e32 ** (1 / 3))
    # integer residuals: float64 steps
    assert relative_step("2-point", np.dtype(np.int64)) == EPS ** 0.5
    # a finer dtype never shrinks the step below float64's
    assert relative_step("2-point", np.dtype(np.longdouble)) == EPS ** 0.5


def steps_taken(problem, x, n_first=None):
    pts = np.array(problem.points[:n_first])
    return pts - x


def test_step_rule_and_exact_representability():
    x0 = np.array([3.0, -250.0, 1e-7, 0.0, -0.2])
    fd, problem = make("2-point", x0, fn=lambda x: x.copy())
    fd.jacobian(x0, x0.copy())
    H = steps_taken(problem, x0)
    h = np.diag(H)
    assert np.count_nonzero(H - np.diag(h)) == 0          # one variable per point
    r = EPS ** 0.5
    # h = eps_r * sign(x) * max(|x|, typ), typ = min(1, |x0|), 1 where x0 == 0
    expected = r * np.array([3.0, -250.0, 1e-7, 1.0, -0.2])
    assert_allclose(h, expected, rtol=1e-6)
    # steps are exactly representable: (x + h) - x == h, used in the quotient
    assert_array_equal((x0 + h) - x0, h)


def test_step_rule_typical_size_stays_from_x0():
    """typ is fixed by x0: after x moves the floor is min(1, |x0|)."""
    x0 = np.array([1e-6, 5.0])
    fd, problem = make("2-point", x0, fn=lambda x: x.copy())
    x = np.array([1e-9, 1e-3])
    fd.jacobian(x, x.copy())
    h = np.diag(steps_taken(problem, x))
    assert_allclose(h, EPS ** 0.5 * np.array([1e-6, 1.0]), rtol=1e-6)


def test_tiny_nonzero_start_gives_usable_steps():
    """A variable that starts at a tiny nonzero value (a user's "almost zero"
    guess) must still get a derivative.

    At x0 = [1e-12, 0.5] the step for x_0 is sqrt(eps) * 1e-12 = 1.5e-20, below
    the resolution of residuals of size ~1: f(x + h) == f(x). Such a column is
    retried once with the classic step sqrt(eps) * max(1, |x|) (SciPy's rule);
    end to end, least_squares(lambda x: [x[0]-1, x[1]-2, x[0]*x[1]-2],
    [1e-12, 0.5]) then converges to [1, 2] like SciPy.
    """
    def f(x):
        return np.array([x[0] - 1.0, x[1] - 2.0, x[0] * x[1] - 2.0])

    x0 = np.array([1e-12, 0.5])
    J_true = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 1e-12]])
    for scheme in ("2-point", "3-point"):
        fd, problem = make(scheme, x0, fn=f)
        J = fd.jacobian(x0, f(x0))
        assert_allclose(J, J_true, rtol=1e-6, atol=1e-6)
        per_group = 2 if scheme == "3-point" else 1
        assert problem.batch_sizes == [2 * per_group, 1]
        retry = problem.points[-1] - x0
        assert retry[1] == 0.0
        assert retry[0] == pytest.approx(fd.eps_r, rel=1e-6)


def test_float32_residuals_get_float32_sized_steps():
    def fun32(x):
        return np.array([np.sin(x[0]), x[0] * x[1], x[1] ** 2]).astype(np.float32)

    x0 = np.array([0.4, 2.0])
    fd, problem = make("2-point", x0, fn=fun32, f_dtype=np.dtype(np.float32))
    J = fd.jacobian(x0, fun32(x0).astype(float))
    h = np.diag(steps_taken(problem, x0))
    r32 = float(np.finfo(np.float32).eps) ** 0.5
    assert_allclose(h, r32 * np.array([0.4, 2.0]), rtol=1e-6)
    J_true = np.array([[np.cos(0.4), 0.0], [2.0, 0.4], [0.0, 4.0]])
    # a float64-sized step (1.5e-8) would give garbage with float32 residuals
    assert_allclose(J, J_true, rtol=2e-3, atol=2e-3)
    assert J.dtype == np.float64

    fd3, problem3 = make("3-point", x0, fn=fun32, f_dtype=np.dtype(np.float32))
    J3 = fd3.jacobian(x0, fun32(x0).astype(float))
    h3 = np.diag(steps_taken(problem3, x0, 2))
    r32_3 = float(np.finfo(np.float32).eps) ** (1 / 3)
    assert_allclose(h3, r32_3 * np.array([0.4, 2.0]), rtol=1e-6)
    assert_allclose(J3, J_true, rtol=1e-3, atol=1e-3)


def test_diff_step_respected():
    x0 = np.array([2.0, -4.0, 0.0])
    fd, problem = make("2-point", x0, fn=lambda x: x ** 2, diff_step=np.array([1e-3, 1e-2, 1e-3]))
    J = fd.jacobian(x0, x0 ** 2)
    h = np.diag(steps_taken(problem, x0))
    # h = diff_step * sign(x) * |x|; where that is zero (x = 0) the default rule
    assert_allclose(h[:2], [2e-3, -4e-2], rtol=1e-12)
    assert h[2] == pytest.approx(EPS ** 0.5, rel=1e-6)
    assert_allclose(np.diag(J), [2 * 2.0 + 2e-3, 2 * -4.0 - 4e-2, h[2]], rtol=1e-9)
    # scalar diff_step broadcasts; 3-point central steps are x + |h|, x - |h|
    fd, problem = make("3-point", x0[:2], fn=lambda x: x ** 2, diff_step=1e-4)
    fd.jacobian(x0[:2], x0[:2] ** 2)
    H = steps_taken(problem, x0[:2])
    assert_allclose(np.diag(H[:2]), [2e-4, 4e-4], rtol=1e-10)
    assert_allclose(np.diag(H[2:]), [-2e-4, -4e-4], rtol=1e-10)


def test_evaluation_counts_dense():
    x0 = X0
    for scheme, per_group in (("2-point", 1), ("cs", 1), ("3-point", 2)):
        fd, problem = make(scheme, x0)
        fd.jacobian(x0, fun(x0))
        assert fd.n_groups == 3
        assert len(problem.points) == per_group * 3
        assert problem.batches == 1            # one batch: runs in parallel
        assert problem.purposes == [JACOBIAN]


def test_evaluation_counts_through_real_problem():
    problem = Problem(BoundFunction(fun), open_executor(None))
    problem.m = 4
    fd = FiniteDifferenceJacobian(problem, "3-point", X0, np.full(3, -inf),
                                  np.full(3, inf), np.dtype(float))
    J = fd.jacobian(X0, fun(X0))
    assert problem.counts == {JACOBIAN: 6}
    assert problem.nfev == 0 and problem.nfev_total == 6
    assert_allclose(J, jac(X0), rtol=1e-9, atol=1e-9)


# --- grouped sparse ---------------------------------------------------------------
def broyden_tridiagonal(x):
    f = (3 - 2 * x) * x
    f[1:] -= x[:-1]
    f[:-1] -= 2 * x[1:]
    return f + 1


def broyden_jac(x):
    n = x.size
    J = np.diag(3 - 4 * x)
    J[np.arange(1, n), np.arange(n - 1)] = -1
    J[np.arange(n - 1), np.arange(1, n)] = -2
    return J


def tridiag_pattern(n):
    return (np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= 1).astype(int)


@pytest.mark.parametrize("scheme", ["2-point", "3-point", "cs"])
@pytest.mark.parametrize("pattern_kind", [np.asarray, csr_array, csr_matrix])
def test_grouped_sparse_equals_dense(scheme, pattern_kind):
    n = 40
    x0 = np.linspace(-1.0, 1.5, n)
    fd_dense, p_dense = make(scheme, x0, fn=broyden_tridiagonal)
    fd_sparse, p_sparse = make(scheme, x0, fn=broyden_tridiagonal,
                               sparsity=pattern_kind(tridiag_pattern(n)))
    f0 = broyden_tridiagonal(x0)
    J_dense = fd_dense.jacobian(x0, f0)
    J_sparse = fd_sparse.jacobian(x0, f0)
    assert issparse(J_sparse) and J_sparse.format == "csr"
    assert J_sparse.shape == (n, n)
    # each residual reads only its own columns: the grouped quotients are the same numbers
    assert_allclose(J_sparse.toarray(), J_dense, rtol=1e-14, atol=1e-14)
    tol = {"2-point": 1e-7, "3-point": 1e-9, "cs": 1e-14}[scheme]
    assert_allclose(J_dense, broyden_jac(x0), rtol=tol, atol=tol)
    # counts: n_groups points (2 n_groups for 3-point) instead of n
    per = 2 if scheme == "3-point" else 1
    n_groups = group_columns(tridiag_pattern(n)).max() + 1
    assert fd_sparse.n_groups == n_groups
    assert len(p_sparse.points) == per * n_groups
    assert len(p_dense.points) == per * n


def test_grouped_sparse_output_type_and_pattern():
    n = 10
    x0 = np.linspace(0.1, 1.0, n)
    pattern = tridiag_pattern(n)
    fd, _ = make("2-point", x0, fn=broyden_tridiagonal, sparsity=pattern,
                 sparse_output_type=csr_matrix)
    J = fd.jacobian(x0, broyden_tridiagonal(x0))
    assert isinstance(J, csr_matrix)
    assert J.nnz == pattern.sum()
    # entries outside the pattern are never produced
    assert_array_equal(J.toarray()[pattern == 0], 0.0)


def test_grouped_sparse_with_bounds():
    n = 30
    x0 = np.linspace(0.0, 1.0, n)
    lb, ub = np.zeros(n), np.ones(n)      # first variable on lb, last on ub
    fd, problem = make("3-point", x0, lb=lb, ub=ub, fn=broyden_tridiagonal,
                       sparsity=tridiag_pattern(n))
    J = fd.jacobian(x0, broyden_tridiagonal(x0))
    for p in problem.points:
        assert np.all(p >= lb) and np.all(p <= ub)
    assert_allclose(J.toarray(), broyden_jac(x0), rtol=1e-8, atol=1e-8)


def test_grouped_jacobian_with_256_shared_rows():
    """A parameter pair affecting every residual (m = 256) with a full pattern.

    BUG (src/lsqbox/jacobian/coloring.py: group_columns, int8 overflow in S^T S):
    both columns land in one group, so one evaluation perturbs both and the
    differences are attributed to both columns: J comes out as [1+2, 1+2] per
    row instead of [1, 2].
    """
    m = 256
    t = np.linspace(0, 1, m)

    def f(x):
        return x[0] + 2 * x[1] + t

    x0 = np.array([0.5, 0.5])
    fd, _ = make("2-point", x0, fn=f, sparsity=np.ones((m, 2)))
    J = fd.jacobian(x0, f(x0)).toarray()
    assert_allclose(J, np.column_stack((np.ones(m), 2 * np.ones(m))), rtol=1e-6)


# --- bounds ---------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["2-point", "3-point"])
def test_bound_aware_steps_never_leave_the_box(scheme):
    rng = np.random.default_rng(0)
    lin = rng.normal(size=(3, 4))

    def f(x):
        return lin @ x

    n_checked = 0
    for _ in range(300):
        n = 4
        lb = rng.uniform(-10, 10, n) * 10.0 ** rng.integers(-8, 3, n)
        ub = lb + 10.0 ** rng.uniform(-12, 1, n)
        lb[rng.random(n) < 0.15] = -inf
        ub[rng.random(n) < 0.15] = inf
        base = np.where(np.isfinite(lb), lb, np.where(np.isfinite(ub), ub, 0.0))
        pick = rng.integers(0, 3, n)
        x = np.where(pick == 0, lb, np.where(pick == 1, ub, base))
        with np.errstate(invalid="ignore"):
            mid = np.where(np.isfinite(lb) & np.isfinite(ub), 0.5 * (lb + ub), base)
        x = np.where(np.isfinite(x), x, mid)
        x = np.clip(x, lb, ub)
        fd, problem = make(scheme, x, lb=lb, ub=ub, fn=f)
        J = fd.jacobian(x, f(x))
        n_first = (2 if scheme == "3-point" else 1) * n
        assert problem.batch_sizes[0] == n_first
        # a second batch only for columns whose residuals did not change at all
        # (a step below f's rounding level): the classic step eps_r * max(1, |x|)
        assert problem.batches <= 2
        for p in problem.points[n_first:]:
            d = p - x
            j = np.flatnonzero(d)
            assert j.size == 1
            assert abs(d[j[0]]) == pytest.approx(fd.eps_r * max(1.0, abs(x[j[0]])),
                                                 rel=1e-6)
        for p in problem.points:
            assert np.all(p >= lb) and np.all(p <= ub), (x, lb, ub, p)
        assert np.all(np.isfinite(J))
        # accuracy where a sensible step fits: a box at least 1e-4 wide, x of
        # moderate size and not tiny-but-nonzero (see
        # test_tiny_nonzero_start_gives_usable_steps)
        roomy = ((ub - lb) >= 1e-4) & ((np.abs(x) >= 0.1) | (x == 0))
        if np.any(roomy) and np.max(np.abs(x)) <= 10:
            n_checked += 1
            assert_allclose(J[:, roomy], lin[:, roomy], rtol=1e-5,
                            atol=1e-5 * np.abs(lin).max())
    assert n_checked > 20


def test_one_sided_near_bounds_is_accurate():
    x0 = np.array([1.0, 0.0, 0.5])
    lb = np.array([0.0, 0.0, -inf])
    ub = np.array([1.0, 2.0, inf])
    for scheme, rtol in (("2-point", 1e-6), ("3-point", 1e-9)):
        fd, problem = make(scheme, x0, lb=lb, ub=ub, fn=lambda x: np.exp(x))
        J = fd.jacobian(x0, np.exp(x0))
        # (one-sided 3-point rounds -3 f + 4 f1 - f2: off-diagonal ~1e-11)
        assert_allclose(J, np.diag(np.exp(x0)), rtol=rtol, atol=rtol)
        H = steps_taken(problem, x0)
        # variable 0 sits on ub: steps go down; variable 1 on lb: steps go up
        assert np.all(H[:, 0] <= 0) and np.all(H[:, 1] >= 0)
        if scheme == "3-point":
            # one-sided 3-point: x + h and x + 2h
            h0 = H[0, 0]
            assert_allclose(H[3, 0], 2 * h0)
            # unbounded variable: central (x + h, x - h)
            assert H[2, 2] == -H[5, 2]


def test_narrow_box_shortens_the_step():
    x0 = np.array([0.0])
    lb, ub = np.array([0.0]), np.array([1e-10])    # narrower than the default step
    fd, problem = make("2-point", x0, lb=lb, ub=ub, fn=lambda x: 3 * x)
    J = fd.jacobian(x0, 3 * x0)
    assert problem.points[0][0] == 1e-10
    assert J[0, 0] == pytest.approx(3.0, rel=1e-12)
    fd, problem = make("3-point", x0, lb=lb, ub=ub, fn=lambda x: 3 * x)
    J = fd.jacobian(x0, 3 * x0)
    assert_allclose([p[0] for p in problem.points], [0.5e-10, 1e-10])
    assert J[0, 0] == pytest.approx(3.0, rel=1e-9)


def test_2point_flips_step_when_only_the_other_side_fits():
    x0 = np.array([0.99999999])
    fd, problem = make("2-point", x0, lb=np.array([0.0]), ub=np.array([1.0]), fn=lambda x: x)
    fd.jacobian(x0, x0.copy())
    h = problem.points[0][0] - x0[0]
    assert h < 0 and abs(h) == pytest.approx(EPS ** 0.5 * x0[0], rel=1e-6)


def test_cs_ignores_bounds_and_keeps_the_real_part():
    x0 = np.array([1.0, 0.0])
    fd, problem = make("cs", x0, lb=np.zeros(2), ub=np.ones(2),
                       fn=lambda x: np.array([x[0] * x[1], x[0] ** 3]))
    J = fd.jacobian(x0, np.array([0.0, 1.0]))
    for p in problem.points:
        assert p.dtype == complex
        assert_array_equal(p.real, x0)
    assert_allclose(J, [[0.0, 1.0], [3.0, 0.0]], atol=1e-15)
    assert J.dtype == np.float64


@pytest.mark.skipif(not hasattr(FiniteDifferenceJacobian, "refine"),
                    reason="no refinement in this FiniteDifferenceJacobian")
def test_refine_switches_forward_to_central_once():
    fd, problem = make("2-point", X0, refine_to_central=True)
    J2 = fd.jacobian(X0, fun(X0))
    assert len(problem.points) == 3
    assert fd.refine(X0, Status.XTOL) is True
    assert fd.refine(X0, Status.XTOL) is False      # once
    J3 = fd.jacobian(X0, fun(X0))
    assert len(problem.points) == 3 + 6     # central: two points per column
    h = np.abs(np.diag(np.array(problem.points[3:6]) - X0))
    assert_allclose(h, EPS ** (1 / 3) * np.abs(X0), rtol=1e-6)   # typ = min(1, |x0|)
    err2 = np.max(np.abs(J2 - jac(X0)))
    err3 = np.max(np.abs(J3 - jac(X0)))
    assert err3 < 1e-3 * err2
    # not allowed, or not forward differences: nothing to refine
    assert make("2-point", X0)[0].refine(X0, Status.XTOL) is False
    assert make("3-point", X0, refine_to_central=True)[0].refine(X0, Status.XTOL) is False
    assert make("cs", X0, refine_to_central=True)[0].refine(X0, Status.XTOL) is False
    # only step tolerances: on gtol forward differences are as good as they get
    assert make("2-point", X0, refine_to_central=True)[0].refine(X0, Status.GTOL) is False


# --- failed evaluations -------------------------------------------------------------
def upward(j, x_ref):
    """Fails when variable j is above its value in x_ref."""
    return lambda x: x[j] > x_ref[j]


def along_the_step(j, x_ref):
    """Fails when variable j moved the way the default step goes (the sign of
    x_ref[j]); the opposite direction works."""
    sign = 1.0 if x_ref[j] >= 0 else -1.0
    return lambda x: sign * (x[j] - x_ref[j]) > 0


def test_failed_column_is_retried_with_the_opposite_step():
    fd, problem = make("2-point", X0, fail=along_the_step(1, X0))
    J = fd.jacobian(X0, fun(X0))
    assert problem.batch_sizes == [3, 1]
    h = problem.points[1][1] - X0[1]
    assert h < 0                                       # X0[1] < 0
    retry = problem.points[3] - X0
    assert_array_equal(retry, [0.0, -h, 0.0])          # exactly the opposite step
    assert_allclose(J, jac(X0), rtol=2e-7, atol=2e-7 * np.abs(jac(X0)).max())
    assert fd.frozen.size == 0
    assert problem.purposes == [JACOBIAN, JACOBIAN]


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_failed_central_column_falls_back_to_a_one_sided_difference(side):
    """Central differences evaluate x + h and x - h (h > 0); if either fails
    the group is retried as a one-sided difference (x - h, then x + h/2)."""
    fd, problem = make("3-point", X0, fail=lambda x: side * (x[1] - X0[1]) > 0)
    J = fd.jacobian(X0, fun(X0))
    h = problem.points[1][1] - X0[1]
    assert h > 0 and problem.points[4][1] - X0[1] == -h
    assert_array_equal(problem.points[6] - X0, [0.0, -h, 0.0])
    if side > 0:
        assert problem.batch_sizes == [6, 1]
    else:
        # x - h is the point that failed: it fails again, then x + h/2 works
        # (one wasted evaluation)
        assert problem.batch_sizes == [6, 1, 1]
        assert_allclose((problem.points[7] - X0)[1], 0.5 * h, rtol=1e-6)
    assert fd.frozen.size == 0
    J_true = jac(X0)
    # the other columns keep central accuracy; column 1 is a one-sided
    # difference with the central step eps^(1/3) |x|: error ~ |f''| h
    assert_allclose(J[:, [0, 2]], J_true[:, [0, 2]], rtol=1e-9, atol=1e-9)
    assert_allclose(J[:, 1], J_true[:, 1], rtol=1e-4, atol=1e-4)
    assert not np.allclose(J[:, 1], J_true[:, 1], rtol=1e-9, atol=1e-9)


def test_then_half_the_step():
    h_full = EPS ** 0.5 * abs(X0[1])
    # fails for any step of variable 1 bigger than 3/4 of the default one
    fd, problem = make("2-point", X0,
                       fail=lambda x: abs(x[1] - X0[1]) > 0.75 * h_full)
    J = fd.jacobian(X0, fun(X0))
    assert problem.batch_sizes == [3, 1, 1]
    h = problem.points[1][1] - X0[1]
    assert_array_equal(problem.points[3] - X0, [0.0, -h, 0.0])
    assert_allclose((problem.points[4] - X0)[1], 0.5 * h, rtol=1e-6)
    assert_allclose(J, jac(X0), rtol=5e-7, atol=5e-7 * np.abs(jac(X0)).max())
    assert fd.frozen.size == 0


def test_a_column_no_step_can_evaluate_is_frozen():
    def fail(x):
        return fail.center is not None and x[1] != fail.center[1]

    fail.center = X0
    fd, problem = make("2-point", X0, fail=fail)
    J = fd.jacobian(X0, fun(X0))
    assert problem.batch_sizes == [3, 1, 1]            # opposite, half, then give up
    assert_array_equal(fd.frozen, [1])
    # no previous Jacobian: the column is zero, the others are right
    assert_array_equal(J[:, 1], np.zeros(4))
    assert_allclose(J[:, [0, 2]], jac(X0)[:, [0, 2]], rtol=2e-7, atol=1e-6)

    # with a previous Jacobian the frozen column keeps its last known value
    fd, problem = make("2-point", X0, fail=fail)
    fail.center = None                                 # nothing fails
    J_prev = fd.jacobian(X0, fun(X0))
    x = X0 + np.array([0.1, 0.2, -0.1])
    fail.center = x
    J = fd.jacobian(x, fun(x))
    assert_array_equal(fd.frozen, [1])
    assert_array_equal(J[:, 1], J_prev[:, 1])
    assert_allclose(J[:, [0, 2]], jac(x)[:, [0, 2]], rtol=2e-7, atol=1e-6)
    # and when the column works again it is a fresh difference
    fail.center = None
    J = fd.jacobian(x, fun(x))
    assert fd.frozen.size == 0
    assert_allclose(J, jac(x), rtol=2e-7, atol=1e-6)


def test_retries_stay_inside_the_bounds():
    x0 = np.array([0.7, 0.0, 2.1])                     # variable 1 on its lower bound
    lb = np.array([-inf, 0.0, -inf])
    fd, problem = make("2-point", x0, lb=lb, fn=lambda x: np.exp(x), fail=upward(1, x0))
    J = fd.jacobian(x0, np.exp(x0))
    # the opposite step would leave the box: only the half step is tried
    assert problem.batch_sizes == [3, 1]
    for p in problem.points:
        assert np.all(p >= lb)
    assert_array_equal(fd.frozen, [1])
    assert_array_equal(J[:, 1], np.zeros(3))


def test_frozen_columns_are_not_retried_as_zero_differences():
    x0 = np.array([1e-12, 0.5])                        # column 0: tiny step

    def f(x):
        return np.array([x[0] - 1.0, x[1] - 2.0, x[0] * x[1] - 2.0])

    fd, problem = make("2-point", x0, fn=f, fail=lambda x: x[0] != x0[0])
    J = fd.jacobian(x0, f(x0))
    assert problem.batch_sizes == [2, 1, 1]            # no classic-step retry
    assert_array_equal(fd.frozen, [0])
    assert_array_equal(J[:, 0], np.zeros(3))


def test_a_column_that_is_truly_zero_costs_one_retry_at_most():
    def f(x):
        return np.array([x[0] ** 2, 3.0 * x[0]])       # independent of x[1]

    x0 = np.array([2.0, 0.25])
    fd, problem = make("2-point", x0, fn=f)
    J = fd.jacobian(x0, f(x0))
    assert problem.batch_sizes == [2, 1]
    assert_array_equal(J[:, 1], [0.0, 0.0])
    # at |x| >= 1 the step already is the classic one: no retry
    fd, problem = make("2-point", np.array([2.0, 4.0]), fn=f)
    fd.jacobian(np.array([2.0, 4.0]), f(np.array([2.0, 4.0])))
    assert problem.batch_sizes == [2]


def test_complex_step_failure_uses_the_opposite_step():
    x0 = np.array([0.4, 1.3])

    def f(x):
        return np.array([np.sin(x[0]) * x[1], np.exp(x[1])])

    fd, problem = make("cs", x0, fn=f, fail=lambda x: x[1].imag > 0)
    J = fd.jacobian(x0, f(x0).real)
    assert problem.batch_sizes == [2, 1]
    assert problem.points[-1][1].imag < 0
    J_true = np.array([[np.cos(0.4) * 1.3, np.sin(0.4)], [0.0, np.exp(1.3)]])
    assert_allclose(J, J_true, rtol=1e-14, atol=1e-15)


def test_failed_group_of_a_sparse_jacobian_is_retried():
    n = 7
    x0 = np.linspace(0.5, 1.5, n)
    pattern = tridiag_pattern(n)
    groups = group_columns(pattern)
    # fail whenever variable 0 is perturbed upward: the whole group of column 0
    fd, problem = make("2-point", x0, fn=broyden_tridiagonal, sparsity=pattern,
                       fail=upward(0, x0))
    J = fd.jacobian(x0, broyden_tridiagonal(x0))
    assert problem.batch_sizes == [fd.n_groups, 1]
    d = problem.points[-1] - x0
    assert np.all(d[groups == groups[0]] < 0)          # the group's opposite step
    assert np.all(d[groups != groups[0]] == 0)
    assert issparse(J)
    assert_allclose(J.toarray(), broyden_jac(x0), rtol=1e-7, atol=1e-7)


def test_forward_differences_are_the_columnwise_formula_bit_for_bit():
    x = np.array([0.7, -1.3, 2.0e-3, 0.0])

    def f(v):
        return np.array([np.sin(v[0]) * v[1], v[2] ** 2 + v[3], np.exp(v[0] - v[3]),
                         v[1] * v[2] * v[3], v[0]])

    problem = Problem(BoundFunction(f), open_executor(None))
    inf = np.full(x.size, np.inf)
    fd = FiniteDifferenceJacobian(problem, "2-point", x, -inf, inf, np.dtype(float))
    f0 = f(x)
    J = fd.jacobian(x, f0)
    h = fd._absolute_step(x)
    for j in range(x.size):
        xj = x.copy()
        xj[j] += h[j]
        assert_array_equal(J[:, j], (f(xj) - f0) / h[j])
    assert problem.nfev_total == x.size


def test_absolute_step_signs_and_step_factor():
    """Steps point away from zero (+ for 0 and -0.0); a negative step_factor
    (Broyden's noisy restarts) takes the other side, a fraction a shorter step."""
    x = np.array([-0.0, 0.0, -2.0, 3e-9, 5.0])
    fd = FiniteDifferenceJacobian(None, "2-point", x, np.full(5, -np.inf), np.full(5, np.inf),
                                  np.dtype(float))
    eps_r = relative_step("2-point", np.dtype(float))
    h = fd._absolute_step(x)
    expected = eps_r * np.array([1.0, 1.0, -2.0, 3e-9, 5.0])
    assert_allclose(h, expected, rtol=1e-7)
    fd.step_factor = -1.0
    assert_allclose(fd._absolute_step(x), -expected, rtol=1e-7)
    fd.step_factor = 0.5
    assert_allclose(fd._absolute_step(x), 0.5 * expected, rtol=1e-7)
    fd.step_factor = -0.5
    assert_allclose(fd._absolute_step(x), -0.5 * expected, rtol=1e-7)


def test_column_scale_and_the_steps_used():
    """Per-column multipliers (Broyden's noisy restarts learn them from the
    curvature) shorten each column's step; `last_steps` records the signed
    steps of the last Jacobian, after the bounds."""
    x = np.array([0.7, -1.3, 2.1])
    fd, problem = make("2-point", x, lb=np.array([-inf, -inf, -inf]),
                       ub=np.array([inf, inf, 2.1]), noise=1e-4)
    default = fd.step_sizes(x)
    assert_allclose(default, 1e-2 * np.array([0.7, -1.3, 2.1]), rtol=1e-6)
    fd.column_scale = np.array([1.0, 0.25, 0.5])
    assert_allclose(fd.step_sizes(x), default * [1.0, 0.25, 0.5], rtol=1e-12)
    J = fd.jacobian(x, fun(x))
    # The third step would cross the upper bound: it flips to the other side.
    assert_allclose(fd.last_steps, default * [1.0, 0.25, -0.5], rtol=1e-12)
    assert_allclose([p[k] - x[k] for k, p in enumerate(problem.points)], fd.last_steps,
                    rtol=1e-12)
    assert_allclose(J, jac(x), rtol=0.05, atol=0.02)
