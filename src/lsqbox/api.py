"""`least_squares`: SciPy's signature; validate, build the parts, run the loop."""
import warnings

import numpy as np

from . import driver
from .bounds import make_strictly_feasible
from .executor import open_executor
from .jacobian import BroydenJacobian, CallableJacobian, FiniteDifferenceJacobian
from .losses import make_loss
from .methods import METHODS
from .options import check_initial_point, check_jacobian, check_jac_sparsity, validate
from .problem import BoundFunction, Problem
from .strategies.dogbox import DogboxStrategy
from .strategies.lm import LMStrategy
from .strategies.trf import TRFStrategy

__all__ = ["least_squares"]


def least_squares(fun, x0, jac="2-point", bounds=(-np.inf, np.inf), method="trf",
                  ftol=1e-8, xtol=1e-8, gtol=1e-8, x_scale=None, loss="linear",
                  f_scale=1.0, diff_step=None, tr_solver=None, tr_options=None,
                  jac_sparsity=None, max_nfev=None, verbose=0, args=(), kwargs=None,
                  callback=None, workers=None, *, jac_options=None, noise=None,
                  max_time=None, eval_timeout=None, max_failures=20, cache=None,
                  speculative_trials=0):
    """Solve a nonlinear least-squares problem with bounds on the variables.

    A drop-in replacement for `scipy.optimize.least_squares`: same signature,
    defaults, result fields, status codes, messages and exceptions. Minimizes

        F(x) = 0.5 * sum(rho(f_i(x)**2), i = 0, ..., m - 1)  subject to lb <= x <= ub.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args, **kwargs)`` returning the residuals, shape (m,) or scalar.
    x0 : array_like, shape (n,) or float
        Initial guess (finite; inside the bounds).
    jac : {'2-point', '3-point', 'cs', callable}
        Finite-difference scheme, or ``jac(x, *args, **kwargs)`` returning a dense
        array, a sparse matrix/array or a LinearOperator of shape (m, n).
    bounds : 2-tuple of array_like or `scipy.optimize.Bounds`
        Lower and upper bounds (scalars broadcast); ``±np.inf`` for none.
    method : {'trf', 'dogbox', 'lm'}
        Trust Region Reflective (default), dogleg with rectangular trust regions,
        or Levenberg-Marquardt.
    ftol, xtol, gtol : float or None
        Tolerances on the cost change, the step and the (scaled) gradient.
    x_scale : None, array_like or 'jac'
        Characteristic scale of each variable; 'jac' uses the inverse norms of the
        Jacobian's columns (running maximum).
    loss : {'linear', 'soft_l1', 'huber', 'cauchy', 'arctan'} or callable
        Robust loss rho(z); a callable takes z = f**2 and returns shape (3, m).
    f_scale : float
        Soft margin between inlier and outlier residuals.
    diff_step : None or array_like
        Relative finite-difference step.
    tr_solver : {None, 'exact', 'lsmr'}
        Trust-region subproblem solver; None picks 'exact' for dense Jacobians.
    tr_options : dict
        Options for LSMR (and ``regularize`` for 'trf').
    jac_sparsity : None, array_like or sparse, shape (m, n)
        Nonzero pattern for grouped finite differences.
    max_nfev : None or int
        Budget of solver evaluations (100 * n by default; finite differences
        are not counted, as in SciPy).
    verbose : {0, 1, 2}
        0 silent, 1 termination report, 2 an iteration table.
    args, kwargs : tuple and dict
        Extra arguments of `fun` and `jac`.
    callback : callable
        ``callback(intermediate_result)`` or ``callback(x)`` after each
        iteration; returning True or raising StopIteration stops (status -2).
    workers : None, int, map-like callable, concurrent.futures.Executor or dask Client
        Runs the finite-difference evaluations of a Jacobian in parallel (one
        batch per Jacobian).

    lsqbox's extras (keyword-only):

    jac='broyden'
        Forward differences at the start, then Broyden rank-1 updates after
        every trial evaluation, with finite-difference refreshes when the model
        goes stale (see `lsqbox.jacobian.broyden`). ``max_nfev`` then counts
        every call of ``fun``.
    jac_options : dict
        Options of the Broyden source (defaults in
        ``lsqbox.jacobian.broyden.DEFAULT_OPTIONS``): max_updates, poor_ratio,
        poor_steps, radius_shrinks, partial_refresh, explored_threshold,
        radius_restore, noise_restarts, secant_memory, memory_angle,
        memory_distance, interpolated_shrink (method='trf': MINPACK's radius
        after a poor step; default on with smooth residuals, off with noise).
    noise : None, 'auto' or float
        Relative noise level of the residuals. 'auto' estimates it at x0 from
        8 extra evaluations (a difference table, Moré & Wild's ECnoise); the
        finite-difference steps are then sqrt(noise) instead of sqrt(eps).
        With jac='broyden', one more evaluation at x0 tells stochastic noise
        from deterministic noise (the same value again); the restarts that
        spend the remaining budget never repeat a point for the latter, and
        two restarts at one point measure each column's curvature, which
        shortens the steps of strongly curved columns to their noise-optimal
        size.
    max_time : float
        Wall-time budget in seconds; the best point so far is returned with
        status 0.
    eval_timeout : float
        Seconds one evaluation may take (needs a parallel `workers` or runs the
        serial evaluation in a helper thread); a late one is a failed evaluation.
    max_failures : int
        Consecutive failed trial evaluations tolerated before stopping with
        status -3. Failed evaluations are listed in ``result.failures``.
    cache : object with ``lookup(x)``, ``start(xs)`` and ``record(x, value)``
        An evaluation cache consulted in this process before anything is run
        and told every new result before the solver sees it (the calibration
        journal, ``lsqbox.calibration.JournalCache``, is one). ``lookup``
        returns None, the residuals, or a `lsqbox.problem.Failure`.
    speculative_trials : int
        Extra trial points per round (default 0: one trial at a time, SciPy's
        path). With k, each round evaluates the step for the trust radius and
        the steps for the k radii that rejections of the steps before would
        leave (a quarter of each step), as one batch: with idle `workers` they
        cost the wall time of one evaluation. The first of them, in that
        order, that lowers the cost is judged with its own radius (as the
        one-at-a-time loop would have reached it); with jac='broyden' every
        point also updates the Jacobian. ``result.nrounds`` counts the rounds. The path
        does not depend on `workers` (serial and parallel give the same
        result), but it is not SciPy's path.

    Returns
    -------
    LeastSquaresResult
        SciPy's fields (x, cost, fun, jac, grad, optimality, active_mask, nfev,
        njev, status, message, success) plus ``nit``, ``nfev_total``,
        ``nrounds`` (batches of evaluations: the wall-time units of a parallel
        solve) and ``failures``.
    """
    result, _ = solve(fun, x0, jac, bounds, method, ftol, xtol, gtol, x_scale, loss,
                      f_scale, diff_step, tr_solver, tr_options, jac_sparsity, max_nfev,
                      verbose, args, kwargs, callback, workers, jac_options=jac_options,
                      noise=noise, max_time=max_time, eval_timeout=eval_timeout,
                      max_failures=max_failures, cache=cache,
                      speculative_trials=speculative_trials)
    return result


