"""Moré's Levenberg-Marquardt parameter from a pivoted QR factorization.

Given J P = Q R (column pivoting), a diagonal scaling D and a radius Delta, find
lambda >= 0 and p with

    (J^T J + lambda D^T D) p = J^T f,    | ||D p|| - Delta | <= 0.1 Delta,

or lambda = 0 when the Gauss-Newton point is already inside (J. J. Moré, "The
Levenberg-Marquardt algorithm: implementation and theory", LNM 630, 1978,
section 5; MINPACK-1 user guide, ANL-80-74, 1980, subroutine LMPAR).

Each trial lambda solves the regularized problem from R alone: in pivoted
coordinates z = P^T p,

    min || [R; sqrt(lambda) D_P] z - [Q^T f; 0] ||,  D_P = P^T D P,

a QR of a 2n x n matrix (LAPACK), never touching the m x n Jacobian again, so a
rejected step costs O(n^3) and no new factorization of J. The Newton iteration
is on phi(lambda) = ||D p(lambda)|| - Delta, safeguarded by the bounds
[parl, paru] that Moré derives from the Gauss-Newton point and the gradient.
"""
import numpy as np
from numpy.linalg import norm
from scipy.linalg import qr, solve_triangular

__all__ = ["lmpar"]

DWARF = np.finfo(float).tiny


def _gauss_newton(R, qtf):
    """Solution of R z = Q^T f, zeroing the trailing part after a zero pivot."""
    n = R.shape[0]
    zero_pivots = np.flatnonzero(np.diag(R) == 0)
    nsing = zero_pivots[0] if zero_pivots.size else n
    z = np.zeros(n)
    if nsing > 0:
        z[:nsing] = solve_triangular(R[:nsing, :nsing], qtf[:nsing], check_finite=False)
    return z, nsing


def lmpar(R, perm, diag, qtf, Delta, par, max_iter=10):
    """Moré's LM parameter and step.

    Parameters
    ----------
    R : ndarray, shape (n, n)
        Upper-triangular factor of J P.
    perm : ndarray of int, shape (n,)
        Column permutation: (J P)[:, j] = J[:, perm[j]].
    diag : ndarray, shape (n,)
        Positive scaling D.
    qtf : ndarray, shape (n,)
        First n components of Q^T f.
    Delta : float
        Radius, measured as ||D p||.
    par : float
        Initial guess for lambda (the previous value).

    Returns
    -------
    par : float
        The LM parameter (0 for the Gauss-Newton step).
    x : ndarray, shape (n,)
        The solution p of the regularized normal equations; the step is -x.
    """
    n = R.shape[0]
    d_perm = diag[perm]
    z, nsing = _gauss_newton(R, qtf)
    x = np.empty(n)
    x[perm] = z
    dxnorm = norm(diag * x)
    fp = dxnorm - Delta
    if fp <= 0.1 * Delta:
        return 0.0, x

    # Lower bound from the Newton step at lambda = 0 (only with full rank).
    parl = 0.0
    if nsing == n:
        w = d_perm * ((diag * x)[perm] / dxnorm)
        w = solve_triangular(R, w, trans="T", check_finite=False)
        parl = (fp / Delta) / np.dot(w, w)
    # Upper bound: ||D^-1 J^T f|| / Delta.
    gnorm = norm(R.T.dot(qtf) / d_perm)
    paru = gnorm / Delta
    if paru == 0:
        paru = DWARF / min(Delta, 0.1)

    par = min(max(par, parl), paru)
    if par == 0:
        par = gnorm / dxnorm

    rhs = np.concatenate((qtf, np.zeros(n)))
    for iteration in range(1, max_iter + 1):
        if par == 0:
            par = max(DWARF, 0.001 * paru)
        A = np.vstack((R, np.diag(np.sqrt(par) * d_perm)))
        Q2, S = qr(A, mode="economic", check_finite=False)
        z = solve_triangular(S, Q2.T.dot(rhs), check_finite=False)
        x[perm] = z
        dx = diag * x
        dxnorm = norm(dx)
        fp_old = fp
        fp = dxnorm - Delta
        if (abs(fp) <= 0.1 * Delta or (parl == 0 and fp <= fp_old < 0)
                or iteration == max_iter):
            break
        # Newton correction: S^T S = R^T R + lambda D_P^2.
        w = d_perm * (dx[perm] / dxnorm)
        w = solve_triangular(S, w, trans="T", check_finite=False)
        parc = (fp / Delta) / np.dot(w, w)
        if fp > 0:
            parl = max(parl, par)
        elif fp < 0:
            paru = min(paru, par)
        par = max(parl, par + parc)
    return par, x
