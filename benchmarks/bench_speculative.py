#!/usr/bin/env python
"""Speculative trials: rounds of evaluations to solve the Moré–Wild problems.

With parallel workers a solve's wall time is the number of *rounds* (batches
of evaluations that run together) times the time of one evaluation, not the
number of evaluations. A finite-difference Jacobian is one round of n
evaluations; a trial step is a round of one, while the other workers idle.
``speculative_trials=k`` fills k of them: each round evaluates the step for
the trust radius and the steps for the k radii that rejections would leave,
and takes the first of them, in that order, that lowers the cost.

For each of the 53 problems of benchmarks/more_wild (budget 100 (n + 1)
evaluations, as there) and each k, this runs ``jac='broyden'`` with method
'lm' and 'trf' and records, per evaluation, the round it ran in (through the
``cache`` hooks: ``start`` is called once per batch). A problem is solved at
tau = 1e-5 as in the Moré–Wild page: f(x0) - f <= (1 - tau)(f(x0) - f_L), f_L
from its smooth results. Reported: % solved, median rounds and median
evaluations to solve (over the problems solved), and the median over the
problems every k solves of rounds relative to k = 0.

    python benchmarks/bench_speculative.py              # writes docs/benchmarks_speculative.md
    python benchmarks/bench_speculative.py --ks 0,1,3 --methods lm
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "more_wild"))
import common  # noqa: E402,F401  (first: sets the BLAS thread limit)

import numpy as np  # noqa: E402

import run as more_wild  # noqa: E402
from common import REPO, machine_info_markdown, markdown_table  # noqa: E402

import lsqbox  # noqa: E402

TAU = 1e-5
DOC = REPO / "docs" / "benchmarks_speculative.md"


class RoundRecorder:
    """An evaluation cache that answers nothing and records, per evaluation,
    the round it ran in and f = ||r||^2 (lsqbox calls `start` once per batch
    of points it is about to run, `record` once per point)."""

    def __init__(self):
        self.rounds = 0
        self.history = []            # (round, f)

    def lookup(self, x):
        return None

    def start(self, xs):
        self.rounds += 1

    def record(self, x, value):
        if isinstance(value, np.ndarray) and np.all(np.isfinite(value)):
            self.history.append((self.rounds, float(value.dot(value))))
        else:
            self.history.append((self.rounds, np.inf))


def solve_one(problem, method, k):
    budget = more_wild.BUDGET_FACTOR * (problem.n + 1)
    recorder = RoundRecorder()
    lsqbox.least_squares(problem.fun, np.array(problem.x0, dtype=float), jac="broyden",
                         method=method, max_nfev=budget, cache=recorder,
                         speculative_trials=k)
    return recorder.history


def to_solve(history, f0, f_l):
    """(rounds, evaluations) to reach the tau = 1e-5 threshold, or None."""
    threshold = f0 - (1.0 - TAU) * (f0 - f_l)
    for count, (rnd, f) in enumerate(history, 1):
        if f <= threshold:
            return rnd, count
    return None


def run(methods, ks):
    smooth = more_wild.analyse(more_wild.load_results(more_wild.results_path(0.0)), (TAU,))
    f_l = smooth["f_L"]
    out = {}
    for method in methods:
        for k in ks:
            t0 = time.perf_counter()
            per = {}
            for problem in more_wild.PROBLEMS:
                history = solve_one(problem, method, k)
                f0 = history[0][1]
                per[problem.index] = (problem.n, to_solve(history, f0, f_l[str(problem.index)]))
            out[(method, k)] = per
            print(f"{method} k={k}: {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def summary_rows(out, methods, ks):
    rows = []
    for method in methods:
        base = out[(method, ks[0])]
        for k in ks:
            per = out[(method, k)]
            solved = [(p, v) for p, (n, v) in per.items() if v is not None]
            rounds = [v[0] for _, v in solved]
            sg = [v[1] / (per[p][0] + 1) for p, v in solved]
            both = [p for p, (n, v) in per.items() if v is not None and base[p][1] is not None]
            rel = [per[p][1][0] / base[p][1][0] for p in both]
            fewer = sum(r < 1 for r in rel)
            more = sum(r > 1 for r in rel)
            rows.append([method, str(k), f"{100 * len(solved) / len(per):.0f}%",
                         f"{np.median(rounds):.1f}" if rounds else "–",
                         f"{np.median(sg):.2f}" if sg else "–",
                         f"{np.exp(np.mean(np.log(rel))):.2f}" if rel else "–",
                         f"{fewer} / {len(rel) - fewer - more} / {more}"])
    return rows


def lost_lines(out, methods, ks):
    """Problems solved without speculation but not with it, per method and k."""
    names = {p.index: p.name for p in more_wild.PROBLEMS}
    lines = []
    for method in methods:
        base = out[(method, ks[0])]
        for k in ks[1:]:
            per = out[(method, k)]
            lost = [f"{names[i]} ({i})" for i in per
                    if base[i][1] is not None and per[i][1] is None]
            gained = [f"{names[i]} ({i})" for i in per
                      if base[i][1] is None and per[i][1] is not None]
            lines.append(f"- {method}, k = {k}: not solved any more: {', '.join(lost) or 'none'}"
                         f"; newly solved: {', '.join(gained) or 'none'}.")
    return lines


def write_doc(out, methods, ks):
    headers = ["method", "speculative_trials", "solved (tau = 1e-5)", "median rounds",
               "median evaluations / (n + 1)", f"rounds / rounds at k = {ks[0]} (geo. mean)",
               "fewer / same / more rounds"]
    lines = [
        "# Speculative trials: rounds of evaluations",
        "",
        "Generated by `benchmarks/bench_speculative.py` (do not edit by hand; rerun it).",
        "",
        "With parallel workers the wall time of a solve is its number of rounds (batches of "
        "evaluations that run together) times the time of one evaluation. `jac='broyden'` on "
        "the 53 Moré–Wild problems (smooth, budget 100 (n + 1) evaluations, solved at "
        "τ = 1e-5 against the f_L of docs/benchmarks_more_wild.md). "
        "`speculative_trials=k` evaluates k more trial points in each trial round "
        "(the steps for the radii that rejections would leave) and takes the first of them, "
        "in that order, that lowers the cost; Broyden's Jacobian learns from all of them. "
        "*rounds / rounds at k = 0*: geometric mean over the problems solved by both of the "
        "ratio of rounds to solve (below 1: fewer rounds, i.e. less wall time with idle "
        "workers); the last column counts those problems by the sign of the change. "
        "Every evaluation counts against the budget, so more speculation can leave less "
        "for slow problems (listed below).",
        "",
        markdown_table(headers, summary_rows(out, methods, ks)),
        "",
        *lost_lines(out, methods, ks),
        "",
        "## Machine",
        "",
        machine_info_markdown(),
        "",
    ]
    DOC.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {DOC.relative_to(REPO)}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", default="0,1,3,7", help="speculative_trials values, first = baseline")
    ap.add_argument("--methods", default="lm,trf")
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]
    methods = [m for m in args.methods.split(",") if m]
    out = run(methods, ks)
    headers = ["method", "k", "solved", "median rounds", "median SG", "rounds vs k0",
               "fewer/same/more"]
    print(markdown_table(headers, summary_rows(out, methods, ks)))
    if not args.no_docs:
        write_doc(out, methods, ks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
