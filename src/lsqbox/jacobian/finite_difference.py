"""Finite-difference Jacobians: one engine for dense and grouped sparse.

A dense Jacobian is the grouped case with one column per group. For a group G
with steps h_j (j in G) we evaluate f at x + sum_{j in G} h_j e_j (and a second
point for 3-point schemes); because no two columns of a group share a row,
row i of the difference belongs to the single column of G that touches it.
Compressing the differences into D (m x n_groups), the Jacobian is

    J[i, j] = D[i, group(j)] / h_j        on the sparsity pattern (all of it if dense).

Step sizes. The classic rule h = eps_r * max(1, |x|) (eps_r = sqrt(eps) for
forward differences, eps^(1/3) for central) has an absolute floor eps_r that is
far too large for parameters much smaller than one (NIST Hahn1 has a parameter
of size 1e-7: the floor is 12% of it). We use the parameter's own magnitude
below one, with the starting point as the typical size:

    h_j = eps_r * max(|x_j|, typ_j),   typ_j = min(1, |x0_j|)  (1 if x0_j == 0),

which is the classic rule for every parameter that starts at magnitude >= 1.
eps is the machine epsilon of the coarser of x's and f's dtypes, so float32
residuals get float32-sized steps. Steps are made exactly representable
(h = (x + h) - x) and flipped or shortened to stay inside the bounds
(Nocedal & Wright, Numerical Optimization, section 8.1).
"""
import numpy as np
from scipy.sparse import csr_array, csr_matrix, issparse, coo_array

from ..problem import JACOBIAN
from .coloring import group_columns

__all__ = ["FiniteDifferenceJacobian", "relative_step"]

SCHEMES = ("2-point", "3-point", "cs")


def relative_step(scheme, f_dtype):
    """Optimal relative step of a scheme for residuals of dtype `f_dtype`."""
    eps = np.finfo(np.float64).eps
    if np.issubdtype(f_dtype, np.inexact):
        eps = max(eps, np.finfo(f_dtype).eps)
    return eps ** (1.0 / 3.0) if scheme == "3-point" else eps ** 0.5