def solve(fun, x0, jac, bounds, method, ftol, xtol, gtol, x_scale, loss, f_scale,
          diff_step, tr_solver, tr_options, jac_sparsity, max_nfev, verbose, args,
          kwargs, callback, workers, jac_options=None, noise=None, max_time=None,
          eval_timeout=None, max_failures=20, cache=None, speculative_trials=0):
    """`least_squares` returning ``(result, strategy)``: the strategy keeps the
    method's final factorization (curve_fit's 'lm' covariance uses it)."""
    opts = validate(fun, x0, jac, bounds, method, ftol, xtol, gtol, x_scale, loss,
                    f_scale, diff_step, tr_solver, tr_options, jac_sparsity, max_nfev,
                    verbose, args, kwargs)
    x0 = opts.x0
    if opts.method == "trf" and opts.bounded:
        x0 = make_strictly_feasible(x0, opts.lb, opts.ub)

    extras = _check_extras(opts, jac_options, noise, max_time, eval_timeout, max_failures,
                           speculative_trials)
    with open_executor(workers, eval_timeout) as executor:
        problem = Problem(BoundFunction(fun, opts.args, opts.kwargs), executor)
        problem.count_all = opts.jac == "broyden"
        if cache is not None:
            for name in ("lookup", "start", "record"):
                if not callable(getattr(cache, name, None)):
                    raise TypeError(f"`cache` must have a `{name}` method")
            problem.cache = cache
        f0_raw = problem.evaluate_initial(x0)
        f0 = check_initial_point(f0_raw, x0.size, opts.method)
        m, n = f0.size, x0.size
        problem.m = m
        loss_obj = make_loss(opts.loss, opts.f_scale)
        if callable(opts.loss):
            loss_obj.rho(f0)  # raises if the callable's output has the wrong shape
        noise_level, stochastic = _noise(noise, problem, x0, f0, opts.lb, opts.ub,
                                         opts.jac == "broyden")
        jacobian = _jacobian_source(opts, problem, x0, f0_raw.dtype, m, n, noise_level,
                                    jac_options, stochastic)
        J0 = jacobian.jacobian(x0, f0)
        _refuse_unmeasured_columns(jacobian, x0)
        tr_solver = check_jacobian(J0, m, n, opts)
        if m == 0 or n == 0:
            return _degenerate_result(x0, f0, J0, problem, jacobian), None
        strategy = _strategy(opts, tr_solver, x0)
        if opts.method == "trf" and isinstance(jacobian, BroydenJacobian):
            # Every trial is a run: MINPACK's radius after a poor step
            # (strategies/rules.py); SciPy's rule for every other jac.
            strategy.interpolated_shrink = jacobian.interpolated_shrink
        # lm keeps its own scaling (MINPACK's diag); the driver's is unused.
        driver_scale = np.ones(n) if opts.method == "lm" else opts.x_scale
        settings = driver.Settings(ftol=opts.ftol, xtol=opts.xtol, gtol=opts.gtol,
                                   max_nfev=opts.max_nfev, x_scale=driver_scale,
                                   verbose=opts.verbose, callback=callback,
                                   report_njev=(callable(opts.jac) or opts.jac == "broyden"
                                                or METHODS[opts.method].fd_njev),
                                   **extras)
        result = driver.run(problem, jacobian, strategy, loss_obj, x0, f0, settings, J0)

    if opts.verbose >= 1:
        print(result.message)
        print(f"Function evaluations {result.nfev}, initial cost "
              f"{loss_obj.cost(f0):.4e}, final cost {result.cost:.4e}, "
              f"first-order optimality {result.optimality:.2e}.")
    return result, strategy


