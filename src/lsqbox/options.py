"""Validation of `least_squares` arguments into a frozen options object.

Error types and wording follow SciPy's `least_squares`, so code that catches
its exceptions keeps working. Where SciPy would go on with input that cannot
give a meaningful answer (non-finite x0 or NaN bounds) we raise a ValueError.
Checks that need the residuals at x0 are in `check_initial_point` and
`check_jacobian`.
"""
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds
from scipy.sparse import issparse
from scipy.sparse.linalg import LinearOperator

from .bounds import has_bounds, in_bounds
from .losses import LOSSES
from .methods import METHODS

EPS = np.finfo(float).eps
JAC_SCHEMES = ("2-point", "3-point", "cs", "broyden")

__all__ = ["Options", "validate", "check_initial_point", "check_jacobian",
           "check_jac_sparsity"]


@dataclass(frozen=True)
class Options:
    """Everything `least_squares` was asked, checked and normalized."""

    method: str
    jac: object
    x0: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    bounded: bool             # some variable has a finite bound
    ftol: float
    xtol: float
    gtol: float
    x_scale: object          # ndarray of positive floats, or 'jac'
    loss: object
    f_scale: float
    diff_step: object
    tr_solver: object        # None until the Jacobian's kind is known
    tr_options: dict
    jac_sparsity: object
    max_nfev: object          # int, or inf for no limit
    verbose: int
    args: tuple
    kwargs: dict


def _check_choice(method, jac, tr_solver, loss, verbose, max_nfev):
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError("`method` must be 'trf', 'dogbox' or 'lm'.")
    if not callable(jac) and not (isinstance(jac, str) and jac in JAC_SCHEMES):
        raise ValueError("`jac` must be '2-point', '3-point', 'cs' or callable.")
    if tr_solver is not None and not (isinstance(tr_solver, str)
                                      and tr_solver in ("exact", "lsmr")):
        raise ValueError("`tr_solver` must be None, 'exact' or 'lsmr'.")
    if not callable(loss) and loss not in LOSSES:   # unhashable: TypeError, as SciPy
        raise ValueError(f"`loss` must be one of {LOSSES.keys()} or a callable.")
    if not METHODS[method].robust_loss and loss != "linear":
        raise ValueError(f"method='{method}' supports only 'linear' loss function.")
    if verbose not in (0, 1, 2):
        raise ValueError("`verbose` must be in [0, 1, 2].")
    if max_nfev is not None:
        # SciPy loops forever on a fractional or NaN budget; refuse those.
        if (not np.isscalar(max_nfev) or not max_nfev > 0
                or (np.isfinite(max_nfev) and max_nfev != int(max_nfev))):
            raise ValueError("`max_nfev` must be None or positive integer.")


def _check_x0(x0):
    if np.iscomplexobj(x0):
        raise ValueError("`x0` must be real.")
    x0 = np.atleast_1d(x0).astype(float)    # TypeError/ValueError as SciPy's
    if x0.ndim > 1:
        raise ValueError("`x0` must have at most 1 dimension.")
    if not np.isfinite(x0).all():
        raise ValueError("`x0` must contain only finite values; got "
                         f"{x0[~np.isfinite(x0)][:5].tolist()}.")
    return x0


def _no_bounds(bounds):
    """The default ``(-inf, inf)`` (as two Python floats): nothing to check."""
    return (type(bounds) is tuple and len(bounds) == 2
            and type(bounds[0]) is float and type(bounds[1]) is float
            and bounds[0] == -np.inf and bounds[1] == np.inf)


def _prepare_bounds(bounds, x0):
    if isinstance(bounds, Bounds):
        lb, ub = bounds.lb, bounds.ub
    else:
        if len(bounds) != 2:          # no len(): TypeError, as SciPy
            raise ValueError("`bounds` must contain 2 elements.")
        lb, ub = bounds
    lb = np.asarray(lb, dtype=float)
    ub = np.asarray(ub, dtype=float)
    if lb.ndim == 0:
        lb = np.full(x0.shape, float(lb))
    if ub.ndim == 0:
        ub = np.full(x0.shape, float(ub))
    return lb, ub


