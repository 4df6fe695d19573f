#!/usr/bin/env python
"""Run the speed benchmarks and write docs/benchmarks_speed.md.

    python benchmarks/run_all.py                  # everything (~3-4 min)
    python benchmarks/run_all.py --budget 0.1     # quicker, noisier
    python benchmarks/run_all.py --output -       # print only
    python benchmarks/run_all.py --skip-broyden --no-profile

Sections: machine information, small problems (bench_small.py), the Broyden
tridiagonal problem (bench_broyden.py), a summary that says where lsqbox is
slower than SciPy, the overhead floor of a lean TRF loop
(floor_lean_trf.py) and a short cProfile of lsqbox on one small problem.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (first: sets the BLAS thread limit)

import bench_broyden  # noqa: E402
import bench_small  # noqa: E402
import floor_lean_trf  # noqa: E402

DEFAULT_OUTPUT = common.REPO / "docs" / "benchmarks_speed.md"
PROFILE_CASE = ("exp fit m=100 linear", "trf", "analytic")


def _case_label(r):
    return f"{r['name']} ({r['method']}, {r['jac']})"


def method_table(small):
    """Per method: geometric means of the CPU-time and CPU-overhead ratios."""
    rows = []
    for method in dict.fromkeys(r["method"] for r in small):
        recs = [r for r in small if r["method"] == method]
        s = bench_small.summary_numbers(recs)
        rows.append([method, str(s["n"]), f"{s['geo_cpu_ratio']:.2f}",
                     f"{s['min_cpu_ratio']:.2f}–{s['max_cpu_ratio']:.2f}",
                     f"{s['geo_cpu_ovh']:.2f}", f"{len(s['slower'])}",
                     f"{s['n_met']}"])
    return common.markdown_table(
        ["method", "cases", "time ratio (geo. mean, CPU)", "range",
         "overhead ratio (geo. mean, CPU)", "> 10% slower", "overhead target met"],
        rows, align="lrrrrrr")


def summary(small, broyden):
    """One paragraph, generated from the numbers."""
    out = []
    if small:
        s = bench_small.summary_numbers(small)
        per_method = []
        for method in dict.fromkeys(r["method"] for r in small):
            sm = bench_small.summary_numbers([r for r in small if r["method"] == method])
            per_method.append(f"{method} {sm['geo_cpu_ratio']:.2f}x (overhead "
                              f"{sm['geo_cpu_ovh']:.2f}x)")
        out.append(
            f"On the {s['n']} small problems lsqbox takes {s['geo_cpu_ratio']:.2f}x "
            f"SciPy's time (geometric mean of CPU-time ratios; wall time "
            f"{s['geo_ratio']:.2f}x): " + ", ".join(per_method) + ". Its overhead "
            f"outside the user's functions is {s['geo_cpu_ovh']:.2f}x SciPy's, so the "
            f"target of at most 0.5x is met in {s['n_met']} of {s['n']} cases.")
        if s["slower"]:
            worst = sorted(s["slower"], key=lambda t: -t[1])
            listed = "; ".join(f"{_case_label(r)} {q:.2f}x" for r, q in worst[:10])
            more = f"; and {len(worst) - 10} more" if len(worst) > 10 else ""
            out.append(f"lsqbox is more than 10% slower than SciPy (CPU time) in "
                       f"{len(worst)} of them, worst first: {listed}{more}.")
        else:
            out.append("lsqbox is nowhere more than 10% slower than SciPy on them.")
        diff_evals = [r for r in small if r["nfev"][0] != r["nfev"][1]
                      or r["njev"][0] != r["njev"][1]]
        if diff_evals:
            out.append(f"Evaluation counts differ from SciPy's in {len(diff_evals)} "
                       "cases (" + "; ".join(
                           f"{_case_label(r)}: nfev {r['nfev'][0]} vs {r['nfev'][1]}, "
                           f"njev {r['njev'][0]} vs {r['njev'][1]}"
                           for r in diff_evals[:5])
                       + ("; ..." if len(diff_evals) > 5 else "")
                       + "), so there part of the time difference is iteration "
                         "count, not cost per iteration (see the per-work table).")
            more_evals = [r for r in diff_evals if r["nfev"][1] > r["nfev"][0]]
            lower = [r for r in more_evals if r["cost"][1] < r["cost"][0]]
            if more_evals:
                out.append(f"Where lsqbox needed more evaluations ({len(more_evals)} "
                           f"cases) it ended at a lower cost than SciPy in "
                           f"{len(lower)} of them.")
        if s["faster"]:
            out.append(f"It is more than 10% faster in {len(s['faster'])} cases.")
    for r in broyden:
        q = r["lsqbox"] / r["scipy"]
        word = "slower" if q > 1.10 else ("faster" if q < 0.90 else "about as fast")
        same = abs(r["cost"][0] - r["cost"][1]) <= 1e-12 * max(1.0, abs(r["cost"][0]))
        out.append(f"{r['name']}: lsqbox {common.fmt_time(r['lsqbox'])} vs SciPy "
                   f"{common.fmt_time(r['scipy'])} ({q:.2f}x, {word}; same final cost: "
                   f"{'yes' if same else 'NO'}; nfev {r['nfev'][0]}/{r['nfev'][1]}).")
    out.append("Timings come from a shared 2-core machine with other jobs running; "
               "ratios within about ±10% are noise, and wall times more so than CPU "
               "times.")
    return " ".join(out)


def profile_section(seconds=2.0, top=15):
    import profile_lsqbox

    case = profile_lsqbox.find_case(*PROFILE_CASE)
    n, _, st = profile_lsqbox.profile(case, "lsqbox", seconds, top)
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, _) in sorted(
            st.stats.items(), key=lambda kv: -kv[1][2]):
        if "lsqbox" not in filename and "numpy" not in filename and "scipy" not in filename:
            continue
        short = re.sub(r".*/(src/lsqbox/|site-packages/)", "", filename)
        rows.append([f"`{short}:{line} {func}`", f"{nc / n:.1f}",
                     f"{tt / n * 1e6:.0f}", f"{ct / n * 1e6:.0f}"])
        if len(rows) >= top:
            break
    return (f"cProfile of lsqbox on *{PROFILE_CASE[0]}* ({PROFILE_CASE[1]}, "
            f"{PROFILE_CASE[2]} jac), {n} solves, sorted by own time; times are µs "
            "per solve and include the profiler's own cost (which inflates small "
            "functions). Regenerate any case with `benchmarks/profile_lsqbox.py`.\n\n"
            + common.markdown_table(["function", "calls/solve", "own µs", "cum µs"],
                                    rows, align="lrrr"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=0.3,
                    help="seconds of measured runs per solver, mode and small case")
    ap.add_argument("--repeats", type=int, default=3, help="Broyden repeats")
    ap.add_argument("--methods", default=",".join(bench_small.METHODS),
                    help="methods for the small problems, default %(default)s")
    ap.add_argument("--skip-broyden", action="store_true")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--output", default=str(DEFAULT_OUTPUT),
                    help="markdown file to write, '-' to only print")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    info = common.machine_info_markdown()
    small = bench_small.measure(args.budget, methods=tuple(args.methods.split(",")))
    t_small = time.perf_counter() - t0
    broyden = [] if args.skip_broyden else bench_broyden.measure(args.repeats)
    grouping = None if args.skip_broyden else bench_broyden.grouping_times()
    t_broyden = time.perf_counter() - t0 - t_small
    prof = None if args.no_profile else profile_section()
    floor = floor_lean_trf.report(*floor_lean_trf.measure(300))

    parts = [
        "# Speed: lsqbox vs scipy.optimize.least_squares",
        "",
        "Generated by `benchmarks/run_all.py` (do not edit by hand; rerun it). Both "
        "solvers run in the same process, alternately, on identical problems and "
        "arguments.",
        "",
        "## Machine",
        "",
        info,
        "",
        "## Summary",
        "",
        summary(small, broyden),
        "",
        method_table(small) if small else "",
        "",
        "## Small problems (`benchmarks/bench_small.py`)",
        "",
        bench_small.report(small),
    ]
    if broyden:
        parts += ["", "## Broyden tridiagonal (`benchmarks/bench_broyden.py`)", "",
                  bench_broyden.report(broyden, grouping)]
    parts += ["", "## How low can the overhead go (`benchmarks/floor_lean_trf.py`)", "",
              "A ~100-line transcription of SciPy's unbounded TRF loop with low "
              "per-iteration cost (direct LAPACK gesdd, Python floats, no "
              "`numpy.linalg.norm`, no per-iteration objects): a reference for what "
              "the overhead target asks, not a solver.", "", floor]
    if prof:
        parts += ["", "## Where lsqbox spends its time", "", prof]
    parts += ["", f"Run time: small problems {t_small:.0f} s, Broyden "
                  f"{t_broyden:.0f} s.", ""]
    text = "\n".join(parts)
    if args.output == "-":
        print(text)
    else:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(text)
        print(f"\nwritten to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
