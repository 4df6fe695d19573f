"""The Gauss-Newton quadratic model and its restriction to a line.

The model of the cost change for a step s is

    q(s) = 0.5 * ||J s||^2 + 0.5 * s^T diag(d) s + g^T s,

with an optional diagonal term d (the Coleman-Li correction in `trf`). Along a
line ``s0 + t s`` it is the scalar quadratic ``a t^2 + b t + c``.
"""
import numpy as np

__all__ = ["evaluate_quadratic", "build_quadratic_1d", "minimize_quadratic_1d",
           "QuadraticOnSpan"]

_float64 = np.float64


def evaluate_quadratic(J, g, s, diag=None):
    """q(s) for one step (1-D s) or for each row of a 2-D array of steps."""
    if s.ndim == 1:
        Js = J.dot(s)
        q = Js.dot(Js)
        if diag is not None:
            q += np.dot(s * diag, s)
        return 0.5 * q + s.dot(g)
    else:
        Js = J.dot(s.T)
        q = np.sum(Js ** 2, axis=0)
        if diag is not None:
            q += np.sum(diag * s ** 2, axis=1)
    return 0.5 * q + np.dot(s, g)


def build_quadratic_1d(J, g, s, diag=None, s0=None):
    """Coefficients (a, b[, c]) of q(s0 + t s) = a t^2 + b t + c.

    c is returned only when `s0` is given (it is q(s0)); otherwise s0 = 0, c = 0.
    """
    v = J.dot(s)
    a = v.dot(v)
    if diag is not None:
        a += np.dot(s * diag, s)
    a *= 0.5
    b = g.dot(s)
    if s0 is None:
        return a, b
    u = J.dot(s0)
    b += u.dot(v)
    c = 0.5 * u.dot(u) + g.dot(s0)
    if diag is not None:
        b += np.dot(s0 * diag, s)
        c += 0.5 * np.dot(s0 * diag, s0)
    return a, b, c


def minimize_quadratic_1d(a, b, lb, ub, c=0.0):
    """Minimize a t^2 + b t + c over lb <= t <= ub; returns (t, value)."""
    candidates = [lb, ub]
    if a != 0:
        t_stationary = -0.5 * b / a
        if lb < t_stationary < ub:
            candidates.append(t_stationary)
    # The first minimizer (or the first NaN), as numpy's argmin would pick;
    # scalar arithmetic: the candidates are two or three numbers.
    best_t = best_value = None
    for t in candidates:
        t = _float64(t)
        value = t * (a * t + b) + c
        if value != value:
            return t, value
        if best_value is None or value < best_value:
            best_t, best_value = t, value
    return best_t, best_value


class QuadraticOnSpan:
    """q restricted to the span of a few directions s_0, ..., s_k-1 (the rows
    of S): one product of J with all of them, then every value and every 1-D
    restriction along them is scalar arithmetic on the k x k matrix
    H = S (J^T J + diag(d)) S^T and the vector h = S g. `E` = S S^T gives
    their Euclidean products (lengths, trust-region crossings)."""

    def __init__(self, J, g, S, diag=None):
        JS = J.dot(S.T)
        H = JS.T.dot(JS)
        if diag is not None:
            H += (S * diag).dot(S.T)
        self.H = H.tolist()
        self.h = S.dot(g).tolist()
        self.E = S.dot(S.T).tolist()

    def value(self, i, t):
        """q(t s_i)."""
        return t * (0.5 * t * self.H[i][i] + self.h[i])

    def line(self, j, i=None, t0=0.0):
        """(a, b, c) of q(t0 s_i + t s_j) = a t^2 + b t + c (as
        `build_quadratic_1d` with s0 = t0 s_i)."""
        a = 0.5 * self.H[j][j]
        b = self.h[j]
        if i is None:
            return a, b, 0.0
        return a, b + t0 * self.H[i][j], self.value(i, t0)
