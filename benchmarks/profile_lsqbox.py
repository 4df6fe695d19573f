#!/usr/bin/env python
"""cProfile of lsqbox (and, for reference, SciPy) on one benchmark case.

Runs the chosen case many times under cProfile and prints the functions with
the largest *own* time (tottime), plus the same list restricted to files in
src/lsqbox, so the package's hot spots are easy to read.

    python benchmarks/profile_lsqbox.py --list
    python benchmarks/profile_lsqbox.py "exp fit m=100 linear" --method trf --jac analytic
    python benchmarks/profile_lsqbox.py broyden100000 --solver scipy
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (first: sets the BLAS thread limit)

import bench_broyden  # noqa: E402
import bench_small  # noqa: E402
from common import SOLVERS  # noqa: E402


def find_case(name, method, jac):
    if name.startswith("broyden"):
        n_sparse = 100_000
        sel = 0 if "sparse" in name or name == "broyden100000" else 1
        return bench_broyden.cases(n_sparse, 1000)[sel]
    for c in bench_small.cases():
        if (name.lower() in c.name.lower() and c.kwargs["method"] == method
                and (jac is None or c.group == jac)):
            return c
    raise SystemExit(f"no case matches {name!r} {method} {jac}")


def profile(case, solver, seconds=2.0, top=25):
    solve = SOLVERS[solver]
    case.run(solve)
    t0 = time.perf_counter()
    case.run(solve)
    per = time.perf_counter() - t0
    n = max(1, int(seconds / max(per, 1e-6)))
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n):
        case.run(solve)
    pr.disable()
    out = io.StringIO()
    st = pstats.Stats(pr, stream=out)
    st.sort_stats("tottime").print_stats(top)
    out.write(f"\n--- restricted to lsqbox ({n} solves) ---\n")
    st.sort_stats("tottime").print_stats("lsqbox", top)
    out.write("\n--- by cumulative time, lsqbox ---\n")
    st.sort_stats("cumulative").print_stats("lsqbox", top)
    return n, out.getvalue(), st


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", nargs="?", default="exp fit m=100 linear")
    ap.add_argument("--method", default="trf")
    ap.add_argument("--jac", default=None, help="analytic or 2-point")
    ap.add_argument("--solver", default="lsqbox", choices=list(SOLVERS))
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    if args.list:
        for c in bench_small.cases():
            print(f"{c.name!r} --method {c.kwargs['method']} --jac {c.group}")
        print("'broyden100000'  'broyden1000'")
        return
    case = find_case(args.case, args.method, args.jac)
    n, text, _ = profile(case, args.solver, args.seconds, args.top)
    print(f"{args.solver}: {case.name} {case.kwargs.get('method')} "
          f"{case.group or ''}, {n} solves")
    print(text)


if __name__ == "__main__":
    main()
