#!/usr/bin/env python
"""method='lm' per solve: lsqbox vs SciPy's least_squares(method='lm') vs
MINPACK's leastsq (the compiled loop), side by side in one run.

    python benchmarks/bench_lm.py            # writes docs/benchmarks_lm.md

Median CPU time per solve over interleaved repeats (the three solvers take
turns, so drift on a shared machine hits them alike). For leastsq the analytic
Jacobian is passed as Dfun; for '2-point' leastsq uses MINPACK's lmdif.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (first: sets the BLAS thread limit)

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.optimize import least_squares as scipy_least_squares, leastsq  # noqa: E402

import lsqbox  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "behavior"))
import nist_strd  # noqa: E402


def _rosen(x):
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def _rosen_jac(x):
    return np.array([[-20 * x[0], 10.0], [-1.0, 0.0]])


_T = np.linspace(0, 10, 100)
_Y = 2 + 3 * np.exp(-0.5 * _T) + 0.05 * np.random.default_rng(0).standard_normal(100)


def _exp(p):
    return p[0] + p[1] * np.exp(p[2] * _T) - _Y


def _exp_jac(p):
    e = np.exp(p[2] * _T)
    return np.column_stack([np.ones_like(_T), e, p[1] * _T * e])


def gaussians_case(k, m, seed=1, spread=0.05):
    """Sum of k Gaussian peaks (3k parameters) sampled at m points, started
    from parameters perturbed by a few percent: a mid-size fit where the linear algebra,
    not the interpreter, dominates."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, m)
    centers = (np.arange(k) + 0.5) / k
    true = np.column_stack([1.0 + rng.uniform(0, 1, k), centers,
                            np.full(k, 0.3 / k)]).ravel()
    def model(p):
        a, c, w = p[0::3, None], p[1::3, None], p[2::3, None]
        return a * np.exp(-((t - c) / w) ** 2)
    y = model(true).sum(axis=0) + 0.01 * rng.standard_normal(m)

    def fun(p):
        return model(p).sum(axis=0) - y

    def jac(p):
        a, c, w = p[0::3, None], p[1::3, None], p[2::3, None]
        u = (t - c) / w
        e = np.exp(-u ** 2)
        J = np.empty((m, p.size))
        J[:, 0::3] = e.T
        J[:, 1::3] = (a * e * 2 * u / w).T
        J[:, 2::3] = (a * e * 2 * u ** 2 / w).T
        return J

    x0 = true * (1 + spread * rng.standard_normal(true.size))
    return (f"{k} Gaussians, {3 * k} params, m={m}", fun, jac, x0)


def cases():
    out = [("Rosenbrock (-1.2, 1)", _rosen, _rosen_jac, np.array([-1.2, 1.0])),
           ("exp fit, 3 params, m=100", _exp, _exp_jac, np.array([1.0, 1.0, -1.0]))]
    for name in ("Misra1a", "Thurber", "Lanczos3", "MGH09"):
        ds = nist_strd.load(name)
        out.append((f"NIST {name} start 2", ds.residuals, ds.jac, ds.start(2)))
    return out


def medium_cases():
    return [gaussians_case(8, 2000), gaussians_case(16, 5000, spread=0.02)]


def _time(fn, repeats):
    t = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        t.append(time.process_time() - t0)
    return t