def _refuse_unmeasured_columns(jacobian, x0):
    """Finite-difference columns that no step could evaluate at x0 have no
    earlier value to fall back on; a zero column would let the gradient test
    certify a parameter that was never measured. That is a failure at x0."""
    fd = getattr(jacobian, "fd", jacobian)
    frozen = getattr(fd, "frozen", None)
    if frozen is not None and frozen.size:
        raise ValueError(
            f"Finite differences failed at the initial point x0 = {x0!r} for columns "
            f"{frozen.tolist()} (after the opposite and half steps): "
            f"{'; '.join(fd.frozen_reasons)}")


def _degenerate_result(x0, f0, J0, problem, jacobian):
    """No variables or no residuals: nothing to minimize (SciPy reports gtol)."""
    from .result import LeastSquaresResult
    from .termination import MESSAGES, Status
    n = x0.size
    return LeastSquaresResult(
        x=x0, cost=0.5 * float(np.dot(f0, f0)), fun=f0, jac=J0,
        grad=np.zeros(n), optimality=0.0, active_mask=np.zeros(n, dtype=int),
        nfev=problem.nfev, njev=jacobian.n_evaluations, status=int(Status.GTOL),
        message=MESSAGES[Status.GTOL], success=True, nit=0,
        nfev_total=problem.nfev_total, nrounds=problem.rounds, failures=[])


