"""Trust-region subproblems solved from saved factors.

``solve_lsq_trust_region`` finds the Levenberg-Marquardt step

    p(alpha) = -(J^T J + alpha I)^{-1} J^T f,   ||p(alpha)|| = Delta,

from one SVD J = U diag(s) V^T, by Moré's safeguarded Newton iteration on
phi(alpha) = ||p(alpha)|| - Delta (J. J. Moré, "The Levenberg-Marquardt
algorithm: implementation and theory", Numerical Analysis, LNM 630, 1978,
section 5; also Nocedal & Wright, Numerical Optimization, algorithm 4.3).
With the SVD, ||p(alpha)||^2 = sum (s_i (U^T f)_i / (s_i^2 + alpha))^2, so each
trial radius costs O(n): a rejected step never refactors the Jacobian.

``solve_trust_region_2d`` minimizes a 2-D quadratic in a disc: the interior
Newton point if it is inside, otherwise the best stationary point on the circle.
"""
from math import isfinite, nan, sqrt

import numpy as np
from scipy.linalg import cho_factor, cho_solve, LinAlgError

from .vector import norm2

EPS = np.finfo(float).eps


def _numpy_float(value):
    return value if value is None else np.float64(value)

__all__ = ["solve_lsq_trust_region", "solve_trust_region_2d", "secular_sums",
           "as_short_vectors"]


def secular_sums(alpha, a, s2):
    """(sum q_i^2, sum q_i^2 / (s2_i + alpha)) with q_i = a_i / (s2_i + alpha).

    These two sums are all Moré's iteration needs: with a_i = s_i (U^T f)_i
    the first is ||p(alpha)||^2 and the second gives its derivative. `a` and
    `s2` are arrays, or Python lists for short vectors (up to ~16 entries a
    plain loop is several times cheaper than five numpy calls)."""
    if type(a) is list:
        alpha = float(alpha)
        p2 = dp = 0.0
        try:
            for ai, s2i in zip(a, s2):
                denom = s2i + alpha
                q = ai / denom
                q2 = q * q
                p2 += q2
                dp += q2 / denom
            return p2, dp
        except ZeroDivisionError:
            a, s2 = np.array(a), np.array(s2)
    denom = s2 + alpha
    q = a / denom
    return q.dot(q), q.dot(q / denom)


def as_short_vectors(*arrays):
    """Lists for `secular_sums` when the vectors are short, else the arrays."""
    if arrays[0].size < 16:
        return tuple(v.tolist() for v in arrays)
    return arrays


def _phi_and_derivative(alpha, suf, s2, Delta):
    """phi(alpha) = ||p(alpha)|| - Delta and its derivative (s2 = s**2), of
    the type of Delta (see `_more_iteration`)."""
    p2, dp = secular_sums(alpha, suf, s2)
    if p2 == 0:
        return -Delta, nan
    p_norm = sqrt(p2)
    return p_norm - Delta, -dp / p_norm


def _more_iteration(suf, s2, Delta, alpha, alpha_lower, alpha_upper, full_rank,
                    rtol, max_iter):
    """Moré's safeguarded Newton iteration for phi(alpha) = 0. Returns
    (alpha, n_iter). Written for either Python floats (fast, on the lists of
    `as_short_vectors`) or numpy floats (a zero division gives inf/nan with a
    warning instead of an exception): the caller retries with numpy floats
    when the Python ones raise."""
    if full_rank:
        phi, phi_prime = _phi_and_derivative(0.0, suf, s2, Delta)
        alpha_lower = -phi / phi_prime

    def safeguard():
        return max(0.001 * alpha_upper, (alpha_lower * alpha_upper) ** 0.5)

    if alpha is None or (not full_rank and alpha == 0):
        alpha = safeguard()
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        if alpha < alpha_lower or alpha > alpha_upper:
            alpha = safeguard()
        phi, phi_prime = _phi_and_derivative(alpha, suf, s2, Delta)
        if phi < 0:
            alpha_upper = alpha
        ratio = phi / phi_prime
        alpha_lower = max(alpha_lower, alpha - ratio)
        # Newton step on 1/||p|| - 1/Delta, which is nearly linear in alpha.
        alpha -= (phi + Delta) * ratio / Delta
        if abs(phi) < rtol * Delta:
            break
    return alpha, n_iter