def run(budget=0.4, case_list=None):
    rows = []
    for name, fun, jac, x0 in (cases() if case_list is None else case_list):
        for kind in ("analytic", "2-point"):
            solvers = {
                "lsqbox lm": lambda: lsqbox.least_squares(
                    fun, x0, jac=jac if kind == "analytic" else "2-point", method="lm"),
                "scipy least_squares lm": lambda: scipy_least_squares(
                    fun, x0, jac=jac if kind == "analytic" else "2-point", method="lm"),
                "MINPACK leastsq": lambda: leastsq(
                    fun, x0, Dfun=jac if kind == "analytic" else None, full_output=True),
            }
            for s in solvers.values():
                s()                                     # warm-up
            t0 = time.process_time()
            solvers["lsqbox lm"]()
            per = max(time.process_time() - t0, 1e-5)
            repeats = max(5, min(200, int(budget / per / 3)))
            times = {k: [] for k in solvers}
            for _ in range(repeats):
                for k, s in solvers.items():
                    times[k] += _time(s, 1)
            med = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
            nfev = lsqbox.least_squares(fun, x0, jac=jac if kind == "analytic" else "2-point",
                                        method="lm").nfev
            sp_nfev = scipy_least_squares(fun, x0, jac=jac if kind == "analytic" else "2-point",
                                          method="lm").nfev
            rows.append((name, kind, med, (nfev, sp_nfev)))
            print(f"{name:28s} {kind:9s} " + "  ".join(f"{k} {v:.3f} ms" for k, v in med.items()),
                  flush=True)
    return rows


def _table(rows):
    lines = ["| problem | jac | lsqbox lm | SciPy least_squares lm | MINPACK leastsq | "
             "lsqbox / leastsq | lsqbox / SciPy lm | nfev lsqbox / SciPy |",
             "| :-- | :-- | --: | --: | --: | --: | --: | --: |"]
    r_lsq, r_sp = [], []
    for name, kind, med, (nfev, sp_nfev) in rows:
        a, b, c = med["lsqbox lm"], med["scipy least_squares lm"], med["MINPACK leastsq"]
        r_lsq.append(a / c)
        r_sp.append(a / b)
        lines.append(f"| {name} | {kind} | {a:.3f} | {b:.3f} | {c:.3f} | {a / c:.2f} | "
                     f"{a / b:.2f} | {nfev} / {sp_nfev} |")
    g = lambda v: float(np.exp(np.mean(np.log(v))))  # noqa: E731
    return lines, g(r_lsq), g(r_sp)


def write(rows, medium_rows=(), path=ROOT / "docs" / "benchmarks_lm.md"):
    lines = ["# method='lm': lsqbox vs SciPy vs MINPACK's leastsq", "",
             f"Generated by `benchmarks/bench_lm.py` on {time.strftime('%Y-%m-%d')}, "
             f"SciPy {scipy.__version__}, NumPy {np.__version__}; median CPU ms per solve "
             "over interleaved repeats (one BLAS thread).", "",
             "## Small problems (the target's set)", ""]
    table, g_lsq, g_sp = _table(rows)
    lines += table
    lines += ["", f"Geometric means: lsqbox / leastsq {g_lsq:.2f}, lsqbox / SciPy "
              f"least_squares(lm) {g_sp:.2f}. The targets (within 2x of leastsq, faster "
              "than SciPy's lm) are "
              + ("met." if g_lsq <= 2 and g_sp < 1 else
                 "**not met**: MINPACK's whole loop is compiled Fortran, while lsqbox's lm "
                 "is a Python loop over LAPACK calls (one pivoted QR and one small SVD per "
                 "accepted point, O(n) per trial); on problems this small the per-iteration "
                 "interpreter cost dominates. For expensive residual functions the "
                 "difference vanishes; the evaluation counts are MINPACK's, or fewer where "
                 "damped Gauss-Newton steps cut a linearly converging tail (the nfev "
                 "columns).")]
    if medium_rows:
        table, g_lsq, g_sp = _table(medium_rows)
        lines += ["", "## Mid-size problems", "",
                  "Where the factorizations cost more than the interpreter: lsqbox's "
                  "pivoted QR and SVD are LAPACK's (blocked, optimized BLAS), MINPACK's "
                  "are its own Fortran loops.", ""] + table
        lines += ["", f"Geometric means: lsqbox / leastsq {g_lsq:.2f}, lsqbox / SciPy "
                  f"least_squares(lm) {g_sp:.2f}."]
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    write(run(), run(budget=2.0, case_list=medium_cases()))
