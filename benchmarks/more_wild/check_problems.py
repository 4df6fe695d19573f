#!/usr/bin/env python
"""Check the 53 Moré–Wild problems against the reference file testout.dat.

For each of the 53 starting points, testout.dat's 'smooth' rows give

    f(x0) = sum r_i(x0)^2,   |sum_i sin r_i(x0)|,   ||G||,   G' x0,   G = J(x0)' r(x0)

(printed to 6 significant digits). We check

* f(x0) (the required check) and |sum sin r_i(x0)| (which pins down the
  individual residuals, not only their sum of squares) to a relative 2e-5;
* the gradient columns (G = J' r is half the gradient of f), with J from
  central differences,
  to a relative 1e-4 (scaled by ||grad|| ||x0|| for the last column, whose
  reference value can be 0);
* also that n and m agree, that PROBLEMS matches dfo.dat, and the two extra
  'smooth' rows 54-55 of testout.dat (helical valley at (1, 1, 0) and
  (0, 1, 0), the branches x1 > 0 and x1 = 0 of its angle). At (0, 1, 0) only
  f and the residuals are checked: the reference gradient there comes from a
  Jacobian that differentiates the constant branch theta = 1/4 of the x1 = 0
  case (d theta / d x1 = 0), while the function itself is smooth at x1 = 0
  (d theta / d x1 = -1/(2 pi)), which is what finite differences see.

    python benchmarks/more_wild/check_problems.py [--data DIR] [-v]

Exits 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from problems import DATA_DIR, PROBLEMS, load_table, residuals  # noqa: E402

RTOL_F = 2e-5      # values printed as %6.5e: half a unit in the 6th digit is <= 5e-6
RTOL_G = 1e-4      # gradients from central differences


def read_testout(path):
    """{row index: (n, m, f, sumsin, gnorm, gtx)} of the 'smooth' rows."""
    out = {}
    for line in Path(path).read_text().splitlines():
        p = line.split()
        if len(p) >= 8 and p[1] == "smooth":
            out[int(p[0])] = (int(p[2]), int(p[3])) + tuple(float(v) for v in p[4:8])
    return out


def fd_jacobian(fun, x):
    x = np.asarray(x, dtype=float)
    r0 = fun(x)
    jac = np.empty((r0.size, x.size))
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(x[j]))
        xp = x.copy()
        xm = x.copy()
        xp[j] += h
        xm[j] -= h
        jac[:, j] = (fun(xp) - fun(xm)) / (xp[j] - xm[j])
    return jac


def rel_err(a, b, scale=None):
    scale = abs(b) if scale is None else scale
    return abs(a - b) / scale if scale > 0 else abs(a - b)


def check_point(fun, x, ref, check_grad=True):
    """Relative errors (f, sumsin, gnorm, gtx) at x against ref."""
    n_ref, m_ref, f_ref, ss_ref, gn_ref, gtx_ref = ref
    r = fun(x)
    f = float(r @ r)
    ss = abs(float(np.sin(r).sum()))
    g = fd_jacobian(fun, x).T @ r       # half the gradient, as in testout.dat
    gn = float(np.linalg.norm(g))
    gtx = float(g @ x)
    errs = (rel_err(f, f_ref), rel_err(ss, ss_ref), rel_err(gn, gn_ref),
            rel_err(gtx, gtx_ref, scale=max(abs(gtx_ref), gn_ref * np.linalg.norm(x))))
    if not check_grad:
        errs = errs[:2] + (0.0, 0.0)
    shape_ok = (x.size == n_ref and r.size == m_ref)
    return (f, ss, gn, gtx), errs, shape_ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--data", default=str(DATA_DIR), help="folder of dfo.dat and testout.dat")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every row")
    args = ap.parse_args(argv)
    data = Path(args.data)

    failures = []
    table = load_table(data / "dfo.dat")
    if [(p.nprob, p.n, p.m, p.s) for p in PROBLEMS] != table:
        failures.append("PROBLEMS differs from dfo.dat")
    if len(PROBLEMS) != 53:
        failures.append(f"{len(PROBLEMS)} problems, expected 53")

    ref = read_testout(data / "testout.dat")
    cases = [(p.index, f"{p.name} n={p.n} m={p.m} s={p.s}", p.fun, np.array(p.x0))
             for p in PROBLEMS]
    # testbendfo's two extra rows: helical valley with x1 = 1 and x1 = 0, x2 = 1.
    helical = lambda x: residuals(5, 3, x)  # noqa: E731
    cases += [(54, "Helical valley at (1, 1, 0)", helical, np.array([1.0, 1.0, 0.0])),
              (55, "Helical valley at (0, 1, 0)", helical, np.array([0.0, 1.0, 0.0]))]

    n_f_ok = 0
    print(f"{'#':>3} {'problem':<42} {'f(x0)':>13} {'reference':>13} {'rel.err':>9}  "
          f"{'sumsin':>8} {'|grad|':>8} {'grad.x0':>8}")
    for idx, label, fun, x in cases:
        if idx not in ref:
            failures.append(f"row {idx}: missing from testout.dat")
            continue
        vals, errs, shape_ok = check_point(fun, x, ref[idx], check_grad=idx != 55)
        ok_f = errs[0] <= RTOL_F
        ok = (ok_f and errs[1] <= RTOL_F and errs[2] <= RTOL_G and errs[3] <= RTOL_G
              and shape_ok)
        if idx <= 53 and ok_f:
            n_f_ok += 1
        if not ok:
            failures.append(f"row {idx} ({label}): rel. errors f {errs[0]:.1e}, "
                            f"sumsin {errs[1]:.1e}, |grad| {errs[2]:.1e}, "
                            f"grad.x0 {errs[3]:.1e}, shape ok {shape_ok}")
        if args.verbose or not ok:
            print(f"{idx:3d} {label:<42} {vals[0]:13.6e} {ref[idx][2]:13.6e} {errs[0]:9.1e}  "
                  f"{errs[1]:8.1e} {errs[2]:8.1e} {errs[3]:8.1e}{'' if ok else '  FAIL'}")

    print(f"\nf(x0) matches testout.dat at {n_f_ok}/53 starting points "
          f"(rel. tol. {RTOL_F:g}); all columns and rows 54-55: "
          f"{'ok' if not failures else 'see failures'}")
    for msg in failures:
        print("FAIL:", msg)
    print(f"{len(cases) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
