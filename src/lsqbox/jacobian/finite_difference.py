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
import functools

import numpy as np
from scipy.sparse import csr_array, issparse, coo_array

from ..problem import JACOBIAN, Failure
from ..termination import Status
from .coloring import group_columns

__all__ = ["FiniteDifferenceJacobian", "relative_step"]

SCHEMES = ("2-point", "3-point", "cs")
_NONE_FROZEN = np.zeros(0, dtype=int)


def relative_step(scheme, f_dtype, noise=None):
    """Optimal relative step of a scheme for residuals of dtype `f_dtype`.

    With a relative noise level the error to balance against truncation is the
    noise, not rounding: eps is replaced by it (Moré & Wild, "Estimating
    derivatives of noisy simulations", ACM TOMS 38, 2012)."""
    return _relative_step(scheme, np.dtype(f_dtype), None if noise is None else float(noise))


@functools.lru_cache(maxsize=64)
def _relative_step(scheme, f_dtype, noise):
    eps = np.finfo(np.float64).eps
    if np.issubdtype(f_dtype, np.inexact):
        eps = max(eps, np.finfo(f_dtype).eps)
    if noise is not None:
        eps = max(eps, float(noise))
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
    noise : None or float
        Relative noise level of the residuals (sets the step, see
        `relative_step`).
    sparsity : None or (m, n) pattern
        Known nonzero pattern; the result is then a sparse CSR array.
    """

    def __init__(self, problem, scheme, x0, lb, ub, f_dtype, diff_step=None,
                 sparsity=None, sparse_output_type=csr_array, refine_to_central=False,
                 noise=None):
        self.problem = problem
        self.f_dtype = f_dtype
        self.noise = noise
        self.refine_to_central = refine_to_central
        self.scheme = scheme
        self.lb = lb
        self.ub = ub
        self.unbounded = bool(np.all(np.isinf(lb) & np.isinf(ub)))
        self.eps_r = relative_step(scheme, f_dtype, noise)
        self.diff_step = None if diff_step is None else np.asarray(diff_step, dtype=float)
        abs_x0 = np.abs(x0)
        self.typical = np.where(abs_x0 > 0, np.minimum(1.0, abs_x0), 1.0)
        n = x0.size
        self.dense_identity = sparsity is None
        if sparsity is None:
            self.groups = np.arange(n)
            self.pattern = None
            self.n_groups = n
        else:
            self.groups = group_columns(sparsity)
            pattern = coo_array(sparsity if issparse(sparsity) else np.atleast_2d(sparsity))
            keep = pattern.data != 0
            self.pattern = (pattern.row[keep], pattern.col[keep], pattern.shape)
            self.sparse_output_type = sparse_output_type
            self.n_groups = int(self.groups.max()) + 1 if n else 0
        self.previous = None
        # Broyden's noisy restarts set it to -1, +-0.5 (new points); 1.0 otherwise.
        self.step_factor = 1.0
        # Per-column multipliers of the default step (Broyden's noisy restarts
        # learn them from the curvature: noise_optimal_scale); None: all 1.
        self.column_scale = None
        self.last_steps = None           # signed steps of the last full Jacobian
        self.frozen = _NONE_FROZEN
        self._eye = None
        self.frozen_reasons = []
        self.n_evaluations = 0

    # -- steps ---------------------------------------------------------------
    def _absolute_step(self, x):
        # The step points away from zero: the sign of x, + for x = 0 (and for
        # -0.0, which x + 0.0 turns into +0.0).
        sign_of = x + 0.0
        abs_x = np.abs(x)
        # step_factor: 1 except in Broyden's noisy restarts (broyden.restart_step_factor)
        default = np.maximum(abs_x, self.typical)
        default *= self.eps_r * abs(self.step_factor)
        if self.column_scale is not None:
            default *= self.column_scale
        default = np.copysign(default, sign_of)
        if self.step_factor < 0:             # the other side, in noisy restarts
            default = -default
        if self.diff_step is None:
            h = default
        else:
            h = np.copysign(self.diff_step * abs_x, sign_of)
            h = np.where((x + h) - x == 0, default, h)
        h = (x + h) - x
        if h.all():
            return h
        # A step lost to underflow (x near the smallest floats): the classic one.
        sign = np.copysign(1.0, sign_of)
        return np.where(h == 0, (x + self.eps_r * sign * np.maximum(1.0, abs_x)) - x, h)

    def step_sizes(self, x):
        """The signed forward-difference steps at x (before the bounds)."""
        return self._absolute_step(x)

    def _fit_to_bounds(self, x, h):
        """Return (h1, h2, kind): the two offsets per column and its formula.

        kind 0: forward/backward 2-point (h1 only); 1: central (x+h, x-h);
        2: one-sided 3-point (x+h, x+2h, h may be negative).
        """
        if self.scheme in ("2-point", "cs"):
            if self.scheme == "cs" or self.unbounded:
                return h, None, np.zeros(h.size, dtype=int)
            lower = x - self.lb
            upper = self.ub - x
            out = (x + h < self.lb) | (x + h > self.ub)
            fits = np.abs(h) <= np.maximum(lower, upper)
            h = np.where(out & fits, -h, h)
            toward_upper = ~fits & (upper >= lower)
            toward_lower = ~fits & (upper < lower)
            h = np.where(toward_upper, upper, h)
            h = np.where(toward_lower, -lower, h)
            return h, None, np.zeros(h.size, dtype=int)
        # 3-point
        lower = x - self.lb
        upper = self.ub - x
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
        """Evaluation points, one row per group: x + sum over the group of h_j e_j."""
        if self.dense_identity and self.scheme != "cs":
            if self._eye is None or self._eye.shape[0] != x.size:
                self._eye = np.eye(x.size)
            return x + self._eye * h                # x + h_j e_j, row j
        dtype = complex if self.scheme == "cs" else float
        X = np.repeat(x[None, :].astype(dtype), self.n_groups, axis=0)
        offsets = 1j * h if self.scheme == "cs" else h
        if self.dense_identity:
            X.flat[::x.size + 1] += offsets          # the diagonal
        else:
            X[self.groups, np.arange(x.size)] += offsets
        return X

    def updated(self, x, f):
        """No secant updates: nothing changes after a rejected step."""
        return None

    def jacobian(self, x, f):
        """The finite-difference Jacobian at x, where the residuals are f."""
        self.n_evaluations += 1
        h = self._absolute_step(x)
        h1, h2, kind = self._fit_to_bounds(x, h)
        ng = self.n_groups
        points = self._group_points(x, h1)
        if h2 is not None:
            points = np.vstack((points, self._group_points(x, h2)))
        if self.scheme == "cs":
            block = self.problem.evaluate_many(points, JACOBIAN)    # complex values
        else:
            block = self.problem.evaluate_block(points, JACOBIAN)

        m = f.size
        failed = []
        if type(block) is np.ndarray and h2 is None and self.scheme != "cs":
            # Forward differences, every point evaluated: one array operation,
            # and no two-sided numerators (every column is of kind 0).
            D_forward = (block - f).T                                  # kind 0: / h
            D_central = D_onesided = None
            fs = ()
        else:
            fs = list(block)
            F1, F2 = fs[:ng], fs[ng:]
            D_forward = np.zeros((m, ng))
            D_central = np.zeros((m, ng))       # kind 1: / 2h
            D_onesided = np.zeros((m, ng))      # kind 2: / 2h
            for g in range(ng):
                if isinstance(F1[g], Failure) or (h2 is not None
                                                  and isinstance(F2[g], Failure)):
                    failed.append(g)
                elif self.scheme == "cs":
                    D_forward[:, g] = np.asarray(F1[g]).imag
                else:
                    D_forward[:, g] = np.asarray(F1[g], dtype=float) - f
                    if h2 is not None:
                        F2g = np.asarray(F2[g], dtype=float)
                        D_central[:, g] = F1[g] - F2g
                        D_onesided[:, g] = -3.0 * f + 4.0 * F1[g] - F2g
        kind = kind.copy()
        self.frozen = (self._retry_failed(x, f, h1, failed, D_forward, kind) if failed
                       else _NONE_FROZEN)
        if self.scheme != "cs":
            self._retry_zero_differences(x, f, h1, kind, D_forward, D_central, D_onesided)
        self.frozen_reasons = (sorted({f.reason for f in fs if isinstance(f, Failure)})
                               if failed or self.frozen.size else [])
        J = self._assemble(D_forward, D_central, D_onesided, h1, kind)
        self.last_steps = h1.copy()
        if self.frozen.size and self.previous is not None and self.pattern is None:
            # Columns no step could evaluate keep their last known value.
            J[:, self.frozen] = self.previous[:, self.frozen]
        if self.pattern is None:
            self.previous = J
        return J

    def jacobian_columns(self, x, f, cols):
        """Forward differences for the given columns only (dense sources)."""
        h = self._absolute_step(x)
        h1, _, _ = self._fit_to_bounds(x, h)
        points = []
        for j in cols:
            point = x.copy()
            point[j] += h1[j]
            points.append(point)
        fs = self.problem.evaluate_many(points, JACOBIAN)
        out = np.zeros((f.size, len(cols)))
        for k, (j, value) in enumerate(zip(cols, fs)):
            if isinstance(value, Failure):
                if self.previous is not None:
                    out[:, k] = self.previous[:, j]
                continue
            out[:, k] = (np.asarray(value, dtype=float) - f) / h1[j]
        return out

    def _group_columns(self, g):
        return np.flatnonzero(self.groups == g)

    def _retry_failed(self, x, f, h1, failed, D_forward, kind):
        """Groups whose evaluation failed: the opposite step, then half the step.

        Returns the columns that still failed (their derivatives are left 0 or,
        with a previous Jacobian, its columns)."""
        for factor in (-1.0, 0.5):
            if not failed:
                break
            points, tried = [], []
            for g in failed:
                cols = self._group_columns(g)
                x_try = x.astype(complex if self.scheme == "cs" else float)
                step = factor * h1[cols]
                x_try[cols] += 1j * step if self.scheme == "cs" else step
                if self.scheme != "cs" and not np.all(
                        (x_try[cols] >= self.lb[cols]) & (x_try[cols] <= self.ub[cols])):
                    continue
                points.append(x_try)
                tried.append(g)
            results = self.problem.evaluate_many(points, JACOBIAN) if points else []
            for g, value in zip(tried, results):
                if isinstance(value, Failure):
                    continue
                if self.scheme == "cs":
                    D_forward[:, g] = np.asarray(value).imag / factor
                else:
                    D_forward[:, g] = (np.asarray(value, dtype=float) - f) / factor
                kind[self._group_columns(g)] = 0
                failed = [k for k in failed if k != g]
        frozen = [self._group_columns(g) for g in failed]
        return np.concatenate(frozen) if frozen else np.zeros(0, dtype=int)

    def _retry_zero_differences(self, x, f, h1, kind, D_forward, D_central, D_onesided):
        """A group whose residuals did not change at all had a step below the
        rounding level of f (a variable that started tiny but matters at scale
        one): retry once with the classic step eps_r * max(1, |x|)."""
        changed = D_forward.any(axis=0)
        if D_central is not None:
            changed |= D_central.any(axis=0)
        if changed.all():
            return
        zero = ~changed
        frozen = set(self.groups[self.frozen].tolist())
        zero_groups = [g for g in np.flatnonzero(zero).tolist() if g not in frozen]
        points, retried = [], []
        for g in zero_groups:
            cols = self._group_columns(g)
            big = self.eps_r * np.maximum(1.0, np.abs(x[cols]))
            if np.all(big <= np.abs(h1[cols]) * 1.000001):
                continue
            step = np.copysign(big, h1[cols])
            x_try = x.copy()
            x_try[cols] += step
            if not np.all((x_try[cols] >= self.lb[cols]) & (x_try[cols] <= self.ub[cols])):
                x_try[cols] = x[cols] - step
                step = -step
                if not np.all((x_try[cols] >= self.lb[cols]) & (x_try[cols] <= self.ub[cols])):
                    continue
            points.append(x_try)
            retried.append((g, cols, step))
        if not points:
            return
        for (g, cols, step), value in zip(retried,
                                          self.problem.evaluate_many(points, JACOBIAN)):
            if isinstance(value, Failure):
                continue
            D_forward[:, g] = np.asarray(value, dtype=float) - f
            h1[cols] = step
            kind[cols] = 0

    def _assemble(self, D_forward, D_central, D_onesided, h1, kind):
        """J[i, j] from the numerator of column j's formula on the pattern."""
        if self.pattern is None:
            g = self.groups
            J = D_forward / h1 if self.dense_identity else D_forward[:, g] / h1
            if D_central is None:
                return J
            two_sided = kind != 0
            if np.any(two_sided):
                numer = np.where(kind[None, :] == 1, D_central[:, g], D_onesided[:, g])
                J[:, two_sided] = (numer / (2.0 * h1))[:, two_sided]
            return J
        rows, cols, shape = self.pattern
        g = self.groups[cols]
        if D_central is None:
            data = D_forward[rows, g] / h1[cols]
            return self.sparse_output_type((data, (rows, cols)), shape=shape).tocsr()
        k = kind[cols]
        data = np.where(k == 0, D_forward[rows, g] / h1[cols],
                        np.where(k == 1, D_central[rows, g], D_onesided[rows, g])
                        / (2.0 * h1[cols]))
        return self.sparse_output_type((data, (rows, cols)), shape=shape).tocsr()

    def observe(self, x_from, f_from, x_to, f_to, ratio=None, shrunk=False):
        """Secant information from a trial step; finite differences need none."""

    def refine(self, x, status):
        """Switch forward differences to central ones (once), when allowed and
        the solver stopped on a step tolerance (ftol/xtol).

        Returns True if the scheme changed: the caller re-evaluates J."""
        if status not in (Status.FTOL, Status.XTOL, Status.FTOL_AND_XTOL):
            return False
        if not (self.refine_to_central and self.scheme == "2-point"):
            return False
        self.scheme = "3-point"
        self.eps_r = relative_step("3-point", self.f_dtype, self.noise)
        return True