def solve_lsq_trust_region(n, m, uf, s, V, Delta, initial_alpha=None,
                           rtol=0.01, max_iter=10):
    """Moré's LM parameter and step from the SVD of J.

    Parameters
    ----------
    n, m : int
        Number of variables and of rows of J.
    uf : ndarray, shape (k,)
        U^T f, with f the residual vector.
    s : ndarray, shape (k,)
        Singular values of J in decreasing order.
    V : ndarray, shape (n, k)
        Right singular vectors of J.
    Delta : float
        Trust-region radius.
    initial_alpha : float or None
        Warm start, usually the previous alpha rescaled by the radius change.
    rtol : float
        Accept alpha when | ||p|| - Delta | < rtol * Delta.

    Returns
    -------
    p : ndarray, shape (n,)
        The step.
    alpha : float
        The LM parameter (0 for the Gauss-Newton step inside the region).
    n_iter : int
        Number of Newton iterations used.
    """
    suf = s * uf
    # The Gauss-Newton step is unique only when J has full column rank.
    full_rank = m >= n and s[-1] > EPS * m * s[0]
    if full_rank:
        nonzero = slice(None)
    elif s.size and s[0] > 0:
        nonzero = s > EPS * max(m, n) * s[0]
    else:
        nonzero = np.zeros(s.size, bool)
    # For a rank-deficient J with m >= n the tiny singular directions still
    # get the regularized LM step below (they may be what moves a parameter
    # off a degenerate point, e.g. NIST Nelson); with m < n the null space is
    # genuine and the minimum-norm step is the answer when it fits.
    if full_rank or m < n:
        if full_rank:
            p = V.dot(uf / s)
        else:
            p = V[:, nonzero].dot(uf[nonzero] / s[nonzero])
        p *= -1.0
        if sqrt(p.dot(p)) <= Delta:
            return p, 0.0, 0

    s2 = s * s
    suf_, s2_ = as_short_vectors(suf, s2)
    alpha_upper = sqrt(suf.dot(suf)) / Delta
    start = (float(Delta), None if initial_alpha is None else float(initial_alpha),
             0.0, float(alpha_upper))
    try:
        alpha, n_iter = _more_iteration(suf_, s2_, *start, full_rank, rtol, max_iter)
    except (ZeroDivisionError, OverflowError):
        alpha, n_iter = _more_iteration(suf, s2, *map(_numpy_float, start), full_rank,
                                        rtol, max_iter)

    if not (isfinite(alpha) and alpha > 0):
        # The safeguards failed (degenerate spectrum): the minimum-norm step,
        # pulled back to the boundary if it is longer, is still a descent step
        # of the model (stretched beyond twice its length the model would
        # predict an increase: Moré-Wild's Osborne 2 at 10 x0).
        p_min = -V[:, nonzero].dot(uf[nonzero] / s[nonzero])
        return p_min * min(1.0, Delta / norm2(p_min)), 0.0, n_iter
    p = V.dot(suf / (s2 + alpha))
    # ||p|| is within rtol of Delta; put it on the boundary exactly so the
    # radius logic sees a boundary step (and turn it downhill).
    p *= -(Delta / norm2(p))
    return p, alpha, n_iter


def solve_trust_region_2d(B, g, Delta):
    """Minimize 0.5 p^T B p + g^T p subject to ||p|| <= Delta, p in R^2.

    Returns ``(p, newton_step)``: newton_step is True when p is the unconstrained
    minimizer (B positive definite and the Newton point inside the disc).
    """
    if B.shape == (1, 1):
        # The subspace collapsed to one direction (n = 1, or parallel vectors).
        b, gg = B[0, 0], g[0]
        p = -gg / b if b > 0 else -np.sign(gg) * Delta
        if abs(p) <= Delta:
            return np.array([p]), b > 0
        return np.array([np.copysign(Delta, p)]), False
    try:
        R, lower = cho_factor(B)
        p = -cho_solve((R, lower), g)
        if np.dot(p, p) <= Delta ** 2:
            return p, True
    except LinAlgError:
        pass

    # On the circle p = Delta (2t/(1+t^2), (1-t^2)/(1+t^2)) (tangent half-angle),
    # stationarity of the model is a quartic in t. t -> inf is p = (0, -Delta),
    # added as a candidate since the quartic cannot represent it.
    a = B[0, 0] * Delta ** 2
    b = B[0, 1] * Delta ** 2
    c = B[1, 1] * Delta ** 2
    d = g[0] * Delta
    f = g[1] * Delta
    coeffs = np.array([-b + d, 2 * (a - c + f), 6 * b, 2 * (-a + c + f), -b - d])
    t = np.roots(coeffs)
    t = np.real(t[np.isreal(t)])
    p = Delta * np.vstack((2 * t / (1 + t ** 2), (1 - t ** 2) / (1 + t ** 2)))
    p = np.hstack((p, [[0.0], [-Delta]]))
    value = 0.5 * np.sum(p * B.dot(p), axis=0) + np.dot(g, p)
    return p[:, np.argmin(value)], False
