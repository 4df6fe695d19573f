#!/usr/bin/env python
"""How low can the overhead go? A lean TRF loop as a reference floor.

Not part of lsqbox and not a solver to use: a ~80-line transcription of
SciPy's ``trf_no_bounds`` (unbounded, dense Jacobian, linear loss, x_scale=1)
written for low per-iteration cost: a direct LAPACK ``gesdd`` call with a
cached work size instead of ``scipy.linalg.svd``, Python floats and
``math.sqrt(v.dot(v))`` instead of ``numpy.linalg.norm``, a lean
``phi(alpha)``, and no per-iteration objects. It takes the same steps as SciPy
(same nfev, njev, cost), so the time difference is pure overhead.

On the 3-parameter, 100-point exponential fit it shows whether the target
"lsqbox's overhead <= 0.5 x SciPy's trf overhead" is reachable in Python.

    python benchmarks/floor_lean_trf.py
"""
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (first: sets the BLAS thread limit)

import numpy as np  # noqa: E402
from scipy.linalg.lapack import get_lapack_funcs  # noqa: E402
import scipy.optimize as so  # noqa: E402

import bench_small  # noqa: E402
import lsqbox  # noqa: E402

EPS = np.finfo(float).eps
_GESDD = {}


def svd(A):
    """Thin SVD by a direct LAPACK gesdd call with a cached work size."""
    m, n = A.shape
    if (m, n) not in _GESDD:
        gesdd, gesdd_lwork = get_lapack_funcs(("gesdd", "gesdd_lwork"), (A,))
        lwork = int(gesdd_lwork(m, n, compute_uv=1, full_matrices=0)[0])
        _GESDD[(m, n)] = (gesdd, lwork)
    gesdd, lwork = _GESDD[(m, n)]
    u, s, vt, info = gesdd(A, compute_uv=1, full_matrices=0, lwork=lwork)
    if info != 0:
        raise np.linalg.LinAlgError("gesdd failed")
    return u, s, vt


def lsq_trust_region(n, m, uf, s, V, Delta, alpha):
    """Moré's LM step from the SVD (SciPy's solve_lsq_trust_region)."""
    suf = s * uf
    full_rank = m >= n and s[-1] > EPS * m * s[0]
    if full_rank:
        p = -V.dot(uf / s)
        if math.sqrt(p.dot(p)) <= Delta:
            return p, 0.0

    def phi(a):
        d = s * s + a
        q = suf / d
        q_norm = math.sqrt(q.dot(q))
        return q_norm - Delta, -q.dot(q / d) / q_norm

    alpha_upper = math.sqrt(suf.dot(suf)) / Delta
    if full_rank:
        ph, dph = phi(0.0)
        alpha_lower = -ph / dph
    else:
        alpha_lower = 0.0
    if alpha is None or (not full_rank and alpha == 0):
        alpha = max(0.001 * alpha_upper, math.sqrt(alpha_lower * alpha_upper))
    for _ in range(10):
        if alpha < alpha_lower or alpha > alpha_upper:
            alpha = max(0.001 * alpha_upper, math.sqrt(alpha_lower * alpha_upper))
        ph, dph = phi(alpha)
        if ph < 0:
            alpha_upper = alpha
        ratio = ph / dph
        alpha_lower = max(alpha_lower, alpha - ratio)
        alpha -= (ph + Delta) * ratio / Delta
        if abs(ph) < 0.01 * Delta:
            break
    p = -V.dot(suf / (s * s + alpha))
    p *= Delta / math.sqrt(p.dot(p))
    return p, alpha


