"""`curve_fit`: SciPy's interface, on lsqbox's solvers.

Fits ``ydata ≈ f(xdata, *p)``: residuals ``L^-1 (f(xdata, *p) - ydata)`` where
L = diag(sigma) for 1-d sigma, or the Cholesky factor of a 2-d covariance
``sigma = L L^T`` (generalized least squares). Method 'lm' (the default without
bounds) is lsqbox's MINPACK-style Levenberg-Marquardt; with bounds 'trf'.
leastsq-style keywords (maxfev, epsfcn, diag, factor, col_deriv) are accepted
for 'lm' and translated.
"""
import inspect
import warnings

import numpy as np
from scipy.linalg import cholesky, solve_triangular, LinAlgError
from scipy.optimize import Bounds, OptimizeWarning

from ..api import solve
from .covariance import covariance_from_jacobian

__all__ = ["curve_fit"]

# MINPACK's `info` for leastsq-compatible `ier` (lm) from lsqbox statuses.
_IER_FROM_STATUS = {2: 1, 3: 2, 4: 3, 1: 4, 0: 5}


def _n_params_from_signature(f):
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        raise ValueError("Unable to determine number of fit parameters.") from None
    positional = [p for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2:
        raise ValueError("Unable to determine number of fit parameters.")
    return len(positional) - 1


def _bounds_arrays(bounds, n):
    if isinstance(bounds, Bounds):
        lb, ub = bounds.lb, bounds.ub
    else:
        lb, ub = bounds
    lb = np.asarray(lb, dtype=float)
    ub = np.asarray(ub, dtype=float)
    if lb.ndim == 0:
        lb = np.full(n, float(lb))
    if ub.ndim == 0:
        ub = np.full(n, float(ub))
    return lb, ub


def _feasible_start(lb, ub):
    """Middle of finite boxes, one inside a one-sided bound, 1 when free."""
    p0 = np.ones_like(lb)
    both = np.isfinite(lb) & np.isfinite(ub)
    only_lb = np.isfinite(lb) & ~np.isfinite(ub)
    only_ub = ~np.isfinite(lb) & np.isfinite(ub)
    p0[both] = 0.5 * (lb[both] + ub[both])
    p0[only_lb] = lb[only_lb] + 1
    p0[only_ub] = ub[only_ub] - 1
    return p0


def _omit_nan(xdata, ydata, sigma):
    bad = np.isnan(xdata)
    bad = bad.any(axis=tuple(range(bad.ndim - 1))) if bad.ndim > 1 else bad
    bad = bad | np.isnan(ydata)
    xdata = xdata[..., ~bad]
    ydata = ydata[~bad]
    if sigma is not None:
        sigma = np.asarray(sigma)
        if sigma.ndim == 1 and sigma.size > 1:
            sigma = sigma[~bad]
        elif sigma.ndim == 2:
            sigma = sigma[np.ix_(~bad, ~bad)]
    return xdata, ydata, sigma


def _transform(sigma, m):
    """Weights 1/sigma (1-d or scalar) or the Cholesky factor of a covariance."""
    if sigma is None:
        return None
    sigma = np.asarray(sigma, dtype=float)
    if sigma.size == 1 or sigma.shape == (m,):
        return 1.0 / sigma
    if sigma.shape == (m, m):
        try:
            return cholesky(sigma, lower=True)
        except LinAlgError as exc:
            raise ValueError("`sigma` must be positive definite.") from exc
    raise ValueError("`sigma` has incorrect shape.")


class _Residuals:
    """p -> L^-1 (f(xdata, *p) - ydata), picklable for process workers."""

    def __init__(self, f, xdata, ydata, transform):
        self.f, self.xdata, self.ydata, self.transform = f, xdata, ydata, transform

    def __call__(self, p):
        r = np.asarray(self.f(self.xdata, *p)) - self.ydata
        if self.transform is None:
            return r
        if self.transform.ndim < 2:
            return self.transform * r
        return solve_triangular(self.transform, r, lower=True)


class _WeightedJacobian:
    def __init__(self, jac, xdata, transform, col_deriv=False):
        self.jac, self.xdata, self.transform = jac, xdata, transform
        self.col_deriv = col_deriv

    def __call__(self, p):
        J = np.asarray(self.jac(self.xdata, *p), dtype=float)
        if self.col_deriv:
            J = J.T
        if self.transform is None:
            return J
        if self.transform.ndim < 2:
            return np.atleast_2d(self.transform).T * J if J.ndim == 2 else self.transform * J
        return solve_triangular(self.transform, J, lower=True)


def _lm_keywords(kwargs):
    """Translate leastsq's keywords to least_squares' for method='lm'."""
    kwargs = dict(kwargs)
    if "maxfev" in kwargs:
        maxfev = kwargs.pop("maxfev")
        kwargs.setdefault("max_nfev", maxfev if maxfev else None)
    if "epsfcn" in kwargs:
        epsfcn = kwargs.pop("epsfcn")
        if epsfcn is not None and epsfcn > 0:
            kwargs.setdefault("diff_step", np.sqrt(epsfcn))
    if "diag" in kwargs:
        diag = kwargs.pop("diag")
        if diag is not None:
            kwargs.setdefault("x_scale", 1.0 / np.asarray(diag, dtype=float))
    kwargs.pop("factor", None)   # lsqbox's lm uses MINPACK's default, 100
    col_deriv = bool(kwargs.pop("col_deriv", False))
    kwargs.pop("full_output", None)
    return kwargs, col_deriv


def curve_fit(f, xdata, ydata, p0=None, sigma=None, absolute_sigma=False,
              check_finite=None, bounds=(-np.inf, np.inf), method=None, jac=None, *,
              full_output=False, nan_policy=None, **kwargs):
    """Use non-linear least squares to fit a function, f, to data.

    Same interface and results as `scipy.optimize.curve_fit` (see its
    documentation); the solvers are lsqbox's. Returns ``popt, pcov`` and, with
    ``full_output=True``, also ``infodict, mesg, ier``.

    Notes
    -----
    The covariance is computed from the SVD of the weighted Jacobian at the
    solution (`lsqbox.fit.covariance`). For method 'lm' a rank-deficient
    Jacobian gives an infinite covariance and an OptimizeWarning, as SciPy's
    (MINPACK-based) version does; for 'trf'/'dogbox' the pseudo-inverse is used.
    """
    if p0 is None:
        n = _n_params_from_signature(f)
    else:
        p0 = np.atleast_1d(p0)
        n = p0.size
    lb, ub = _bounds_arrays(bounds, n)
    if p0 is None:
        p0 = _feasible_start(lb, ub)
    bounded = bool(np.any((lb > -np.inf) | (ub < np.inf)))
    if method is None:
        method = "trf" if bounded else "lm"
    if method == "lm" and bounded:
        raise ValueError("Method 'lm' only works for unconstrained problems. "
                         "Use 'trf' or 'dogbox' instead.")
    if method not in ("lm", "trf", "dogbox"):
        raise ValueError("`method` must be 'trf', 'dogbox' or 'lm'.")

    if check_finite is None:
        check_finite = nan_policy is None
    convert = np.asarray_chkfinite if check_finite else np.asarray
    ydata = convert(ydata, float)
    if isinstance(xdata, (list, tuple, np.ndarray)):
        xdata = convert(xdata, float)
    if ydata.size == 0:
        raise ValueError("`ydata` must not be empty!")

    if not check_finite and nan_policy is not None:
        if nan_policy == "propagate":
            raise ValueError("`nan_policy='propagate'` is not supported by this function.")
        if nan_policy not in ("raise", "omit"):
            raise ValueError("nan_policy must be one of {None, 'raise', 'omit'}")
        has_nan = bool(np.isnan(ydata).any() or
                       (isinstance(xdata, np.ndarray) and np.isnan(xdata).any()))
        if has_nan and nan_policy == "raise":
            raise ValueError("The input contains nan values")
        if has_nan:
            xdata, ydata, sigma = _omit_nan(xdata, ydata, sigma)

    transform = _transform(sigma, ydata.size)
    residuals = _Residuals(f, xdata, ydata, transform)
    if "args" in kwargs:
        raise ValueError("'args' is not a supported keyword argument.")

    col_deriv = False
    if method == "lm":
        if ydata.size != 1 and n > ydata.size:
            raise TypeError(f"The number of func parameters={n} must not exceed "
                            f"the number of data points={ydata.size}")
        kwargs, col_deriv = _lm_keywords(kwargs)
    elif "max_nfev" not in kwargs:
        kwargs["max_nfev"] = kwargs.pop("maxfev", None)

    if callable(jac):
        jac = _WeightedJacobian(jac, xdata, transform, col_deriv)
    elif jac is None:
        jac = "2-point"

    res, strategy = _solve(residuals, p0, jac, (lb, ub), method, kwargs)
    if not res.success:
        raise RuntimeError("Optimal parameters not found: " + res.message)

    popt = res.x
    if method == "lm":
        # leastsq's covariance: from the pivoted R of the last factored Jacobian.
        pcov, rank_deficient = _covariance_from_r(*strategy.factors()[:2], res.fun.size)
    else:
        cov = covariance_from_jacobian(res.jac, res.cost, absolute_sigma=True)
        pcov, rank_deficient = cov.matrix, False
    warn_cov = False
    if rank_deficient:
        pcov = np.full((n, n), np.inf)
        warn_cov = True
    elif not absolute_sigma:
        m = res.fun.size
        if m > n:
            pcov = pcov * (2.0 * res.cost / (m - n))
        else:
            pcov = np.full((n, n), np.inf)
            warn_cov = True
    if np.isnan(pcov).any():
        pcov = np.full((n, n), np.inf)
        warn_cov = True
    if warn_cov:
        warnings.warn("Covariance of the parameters could not be estimated",
                      category=OptimizeWarning, stacklevel=2)

    if not full_output:
        return popt, pcov
    infodict = {"nfev": res.nfev, "fvec": res.fun, "nfev_total": res.nfev_total}
    if method == "lm":
        infodict.update(_minpack_factors(strategy, res.fun.size))
        if res.njev is not None:
            infodict["njev"] = res.njev
        ier = _IER_FROM_STATUS[res.status]
    else:
        ier = res.status
    return popt, pcov, infodict, res.message, ier


def _solve(residuals, p0, jac, bounds, method, kwargs):
    """Call lsqbox's solver with least_squares' keywords (defaults filled in)."""
    options = dict(jac=jac, bounds=bounds, method=method, ftol=1e-8, xtol=1e-8,
                   gtol=1e-8, x_scale=None, loss="linear", f_scale=1.0,
                   diff_step=None, tr_solver=None, tr_options=None, jac_sparsity=None,
                   max_nfev=None, verbose=0, args=(), kwargs=None, callback=None,
                   workers=None)
    unknown = set(kwargs) - set(options)
    if unknown:
        raise TypeError(f"curve_fit got unexpected keyword arguments: {sorted(unknown)}")
    options.update(kwargs)
    return solve(residuals, p0, **options)


def _covariance_from_r(R, perm, m):
    """(J^T J)^-1 = P R^-1 R^-T P^T from J P = Q R; rank-deficient when a pivot
    is negligible (|R_jj| <= eps max(m, n) |R_00|)."""
    n = R.shape[0]
    d = np.abs(np.diag(R))
    if d.size == 0 or d[0] == 0 or np.any(d <= np.finfo(float).eps * max(m, n) * d[0]):
        return np.full((n, n), np.inf), True
    R_inv = solve_triangular(R, np.eye(n), check_finite=False)
    PR_inv = np.empty_like(R_inv)
    PR_inv[perm] = R_inv
    return PR_inv.dot(PR_inv.T), False


def _minpack_factors(strategy, m):
    """fjac, ipvt and qtf in leastsq's layout: J P = Q R, fjac.T[:n] = R."""
    R, perm, qtf = strategy.factors()
    n = R.shape[0]
    fjac = np.zeros((n, m))
    fjac[:, :n] = R.T
    return {"fjac": fjac, "ipvt": (perm + 1).astype(np.int32), "qtf": qtf}