class FiniteDifferenceJacobian:
    """Jacobian by finite differences, evaluated as one parallel batch.

    Parameters
    ----------
    problem : Problem
        Evaluates residuals (counted with purpose "jacobian").
    scheme : {'2-point', '3-point', 'cs'}
    x0 : ndarray
        Starting point: it sets the typical magnitude of each variable.
    lb, ub : ndarray
        Bounds the evaluation points must respect.
    f_dtype : dtype
        dtype of the residuals at x0.
    diff_step : None or array_like
        User's relative step (SciPy's `diff_step`): h = diff_step * |x|.
    refine_to_central : bool
        Allow `refine` to switch '2-point' to '3-point' when the solver has
        converged as far as forward differences allow.
    sparsity : None or (m, n) pattern
        Known nonzero pattern; the result is then a sparse CSR array.
    """

    def __init__(self, problem, scheme, x0, lb, ub, f_dtype, diff_step=None,
                 sparsity=None, sparse_output_type=csr_array, refine_to_central=False):
        self.problem = problem
        self.f_dtype = f_dtype
        self.refine_to_central = refine_to_central
        self.scheme = scheme
        self.lb = lb
        self.ub = ub
        self.eps_r = relative_step(scheme, f_dtype)
        self.diff_step = None if diff_step is None else np.asarray(diff_step, dtype=float)
        abs_x0 = np.abs(x0)
        self.typical = np.where(abs_x0 > 0, np.minimum(1.0, abs_x0), 1.0)
        n = x0.size
        if sparsity is None:
            self.groups = np.arange(n)
            self.pattern = None
        else:
            self.groups = group_columns(sparsity)
            pattern = coo_array(sparsity if issparse(sparsity) else np.atleast_2d(sparsity))
            keep = pattern.data != 0
            self.pattern = (pattern.row[keep], pattern.col[keep], pattern.shape)
            self.sparse_output_type = sparse_output_type
        self.n_groups = int(self.groups.max()) + 1 if n else 0

    # -- steps ---------------------------------------------------------------
    def _absolute_step(self, x):
        sign = np.where(x >= 0, 1.0, -1.0)
        default = self.eps_r * sign * np.maximum(np.abs(x), self.typical)
        if self.diff_step is None:
            h = default
        else:
            h = self.diff_step * sign * np.abs(x)
            h = np.where((x + h) - x == 0, default, h)
        return (x + h) - x

    def _fit_to_bounds(self, x, h):
        """Return (h1, h2, kind): the two offsets per column and its formula.

        kind 0: forward/backward 2-point (h1 only); 1: central (x+h, x-h);
        2: one-sided 3-point (x+h, x+2h, h may be negative).
        """
        lower = x - self.lb
        upper = self.ub - x
        if self.scheme in ("2-point", "cs"):
            if self.scheme == "cs" or np.all(np.isinf(self.lb) & np.isinf(self.ub)):
                return h, None, np.zeros(h.size, dtype=int)
            out = (x + h < self.lb) | (x + h > self.ub)
            fits = np.abs(h) <= np.maximum(lower, upper)
            h = np.where(out & fits, -h, h)
            toward_upper = ~fits & (upper >= lower)
            toward_lower = ~fits & (upper < lower)
            h = np.where(toward_upper, upper, h)
            h = np.where(toward_lower, -lower, h)
            return h, None, np.zeros(h.size, dtype=int)
        # 3-point
        a = np.abs(h)
        central = (lower >= a) & (upper >= a)
        kind = np.where(central, 1, 2)
        forward = ~central & (upper >= lower)
        backward = ~central & (upper < lower)
        h1 = a.copy()
        h1[forward] = np.minimum(a[forward], 0.5 * upper[forward])
        h1[backward] = -np.minimum(a[backward], 0.5 * lower[backward])
        h2 = np.where(central, -h1, 2.0 * h1)
        return h1, h2, kind

    # -- evaluation ----------------------------------------------------------
    def _group_points(self, x, h):
        """Evaluation points, one per group: x + sum over the group of h_j e_j."""
        dtype = complex if self.scheme == "cs" else float
        X = np.repeat(x[None, :].astype(dtype), self.n_groups, axis=0)
        offsets = 1j * h if self.scheme == "cs" else h
        X[self.groups, np.arange(x.size)] += offsets
        return list(X)

    def jacobian(self, x, f):
        """The finite-difference Jacobian at x, where the residuals are f."""
        h = self._absolute_step(x)
        h1, h2, kind = self._fit_to_bounds(x, h)
        points = self._group_points(x, h1)
        if h2 is not None:
            points += self._group_points(x, h2)
        fs = self.problem.evaluate_many(points, JACOBIAN)
        F1 = np.column_stack([np.asarray(v) for v in fs[:self.n_groups]])
        if self.scheme == "cs":
            D = F1.imag.astype(float)
        else:
            F1 = F1.astype(float)
            D = F1 - f[:, None]
        if h2 is not None:
            F2 = np.column_stack([np.asarray(v, dtype=float) for v in fs[self.n_groups:]])
            D_central = F1 - F2            # divided by 2 h below
            D_onesided = -3.0 * f[:, None] + 4.0 * F1 - F2
            return self._assemble_3point(D_central, D_onesided, h1, kind)
        return self._assemble(D, h1)

    def _assemble(self, D, denom):
        """J[i, j] = D[i, group(j)] / denom_j on the pattern."""
        if self.pattern is None:
            return D[:, self.groups] / denom
        rows, cols, shape = self.pattern
        data = D[rows, self.groups[cols]] / denom[cols]
        return self.sparse_output_type((data, (rows, cols)), shape=shape).tocsr()

    def _assemble_3point(self, D_central, D_onesided, h1, kind):
        # Central: (f(x+h) - f(x-h)) / 2h. One-sided: (-3f0 + 4f(x+h) - f(x+2h)) / 2h.
        # Both divide by 2 h1; pick the numerator per column.
        if self.pattern is None:
            numer = np.where(kind[None, :] == 1, D_central[:, self.groups],
                             D_onesided[:, self.groups])
            return numer / (2.0 * h1)
        rows, cols, shape = self.pattern
        g = self.groups[cols]
        numer = np.where(kind[cols] == 1, D_central[rows, g], D_onesided[rows, g])
        data = numer / (2.0 * h1[cols])
        return self.sparse_output_type((data, (rows, cols)), shape=shape).tocsr()

    def observe(self, x_from, f_from, x_to, f_to):
        """Secant information from a trial step; finite differences need none."""

    def refine(self):
        """Switch forward differences to central ones (once), when allowed.

        Returns True if the scheme changed: the caller re-evaluates J."""
        if not (self.refine_to_central and self.scheme == "2-point"):
            return False
        self.scheme = "3-point"
        self.eps_r = relative_step("3-point", self.f_dtype)
        return True
