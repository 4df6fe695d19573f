"""Fit an external program to measured data: the Python door of `lsqbox fit`.

    from lsqbox.calibration import fit
    result = fit("job.toml", workers=2)
    result["parameters"]["k1"]        # {'value': ..., 'stderr': ..., ...}

The solver is `lsqbox.least_squares` on the free parameters in solver space
(log10 for `log = true`), with the model evaluations run by a thread pool (the
heavy work happens in the external processes) or a Dask cluster. Standard
errors come from a fresh forward-difference Jacobian at the solution (its
evaluations are journaled like all others, and answered from the journal when
the solver already made them), mapped from solver space to parameter values.
"""
import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..api import least_squares
from ..executor import open_executor
from ..fit.covariance import covariance_from_jacobian
from ..jacobian.finite_difference import FiniteDifferenceJacobian
from ..problem import BoundFunction, Problem
from .config import Job, load_job
from .journal import Journal
from .model import ExternalModel, JournalCache, load_data
from .progress import FitState, MonitoredExecutor, ProgressDisplay
from .template import check_coverage

__all__ = ["fit", "open_workers"]


def open_workers(job, workers=None, dask_address=None):
    """(executor, closer) for the model runs: threads locally, or a Dask Client."""
    address = dask_address
    spec = workers if workers is not None else job.solver.workers
    if address is None and isinstance(spec, str) and spec.startswith("dask://"):
        address = spec[len("dask://"):]
    if address is not None:
        from dask.distributed import Client
        client = Client(address)
        return client.get_executor(), client.close
    pool = ThreadPoolExecutor(max_workers=int(spec))
    return pool, lambda: pool.shutdown(wait=True)


def fit(job, workers=None, dask_address=None, fresh=False, progress=True, stream=None):
    """Run the calibration described by `job` (a path or a `Job`); returns the
    result dictionary that is also written to ``<job>.result.json``."""
    job = job if isinstance(job, Job) else load_job(job)
    if fresh:
        _remove(job.journal_path)
        shutil.rmtree(job.runs_dir, ignore_errors=True)
    data = load_data(job)
    # The model only runs the program (in threads, processes or on Dask
    # workers); this process keeps the journal, through least_squares' cache.
    model = ExternalModel(job, data, journal=False, carry_info=True)
    cache = JournalCache(job.journal_path)
    check_coverage(list(model.templates.values()), job.parameters.free_names,
                   known_names=job.parameters.names)

    inner, close = open_workers(job, workers, dask_address)
    state = FitState(job.parameters.free_names)
    executor = MonitoredExecutor(inner, state)
    display = ProgressDisplay(state, stream).start() if progress else None
    trace = []

    def callback(intermediate_result):
        values = job.parameters.values(intermediate_result.x)
        trace.append({"iteration": int(intermediate_result.nit),
                      "cost": float(intermediate_result.cost),
                      "nfev": int(intermediate_result.nfev), "values": values})
        with state.lock:
            state.iteration = int(intermediate_result.nit)
            state.best_cost = float(intermediate_result.cost)
            state.best_values = {k: values[k] for k in job.parameters.free_names}

    solver = job.solver
    lb, ub = job.parameters.bounds()
    x0 = job.parameters.x0()
    start = time.monotonic()
    try:
        res = least_squares(model, x0, jac=solver.jac, bounds=(lb, ub),
                            method=solver.method, ftol=solver.ftol, xtol=solver.xtol,
                            gtol=solver.gtol, loss=solver.loss, f_scale=solver.f_scale,
                            max_nfev=solver.max_evaluations, workers=executor,
                            callback=callback, max_time=solver.max_time, cache=cache,
                            speculative_trials=solver.speculative_trials)
        J = _fresh_jacobian(model, res, x0, lb, ub, executor, cache)
    finally:
        if display is not None:
            display.stop()
        close()
        cache.close()
    result = _summarize(job, data, res, J, trace, time.monotonic() - start)
    job.result_path.write_text(json.dumps(result, indent=2, default=_json_default))
    return result


def _fresh_jacobian(model, res, x0, lb, ub, executor, cache):
    """Forward differences at the solution, through the journal. The steps
    follow the solver's rule (typical sizes from the same x0), so a refresh
    the solver already made at the solution is answered by the journal."""
    with open_executor(executor) as handle:
        problem = Problem(BoundFunction(model), handle)
        problem.m = res.fun.size
        problem.cache = cache
        fd = FiniteDifferenceJacobian(problem, "2-point", x0, lb, ub, np.float64)
        return fd.jacobian(res.x, res.fun)


def _summarize(job, data, res, J, trace, seconds):
    params = job.parameters
    cov = covariance_from_jacobian(J, res.cost, absolute_sigma=data.weighted,
                                   active_mask=res.active_mask)
    scale = params.value_jacobian(res.x)
    cov_values = cov.matrix * np.outer(scale, scale)
    with np.errstate(invalid="ignore"):
        stderr = np.sqrt(np.diag(cov_values))
        corr = cov_values / np.outer(stderr, stderr)
    values = params.values(res.x)
    parameters = {}
    free_index = {name: i for i, name in enumerate(params.free_names)}
    for p in params.parameters:
        entry = {"value": values[p.name], "fixed": p.fixed, "log": p.log}
        if not p.fixed:
            i = free_index[p.name]
            entry["stderr"] = _finite_or_none(stderr[i])
            entry["at_bound"] = {-1: "lower", 1: "upper"}.get(int(res.active_mask[i]))
        parameters[p.name] = entry
    counts = {}
    alignment = set()
    with Journal(job.journal_path) as journal:
        counts = journal.counts()
        for record in journal.records():
            if record.status == "ok" and record.outputs:
                alignment.update(record.outputs.get("alignment", []))
    chi2 = float(np.dot(res.fun, res.fun))       # sum of squared (weighted) residuals
    return {
        "job": str(job.path),
        "parameters": parameters,
        "cost": float(res.cost),
        "loss": job.solver.loss,
        "chi_square": chi2,
        "dof": int(cov.dof),
        "reduced_chi_square": chi2 / cov.dof if cov.dof > 0 else None,
        "weighted": data.weighted,
        "status": int(res.status),
        "message": res.message,
        "success": bool(res.success),
        "evaluations": int(res.nfev_total),
        "rounds": int(res.nrounds),
        "iterations": int(res.nit),
        "runs": counts,
        "failures": [{"values": params.values(f["x"]), "purpose": f["purpose"],
                      "reason": f["reason"]} for f in res.failures],
        "rank_deficient": bool(cov.rank_deficient),
        "correlation": {"names": params.free_names,
                        "matrix": [[_finite_or_none(v) for v in row] for row in corr]},
        "alignment": sorted(alignment),
        "seconds": seconds,
        "x_solver": [float(v) for v in res.x],
        "trace": trace,
    }


def _finite_or_none(v):
    v = float(v)
    return v if np.isfinite(v) else None


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj)}")


def _remove(path):
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
