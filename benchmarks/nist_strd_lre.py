#!/usr/bin/env python
"""NIST StRD nonlinear regression: LRE of scipy vs lsqbox, side by side.

Runs every one of the 27 datasets from both NIST starting points (54
problems) with ``scipy.optimize.least_squares`` and ``lsqbox.least_squares``
using identical arguments, and writes a markdown table of the log relative
error (LRE, minimum over the parameters, i.e. the number of correct
significant digits of the worst parameter) and the evaluation counts.

    python benchmarks/nist_strd_lre.py                    # trf, defaults
    python benchmarks/nist_strd_lre.py --method lm
    python benchmarks/nist_strd_lre.py --tight            # ftol=xtol=gtol=1e-15
    python benchmarks/nist_strd_lre.py --jac cs           # exact (complex-step) Jacobian
    python benchmarks/nist_strd_lre.py --candidate scipy  # scipy in both columns

The table goes to ``docs/benchmarks_nist.md`` (``--output``; ``--output -``
to only print) and is printed.  The environment variable
``LSQBOX_BENCH_CANDIDATE=scipy`` has the same effect as ``--candidate scipy``
(useful while lsqbox's solver is not importable).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
import scipy.optimize

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "behavior"))

import nist_strd  # noqa: E402

DEFAULT_OUTPUT = REPO / "docs" / "benchmarks_nist.md"
GOOD_DIGITS = 4.0
TIGHT_DIGITS = 6.0


@dataclass
class Outcome:
    lre: float = 0.0          # min over parameters
    rss_lre: float = 0.0      # LRE of 2*cost against the certified RSS
    nfev: int | None = None   # as reported by the solver
    njev: int | None = None
    calls: int = 0            # actual calls of the residual function
    status: int | None = None
    seconds: float = 0.0
    error: str | None = None


def _solver(which: str):
    if which == "scipy":
        return scipy.optimize.least_squares
    if which == "lsqbox":
        try:
            from lsqbox import least_squares
        except ImportError as exc:
            raise SystemExit(
                f"lsqbox.least_squares is not importable ({exc}); run with "
                "--candidate scipy (or LSQBOX_BENCH_CANDIDATE=scipy) to use "
                "scipy in both columns") from exc
        return least_squares
    raise ValueError(which)


def run_one(solve, ds, x0, kwargs) -> Outcome:
    out = Outcome()
    counter = [0]

    def fun(b):
        counter[0] += 1
        return ds.residuals(b)

    kw = dict(kwargs)
    if kw.get("jac") == "cs":
        kw["jac"] = ds.jac
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            res = solve(fun, np.array(x0, dtype=float), **kw)
    except Exception as exc:  # a crash counts as 0 digits, and is reported
        out.seconds = time.perf_counter() - t0
        out.calls = counter[0]
        out.error = f"{type(exc).__name__}: {exc}"
        return out
    out.seconds = time.perf_counter() - t0
    out.calls = counter[0]
    x = np.asarray(res.x, dtype=float)
    out.lre = ds.min_lre(x) if x.shape == ds.certified.shape else 0.0
    cost = float(getattr(res, "cost", np.nan))
    out.rss_lre = ds.rss_lre(2.0 * cost)
    out.nfev = getattr(res, "nfev", None)
    out.njev = getattr(res, "njev", None)
    out.status = getattr(res, "status", None)
    return out


def solver_kwargs(args) -> dict:
    kw = {"method": args.method}
    if args.jac != "2-point":
        kw["jac"] = args.jac
    tol = 1e-15 if args.tight else None
    for name in ("ftol", "xtol", "gtol"):
        val = getattr(args, name)
        if val is None:
            val = tol
        if val is not None:
            kw[name] = val
    if args.max_nfev is not None:
        kw["max_nfev"] = args.max_nfev
    return kw


def _fmt_lre(o: Outcome) -> str:
    if o.error:
        return "error"
    s = f"{o.lre:.1f}"
    return f"**{s}**" if o.lre < GOOD_DIGITS else s


def _fmt_int(v) -> str:
    return "–" if v is None else str(int(v))


def render(rows, ref_label, cand_label, kw, args) -> str:
    n = len(rows)
    ok_ref = sum(r[3].lre >= GOOD_DIGITS for r in rows)
    ok_cand = sum(r[4].lre >= GOOD_DIGITS for r in rows)
    ok6_ref = sum(r[3].lre >= TIGHT_DIGITS for r in rows)
    ok6_cand = sum(r[4].lre >= TIGHT_DIGITS for r in rows)
    sets_ref = sum(all(r[3].lre >= GOOD_DIGITS for r in rows if r[0] == d)
                   for d in dict.fromkeys(r[0] for r in rows))
    sets_cand = sum(all(r[4].lre >= GOOD_DIGITS for r in rows if r[0] == d)
                    for d in dict.fromkeys(r[0] for r in rows))
    n_sets = len(dict.fromkeys(r[0] for r in rows))

    settings = ", ".join(
        "jac=<exact complex-step Jacobian>" if (k, v) == ("jac", "cs")
        else f"{k}={v!r}" for k, v in kw.items())
    lines = [
        "# NIST StRD nonlinear regression: LRE benchmark",
        "",
        f"`least_squares(residuals, start, {settings})` on the 27 NIST StRD "
        "nonlinear regression datasets from both NIST starting points; all "
        "other arguments at their defaults. "
        "LRE = −log10(|b − b_cert| / |b_cert|), the minimum over the "
        "parameters (number of correct significant digits of the worst "
        f"parameter; capped at {nist_strd.LRE_CAP:g}). "
        f"LREs below {GOOD_DIGITS:g} are in bold. "
        "`nfev` is as reported by each solver; `calls` counts actual calls of "
        "the residual function (including finite-difference Jacobian "
        "evaluations).",
        "",
        f"Generated by `python benchmarks/nist_strd_lre.py{_argv_suffix()}` "
        f"(Python {platform.python_version()}, NumPy {np.__version__}, "
        f"SciPy {scipy.__version__}).",
        "",
        f"**Problems with ≥{GOOD_DIGITS:g} digits: {ref_label} {ok_ref}/{n}, "
        f"{cand_label} {ok_cand}/{n}.**",
        "",
        f"- Problems with ≥{TIGHT_DIGITS:g} digits: {ref_label} {ok6_ref}/{n}, "
        f"{cand_label} {ok6_cand}/{n}",
        f"- Datasets with ≥{GOOD_DIGITS:g} digits from both starts: "
        f"{ref_label} {sets_ref}/{n_sets}, {cand_label} {sets_cand}/{n_sets}",
        f"- Total nfev: {ref_label} {sum(r[3].nfev or 0 for r in rows)}, "
        f"{cand_label} {sum(r[4].nfev or 0 for r in rows)}; total residual "
        f"calls: {ref_label} {sum(r[3].calls for r in rows)}, "
        f"{cand_label} {sum(r[4].calls for r in rows)}",
        f"- Total time: {ref_label} {sum(r[3].seconds for r in rows):.2f} s, "
        f"{cand_label} {sum(r[4].seconds for r in rows):.2f} s",
        "",
        f"| Dataset | Start | Difficulty | LRE {ref_label} | LRE {cand_label} "
        f"| nfev {ref_label} | nfev {cand_label} "
        f"| calls {ref_label} | calls {cand_label} |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, start, diff, a, b in rows:
        lines.append(
            f"| {name} | {start} | {diff} | {_fmt_lre(a)} | {_fmt_lre(b)} "
            f"| {_fmt_int(a.nfev)} | {_fmt_int(b.nfev)} "
            f"| {a.calls} | {b.calls} |")
    errors = [(r[0], r[1], lab, o.error) for r in rows
              for lab, o in ((ref_label, r[3]), (cand_label, r[4])) if o.error]
    if errors:
        lines += ["", "Errors:", ""]
        lines += [f"- {d} start {s}, {lab}: `{e}`" for d, s, lab, e in errors]
    lines.append("")
    return "\n".join(lines)


def _argv_suffix() -> str:
    args = [a for a in sys.argv[1:]]
    return (" " + " ".join(args)) if args else ""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--method", default="trf", choices=("trf", "dogbox", "lm"))
    p.add_argument("--jac", default="2-point",
                   choices=("2-point", "3-point", "cs"),
                   help="finite-difference scheme, or 'cs' for the exact "
                        "complex-step Jacobian supplied as a callable")
    p.add_argument("--tight", action="store_true",
                   help="ftol = xtol = gtol = 1e-15 (unless given separately)")
    p.add_argument("--ftol", type=float)
    p.add_argument("--xtol", type=float)
    p.add_argument("--gtol", type=float)
    p.add_argument("--max-nfev", type=int)
    p.add_argument("--reference", default="scipy", choices=("scipy", "lsqbox"))
    p.add_argument("--candidate",
                   default=os.environ.get("LSQBOX_BENCH_CANDIDATE", "lsqbox"),
                   choices=("scipy", "lsqbox"))
    p.add_argument("--datasets", nargs="+", metavar="NAME",
                   help="subset of datasets (default: all 27)")
    p.add_argument("--output", default=str(DEFAULT_OUTPUT),
                   help="markdown file to write, '-' for stdout only")
    args = p.parse_args(argv)

    kw = solver_kwargs(args)
    ref_solve = _solver(args.reference)
    cand_solve = _solver(args.candidate)
    ref_label = args.reference
    cand_label = args.candidate
    if ref_label == cand_label:
        cand_label += " (2)"

    names = nist_strd.ALL_NAMES
    if args.datasets:
        names = [nist_strd.load(n).name for n in args.datasets]

    rows = []
    for name in names:
        ds = nist_strd.load(name)
        for s in (1, 2):
            a = run_one(ref_solve, ds, ds.start(s), kw)
            b = run_one(cand_solve, ds, ds.start(s), kw)
            rows.append((name, s, ds.difficulty, a, b))

    text = render(rows, ref_label, cand_label, kw, args)
    print(text)
    if args.output != "-":
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
