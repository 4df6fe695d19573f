#!/usr/bin/env python
"""Large sparse problem: the Broyden tridiagonal system from SciPy's docs.

The example of ``scipy.optimize.least_squares``'s docstring:

    f_i = (3 - x_i) x_i + 1 - x_{i-1} - 2 x_{i+1},   x0 = -1,

with n = 100000, ``jac_sparsity`` tridiagonal (grouped finite differences,
``tr_solver='lsmr'`` chosen automatically), method 'trf'. For comparison the
same system with n = 1000 and a dense '2-point' Jacobian ('exact' solver:
one SVD of a 1000 x 1000 matrix per iteration).

Both solvers run alternately in one process, a few times each; we report the
median time, its spread, the final cost and nfev/njev. The time to build the
sparsity pattern (a lil_matrix, as in the docs) is not included in the solve.

    python benchmarks/bench_broyden.py
    python benchmarks/bench_broyden.py --repeats 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (first: sets the BLAS thread limit)

import numpy as np  # noqa: E402
from scipy.sparse import lil_matrix  # noqa: E402

from common import (Case, compare, fmt_ratio, fmt_time,  # noqa: E402
                    machine_info_markdown, markdown_table)


def fun_broyden(x):
    f = (3 - x) * x + 1
    f[1:] -= x[:-1]
    f[:-1] -= 2 * x[1:]
    return f


def sparsity_broyden(n):
    sparsity = lil_matrix((n, n), dtype=int)
    i = np.arange(n)
    sparsity[i, i] = 1
    i = np.arange(1, n)
    sparsity[i, i - 1] = 1
    i = np.arange(n - 1)
    sparsity[i, i + 1] = 1
    return sparsity


def cases(n_sparse=100_000, n_dense=1000):
    return [
        Case(f"Broyden n={n_sparse}, jac_sparsity (lsmr)", fun_broyden,
             -np.ones(n_sparse),
             dict(jac_sparsity=sparsity_broyden(n_sparse), method="trf")),
        Case(f"Broyden n={n_dense}, dense 2-point (exact)", fun_broyden,
             -np.ones(n_dense), dict(jac="2-point", method="trf")),
    ]


def measure(repeats=3, verbose=True, n_sparse=100_000, n_dense=1000):
    records = []
    for case in cases(n_sparse, n_dense):
        t0 = time.perf_counter()
        st = compare(case, budget=0.0, min_repeats=repeats, max_repeats=repeats,
                     warmup=1, overhead="only")
        sp, lb = st["scipy"], st["lsqbox"]
        rec = dict(
            name=case.name,
            scipy=sp.median, scipy_min=min(sp.times), scipy_max=max(sp.times),
            lsqbox=lb.median, lsqbox_min=min(lb.times), lsqbox_max=max(lb.times),
            ovh_scipy=sp.overhead, ovh_lsqbox=lb.overhead,
            inside_scipy=sp.inside_median, inside_lsqbox=lb.inside_median,
            cost=(float(sp.result.cost), float(lb.result.cost)),
            nfev=(sp.result.nfev, lb.result.nfev),
            njev=(sp.result.njev, lb.result.njev),
            calls=(sp.calls, lb.calls),
            status=(sp.result.status, lb.result.status),
            repeats=len(sp.times))
        records.append(rec)
        if verbose:
            print(f"{case.name}: scipy {fmt_time(rec['scipy'])}, lsqbox "
                  f"{fmt_time(rec['lsqbox'])}, cost {rec['cost']}, nfev {rec['nfev']}, "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return records


def grouping_times(n=100_000, repeats=3):
    """Seconds to group the columns of the tridiagonal pattern (the set-up of
    sparse finite differences): lsqbox's coloring vs SciPy's (Cython)."""
    S = sparsity_broyden(n)
    out = {}
    try:
        from lsqbox.jacobian.coloring import group_columns as lb_group
        out["lsqbox"] = (min(common.time_repeated(lambda: lb_group(S), repeats)),
                         int(lb_group(S).max()) + 1)
    except ImportError:
        pass
    try:
        from scipy.optimize._numdiff import group_columns as sp_group
        out["scipy"] = (min(common.time_repeated(lambda: sp_group(S), repeats)),
                        int(sp_group(S).max()) + 1)
    except ImportError:
        pass
    return out


def table(records):
    headers = ["problem", "scipy time (min–max)", "lsqbox time (min–max)", "ratio",
               "ovh scipy", "ovh lsqbox", "ovh ratio", "in fun sp / lb",
               "cost scipy", "cost lsqbox", "nfev sp/lb", "njev sp/lb",
               "fun calls sp/lb"]
    rows = []
    for r in records:
        rows.append([
            r["name"],
            f"{fmt_time(r['scipy'])} ({fmt_time(r['scipy_min'])}–{fmt_time(r['scipy_max'])})",
            f"{fmt_time(r['lsqbox'])} ({fmt_time(r['lsqbox_min'])}–{fmt_time(r['lsqbox_max'])})",
            fmt_ratio(r["lsqbox"], r["scipy"]),
            fmt_time(r["ovh_scipy"]), fmt_time(r["ovh_lsqbox"]),
            fmt_ratio(r["ovh_lsqbox"], r["ovh_scipy"]),
            f"{fmt_time(r['inside_scipy'])} / {fmt_time(r['inside_lsqbox'])}",
            f"{r['cost'][0]:.3e}", f"{r['cost'][1]:.3e}",
            "/".join(str(v) for v in r["nfev"]), "/".join(str(v) for v in r["njev"]),
            f"{r['calls'][0]}/{r['calls'][1]}",
        ])
    return markdown_table(headers, rows)


def report(records, grouping=None):
    reps = records[0]["repeats"] if records else 0
    parts = [
        f"Median of {reps} timed solves per solver after one warm-up, alternating "
        "solvers (min–max in brackets). *ovh* = solve time minus time inside `fun` "
        "(wall). The sparsity pattern is built once, outside the timing; each "
        "solver's own set-up (column grouping) is inside it.",
        "",
        table(records),
    ]
    if grouping:
        parts += ["", "Column grouping of the tridiagonal pattern alone (part of the "
                  "sparse solve above; best of 3): " + ", ".join(
                      f"{k} {fmt_time(t)} ({g} groups)"
                      for k, (t, g) in grouping.items()) + "."]
    return "\n".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-sparse", type=int, default=100_000)
    ap.add_argument("--n-dense", type=int, default=1000)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    records = measure(args.repeats, n_sparse=args.n_sparse, n_dense=args.n_dense)
    grouping = grouping_times(args.n_sparse)
    print(machine_info_markdown())
    print()
    print(report(records, grouping))
    print(f"\n(total {time.perf_counter() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
