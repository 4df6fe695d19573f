"""Timing helpers shared by the speed benchmarks.

* `Accumulator`: wraps a user's ``fun`` or ``jac`` so the time spent inside it
  is added up; the solver's *overhead* is the time of the solve minus that
  time (minus the wrapper's own, calibrated, cost per call).
* `compare`: time ``scipy.optimize.least_squares`` and ``lsqbox.least_squares``
  on the same problem in the same process, alternating between them (and
  alternating which goes first) so that slow drift of the machine (other
  processes, CPU frequency) hits both alike. Each solver gets a warm-up, then
  enough repeats to fill a time budget; we report the median and the
  inter-quartile range.
* `markdown_table`: format rows as a GitHub-flavoured markdown table.
* `machine_info`: CPU, library versions, date, load.

Wall times use `time.perf_counter`. On a busy machine a solve of a
millisecond is often descheduled part-way, which inflates wall times at
random; the plain runs therefore also record the thread's CPU time
(`time.thread_time`, one call before and after the solve), reported as a
noise-robust second opinion.
"""

from __future__ import annotations

import os

# BLAS threads: the machine is small and shared, and a multi-threaded BLAS that
# competes with other processes for cores shows 10x outliers. Both solvers use
# the same BLAS, so one thread keeps the comparison fair and much less noisy.
# Override with BENCH_BLAS_THREADS=N (or set OPENBLAS_NUM_THREADS yourself).
# Must run before numpy is imported: import this module first.
BLAS_THREADS = os.environ.get("BENCH_BLAS_THREADS", "1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, BLAS_THREADS)

import datetime as _dt  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

if "numpy" in sys.modules:
    warnings.warn("benchmarks/common.py imported after numpy: BLAS thread limit "
                  "not applied", stacklevel=2)

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
_SRC = REPO / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    # Prefer the working tree over whatever is installed.
    sys.path.insert(0, str(_SRC))

import scipy  # noqa: E402
import scipy.optimize  # noqa: E402

import lsqbox  # noqa: E402

SOLVERS: dict[str, Callable] = {
    "scipy": scipy.optimize.least_squares,
    "lsqbox": lsqbox.least_squares,
}

_clock = time.perf_counter
_cpu = time.thread_time   # ~1 µs per call (a system call), ns resolution


# --------------------------------------------------------------------------
# Time spent inside the user's functions
# --------------------------------------------------------------------------
class Accumulator:
    """Time spent in wrapped callables (wall and thread CPU), and the calls.

    Each call of a wrapped function reads both clocks before and after it.
    What the wrapper itself costs outside the measured interval (the extra
    Python call and half of the clock reads, about 1-2 µs per call) is measured
    once by `calibrate` and subtracted by `overhead`, so that a solver's
    overhead does not grow with the number of calls it makes.
    """

    __slots__ = ("wall", "cpu", "calls")
    per_call_wall = 0.0   # wrapper cost outside the interval, set by calibrate()
    per_call_cpu = 0.0

    def __init__(self):
        self.wall = 0.0
        self.cpu = 0.0
        self.calls = 0

    def wrap(self, func):
        """``func`` with its run time added to this accumulator."""
        if func is None or not callable(func):
            return func

        def wrapped(*args, **kwargs):
            c0 = _cpu()
            t0 = _clock()
            try:
                return func(*args, **kwargs)
            finally:
                t1 = _clock()
                c1 = _cpu()
                self.wall += t1 - t0
                self.cpu += c1 - c0
                self.calls += 1

        return wrapped

    def overhead(self, total_wall, total_cpu):
        """(wall, cpu) time of a solve outside the wrapped functions."""
        return (total_wall - self.wall - self.calls * Accumulator.per_call_wall,
                total_cpu - self.cpu - self.calls * Accumulator.per_call_cpu)

    @classmethod
    def calibrate(cls, n=20000):
        """Measure the wrapper's own cost per call outside the timed interval."""
        def noop(x):
            return x

        best_wall = best_cpu = float("inf")
        for _ in range(5):
            acc = cls()
            w = acc.wrap(noop)
            c0 = _cpu()
            t0 = _clock()
            for i in range(n):
                w(i)
            t1 = _clock()
            c1 = _cpu()
            # Subtract the bare loop with a direct call.
            c2 = _cpu()
            t2 = _clock()
            for i in range(n):
                noop(i)
            t3 = _clock()
            c3 = _cpu()
            best_wall = min(best_wall, ((t1 - t0) - acc.wall - (t3 - t2)) / n)
            best_cpu = min(best_cpu, ((c1 - c0) - acc.cpu - (c3 - c2)) / n)
        cls.per_call_wall = max(best_wall, 0.0)
        cls.per_call_cpu = max(best_cpu, 0.0)
        return cls.per_call_wall, cls.per_call_cpu


# --------------------------------------------------------------------------
# One problem
# --------------------------------------------------------------------------
@dataclass
class Case:
    """A least-squares problem: ``fun``, ``x0`` and keyword arguments.

    ``kwargs`` may contain a callable ``jac``; it is timed along with ``fun``.
    """

    name: str
    fun: Callable
    x0: np.ndarray
    kwargs: dict = field(default_factory=dict)
    group: str = ""

    def run(self, solver, acc: Accumulator | None = None):
        """Solve once; with an accumulator, fun and jac are timed."""
        fun = self.fun
        kwargs = dict(self.kwargs)
        if acc is not None:
            fun = acc.wrap(fun)
            if callable(kwargs.get("jac")):
                kwargs["jac"] = acc.wrap(kwargs["jac"])
        return solver(fun, np.array(self.x0, dtype=float, copy=True), **kwargs)


@dataclass
class Stats:
    """Timings of one solver on one case (seconds).

    Plain runs give the solve time (wall and thread CPU time); runs with timed
    fun/jac give the overhead (time outside fun/jac), again both ways.
    """

    times: list = field(default_factory=list)          # plain runs, wall
    cpu_times: list = field(default_factory=list)      # plain runs, CPU
    overheads: list = field(default_factory=list)      # wrapped runs, wall
    cpu_overheads: list = field(default_factory=list)  # wrapped runs, CPU
    inside: list = field(default_factory=list)         # wrapped runs, CPU in fun/jac
    result: object = None
    calls: int = 0                                     # fun + jac calls per solve

    @staticmethod
    def _median(values):
        return float(np.median(values)) if values else float("nan")

    @staticmethod
    def _iqr(values):
        if not values:
            return float("nan")
        q1, q3 = np.percentile(values, [25, 75])
        return float(q3 - q1)

    @property
    def median(self):
        return self._median(self.times)

    @property
    def iqr(self):
        return self._iqr(self.times)

    @property
    def cpu_median(self):
        """Median thread CPU time of a solve: not inflated when the process is
        descheduled, which on a busy machine inflates wall times."""
        return self._median(self.cpu_times)

    @property
    def overhead(self):
        return self._median(self.overheads)

    @property
    def overhead_iqr(self):
        return self._iqr(self.overheads)

    @property
    def cpu_overhead(self):
        return self._median(self.cpu_overheads)

    @property
    def inside_median(self):
        return self._median(self.inside)


def _one(case, solver, stats: Stats, wrapped: bool, time_too: bool = False):
    if wrapped:
        acc = Accumulator()
        c0 = _cpu()
        t0 = _clock()
        res = case.run(solver, acc)
        t1 = _clock()
        c1 = _cpu()
        wall, cpu = acc.overhead(t1 - t0, c1 - c0)
        stats.overheads.append(wall)
        stats.cpu_overheads.append(cpu)
        stats.inside.append(acc.cpu)
        stats.calls = acc.calls
        if time_too:
            stats.times.append(t1 - t0)
            stats.cpu_times.append(c1 - c0)
    else:
        c0 = _cpu()
        t0 = _clock()
        res = case.run(solver)
        t1 = _clock()
        stats.cpu_times.append(_cpu() - c0)
        stats.times.append(t1 - t0)
    stats.result = res


def compare(case: Case, budget: float = 0.6, min_repeats: int = 5,
            max_repeats: int = 2000, warmup: int = 2, overhead: bool = True,
            solvers: dict | None = None) -> dict[str, Stats]:
    """Time every solver on `case`, interleaved.

    Parameters
    ----------
    budget : float
        Target wall time (s) of the measured plain runs of *each* solver; the
        overhead runs (with timed fun/jac) take about as long again.
    min_repeats, max_repeats : int
        Bounds on the number of measured runs per solver and mode.
    warmup : int
        Unmeasured runs of each solver first (imports, caches, JIT-less
        first-call costs).
    overhead : bool or 'only'
        Also do the runs with wrapped fun/jac that give the overhead; 'only':
        every measured run is wrapped and gives both the time and the
        overhead (for long solves, where the wrapper's ~0.2 µs per call is
        negligible).

    Returns
    -------
    dict solver name -> `Stats`.
    """
    solvers = solvers or SOLVERS
    if Accumulator.per_call_cpu == 0.0:
        Accumulator.calibrate()
    names = list(solvers)
    stats = {name: Stats() for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Warm-up, and a first estimate of the time per solve.
        per_solve = 0.0
        for name in names:
            for _ in range(warmup):
                t0 = _clock()
                case.run(solvers[name])
                per_solve = max(per_solve, _clock() - t0)
        if per_solve > 0:
            repeats = int(np.clip(budget / per_solve, min_repeats, max_repeats))
        else:
            repeats = min_repeats
        for k in range(repeats):
            order = names if k % 2 == 0 else names[::-1]
            if overhead == "only":
                for name in order:
                    _one(case, solvers[name], stats[name], wrapped=True, time_too=True)
                continue
            for name in order:
                _one(case, solvers[name], stats[name], wrapped=False)
            if overhead:
                for name in order[::-1]:
                    _one(case, solvers[name], stats[name], wrapped=True)
    return stats


def time_repeated(func: Callable, repeats: int = 3, warmup: int = 0) -> list[float]:
    """Wall times of ``func()`` over `repeats` calls (after `warmup` calls)."""
    for _ in range(warmup):
        func()
    out = []
    for _ in range(repeats):
        t0 = _clock()
        func()
        out.append(_clock() - t0)
    return out


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------
def fmt_time(seconds: float) -> str:
    """Seconds in a readable unit (µs, ms or s), 3 significant digits."""
    if seconds != seconds:   # NaN
        return "–"
    a = abs(seconds)
    if a < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if a < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def fmt_ms(seconds: float, digits: int = 3) -> str:
    if seconds != seconds:
        return "–"
    return f"{seconds * 1e3:.{digits}f}"


def fmt_ratio(a: float, b: float) -> str:
    if not (b > 0) or a != a:
        return "–"
    return f"{a / b:.2f}"


def markdown_table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A markdown table. `align` is one character per column: l, r or c."""
    rows = [[str(c) for c in row] for row in rows]
    if align is None:
        align = "l" + "r" * (len(headers) - 1)
    sep = {"l": ":--", "r": "--:", "c": ":-:"}
    lines = ["| " + " | ".join(headers) + " |",
             "| " + " | ".join(sep[a] for a in align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def lsqbox_revision() -> str:
    """git commit of the working tree, with '+dirty' if src/ has local changes."""
    import subprocess
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                                "src"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def machine_info() -> dict[str, str]:
    if Accumulator.per_call_cpu == 0.0:
        Accumulator.calibrate()
    try:
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "n/a"
    blas = "unknown"
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"].get("name", "unknown")
    except Exception:  # noqa: BLE001 - best effort only
        pass
    return {
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "load average (1, 5, 15 min)": load,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "BLAS": f"{blas}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}",
        "lsqbox": f"{getattr(lsqbox, '__version__', 'dev')} (git {lsqbox_revision()})",
        "timing-wrapper cost subtracted per fun/jac call": (
            f"{Accumulator.per_call_wall * 1e6:.2f} µs wall, "
            f"{Accumulator.per_call_cpu * 1e6:.2f} µs CPU"),
    }


def machine_info_markdown() -> str:
    return "\n".join(f"- **{k}**: {v}" for k, v in machine_info().items())