def _check_bounds(lb, ub, x0, method):
    if not METHODS[method].bounds and not ((lb == -np.inf) & (ub == np.inf)).all():
        raise ValueError(f"Method '{method}' doesn't support bounds.")
    if lb.shape != x0.shape or ub.shape != x0.shape:
        raise ValueError("Inconsistent shapes between bounds and `x0`.")
    if np.isnan(lb).any() or np.isnan(ub).any():
        raise ValueError("`bounds` must not contain NaN (use -inf/inf for no bound).")
    if (lb >= ub).any():
        raise ValueError("Each lower bound must be strictly less than each upper bound.")
    if not in_bounds(x0, lb, ub):
        raise ValueError("Initial guess is outside of provided bounds")


def _check_x_scale(x_scale, x0, method):
    if x_scale is None:
        x_scale = METHODS[method].default_x_scale
        if not isinstance(x_scale, str):
            return np.full(x0.shape, float(x_scale))
    if isinstance(x_scale, str):
        if x_scale == "jac":
            return x_scale
        raise ValueError("`x_scale` must be 'jac' or array_like with positive numbers.")
    try:
        if np.iscomplexobj(x_scale):
            raise TypeError
        x_scale = np.asarray(x_scale, dtype=float)
        valid = bool(np.isfinite(x_scale).all() and (x_scale > 0).all())
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError("`x_scale` must be 'jac' or array_like with positive numbers.")
    if x_scale.ndim == 0:
        x_scale = np.full(x0.shape, float(x_scale))
    if x_scale.shape != x0.shape:
        raise ValueError("Inconsistent shapes between `x_scale` and `x0`.")
    return x_scale


def _check_tolerances(ftol, xtol, gtol, method):
    def check(tol, name):
        if tol is None:
            return 0.0
        if type(tol) is float and tol >= EPS:     # the usual case
            return tol
        if isinstance(tol, (str, bytes)) or not np.isscalar(tol) or np.iscomplexobj(tol):
            raise TypeError(f"`{name}` must be a float or None.")
        tol = float(tol)
        if np.isnan(tol):
            # SciPy's comparisons with NaN are all False: the test is off.
            return 0.0
        if tol < EPS:
            warnings.warn(f"Setting `{name}` below the machine epsilon ({EPS:.2e}) "
                          "effectively disables the corresponding termination "
                          "condition.", stacklevel=4)
        return tol

    ftol, xtol, gtol = check(ftol, "ftol"), check(xtol, "xtol"), check(gtol, "gtol")
    if method == "lm" and (ftol < EPS or xtol < EPS or gtol < EPS):
        raise ValueError("All tolerances must be higher than machine epsilon "
                         f"({EPS:.2e}) for method 'lm'.")
    if ftol < EPS and xtol < EPS and gtol < EPS:
        raise ValueError("At least one of the tolerances must be higher than "
                         f"machine epsilon ({EPS:.2e}).")
    return ftol, xtol, gtol


def _check_f_scale(f_scale, loss):
    if loss == "linear" and not callable(loss):
        return 1.0                    # unused, as in SciPy
    if isinstance(f_scale, (str, bytes)) or f_scale is None or not np.isscalar(f_scale):
        raise TypeError("`f_scale` must be a positive number.")
    f_scale = float(f_scale)
    if not (np.isfinite(f_scale) and f_scale > 0):
        raise ValueError("`f_scale` must be a positive finite number.")
    return f_scale


