"""Noise level of a residual function from a difference table (ECnoise).

J. J. Moré and S. M. Wild, "Estimating computational noise", SIAM J. Sci.
Comput. 33(3), 2011. Evaluate f at x + i h p, i = 0..m, along a random unit
direction p. For a smooth function the k-th differences shrink like h^k; for
noise of standard deviation sigma they behave like a random sequence with

    E[(Delta^k f)^2] = sigma^2 (2k)! / (k!)^2,

so sigma_k = sqrt(gamma_k * mean((Delta^k f)^2)), gamma_k = (k!)^2 / (2k)!, is
an estimate of sigma once the smooth part has died out. We accept the first
order k at which sigma_k agrees with sigma_{k+1} within a factor of 4 and the
differences change sign (as noise does), per residual, and report the median
relative level sigma / |f|, with |f| the residual's mean size over the table
(not its value at x: a residual that crosses zero near x would make any
noise look enormous relative to it, as Chebyquad's odd residuals at its x0).
"""
import math

import numpy as np

from .problem import Failure

__all__ = ["estimate_noise", "probe_noise"]

NOISE = "noise"
MAX_LEVEL = 1e-2
TABLE_POINTS, TABLE_STEP = 8, 1e-4      # the difference table: points, relative spacing


def estimate_noise(problem, x, f, lb, ub, n_points=TABLE_POINTS, h=TABLE_STEP, seed=0):
    """Relative noise level of the residuals near x (at least machine epsilon).

    Uses `n_points` extra evaluations (purpose 'noise'), kept inside the bounds.
    """
    points = _table_points(x, lb, ub, n_points, h, seed)
    return _level_from_table(f, problem.evaluate_many(points, NOISE))


def probe_noise(problem, x, f, lb, ub, level="auto"):
    """(relative noise level, stochastic) at x, for jac='broyden'.

    `level` is 'auto' (estimated as by `estimate_noise`) or the user's number.
    One more evaluation, at x itself and in the same batch as the table, says
    whether the noise is stochastic (another value at the same point) or
    deterministic (the same value again: noise from meshes, tolerances, inner
    iterations; the usual kind in simulation codes). The noisy restarts use
    it: new values at old points are new information only for stochastic
    noise (see jacobian.broyden.restart_step_factor). An evaluation that fails
    counts as deterministic (no point is run twice on that guess)."""
    points = [np.array(x, dtype=float)]
    if level == "auto":
        points += _table_points(x, lb, ub, TABLE_POINTS, TABLE_STEP, 0)
    values = problem.evaluate_many(points, NOISE)
    again = values[0]
    stochastic = (not isinstance(again, Failure)
                  and not np.array_equal(np.asarray(again, dtype=float), f))
    if level == "auto":
        level = _level_from_table(f, values[1:])
    return float(level), stochastic


def _table_points(x, lb, ub, n_points, h, seed):
    n = x.size
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n)
    p /= np.linalg.norm(p)
    step = h * max(1.0, float(np.linalg.norm(x)))
    # Keep the table inside the box: go the other way or shrink if needed.
    far = x + n_points * step * p
    if np.any(far > ub) or np.any(far < lb):
        p = -p
        far = x + n_points * step * p
        if np.any(far > ub) or np.any(far < lb):
            step *= 1e-3
    return [x + i * step * p for i in range(1, n_points + 1)]


def _level_from_table(f, values):
    if any(isinstance(v, Failure) for v in values):
        return np.finfo(float).eps
    table = np.vstack([f] + [np.asarray(v, dtype=float) for v in values])  # (m+1, m_res)
    sigmas = []
    for column in table.T:
        size = float(np.mean(np.abs(column)))
        if size == 0:
            continue
        sigma = _sigma_from_table(column)
        if sigma is not None:
            sigmas.append(sigma / size)
    if not sigmas:
        return np.finfo(float).eps
    # Capped: a relative level near one is no level (steps would be ~ |x|).
    return min(max(float(np.median(sigmas)), np.finfo(float).eps), MAX_LEVEL)


def _sigma_from_table(values, max_order=6):
    levels = []
    diff = np.asarray(values, dtype=float)
    for k in range(1, max_order + 1):
        diff = np.diff(diff)
        gamma = math.factorial(k) ** 2 / math.factorial(2 * k)
        sign_changes = np.any(diff > 0) and np.any(diff < 0)
        levels.append((math.sqrt(gamma * float(np.mean(diff ** 2))), sign_changes))
    for (s1, c1), (s2, c2) in zip(levels, levels[1:]):
        if c1 and c2 and s1 > 0 and s2 > 0 and max(s1, s2) <= 4 * min(s1, s2):
            return s1
    return None
