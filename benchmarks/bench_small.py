#!/usr/bin/env python
"""Speed on small problems: scipy.optimize.least_squares vs lsqbox.least_squares.

Small problems are where per-iteration Python overhead dominates, so besides
the wall time of a solve we measure the *overhead*: the solve's wall time
minus the time spent inside the user's residual and Jacobian functions. The
goal is an lsqbox overhead of at most half of SciPy's.

Problems (each with method='trf' and method='dogbox', and with 'lm' where
SciPy's 'lm' applies: no bounds, linear loss):

* Rosenbrock from (2, 2) and from (-1.2, 1), analytic Jacobian and '2-point';
* Rosenbrock from (2, 2) with the bound x[1] >= 1.5;
* exponential fit y = a + b exp(c t), 100 points, loss 'linear' and
  'soft_l1' (f_scale 0.1, with outliers), analytic Jacobian and '2-point';
* NIST StRD Misra1a, Thurber, MGH09 and Lanczos3 from both certified starting
  points, '2-point'.

    python benchmarks/bench_small.py               # prints the tables
    python benchmarks/bench_small.py --budget 0.2  # quicker, noisier
    python benchmarks/bench_small.py --methods trf --only "exp fit"
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (first: sets the BLAS thread limit)

import numpy as np  # noqa: E402

from common import (REPO, Case, compare, fmt_ms, fmt_ratio,  # noqa: E402
                    markdown_table, machine_info_markdown)

METHODS = ("trf", "dogbox", "lm")
NIST_DIRS = (REPO / "tests" / "data" / "nist_strd",
             Path("/work/shared/data/nist_strd"))


# --------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------
def rosenbrock(x):
    return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def rosenbrock_jac(x):
    return np.array([[-20.0 * x[0], 10.0], [-1.0, 0.0]])


def exponential_data(m=100, seed=0, outliers=False):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, m)
    y = 0.5 + 2.0 * np.exp(-0.3 * t) + 0.05 * rng.standard_normal(m)
    if outliers:
        idx = rng.choice(m, size=m // 10, replace=False)
        y[idx] += rng.uniform(1.0, 3.0, idx.size)
    return t, y


def exponential_problem(t, y):
    def fun(p):
        return p[0] + p[1] * np.exp(p[2] * t) - y

    def jac(p):
        e = np.exp(p[2] * t)
        J = np.empty((t.size, 3))
        J[:, 0] = 1.0
        J[:, 1] = e
        J[:, 2] = p[1] * t * e
        return J

    return fun, jac


# -- NIST StRD ----------------------------------------------------------------
def nist_path(name):
    for d in NIST_DIRS:
        p = d / f"{name}.dat"
        if p.is_file():
            return p
    raise FileNotFoundError(f"{name}.dat not found in {[str(d) for d in NIST_DIRS]}")


def load_nist(name):
    """(x, y, start1, start2, certified) from a NIST StRD .dat file.

    Starting values are on the lines ``b<k> = start1 start2 certified sd``; the
    data are the 'y x' rows after the last line starting with 'Data:'.
    """
    lines = nist_path(name).read_text().splitlines()
    starts = []
    data_at = None
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("b") and "=" in s and s.split("=")[0].strip()[1:].isdigit():
            starts.append([float(v) for v in s.split("=", 1)[1].split()])
        if line.startswith("Data:"):
            data_at = i
    rows = []
    for line in lines[data_at + 1:]:
        parts = line.split()
        if len(parts) >= 2:
            rows.append([float(parts[0]), float(parts[1])])
    data = np.array(rows)
    starts = np.array(starts)
    return data[:, 1], data[:, 0], starts[:, 0], starts[:, 1], starts[:, 2]


NIST_MODELS = {
    "Misra1a": lambda b, x: b[0] * (1.0 - np.exp(-b[1] * x)),
    "Thurber": lambda b, x: ((b[0] + b[1] * x + b[2] * x ** 2 + b[3] * x ** 3)
                             / (1.0 + b[4] * x + b[5] * x ** 2 + b[6] * x ** 3)),
    "MGH09": lambda b, x: b[0] * (x ** 2 + x * b[1]) / (x ** 2 + x * b[2] + b[3]),
    "Lanczos3": lambda b, x: (b[0] * np.exp(-b[1] * x) + b[2] * np.exp(-b[3] * x)
                              + b[4] * np.exp(-b[5] * x)),
}


def nist_fun(name):
    x, y, s1, s2, cert = load_nist(name)
    model = NIST_MODELS[name]

    def fun(b):
        return model(b, x) - y

    return fun, s1, s2, cert, x.size


# --------------------------------------------------------------------------
# The case list
# --------------------------------------------------------------------------
def lm_supported():
    """Whether this lsqbox has method='lm' (it came after trf and dogbox)."""
    try:
        common.SOLVERS["lsqbox"](rosenbrock, np.array([2.0, 2.0]), method="lm")
    except NotImplementedError:
        return False
    return True


def cases(methods=METHODS):
    """Every benchmark case. 'lm' gets only the unbounded, linear-loss problems
    (SciPy's 'lm' is MINPACK and supports nothing else)."""
    out = []
    if "lm" in methods and not lm_supported():
        methods = tuple(m for m in methods if m != "lm")
    for method in methods:
        for start in ((2.0, 2.0), (-1.2, 1.0)):
            for jac_name, jac in (("analytic", rosenbrock_jac), ("2-point", "2-point")):
                out.append(Case(
                    f"Rosenbrock x0=({start[0]:g},{start[1]:g})", rosenbrock,
                    np.array(start), dict(jac=jac, method=method),
                    group=jac_name))
        for jac_name, jac in (("analytic", rosenbrock_jac), ("2-point", "2-point")):
            if method == "lm":
                break
            out.append(Case(
                "Rosenbrock x0=(2,2), x1>=1.5", rosenbrock, np.array([2.0, 2.0]),
                dict(jac=jac, method=method, bounds=([-np.inf, 1.5], np.inf)),
                group=jac_name))
        for loss in ("linear", "soft_l1"):
            if method == "lm" and loss != "linear":
                continue
            t, y = exponential_data(outliers=(loss != "linear"))
            fun, jac = exponential_problem(t, y)
            extra = {} if loss == "linear" else dict(loss=loss, f_scale=0.1)
            for jac_name, j in (("analytic", jac), ("2-point", "2-point")):
                out.append(Case(
                    f"exp fit m=100 {loss}", fun, np.array([1.0, 1.0, -0.1]),
                    dict(jac=j, method=method, **extra), group=jac_name))
        for name in NIST_MODELS:
            fun, s1, s2, _, m = nist_fun(name)
            for k, start in ((1, s1), (2, s2)):
                out.append(Case(f"NIST {name} start {k} (n={start.size}, m={m})",
                                fun, start, dict(jac="2-point", method=method),
                                group="2-point"))
    return out


# --------------------------------------------------------------------------
# Running and reporting
# --------------------------------------------------------------------------
HEADERS = ["problem", "method", "jac", "scipy ms (IQR)", "lsqbox ms (IQR)",
           "ratio", "CPU ratio", "ovh scipy ms", "ovh lsqbox ms", "ovh ratio",
           "CPU ovh sp / lb ms", "CPU ovh ratio", "in fun ms sp / lb",
           "nfev sp/lb", "njev sp/lb", "cost rel.diff"]


def _pair(p):
    return "/".join("–" if v is None else str(v) for v in p)


def _cost_diff(a, b):
    ca, cb = float(a.cost), float(b.cost)
    return abs(ca - cb) / max(abs(ca), abs(cb), 1e-300)


def measure(budget=0.4, verbose=True, only=None, methods=METHODS):
    """Run every case; returns a list of dicts (one per case)."""
    records = []
    todo = [c for c in cases(methods)
            if only is None or only.lower() in c.name.lower()]
    for i, case in enumerate(todo):
        t0 = time.perf_counter()
        st = compare(case, budget=budget)
        sp, lb = st["scipy"], st["lsqbox"]
        rec = dict(
            name=case.name, method=case.kwargs["method"], jac=case.group,
            scipy=sp.median, scipy_iqr=sp.iqr, lsqbox=lb.median, lsqbox_iqr=lb.iqr,
            ovh_scipy=sp.overhead, ovh_lsqbox=lb.overhead,
            cpu_scipy=sp.cpu_median, cpu_lsqbox=lb.cpu_median,
            cpu_ovh_scipy=sp.cpu_overhead, cpu_ovh_lsqbox=lb.cpu_overhead,
            inside_scipy=sp.inside_median, inside_lsqbox=lb.inside_median,
            nfev=(sp.result.nfev, lb.result.nfev),
            njev=(sp.result.njev, lb.result.njev),
            calls=(sp.calls, lb.calls),
            cost_diff=_cost_diff(sp.result, lb.result),
            cost=(float(sp.result.cost), float(lb.result.cost)),
            repeats=len(sp.times))
        records.append(rec)
        if verbose:
            print(f"[{i + 1}/{len(todo)}] {case.name} {rec['method']} {rec['jac']}: "
                  f"scipy {rec['scipy'] * 1e3:.3f} ms, lsqbox {rec['lsqbox'] * 1e3:.3f} ms, "
                  f"ovh {rec['ovh_scipy'] * 1e3:.3f} / {rec['ovh_lsqbox'] * 1e3:.3f} ms, "
                  f"nfev {rec['nfev']}, {len(sp.times)} reps, "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return records


def table(records):
    rows = []
    for r in records:
        rows.append([
            r["name"], r["method"], r["jac"],
            f"{fmt_ms(r['scipy'])} ({fmt_ms(r['scipy_iqr'])})",
            f"{fmt_ms(r['lsqbox'])} ({fmt_ms(r['lsqbox_iqr'])})",
            fmt_ratio(r["lsqbox"], r["scipy"]),
            fmt_ratio(r["cpu_lsqbox"], r["cpu_scipy"]),
            fmt_ms(r["ovh_scipy"]), fmt_ms(r["ovh_lsqbox"]),
            fmt_ratio(r["ovh_lsqbox"], r["ovh_scipy"]),
            f"{fmt_ms(r['cpu_ovh_scipy'])} / {fmt_ms(r['cpu_ovh_lsqbox'])}",
            fmt_ratio(r["cpu_ovh_lsqbox"], r["cpu_ovh_scipy"]),
            f"{fmt_ms(r['inside_scipy'])} / {fmt_ms(r['inside_lsqbox'])}",
            _pair(r["nfev"]), _pair(r["njev"]),
            f"{r['cost_diff']:.1e}",
        ])
    return markdown_table(HEADERS, rows, align="lll" + "r" * (len(HEADERS) - 3))


def overhead_per_eval_table(records):
    """Overhead normalized by solver work (trial points + Jacobians), which
    removes differences in iteration counts from the comparison."""
    rows = []
    for r in records:
        w_sp = r["nfev"][0] + (r["njev"][0] or 0)
        w_lb = r["nfev"][1] + (r["njev"][1] or 0)
        a = r["cpu_ovh_scipy"] / w_sp
        b = r["cpu_ovh_lsqbox"] / w_lb
        rows.append([r["name"], r["method"], r["jac"], f"{a * 1e6:.0f}",
                     f"{b * 1e6:.0f}", fmt_ratio(b, a)])
    return markdown_table(["problem", "method", "jac", "scipy µs/(nfev+njev)",
                           "lsqbox µs/(nfev+njev)", "ratio"], rows,
                          align="lllrrr")


def _geo(values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.mean(np.log(values)))) if values.size else float("nan")


def summary_numbers(records):
    ratio = np.array([r["lsqbox"] / r["scipy"] for r in records])
    cpu_ratio = np.array([r["cpu_lsqbox"] / r["cpu_scipy"] for r in records])
    ovh = np.array([r["ovh_lsqbox"] / r["ovh_scipy"] for r in records])
    cpu_ovh = np.array([r["cpu_ovh_lsqbox"] / r["cpu_ovh_scipy"] for r in records])
    return dict(
        n=len(records),
        geo_ratio=_geo(ratio), geo_cpu_ratio=_geo(cpu_ratio),
        geo_ovh=_geo(ovh), geo_cpu_ovh=_geo(cpu_ovh),
        min_cpu_ratio=float(cpu_ratio.min()), max_cpu_ratio=float(cpu_ratio.max()),
        n_met=int(np.sum(cpu_ovh <= 0.5)), n_met_wall=int(np.sum(ovh <= 0.5)),
        slower=[(r, q) for r, q in zip(records, cpu_ratio) if q > 1.10],
        faster=[(r, q) for r, q in zip(records, cpu_ratio) if q < 0.90],
        ratios=ratio, cpu_ratios=cpu_ratio, ovh=ovh, cpu_ovh=cpu_ovh)


def report(records):
    s = summary_numbers(records)
    parts = [
        "Times are medians over repeated solves (IQR in brackets), in ms of wall "
        "time. *ratio* = lsqbox / scipy (below 1: lsqbox faster); *CPU ratio* = the "
        "same with the thread's CPU time, which is not inflated when the process "
        "is descheduled (the machine is shared, so prefer the CPU columns). *ovh* = "
        "overhead = solve time minus time inside the user's fun/jac (and minus the "
        "timing wrapper's calibrated cost per call), from separate runs with timed "
        "fun/jac; *CPU ovh* = the same in CPU time. Target: ovh ratio <= 0.50. *in "
        "fun* = CPU time inside fun/jac per solve. *nfev*/*njev* as reported by "
        "each solver (– where a solver reports None).",
        "",
        table(records),
        "",
        f"Geometric means over the {s['n']} cases: time ratio "
        f"**{s['geo_ratio']:.2f}** (wall), **{s['geo_cpu_ratio']:.2f}** (CPU; range "
        f"{s['min_cpu_ratio']:.2f}–{s['max_cpu_ratio']:.2f}); overhead ratio "
        f"**{s['geo_ovh']:.2f}** (wall), **{s['geo_cpu_ovh']:.2f}** (CPU). Overhead "
        f"target (ratio <= 0.50) met in {s['n_met']} of {s['n']} cases (CPU), "
        f"{s['n_met_wall']} (wall).",
        "",
        "CPU overhead per unit of solver work (µs per trial point or Jacobian), "
        "which removes differences in iteration counts:",
        "",
        overhead_per_eval_table(records),
    ]
    return "\n".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=0.4,
                    help="seconds of measured plain runs per solver and case")
    ap.add_argument("--only", default=None, help="substring of the case names")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="comma-separated, default %(default)s")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    records = measure(args.budget, only=args.only,
                      methods=tuple(args.methods.split(",")))
    print(machine_info_markdown())
    print()
    print(report(records))
    print(f"\n(total {time.perf_counter() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
