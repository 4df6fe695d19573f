#!/usr/bin/env python
"""Moré–Wild data profiles: SciPy, lsqbox (finite differences and Broyden), DFO-LS.

Runs each solver on the 53 Moré–Wild problems (``problems.py``) with a budget
of 100 (n + 1) evaluations of the residual function, records the history of
f(x) = ||r(x)||^2 over *every* call of the function (finite-difference calls
included), and reports data profiles (Moré & Wild, SIAM J. Optim. 20(1), 2009):

* f_L(p) = the best f any compared solver found on problem p within the budget;
* solver s solves p at tolerance tau after k evaluations when
  f(x0) - f_best(k) >= (1 - tau) (f(x0) - f_L(p));
* d_s(alpha) = fraction of problems solved within alpha simplex gradients,
  i.e. k <= alpha (n_p + 1), alpha in [0, 100].

Usage (from the repository root, with the project's venv):

    python benchmarks/more_wild/run.py                 # smooth problems, all available solvers
    python benchmarks/more_wild/run.py --noise         # r * (1 + 1e-3 N(0,1)), seeded per problem
    python benchmarks/more_wild/run.py --solvers scipy-trf,scipy-lm --problems 1-10,19
    python benchmarks/more_wild/run.py --noise --solvers lsqbox-broyden-trf --merge
    python benchmarks/more_wild/run.py --report-only   # redo the table and plot from the JSON files

Each run writes ``benchmarks/more_wild/results_smooth.json`` (or
``results_noisy.json``), then rebuilds ``docs/benchmarks_more_wild.md`` and
``docs/more_wild_profiles.png`` from whichever of the two result files exist
(unless ``--problems`` selects a subset or ``--no-docs`` is given: then only
the table is printed). Matplotlib comes with the project's bench extra:
``pip install -e .[bench]``.

Solvers (``--solvers``, comma-separated; default: all except lsqbox-lm):

    scipy-trf            scipy.optimize.least_squares(method='trf', jac='2-point')
    scipy-lm             scipy.optimize.least_squares(method='lm')        (MINPACK lmdif)
    lsqbox-trf           lsqbox.least_squares(method='trf', jac='2-point')
    lsqbox-lm            lsqbox.least_squares(method='lm', jac='2-point')  (not in the default set)
    lsqbox-broyden-trf   lsqbox.least_squares(jac='broyden', method='trf')
    lsqbox-broyden-lm    lsqbox.least_squares(jac='broyden', method='lm')
    dfols                dfols.solve (DFO-LS; objfun_has_noise=True on the noisy set)

The Broyden solvers are skipped, with a note, while lsqbox raises ValueError for
``jac='broyden'``. DFO-LS is GPL-licensed and is NOT a dependency of lsqbox:
it is used only if importable. To include it, install it into the venv just
for the benchmark run (and remove it afterwards if you like):

    .venv/bin/pip install DFO-LS        # pulls in pandas too
    .venv/bin/pip uninstall -y DFO-LS pandas

Budget and counting. Every call of the residual function goes through a
counter that records f(x) = ||r(x)||^2; after 100 (n + 1) calls it raises an
exception that ends the solve (the solver's result is not needed, only the
history), so no solver can use more than the budget, and a solver that stops
earlier keeps its best value for the rest of the budget. SciPy's ``max_nfev``
excludes finite-difference calls for 'trf' (it counts them for 'lm', which
calls MINPACK's lmdif), so the adapters pass ``max_nfev = budget`` (never
binding before the counter) and the counter does the truncation. Solver
tolerances are left at their defaults (ftol = xtol = gtol = 1e-8 for
SciPy/lsqbox, rhoend = 1e-8 for DFO-LS): the profiles measure what a user gets
out of the box.

Noise (``--noise [LEVEL]``, default level 1e-3): each call returns
``r * (1 + LEVEL * z)``, z ~ N(0, I_m), from a generator seeded by
(``--seed``, problem number) and created afresh for every solver, so every
solver sees the same noisy value at x0 (its first evaluation). As in
Moré–Wild's noisy set the histories, f(x0) and f_L are the noisy values the
solvers see. (Moré–Wild's ``noisy3`` uses uniform noise u ~ U[-1e-3, 1e-3] on
each residual; we use the normal distribution asked for here.) With
``--deterministic`` the noise is a function of x instead (z from a generator
seeded by (seed, problem, crc32 of x's bytes)): the same x returns the same
value, as a simulation code with computational noise does. ``--seeds 1-4``
reruns the (stochastic) noisy set with more noise realizations; the page then
shows the mean over them.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")    # tiny problems: threads only add noise

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from problems import PROBLEMS  # noqa: E402

DOCS = REPO / "docs"
MD_PATH = DOCS / "benchmarks_more_wild.md"
PNG_PATH = DOCS / "more_wild_profiles.png"
SEEDS_PATH = HERE / "results_noisy_seeds.json"   # --seeds: more noise realizations
DEFAULT_TAUS = (1e-1, 1e-3, 1e-5, 1e-7)
MAIN_TAU = 1e-5
BUDGET_FACTOR = 100          # budget = BUDGET_FACTOR * (n + 1) evaluations
DEFAULT_NOISE = 1e-3


def results_path(noise: float, deterministic: bool = False) -> Path:
    if noise > 0 and deterministic:
        return HERE / "results_noisy_deterministic.json"
    return HERE / ("results_noisy.json" if noise > 0 else "results_smooth.json")


# ---------------------------------------------------------------------------
# Counting the evaluations.
# ---------------------------------------------------------------------------
class BudgetExhausted(Exception):
    """Raised by `CountedFunction` at the first call past the budget."""


class CountedFunction:
    """Wrap r(x): count every call, record f = ||r||^2, stop at the budget.

    ``fvals[k]`` is f at the (k+1)-th call (non-finite residuals give inf).
    The call number budget + 1 raises `BudgetExhausted` (when ``hard_stop``;
    otherwise it evaluates but records nothing: the history is truncated).
    """

    def __init__(self, fun, budget, noise=0.0, rng=None, hard_stop=True, key=None):
        self.fun = fun
        self.budget = int(budget)
        self.noise = float(noise)
        self.rng = rng
        # Deterministic noise: z drawn from a generator seeded by `key` and
        # the bits of x, so the same x always gets the same z.
        self.key = key
        self.hard_stop = hard_stop
        self.fvals: list[float] = []
        self.calls = 0
        self.best_f = math.inf
        self.best_x = None
        # Noisy runs: noise-free f at the best (noisy) point so far, at each change.
        self.best_true: list[list[float]] = []

    def __call__(self, x, *args, **kwargs):
        self.calls += 1
        if self.calls > self.budget and self.hard_stop:
            raise BudgetExhausted
        x = np.array(x, dtype=float, copy=True).ravel()
        with np.errstate(all="ignore"):
            r = np.asarray(self.fun(x), dtype=float)
            if self.noise > 0:
                rng = self.rng if self.key is None else np.random.default_rng(
                    [*self.key, zlib.crc32(x.tobytes())])
                r = r * (1.0 + self.noise * rng.standard_normal(r.shape))
            f = float(r @ r)
        if not math.isfinite(f):
            f = math.inf
        if self.calls <= self.budget:
            self.fvals.append(f)
            if f < self.best_f:
                self.best_f, self.best_x = f, x
                if self.noise > 0:   # not counted: the benchmark's own bookkeeping
                    with np.errstate(all="ignore"):
                        r0 = np.asarray(self.fun(x), dtype=float)
                        ft = float(r0 @ r0)
                    self.best_true.append([self.calls, ft if math.isfinite(ft) else math.inf])
        return r

    @property
    def exhausted(self):
        return self.calls >= self.budget


def noise_rng(seed: int, problem_index: int):
    return np.random.default_rng([seed, problem_index])


# ---------------------------------------------------------------------------
# Solver adapters: adapter(fun, x0, budget, noisy) -> message (str).
# ``fun`` is the CountedFunction; BudgetExhausted propagates to the caller.
# ---------------------------------------------------------------------------
def _ls_message(res):
    return f"status {res.status}: {res.message}"


def scipy_trf(fun, x0, budget, noisy):
    from scipy.optimize import least_squares
    return _ls_message(least_squares(fun, x0, method="trf", jac="2-point", max_nfev=budget))


def scipy_lm(fun, x0, budget, noisy):
    from scipy.optimize import least_squares
    # For 'lm' (MINPACK lmdif) max_nfev counts the finite-difference calls too.
    return _ls_message(least_squares(fun, x0, method="lm", jac="2-point", max_nfev=budget))


def _lsqbox(method, jac):
    def adapter(fun, x0, budget, noisy):
        import lsqbox
        # Like DFO-LS's objfun_has_noise: the noisy runs tell the solver so.
        extra = {"noise": "auto"} if (noisy and jac == "broyden") else {}
        return _ls_message(lsqbox.least_squares(fun, x0, method=method, jac=jac,
                                                max_nfev=budget, **extra))
    return adapter


def dfols_solve(fun, x0, budget, noisy):
    import dfols
    logging.getLogger("dfols").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = dfols.solve(fun, x0, maxfun=budget, objfun_has_noise=bool(noisy),
                          do_logging=False)
    return f"flag {sol.flag}: {sol.msg}"


# ---------------------------------------------------------------------------
# Availability checks.
# ---------------------------------------------------------------------------
def _probe_fun(x):
    return np.array([x[0] - 1.0, 10.0 * (x[1] - x[0] ** 2), 0.5 * x[1]])


def _check_lsqbox():
    try:
        import lsqbox  # noqa: F401
    except ImportError as exc:
        return f"lsqbox is not importable ({exc}); pip install -e /work/main"
    return None


def _check_broyden(method):
    def check():
        msg = _check_lsqbox()
        if msg:
            return msg
        import lsqbox
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lsqbox.least_squares(_probe_fun, np.array([-1.2, 1.0]), jac="broyden",
                                     method=method, max_nfev=20)
        except ValueError as exc:
            return f"lsqbox raises ValueError for jac='broyden', method='{method}': {exc}"
        except Exception as exc:  # noqa: BLE001
            return (f"lsqbox jac='broyden', method='{method}' failed on a probe: "
                    f"{type(exc).__name__}: {exc}")
        return None
    return check


def _check_dfols():
    try:
        import dfols  # noqa: F401
    except ImportError:
        return ("DFO-LS is not installed (GPL; never a project dependency). To include it: "
                "`.venv/bin/pip install DFO-LS`, rerun, then "
                "`.venv/bin/pip uninstall -y DFO-LS pandas` if you like")
    return None


SOLVERS = {
    # name: (adapter, availability check, label, in the default set)
    "scipy-trf": (scipy_trf, lambda: None, "SciPy trf (2-point)", True),
    "scipy-lm": (scipy_lm, lambda: None, "SciPy lm (MINPACK)", True),
    "lsqbox-trf": (_lsqbox("trf", "2-point"), _check_lsqbox, "lsqbox trf (2-point)", True),
    "lsqbox-lm": (_lsqbox("lm", "2-point"), _check_lsqbox, "lsqbox lm (2-point)", False),
    "lsqbox-broyden-trf": (_lsqbox("trf", "broyden"), _check_broyden("trf"),
                           "lsqbox trf (Broyden)", True),
    "lsqbox-broyden-lm": (_lsqbox("lm", "broyden"), _check_broyden("lm"),
                          "lsqbox lm (Broyden)", True),
    "dfols": (dfols_solve, _check_dfols, "DFO-LS", True),
}
DEFAULT_SOLVERS = [k for k, v in SOLVERS.items() if v[3]]


def solver_label(name, meta=None):
    if meta and name in meta.get("solvers", {}):
        return meta["solvers"][name].get("label", name)
    return SOLVERS[name][2] if name in SOLVERS else name


# ---------------------------------------------------------------------------
# Running.
# ---------------------------------------------------------------------------
def best_so_far(fvals):
    """[[k, f_best]] at each strict improvement, k = 1-based evaluation number."""
    out, best = [], math.inf
    for k, f in enumerate(fvals, start=1):
        if f < best:
            best = f
            out.append([k, f])
    return out


def _counted(problem, budget, noise, seed, deterministic):
    """The counting wrapper: smooth, stochastic noise (a stream seeded by
    (seed, problem)) or deterministic noise (seeded by (seed, problem, x))."""
    if noise > 0 and deterministic:
        return CountedFunction(problem.fun, budget, noise=noise, key=(seed, problem.index))
    rng = noise_rng(seed, problem.index) if noise > 0 else None
    return CountedFunction(problem.fun, budget, noise=noise, rng=rng)


def run_one(name, problem, noise, seed, full_history=False, deterministic=False):
    adapter = SOLVERS[name][0]
    budget = BUDGET_FACTOR * (problem.n + 1)
    fun = _counted(problem, budget, noise, seed, deterministic)
    x0 = np.array(problem.x0, dtype=float)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            message = adapter(fun, x0, budget, noise > 0)
        stop = "solver"
    except BudgetExhausted:
        message, stop = "budget of evaluations used up", "budget"
    except Exception as exc:  # noqa: BLE001  (a failing solver is a result too)
        message, stop = f"{type(exc).__name__}: {exc}", "error"
    elapsed = time.perf_counter() - t0
    f_true = None
    if fun.best_x is not None:
        with np.errstate(all="ignore"):
            r = problem.fun(fun.best_x)
            f_true = float(r @ r) if np.all(np.isfinite(r)) else None
    run = {
        "nfev": len(fun.fvals),
        "stop": stop,
        "message": message,
        "time": round(elapsed, 4),
        "f_first": fun.fvals[0] if fun.fvals else None,
        "best": best_so_far(fun.fvals),
        "f_true_at_best": f_true,
    }
    if noise > 0:
        run["best_true"] = fun.best_true
    if full_history:
        run["fvals"] = fun.fvals
    return run


def problem_meta(problem, noise, seed, deterministic=False):
    x0 = np.array(problem.x0, dtype=float)
    if noise > 0:   # the first evaluation of every solver: the first draw of the seeded rng
        r = _counted(problem, 1, noise, seed, deterministic)(x0)
    else:
        r = problem.fun(x0)
    r_true = problem.fun(x0)
    return {"index": problem.index, "nprob": problem.nprob, "name": problem.name,
            "n": problem.n, "m": problem.m, "s": problem.s,
            "budget": BUDGET_FACTOR * (problem.n + 1), "f0": float(r @ r),
            "f0_true": float(r_true @ r_true)}


def parse_ints(spec):
    """'1-10,19' -> {1, ..., 10, 19}."""
    chosen = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            chosen.update(range(int(a), int(b) + 1))
        else:
            chosen.add(int(part))
    return chosen


def parse_problems(spec):
    if not spec:
        return list(PROBLEMS)
    chosen = parse_ints(spec)
    bad = sorted(i for i in chosen if not 1 <= i <= len(PROBLEMS))
    if bad:
        raise SystemExit(f"--problems: no problem number(s) {bad} (1..{len(PROBLEMS)})")
    return [p for p in PROBLEMS if p.index in chosen]


def _git_commit():
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except Exception:  # noqa: BLE001
        return None


def versions():
    import scipy
    out = {"python": platform.python_version(), "numpy": np.__version__,
           "scipy": scipy.__version__, "lsqbox_commit": _git_commit()}
    for mod in ("lsqbox", "dfols"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            pass
    return out


def run_benchmark(solvers, problems, noise, seed, full_history=False, verbose=True,
                  deterministic=False):
    meta_solvers, runs = {}, {}
    for name in solvers:
        reason = SOLVERS[name][1]()
        meta_solvers[name] = {"label": SOLVERS[name][2], "available": reason is None}
        if reason:
            meta_solvers[name]["skipped"] = reason
            print(f"[skip] {name}: {reason}", flush=True)
    active = [s for s in solvers if meta_solvers[s]["available"]]
    for name in active:
        runs[name] = {}
        t0 = time.perf_counter()
        for p in problems:
            runs[name][str(p.index)] = run_one(name, p, noise, seed, full_history,
                                               deterministic)
        meta_solvers[name]["time"] = round(time.perf_counter() - t0, 2)
        if verbose:
            n_budget = sum(r["stop"] == "budget" for r in runs[name].values())
            n_err = sum(r["stop"] == "error" for r in runs[name].values())
            print(f"[run] {name:<20} {len(problems)} problems in "
                  f"{meta_solvers[name]['time']:.1f} s (budget used up on {n_budget}, "
                  f"errors {n_err})", flush=True)
    return {
        "meta": {
            "created": _dt.datetime.now().isoformat(timespec="seconds"),
            "noise": noise, "noise_model": "r * (1 + noise * N(0, I))" if noise else None,
            "deterministic": bool(noise and deterministic),
            "seed": seed, "budget": f"{BUDGET_FACTOR} * (n + 1) evaluations",
            "versions": versions(), "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
            "solvers": meta_solvers,
        },
        "problems": [problem_meta(p, noise, seed, deterministic) for p in problems],
        "runs": runs,
    }


def merge_results(old, new):
    """Add/replace the runs of `new` in `old` (same noise and seed)."""
    for key in ("noise", "seed", "deterministic"):
        if old["meta"].get(key, False) != new["meta"].get(key, False):
            raise SystemExit(f"--merge: {key} differs from the stored results "
                             f"({old['meta'].get(key)} vs {new['meta'].get(key)})")
    probs = {p["index"]: p for p in old["problems"]}
    probs.update({p["index"]: p for p in new["problems"]})
    old["problems"] = [probs[k] for k in sorted(probs)]
    for name, per_problem in new["runs"].items():
        old["runs"].setdefault(name, {}).update(per_problem)
    for name, info in new["meta"]["solvers"].items():
        if info.get("available") or name not in old["runs"]:
            old["meta"]["solvers"][name] = info
    old["meta"]["created"] = new["meta"]["created"]
    old["meta"]["versions"] = new["meta"]["versions"]
    return old


# ---------------------------------------------------------------------------
# Analysis: f_L, solve times, data profiles, tables.
# ---------------------------------------------------------------------------
def analyse(results, taus, solvers=None, truth=False, f_l_floor=None):
    """Per solver and tau: evaluations to solve each problem (None: not solved).

    ``truth=True`` (noisy runs only) judges each solver by the noise-free f at
    the best point it has seen (by its noisy values), from the noise-free f(x0);
    ``f_l_floor`` ({problem: f}) lowers f_L further (e.g. to the smooth runs' f_L).
    """
    hist = "best_true" if truth else "best"
    names = [s for s in (solvers or results["runs"].keys()) if s in results["runs"]]
    problems = [p for p in results["problems"]
                if all(str(p["index"]) in results["runs"][s] for s in names)]
    f_l, t_solve, f0s = {}, {s: {tau: {} for tau in taus} for s in names}, {}
    for p in problems:
        key = str(p["index"])
        f0 = p["f0_true"] if truth else p["f0"]
        bests = {s: results["runs"][s][key].get(hist, []) for s in names}
        cands = [f0] + [min(f for _, f in b) for b in bests.values() if b]
        if f_l_floor and key in f_l_floor:
            cands.append(f_l_floor[key])
        f_l[key] = min(cands)
        f0s[key] = f0
        for s in names:
            for tau in taus:
                need = (1.0 - tau) * (f0 - f_l[key])
                k_solved = None
                for k, f in bests[s]:
                    if f0 - f >= need:
                        k_solved = k
                        break
                t_solve[s][tau][key] = k_solved
    return {"solvers": names, "problems": problems, "f_L": f_l, "t": t_solve, "f0": f0s,
            "truth": truth}


def data_profile(an, solver, tau, alphas):
    sg = [an["t"][solver][tau][str(p["index"])] for p in an["problems"]]
    sg = np.array([k / (p["n"] + 1) if k is not None else np.inf
                   for k, p in zip(sg, an["problems"], strict=True)])
    return np.array([(sg <= a).mean() for a in alphas])


def summary(an, solver, tau):
    """(% solved within the budget, median simplex gradients over solved problems)."""
    sg = [an["t"][solver][tau][str(p["index"])] / (p["n"] + 1)
          for p in an["problems"] if an["t"][solver][tau][str(p["index"])] is not None]
    pct = 100.0 * len(sg) / len(an["problems"]) if an["problems"] else float("nan")
    return pct, (float(np.median(sg)) if sg else None)


def _fmt_cell(pct, med):
    return f"{pct:.0f}% ({med:.1f})" if med is not None else f"{pct:.0f}% (–)"


def _tau_str(tau):
    return f"1e{int(round(math.log10(tau)))}" if tau > 0 else str(tau)


def table_markdown(an, taus, meta):
    head = ("| solver | " + " | ".join(f"τ = {_tau_str(t)}" for t in taus)
            + " | time (s) |")
    sep = "|---|" + "---:|" * len(taus) + "---:|"
    rows = [head, sep]
    for s in an["solvers"]:
        cells = [_fmt_cell(*summary(an, s, tau)) for tau in taus]
        tm = meta["solvers"].get(s, {}).get("time")
        rows.append(f"| {solver_label(s, meta)} | " + " | ".join(cells)
                    + f" | {tm if tm is not None else '–'} |")
    return "\n".join(rows)


def table_text(an, taus, meta, title):
    lines = [title, "  cells: % solved within 100(n+1) evaluations (median simplex gradients "
             "over solved problems)"]
    w = max([len(solver_label(s, meta)) for s in an["solvers"]] + [6])
    lines.append("  " + "solver".ljust(w) + "".join(f"{'tau=' + _tau_str(t):>16}" for t in taus))
    for s in an["solvers"]:
        lines.append("  " + solver_label(s, meta).ljust(w)
                     + "".join(f"{_fmt_cell(*summary(an, s, t)):>16}" for t in taus))
    return "\n".join(lines)


def per_problem_markdown(an, results, tau):
    names = an["solvers"]
    head = ("| # | problem | n | m | s | f(x0) | f_L | "
            + " | ".join(solver_label(s, results["meta"]) for s in names) + " |")
    sep = "|---:|---|---:|---:|---:|---:|---:|" + "---:|" * len(names)
    rows = [head, sep]
    for p in an["problems"]:
        key = str(p["index"])
        cells = []
        for s in names:
            k = an["t"][s][tau][key]
            hist = results["runs"][s][key].get("best_true" if an["truth"] else "best")
            if k is not None:
                cells.append(f"{k / (p['n'] + 1):.1f}")
            else:
                fb = min(f for _, f in hist) if hist else float("nan")
                cells.append(f"– ({fb:.3g})")
        rows.append(f"| {p['index']} | {p['name']} | {p['n']} | {p['m']} | {p['s']} | "
                    f"{an['f0'][key]:.4g} | {an['f_L'][key]:.4g} | " + " | ".join(cells)
                    + " |")
    return "\n".join(rows)


# ---------------------------------------------------------------------------
# Plot and markdown.
# ---------------------------------------------------------------------------
_STYLES = {
    "scipy-trf": dict(color="tab:blue", ls="-"),
    "scipy-lm": dict(color="tab:orange", ls="-"),
    "lsqbox-trf": dict(color="tab:green", ls="--"),
    "lsqbox-lm": dict(color="tab:olive", ls="--"),
    "lsqbox-broyden-trf": dict(color="tab:red", ls="-", lw=2.2),
    "lsqbox-broyden-lm": dict(color="tab:purple", ls="-", lw=2.2),
    "dfols": dict(color="black", ls=":", lw=2.0),
}


def plot_profiles(sets, taus, path):
    """sets: list of (title, results, analysis); one row of panels per set."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alphas = np.linspace(0, BUDGET_FACTOR, 1001)
    fig, axes = plt.subplots(len(sets), len(taus), figsize=(4.0 * len(taus), 3.4 * len(sets)),
                             squeeze=False, sharex=True, sharey=True)
    for row, (title, results, an) in enumerate(sets):
        for col, tau in enumerate(taus):
            ax = axes[row][col]
            for s in an["solvers"]:
                style = dict(_STYLES.get(s, {}))
                style.setdefault("lw", 1.6)
                ax.step(alphas, data_profile(an, s, tau, alphas), where="post",
                        label=solver_label(s, results["meta"]), **style)
            ax.set_title(f"{title}, τ = {_tau_str(tau)}", fontsize=10)
            ax.set_xlim(0, BUDGET_FACTOR)
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            if row == len(sets) - 1:
                ax.set_xlabel("simplex gradients  (evaluations / (n+1))")
            if col == 0:
                ax.set_ylabel("fraction of problems solved")
    seen = {}
    for row in axes:
        for ax in row:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen.keys()), loc="lower center",
               ncol=min(len(seen), 7), frameon=False, fontsize=9)
    fig.suptitle(f"Moré–Wild data profiles, {len(sets[0][2]['problems'])} problems, "
                 f"budget {BUDGET_FACTOR}(n+1) evaluations", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _set_title(results, truth=False):
    noise = results["meta"]["noise"]
    if not noise:
        return "smooth"
    kind = ", deterministic" if results["meta"].get("deterministic") else ""
    return (f"noisy ({noise:g}{kind}), noise-free f" if truth
            else f"noisy ({noise:g} relative{kind})")


_SET_NOTES = {
    False: "",
    True: ("The same noisy runs judged by the noise-free f: each solver is credited with "
           "the noise-free f at the best point it has seen (best by the noisy values it was "
           "given, i.e. the point it would return), f(x0) is noise-free, and f_L is the "
           "lowest noise-free f reached in the smooth and the noisy runs. This asks whether "
           "the problem was really solved, not whether a lucky noise draw was seen; with only "
           "one solver making progress, the default criterion above gives that solver 100% "
           "by construction."),
}


def _reference_note():
    return (
        "For orientation, numbers measured elsewhere on this set at τ = 1e-5: SciPy lm "
        "92% (median 5.2 simplex gradients), SciPy trf 96% (5.4), DFO-LS 96% (3.7); "
        "with 1e-3 relative noise SciPy solves none and DFO-LS 75%. Percentages depend "
        "on f_L, i.e. on which solvers are compared, and on the noise criterion.")


def _spread(values):
    return (f"{np.mean(values):.0f}% ({min(values):.0f}–{max(values):.0f})"
            if values else "–")


def seeds_markdown(smooth_fl=None):
    """The noisy set over several noise realizations (``--seeds``), or [].

    One realization decides "solved" at tau = 1e-5 for the problems whose f_L
    sits at the noise level: f_L is the luckiest draw any solver saw, and a
    solver that happens to see one more lucky draw gains a problem. Moving the
    stream by a single call moves lsqbox's percentages by several points, so
    the mean over realizations is the number to compare."""
    extra = load_results(SEEDS_PATH)
    main = load_results(results_path(1.0))
    if not extra:
        return []
    by_seed = dict(extra["seeds"])
    if main and str(main["meta"]["seed"]) not in by_seed:
        by_seed[str(main["meta"]["seed"])] = main
    rows = {}
    for results in by_seed.values():
        for truth in (False, True):
            an = analyse(results, (1e-3, MAIN_TAU), truth=truth,
                         f_l_floor=smooth_fl if truth else None)
            for solver in an["solvers"]:
                row = rows.setdefault(solver, {"label": solver_label(solver, results["meta"])})
                for tau in (1e-3, MAIN_TAU):
                    row.setdefault((truth, tau), []).append(summary(an, solver, tau)[0])
    seeds = sorted(int(k) for k in by_seed)
    noise = next(iter(by_seed.values()))["meta"]["noise"]
    lines = [
        f"## Noisy ({noise:g} relative), over noise realizations",
        "",
        f"The noisy set again with the noise seeds {', '.join(map(str, seeds))} "
        f"(`--seeds`; seed {main['meta']['seed'] if main else 0} is the run above): mean "
        "percentage of the 53 problems solved (lowest–highest). At τ = 1e-5 many problems "
        "are decided by the luckiest noise draw any solver saw (f_L), so one realization "
        "moves percentages by several points; compare these means.",
        "",
        "| solver | τ = 1e-3 | τ = 1e-5 | noise-free f, τ = 1e-3 | noise-free f, τ = 1e-5 |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows.values():
        lines.append(f"| {row['label']} | " + " | ".join(
            _spread(row.get(key, [])) for key in
            ((False, 1e-3), (False, MAIN_TAU), (True, 1e-3), (True, MAIN_TAU))) + " |")
    return lines + [""]


def write_markdown(sets, taus, path, png_path, extra_sections=()):
    lines = [
        "# Moré–Wild derivative-free benchmark",
        "",
        "Generated by `benchmarks/more_wild/run.py` (do not edit by hand; rerun it). "
        "The 53 problems of Moré & Wild, *Benchmarking derivative-free optimization "
        "algorithms*, SIAM J. Optim. 20(1), 2009, are defined in "
        "`benchmarks/more_wild/problems.py` (22 Moré–Garbow–Hillstrom/CUTEr functions, "
        "2 ≤ n ≤ 12, 2 ≤ m ≤ 65); `benchmarks/more_wild/check_problems.py` checks f(x0), "
        "the residuals and the gradient at all 53 starting points against the reference "
        "file `testout.dat` (all match).",
        "",
        "**Protocol.** Budget 100 (n + 1) evaluations of the residual function per problem; "
        "every call counts, finite-difference calls included (a counting wrapper records "
        "f = ‖r‖² at each call and ends the solve when the budget is used up; a solver that "
        "stops earlier keeps its best value). f_L = the best f found by any solver in the "
        "table within the budget. A problem is solved at tolerance τ once "
        "f(x0) − f_best ≥ (1 − τ)(f(x0) − f_L). Cells: percentage of the 53 problems solved "
        "within the budget (median number of simplex gradients, evaluations / (n + 1), over "
        "the solved problems). Solvers run with their default tolerances; SciPy and lsqbox "
        "get `max_nfev = budget` (SciPy's 'trf' count excludes finite-difference calls, so "
        "there the counter is what stops it; for 'lm' MINPACK counts them). DFO-LS runs "
        "with `maxfun = budget` (and `objfun_has_noise=True` on the noisy set). The noisy "
        "set uses r(x)·(1 + σ z), z ~ N(0, I), σ = 1e-3, from a generator seeded per "
        "problem; there the histories, f(x0) and f_L are the noisy values the solvers see, "
        "as in Moré–Wild. The deterministic noisy set draws z from a generator seeded by "
        "the problem and the bits of x, so the same x always returns the same r, as a "
        "simulation code does (noise from meshes, tolerances, inner iterations). "
        "Time = wall time of the solver over all 53 problems on a busy "
        "2-core machine (the residual functions cost microseconds, so this is solver "
        "overhead).",
        "",
    ]
    noted = set()
    for title, results, an in sets:
        meta = results["meta"]
        v = meta["versions"]
        lines += [f"## {title[0].upper() + title[1:]}", ""]
        if _SET_NOTES[an["truth"]]:
            lines += [_SET_NOTES[an["truth"]], ""]
        lines += [
            f"Run {meta['created']}; {len(an['problems'])} problems; SciPy {v.get('scipy')}, "
            f"NumPy {v.get('numpy')}, lsqbox {v.get('lsqbox', '?')} (commit "
            f"{v.get('lsqbox_commit')})" + (f", DFO-LS {v['dfols']}" if "dfols" in v else "")
            + f", Python {v.get('python')}.",
            "",
            table_markdown(an, taus, meta),
            "",
        ]
        skipped = {k: i["skipped"] for k, i in meta["solvers"].items()
                   if not i.get("available") and k not in results["runs"]}
        if skipped and id(results) not in noted:
            noted.add(id(results))
            lines += ["Not run:", ""] + [f"- `{k}`: {r}" for k, r in skipped.items()] + [""]
    lines += list(extra_sections)
    lines += [f"![Data profiles]({png_path.name})", "", _reference_note(), ""]
    lines += _observations(sets)
    for title, results, an in sets:
        lines += [
            f"<details><summary>Per problem, {title}: simplex gradients to solve at "
            f"τ = {_tau_str(MAIN_TAU)} (– : not solved, best f in brackets)</summary>",
            "",
            per_problem_markdown(an, results, MAIN_TAU),
            "",
            "</details>",
            "",
        ]
    lines += [
        "## Rerunning",
        "",
        "```sh",
        "python benchmarks/more_wild/check_problems.py   # definitions vs testout.dat",
        "pip install -e .[bench]                         # matplotlib",
        "pip install DFO-LS                              # optional (GPL): venv only, not a dep",
        "python benchmarks/more_wild/run.py              # smooth set -> results_smooth.json",
        "python benchmarks/more_wild/run.py --noise      # noisy set  -> results_noisy.json",
        "python benchmarks/more_wild/run.py --noise --seeds 1-4  # more noise realizations",
        "python benchmarks/more_wild/run.py --noise --deterministic  # the same x, the same noise",
        "python benchmarks/more_wild/run.py --report-only  # this page and the plot from the JSON",
        "```",
        "",
        "Options: `--solvers a,b` (scipy-trf, scipy-lm, lsqbox-trf, lsqbox-lm, "
        "lsqbox-broyden-trf, lsqbox-broyden-lm, dfols), `--problems 1-10,19`, "
        "`--tau 1e-3,1e-5`, `--merge` (add the runs to the stored JSON instead of replacing "
        "it, e.g. `--solvers lsqbox-broyden-trf,lsqbox-broyden-lm --merge`), `--seed`, "
        "`--full-history`. The Broyden solvers are skipped, with a note, while lsqbox raises "
        "ValueError for `jac='broyden'`.",
        "",
    ]
    path.write_text("\n".join(lines))


def _observations(sets):
    """One line per set at the main tolerance, computed from the results."""
    out = []
    for title, results, an in sets:
        parts = []
        for s in an["solvers"]:
            pct, med = summary(an, s, MAIN_TAU)
            parts.append(f"{solver_label(s, results['meta'])} {pct:.0f}%"
                         + (f" (median {med:.1f})" if med is not None else ""))
        out.append(f"- {title[0].upper() + title[1:]}, τ = {_tau_str(MAIN_TAU)}: "
                   + "; ".join(parts) + ".")
    return out + [""] if out else []


def load_results(path):
    return json.loads(Path(path).read_text()) if Path(path).exists() else None


def report(taus, solvers=None, write_docs=True):
    """Tables (stdout) and, with write_docs, the docs page and plot, from the JSON files."""
    sets = []
    smooth_fl = None
    for noise_flag, deterministic in ((0.0, False), (1.0, False), (1.0, True)):
        results = load_results(results_path(noise_flag, deterministic))
        if not results:
            continue
        an = analyse(results, taus, solvers)
        if not an["solvers"] or not an["problems"]:
            continue
        if noise_flag == 0.0:
            smooth_fl = an["f_L"]
        sets.append((_set_title(results), results, an))
        if noise_flag > 0 and all("best_true" in r for per in results["runs"].values()
                                  for r in per.values()):
            an_true = analyse(results, taus, solvers, truth=True, f_l_floor=smooth_fl)
            sets.append((_set_title(results, truth=True), results, an_true))
    for title, results, an in sets:
        print(table_text(an, taus, results["meta"], f"\n{title}:"))
    if write_docs and sets:
        DOCS.mkdir(exist_ok=True)
        try:
            plot_profiles(sets, taus, PNG_PATH)
            print(f"\nwrote {PNG_PATH.relative_to(REPO)}")
        except ImportError:
            print("\nmatplotlib is missing: pip install -e .[bench]  (no plot written)")
        write_markdown(sets, taus, MD_PATH, PNG_PATH, seeds_markdown(smooth_fl))
        print(f"wrote {MD_PATH.relative_to(REPO)}")
    return sets


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Moré–Wild data profiles for SciPy, lsqbox and DFO-LS.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Solvers: " + ", ".join(SOLVERS) + f". Default: {','.join(DEFAULT_SOLVERS)}.")
    ap.add_argument("--noise", nargs="?", type=float, const=DEFAULT_NOISE, default=0.0,
                    metavar="LEVEL", help=f"relative noise level (default {DEFAULT_NOISE:g} "
                    "when given without a value; 0: smooth)")
    ap.add_argument("--solvers", default=",".join(DEFAULT_SOLVERS),
                    help="comma-separated solver names")
    ap.add_argument("--problems", default="", help="problem numbers 1..53, e.g. 1-10,19")
    ap.add_argument("--tau", default=",".join(f"{t:g}" for t in DEFAULT_TAUS),
                    help="comma-separated tolerances for the profiles and the table")
    ap.add_argument("--seed", type=int, default=0, help="noise seed (with the problem number)")
    ap.add_argument("--deterministic", action="store_true",
                    help="with --noise: the same x always gets the same noise (a simulation "
                    "code's kind) -> results_noisy_deterministic.json")
    ap.add_argument("--seeds", default="", help="with --noise: run these noise seeds too, "
                    "e.g. 1-4 (-> results_noisy_seeds.json; the page shows the mean over "
                    "them and the main run)")
    ap.add_argument("--out", default=None, help="results JSON (default results_smooth.json / "
                    "results_noisy.json beside this script)")
    ap.add_argument("--merge", action="store_true",
                    help="add these runs to the stored results instead of replacing them")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite the docs page/plot")
    ap.add_argument("--report-only", action="store_true",
                    help="only rebuild the table and plot from the stored JSON files")
    ap.add_argument("--full-history", action="store_true",
                    help="also store f at every evaluation (bigger JSON)")
    args = ap.parse_args(argv)

    taus = tuple(float(t) for t in args.tau.split(",") if t.strip())
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    unknown = [s for s in solvers if s not in SOLVERS]
    if unknown:
        raise SystemExit(f"unknown solver(s) {unknown}; choose from {', '.join(SOLVERS)}")

    if args.report_only:
        chosen = solvers if args.solvers != ",".join(DEFAULT_SOLVERS) else None
        report(taus, chosen, write_docs=not args.no_docs)
        return 0

    problems = parse_problems(args.problems)
    if args.seeds:
        return run_seeds(args, solvers, problems, taus)
    out = Path(args.out) if args.out else results_path(args.noise, args.deterministic)
    print(f"{'noisy (' + format(args.noise, 'g') + ')' if args.noise else 'smooth'} set: "
          f"{len(problems)} problems, solvers {', '.join(solvers)}", flush=True)
    t0 = time.perf_counter()
    results = run_benchmark(solvers, problems, args.noise, args.seed, args.full_history,
                            deterministic=args.deterministic)
    print(f"total {time.perf_counter() - t0:.1f} s", flush=True)
    if not results["runs"]:
        print("no solver could run")
        return 1
    if args.merge and out.exists():
        results = merge_results(json.loads(out.read_text()), results)
    out.write_text(json.dumps(results, separators=(",", ":")))
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")

    # Sanity check: every solver's first evaluation is at x0.
    f0 = {str(p["index"]): p["f0"] for p in results["problems"]}
    for s, per in results["runs"].items():
        odd = [k for k, r in per.items()
               if r["f_first"] is not None and not math.isclose(r["f_first"], f0[k],
                                                                rel_tol=1e-12)]
        if odd:
            print(f"note: {s}'s first evaluation is not f(x0) on problems {odd}")

    full_set = len(results["problems"]) == len(PROBLEMS) and args.out is None
    if full_set and not args.no_docs:
        report(taus)
    else:
        an = analyse(results, taus)
        print(table_text(an, taus, results["meta"], f"\n{_set_title(results)}:"))
        if not args.no_docs:
            print("(docs not rewritten: a subset of the problems or a custom --out)")
    return 0


def run_seeds(args, solvers, problems, taus):
    """--seeds: the noisy set once per seed, into SEEDS_PATH, then the page."""
    if not args.noise or args.deterministic:
        raise SystemExit("--seeds needs --noise (stochastic noise)")
    if len(problems) != len(PROBLEMS):
        raise SystemExit("--seeds runs the whole set")
    seeds = sorted(parse_ints(args.seeds))
    stored = {"seeds": {}}
    for seed in seeds:
        print(f"noisy ({args.noise:g}) set, seed {seed}: solvers {', '.join(solvers)}",
              flush=True)
        stored["seeds"][str(seed)] = run_benchmark(solvers, problems, args.noise, seed)
        SEEDS_PATH.write_text(json.dumps(stored, separators=(",", ":")))
    print(f"wrote {SEEDS_PATH.relative_to(REPO)}")
    if not args.no_docs:
        report(taus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