def _check_extras(opts, jac_options, noise, max_time, eval_timeout, max_failures,
                  speculative_trials=0):
    """Validate lsqbox's keyword-only extras; returns driver settings."""
    if jac_options is not None and opts.jac != "broyden":
        raise ValueError("`jac_options` applies to jac='broyden' only.")
    if jac_options is not None and not isinstance(jac_options, dict):
        raise TypeError("`jac_options` must be a dict.")
    if noise is not None and not (noise == "auto" or (np.isscalar(noise) and 0 < noise < 1)):
        raise ValueError("`noise` must be None, 'auto' or a relative level in (0, 1).")
    for name, value in (("max_time", max_time), ("eval_timeout", eval_timeout)):
        if value is not None and not (np.isscalar(value) and value > 0):
            raise ValueError(f"`{name}` must be None or a positive number of seconds.")
    if not (isinstance(max_failures, (int, np.integer)) and max_failures >= 1):
        raise ValueError("`max_failures` must be a positive integer.")
    if not (isinstance(speculative_trials, (int, np.integer))
            and not isinstance(speculative_trials, bool) and speculative_trials >= 0):
        raise ValueError("`speculative_trials` must be a non-negative integer.")
    return {"max_time": max_time, "max_failures": int(max_failures),
            "speculative_trials": int(speculative_trials)}


def _noise(noise, problem, x0, f0, lb, ub, broyden):
    """(relative level or None, stochastic): Broyden's restarts also need to
    know whether the noise is stochastic (noise.probe_noise)."""
    if noise is None:
        return None, False
    if broyden:
        from .noise import probe_noise
        return probe_noise(problem, x0, f0, lb, ub, noise)
    if noise == "auto":
        from .noise import estimate_noise
        return estimate_noise(problem, x0, f0, lb, ub), False
    return float(noise), False


def _jacobian_source(opts, problem, x0, f_dtype, m, n, noise_level=None,
                     jac_options=None, stochastic=False):
    if callable(opts.jac):
        return CallableJacobian(opts.jac, opts.args, opts.kwargs)
    if opts.jac == "broyden":
        fd = FiniteDifferenceJacobian(problem, "2-point", x0, opts.lb, opts.ub, f_dtype,
                                      diff_step=opts.diff_step, noise=noise_level)
        source = BroydenJacobian(fd, n, opts.x_scale, jac_options, stochastic_noise=stochastic)
        source.max_evaluations = opts.max_nfev
        return source
    sparsity = None
    if opts.jac_sparsity is not None:
        sparsity = check_jac_sparsity(opts.jac_sparsity, m, n)
    # Forward differences carry relative errors near sqrt(eps) ~ 1e-8: with
    # tighter step tolerances the final iterations switch to central ones.
    enabled = [tol for tol in (opts.ftol, opts.xtol) if tol > 0]
    refine = bool(enabled) and min(enabled) < 1e-10
    return FiniteDifferenceJacobian(problem, opts.jac, x0, opts.lb, opts.ub, f_dtype,
                                    diff_step=opts.diff_step, sparsity=sparsity,
                                    refine_to_central=refine, noise=noise_level)


def _strategy(opts, tr_solver, x0):
    tr_options = opts.tr_options
    if opts.method == "lm":
        return LMStrategy(opts.x_scale)
    if opts.method == "dogbox":
        if tr_solver == "lsmr" and "regularize" in tr_options:
            warnings.warn("The keyword 'regularize' in `tr_options` is not relevant "
                          "for 'dogbox' method.", stacklevel=3)
            tr_options = {k: v for k, v in tr_options.items() if k != "regularize"}
        return DogboxStrategy(opts.lb, opts.ub, tr_solver, tr_options, x0)
    return TRFStrategy(opts.lb, opts.ub, tr_solver, tr_options, bounded=opts.bounded)
