"""Moré's Levenberg-Marquardt parameter from a pivoted QR factorization.

Given J P = Q R (column pivoting), a diagonal scaling D and a radius Delta, find
lambda >= 0 and p with

    (J^T J + lambda D^T D) p = J^T f,    | ||D p|| - Delta | <= 0.1 Delta,

or lambda = 0 when the Gauss-Newton point is already inside (J. J. Moré, "The
Levenberg-Marquardt algorithm: implementation and theory", LNM 630, 1978,
section 5; MINPACK-1 user guide, ANL-80-74, 1980, subroutine LMPAR).

MINPACK re-triangularizes [R; sqrt(lambda) D_P] with Givens rotations for every
trial lambda. We take one SVD of the n x n matrix B = R D_P^-1 per accepted
point instead (D_P = P^T D P): with B = U S V^T and c = U^T (Q^T f),

    D_P z(lambda) = V (s c / (s^2 + lambda)),
    ||D p||^2 = sum (s c / (s^2 + lambda))^2,
    phi'(lambda) ||D p|| = -sum (s c)^2 / (s^2 + lambda)^3,

so every quantity of Moré's iteration (the Newton correction, the bounds parl
and paru) costs O(n) per trial lambda and the iteration itself — its
safeguards, its 10% acceptance band and its warm start — is MINPACK's.
"""
import math

import numpy as np
from scipy.linalg import get_lapack_funcs, solve_triangular

from .lapack import svd_thin
from .subproblem import as_short_vectors, secular_sums
from .vector import norm2

__all__ = ["LMSubproblem", "lmpar"]

DWARF = np.finfo(float).tiny
_TRTRS, = get_lapack_funcs(("trtrs",), (np.zeros((1, 1)),))   # looked up once


def _gauss_newton(R, qtf):
    """Solution of R z = Q^T f, zeroing the trailing part after a zero pivot."""
    n = R.shape[0]
    trtrs = _TRTRS if R.dtype == np.float64 else get_lapack_funcs(("trtrs",), (R,))[0]
    if R.diagonal().all():
        z, info = trtrs(R, qtf)
        if info == 0:
            return z, n
    zero_pivots = np.flatnonzero(R.diagonal() == 0)
    nsing = zero_pivots[0] if zero_pivots.size else n
    z = np.zeros(n)
    if nsing > 0:
        z[:nsing], info = trtrs(R[:nsing, :nsing], qtf[:nsing])
        if info != 0:
            z[:nsing] = solve_triangular(R[:nsing, :nsing], qtf[:nsing], check_finite=False)
    return z, nsing


class LMSubproblem:
    """The LM subproblem at one accepted point, for any radius.

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
    """

    def __init__(self, R, perm, diag, qtf):
        n = R.shape[0]
        self.n = n
        self.perm = perm
        self.diag = diag
        d_perm = diag[perm]
        self.d_perm = d_perm
        z, self.nsing = _gauss_newton(R, qtf)
        self.x_gn = np.empty(n)
        self.x_gn[perm] = z
        self.dxnorm_gn = norm2(diag * self.x_gn)
        self.R, self.qtf = R, qtf
        self.Vt = None                        # the SVD, when a radius needs it

    def _factor(self):
        """One SVD of R D_P^-1; only radii that cut the Gauss-Newton step need it."""
        if self.Vt is None:
            U, s, Vt = svd_thin(self.R / self.d_perm)
            self.s2 = s * s
            self.sc = s * U.T.dot(self.qtf)
            self.Vt = Vt
            self.gnorm = norm2(self.sc)           # ||D^-1 J^T f||
            self._sums = as_short_vectors(self.sc, self.s2)   # lists for small n

    def _at(self, par):
        """||D p||, ||q||^2 * ||D p||^2 (MINPACK's Newton-correction norm) at par."""
        p2, dp = secular_sums(par, *self._sums)
        return math.sqrt(p2), float(dp)

    def _step(self, par):
        y = self.Vt.T.dot(self.sc / (self.s2 + par))
        x = np.empty(self.n)
        x[self.perm] = y / self.d_perm
        return x

    def solve_regularized(self, c, par):
        """x with (J^T J + par D^2) x = c, for any right-hand side c (the
        LM step is the one for c = J^T f). From the SVD of R D_P^-1 = U S V^T:
        J^T J + par D^2 = P D_P V (S^2 + par) V^T D_P P^T; directions with
        S^2 + par = 0 (a singular J at par = 0) get no component."""
        self._factor()
        y = self.Vt.dot(c[self.perm] / self.d_perm)
        denom = self.s2 + par
        y = np.divide(y, denom, out=np.zeros_like(y), where=denom > 0)
        x = np.empty(self.n)
        x[self.perm] = self.Vt.T.dot(y) / self.d_perm
        return x

    def solve(self, Delta, par, max_iter=10):
        """Returns (par, x): the LM parameter and the solution x of the
        regularized normal equations (the step is -x)."""
        fp = self.dxnorm_gn - Delta
        if fp <= 0.1 * Delta:
            return 0.0, self.x_gn.copy()
        self._factor()

        parl = 0.0
        if self.nsing == self.n:
            _, q2 = self._at(0.0)
            parl = (fp / Delta) / (q2 / self.dxnorm_gn ** 2)
        paru = self.gnorm / Delta
        if paru == 0:
            paru = DWARF / min(Delta, 0.1)
        par = min(max(par, parl), paru)
        if par == 0:
            par = self.gnorm / self.dxnorm_gn

        for iteration in range(1, max_iter + 1):
            if par == 0:
                par = max(DWARF, 0.001 * paru)
            dxnorm, q2 = self._at(par)
            fp_old = fp
            fp = dxnorm - Delta
            if (abs(fp) <= 0.1 * Delta or (parl == 0 and fp <= fp_old < 0)
                    or iteration == max_iter):
                break
            parc = (fp / Delta) / (q2 / dxnorm ** 2)
            if fp > 0:
                parl = max(parl, par)
            elif fp < 0:
                paru = min(paru, par)
            par = max(parl, par + parc)
        return par, self._step(par)


def lmpar(R, perm, diag, qtf, Delta, par, max_iter=10):
    """Moré's LM parameter and step in one call (see `LMSubproblem`).

    Returns
    -------
    par : float
        The LM parameter (0 for the Gauss-Newton step).
    x : ndarray, shape (n,)
        The solution p of the regularized normal equations; the step is -x.
    """
    return LMSubproblem(R, perm, diag, qtf).solve(Delta, par, max_iter)
