"""Parameter covariance from the Jacobian at the solution.

For residuals r(x) with independent errors of common variance sigma^2, the
linearized covariance of the least-squares estimate is sigma^2 (J^T J)^-1
(e.g. Seber & Wild, Nonlinear Regression, 1989, section 2.1). sigma^2 is
estimated by the reduced chi-square 2 F / (m - n) unless the residuals are
already weighted by known standard deviations (``absolute_sigma``).

We compute (J^T J)^+ from the SVD J = U S V^T as V S^-2 V^T, keeping singular
values above ``eps * max(m, n) * s_max`` (the rank threshold of LAPACK-style
pseudo-inverses). A smaller rank is reported, never hidden: `rank`,
`rank_deficient`, and the parameters that move along the discarded directions
(`unidentifiable`) are part of the result.

Parameters held at a bound by the solver (``active_mask != 0``) are treated as
fixed: the covariance of the others is computed from the remaining columns, and
the rows and columns of the held ones are NaN — a standard error computed as if
the bound were absent would describe a point the fit cannot reach.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import svd
from scipy.sparse import issparse
from scipy.sparse.linalg import LinearOperator

EPS = np.finfo(float).eps

__all__ = ["Covariance", "covariance_from_jacobian", "dense_jacobian"]


@dataclass
class Covariance:
    """Covariance estimate with everything needed to judge it."""

    matrix: np.ndarray
    rank: int
    n_free: int
    dof: int
    scale: float                       # the variance factor applied (1 if absolute)
    held: np.ndarray                   # bool mask: parameters held at a bound
    unidentifiable: list = field(default_factory=list)   # indices

    @property
    def rank_deficient(self):
        return self.rank < self.n_free

    @property
    def stderr(self):
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.diag(self.matrix))

    @property
    def correlation(self):
        s = self.stderr
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.matrix / np.outer(s, s)


def dense_jacobian(J):
    """A dense copy of a dense, sparse or LinearOperator Jacobian."""
    if issparse(J):
        return J.toarray()
    if isinstance(J, LinearOperator):
        return J.matmat(np.eye(J.shape[1]))
    return np.asarray(J, dtype=float)


def covariance_from_jacobian(J, cost, absolute_sigma=False, active_mask=None):
    """Covariance of the parameters (module docstring).

    Parameters
    ----------
    J : array, sparse matrix or LinearOperator, shape (m, n)
        Jacobian of the (weighted) residuals at the solution.
    cost : float
        0.5 * sum of squared residuals at the solution.
    absolute_sigma : bool
        True if residuals are already divided by their true standard deviations.
    active_mask : None or array of int, shape (n,)
        Nonzero entries mark parameters held at a bound.
    """
    J = dense_jacobian(J)
    m, n = J.shape
    held = np.zeros(n, dtype=bool) if active_mask is None else np.asarray(active_mask) != 0
    free = np.flatnonzero(~held)
    n_free = free.size
    dof = m - n_free
    matrix = np.full((n, n), np.nan)
    if n_free == 0:
        return Covariance(matrix, 0, 0, dof, 1.0, held)

    _, s, Vt = svd(J[:, free], full_matrices=False, check_finite=False)
    threshold = EPS * max(m, n_free) * (s[0] if s.size else 0.0)
    keep = s > threshold
    rank = int(np.count_nonzero(keep))
    V = Vt[:rank].T
    inner = (V / s[keep] ** 2).dot(V.T)

    # Parameters with a sizeable component along a discarded direction.
    unidentifiable = []
    if rank < n_free:
        null = Vt[rank:].T
        weight = np.sqrt(np.sum(null ** 2, axis=1))
        unidentifiable = [int(free[j]) for j in np.flatnonzero(weight > 0.1)]

    if absolute_sigma:
        scale = 1.0
    elif dof > 0:
        scale = 2.0 * cost / dof
    else:
        scale = np.inf
    with np.errstate(invalid="ignore"):
        matrix[np.ix_(free, free)] = inner * scale
    return Covariance(matrix, rank, n_free, dof, scale, held, unidentifiable)