def lean_trf(fun, jac, x0, ftol=1e-8, xtol=1e-8, gtol=1e-8):
    """SciPy's trf_no_bounds with x_scale=1 and the linear loss.

    Returns (x, cost, nfev, njev, status)."""
    x = np.array(x0, dtype=float)
    f = fun(x)
    J = jac(x)
    nfev = njev = 1
    m, n = J.shape
    max_nfev = 100 * n
    cost = 0.5 * f.dot(f)
    g = J.T.dot(f)
    Delta = math.sqrt(x.dot(x)) or 1.0
    alpha = 0.0
    status = None
    while True:
        if float(np.abs(g).max()) < gtol:
            status = 1
        if status is not None or nfev == max_nfev:
            break
        U, s, Vt = svd(J)
        V = Vt.T
        uf = U.T.dot(f)
        actual_reduction = -1.0
        while actual_reduction <= 0 and nfev < max_nfev:
            step, alpha = lsq_trust_region(n, m, uf, s, V, Delta, alpha)
            Js = J.dot(step)
            predicted = -(0.5 * Js.dot(Js) + g.dot(step))
            x_new = x + step
            f_new = fun(x_new)
            nfev += 1
            step_norm = math.sqrt(step.dot(step))
            if not math.isfinite(f_new.sum()) and not np.all(np.isfinite(f_new)):
                Delta = 0.25 * step_norm
                continue
            cost_new = 0.5 * f_new.dot(f_new)
            actual_reduction = cost - cost_new
            if predicted > 0:
                ratio = actual_reduction / predicted
            else:
                ratio = 1.0 if predicted == actual_reduction == 0 else 0.0
            Delta_new = Delta
            if ratio < 0.25:
                Delta_new = 0.25 * step_norm
            elif ratio > 0.75 and step_norm > 0.95 * Delta:
                Delta_new = 2.0 * Delta
            ftol_ok = actual_reduction < ftol * cost and ratio > 0.25
            xtol_ok = step_norm < xtol * (xtol + math.sqrt(x.dot(x)))
            if ftol_ok or xtol_ok:
                status = 4 if ftol_ok and xtol_ok else (2 if ftol_ok else 3)
                break
            alpha *= Delta / Delta_new
            Delta = Delta_new
        if actual_reduction > 0:
            x, f, cost = x_new, f_new, cost_new
            J = jac(x)
            njev += 1
            g = J.T.dot(f)
    return x, cost, nfev, njev, status


def measure(rounds=500):
    """Interleaved thread-CPU timing of scipy, lsqbox and the lean loop on the
    exponential fit. Returns dict name -> (median CPU s, overhead s) and the
    check that the lean loop matches SciPy's iterations."""
    t, y = bench_small.exponential_data()
    fun, jac = bench_small.exponential_problem(t, y)
    x0 = np.array([1.0, 1.0, -0.1])
    ref = so.least_squares(fun, x0, jac=jac)
    _, cost, nfev, njev, _ = lean_trf(fun, jac, x0)
    same = (nfev, njev) == (ref.nfev, ref.njev) and abs(cost - ref.cost) <= 1e-12 * ref.cost
    cands = {"scipy": lambda: so.least_squares(fun, x0, jac=jac),
             "lsqbox": lambda: lsqbox.least_squares(fun, x0, jac=jac),
             "lean floor": lambda: lean_trf(fun, jac, x0)}
    res = {k: [] for k in cands}
    for c in cands.values():
        for _ in range(20):
            c()
    for _ in range(rounds):          # interleaved, thread CPU time
        for k, c in cands.items():
            c0 = time.thread_time()
            c()
            res[k].append(time.thread_time() - c0)
    inside = []
    for _ in range(200):
        c0 = time.thread_time()
        for _ in range(nfev):
            fun(x0)
        for _ in range(njev):
            jac(x0)
        inside.append(time.thread_time() - c0)
    fi = float(np.median(inside))
    out = {k: (float(np.median(v)), float(np.median(v)) - fi) for k, v in res.items()}
    return out, fi, same


def report(out, fi, same):
    base = out["scipy"][1]
    lines = [f"Exponential fit (3 parameters, 100 points, analytic jac, trf), thread "
             f"CPU time, median of interleaved solves; time inside fun/jac "
             f"{fi * 1e3:.3f} ms per solve. The lean loop takes "
             f"{'the same' if same else 'NOT the same'} steps as SciPy.", ""]
    rows = [[k, f"{v[0] * 1e3:.3f}", f"{v[1] * 1e3:.3f}", f"{v[1] / base:.2f}"]
            for k, v in out.items()]
    lines.append(common.markdown_table(["solver", "CPU ms", "overhead ms",
                                        "overhead / SciPy's"], rows))
    return "\n".join(lines)


def main():
    out, fi, same = measure()
    print(report(out, fi, same))


if __name__ == "__main__":
    main()