def validate(fun, x0, jac, bounds, method, ftol, xtol, gtol, x_scale, loss,
             f_scale, diff_step, tr_solver, tr_options, jac_sparsity, max_nfev,
             verbose, args, kwargs):
    """Check everything that can be checked before calling ``fun``."""
    if not callable(fun):
        raise TypeError("`fun` must be callable.")
    _check_choice(method, jac, tr_solver, loss, verbose, max_nfev)
    x0 = _check_x0(x0)
    if _no_bounds(bounds):
        lb, ub, bounded = np.full(x0.shape, -np.inf), np.full(x0.shape, np.inf), False
    else:
        lb, ub = _prepare_bounds(bounds, x0)
        _check_bounds(lb, ub, x0, method)
        bounded = has_bounds(lb, ub)
    x_scale = _check_x_scale(x_scale, x0, method)
    ftol, xtol, gtol = _check_tolerances(ftol, xtol, gtol, method)
    if tr_options is None:
        tr_options = {}
    elif not isinstance(tr_options, dict):
        raise TypeError("`tr_options` must be a dict or None.")
    if not METHODS[method].sparse and jac_sparsity is not None and not callable(jac):
        raise ValueError(f"method='{method}' does not support `jac_sparsity`.")
    if jac == "broyden" and jac_sparsity is not None:
        raise ValueError("jac='broyden' keeps a dense Jacobian; `jac_sparsity` is not "
                         "supported with it.")
    if jac_sparsity is not None and tr_solver == "exact" and not callable(jac):
        raise ValueError("tr_solver='exact' is incompatible with `jac_sparsity`.")
    if callable(jac):
        diff_step = None              # unused with a callable jac; SciPy ignores it
    if diff_step is not None:
        if isinstance(diff_step, (str, bytes)):
            raise TypeError("`diff_step` must be None or array_like of positive numbers.")
        diff_step = np.asarray(diff_step, dtype=float)
        if not np.all(np.isfinite(diff_step)):
            raise ValueError("`diff_step` must be finite.")
    if kwargs is None:
        kwargs = {}
    args = tuple(args)                # not iterable: TypeError, as SciPy
    return Options(
        method=method, jac=jac, x0=x0, lb=lb, ub=ub, bounded=bounded, ftol=ftol, xtol=xtol,
        gtol=gtol, x_scale=x_scale, loss=loss, f_scale=_check_f_scale(f_scale, loss),
        diff_step=diff_step, tr_solver=tr_solver, tr_options=dict(tr_options),
        jac_sparsity=jac_sparsity,
        max_nfev=(100 * x0.size if max_nfev is None
                  else int(max_nfev) if np.isfinite(max_nfev) else np.inf),
        verbose=int(verbose), args=args, kwargs=dict(kwargs))


def check_initial_point(f0, n, method):
    """Checks of the residuals at x0. Returns f0 as float64."""
    if f0.ndim != 1:
        raise ValueError(f"`fun` must return at most 1-d array_like. f0.shape: {f0.shape}")
    if np.iscomplexobj(f0):
        raise ValueError("`fun` must return real residuals; wrap a complex "
                         "function as shown in the documentation.")
    if f0.dtype.kind not in "biuf":
        raise TypeError(f"`fun` must return real numbers, not an array of dtype "
                        f"{f0.dtype}.")
    f0 = f0.astype(float)
    if not np.isfinite(f0).all():
        raise ValueError("Residuals are not finite in the initial point.")
    if not METHODS[method].underdetermined and f0.size < n:
        raise ValueError(f"Method '{method}' doesn't work when the number of residuals "
                         "is less than the number of variables.")
    return f0


def check_jac_sparsity(jac_sparsity, m, n):
    """The sparsity pattern as a 2-d array or sparse matrix of shape (m, n)."""
    if not issparse(jac_sparsity):
        jac_sparsity = np.atleast_2d(jac_sparsity)
    if jac_sparsity.shape != (m, n):
        raise ValueError("`jac_sparsity` has wrong shape.")
    return jac_sparsity


def check_jacobian(J0, m, n, opts):
    """Checks of the Jacobian at x0; returns the trust-region solver to use."""
    if J0.shape != (m, n):
        raise ValueError(f"The return value of `jac` has wrong shape: expected {(m, n)}, "
                         f"actual {J0.shape}.")
    dense = isinstance(J0, np.ndarray)
    if not dense:
        if not METHODS[opts.method].sparse:
            raise ValueError(f"method='{opts.method}' works only with dense Jacobian "
                             "matrices.")
        if opts.tr_solver == "exact":
            raise ValueError("tr_solver='exact' works only with dense Jacobian matrices.")
    if isinstance(J0, LinearOperator) and isinstance(opts.x_scale, str):
        raise ValueError("x_scale='jac' can't be used when `jac` returns LinearOperator.")
    if dense and not np.isfinite(J0).all():
        raise ValueError("The Jacobian at the initial point is not finite.")
    if opts.tr_solver is None:
        return "exact" if dense else "lsmr"
    return opts.tr_solver
