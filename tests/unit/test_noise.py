"""Unit tests for noise.py: the relative noise level from a difference table."""
import numpy as np

from lsqbox.api import BoundFunction
from lsqbox.executor import open_executor
from lsqbox.noise import MAX_LEVEL, estimate_noise
from lsqbox.problem import Problem


def _estimate(fun, x0):
    with open_executor(None, None) as ex:
        problem = Problem(BoundFunction(fun, (), {}), ex)
        f0 = problem.evaluate_initial(x0)
        n = x0.size
        return estimate_noise(problem, x0, f0, np.full(n, -np.inf), np.full(n, np.inf))


def test_residuals_that_cross_zero_near_x_do_not_inflate_the_level():
    # Like Chebyquad's odd residuals at its symmetric x0: zero up to rounding
    # at x, of size |grad| * step over the table. Relative to their value at
    # x their noise looked enormous, and the median over the residuals was
    # the 1e-2 cap (Chebyquad 8, 9, 11 at x0); relative to their size over
    # the table it is the true 1e-3.
    rng = np.random.default_rng(3)
    A = np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0], [1.0, 0.0, -1.0],
                  [1.0, 1.0, 1.0], [2.0, 1.0, 0.0]])

    def fun(x):
        f = A.dot(x) - np.array([0.0, 0.0, 0.0, 1.0, 0.5])
        f[:3] = A[:3].dot(x - 1.0 / 3.0) + 1e-17      # ~0 at x0
        return f * (1.0 + 1e-3 * rng.standard_normal(5))

    level = _estimate(fun, np.full(3, 1.0 / 3.0))
    assert 3e-4 < level < 3e-3, level


def test_smooth_residuals_report_no_noise_above_rounding():
    level = _estimate(lambda x: np.array([np.exp(x[0]), x[0] * x[1] - 2.0]),
                      np.array([0.5, 1.5]))
    assert level < 1e-10


def test_the_level_is_capped():
    rng = np.random.default_rng(0)
    level = _estimate(lambda x: (1.0 + x) * (1.0 + 0.5 * rng.standard_normal(2)),
                      np.array([1.0, 2.0]))
    assert level == MAX_LEVEL
