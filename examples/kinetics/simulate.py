#!/usr/bin/env python3
"""Chemical kinetics simulator for the consecutive reaction A -> B -> C.

    dA/dt = -k1 A
    dB/dt =  k1 A - k2 B
    dC/dt =  k2 B

with A(0) = A0 and B(0) = C(0) = 0, integrated with the classical fixed-step
fourth-order Runge-Kutta method.

Usage::

    python simulate.py input.json [out.csv]

``input.json`` is a JSON object with the keys

    k1, k2         first-order rate constants (>= 0)
    A0             initial concentration of A (>= 0)
    t_end          end of the time grid (> 0)
    n_steps        number of output intervals (integer >= 1); the output has
                   n_steps + 1 rows at t = t_end * i / n_steps
    solver_rtol    optional, default 1e-10: target relative accuracy
    min_steps      optional, default 60000: minimum total number of RK4 steps
    delay          optional, default 0: seconds to sleep before writing output

The result is written to ``out.csv`` (or the second argument) with the header
``time,conc_A,conc_B,conc_C`` and one row per output time, numbers printed
with 17 significant digits. The file is written atomically (temporary file,
then rename), so a reader never sees a partial result.

Invalid input (missing keys, negative rates, non-numbers, ...) gives a
message on stderr and exit status 2; no output file is written.

Step size: every output interval is divided into the same number of RK4
sub-steps, ``max(ceil(min_steps / n_steps), ceil(dt * kmax / (kmax h)_max))``
where ``(kmax h)_max = (120 rtol / max(1, kmax t_end)) ** 0.25`` bounds the RK4
global error. With the defaults the step count does not depend on k1, k2 for
max(k1, k2) below about 11, so the output is a smooth function of the rate
constants (what finite-difference Jacobians want); above that, it is piecewise
smooth with jumps of the order of solver_rtol.

Only the standard library and numpy are used.
"""
import json
import math
import os
import sys
import time

import numpy as np

REQUIRED = ("k1", "k2", "A0", "t_end", "n_steps")
DEFAULTS = {"solver_rtol": 1e-10, "min_steps": 60000, "delay": 0.0}
PROG = "simulate.py"


class InputError(Exception):
    """Invalid contents of the input file."""


def _number(cfg, key):
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"'{key}' must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"'{key}' must be finite, got {value!r}")
    return value


def _integer(cfg, key):
    value = cfg[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"'{key}' must be an integer, got {value!r}")
    return value


def read_input(path):
    """Read and validate the input file; return a dict of clean values."""
    try:
        with open(path, encoding="utf-8") as fh:
            cfg = json.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise InputError(f"{path} must contain a JSON object")
    missing = [key for key in REQUIRED if key not in cfg]
    if missing:
        raise InputError("missing key(s): " + ", ".join(missing))
    for key, default in DEFAULTS.items():
        cfg.setdefault(key, default)

    p = {key: _number(cfg, key) for key in ("k1", "k2", "A0", "t_end", "solver_rtol", "delay")}
    p["n_steps"] = _integer(cfg, "n_steps")
    p["min_steps"] = _integer(cfg, "min_steps")
    for key in ("k1", "k2"):
        if p[key] < 0:
            raise InputError(f"rate constant '{key}' must be >= 0, got {p[key]!r}")
    if p["A0"] < 0:
        raise InputError(f"'A0' must be >= 0, got {p['A0']!r}")
    if p["t_end"] <= 0:
        raise InputError(f"'t_end' must be > 0, got {p['t_end']!r}")
    if p["n_steps"] < 1:
        raise InputError(f"'n_steps' must be >= 1, got {p['n_steps']!r}")
    if not 0 < p["solver_rtol"] < 1:
        raise InputError(f"'solver_rtol' must be in (0, 1), got {p['solver_rtol']!r}")
    if p["min_steps"] < 1:
        raise InputError(f"'min_steps' must be >= 1, got {p['min_steps']!r}")
    if p["delay"] < 0:
        raise InputError(f"'delay' must be >= 0, got {p['delay']!r}")
    unknown = sorted(set(cfg) - set(REQUIRED) - set(DEFAULTS))
    if unknown:
        print(f"{PROG}: warning: ignoring unknown key(s): {', '.join(unknown)}", file=sys.stderr)
    return p


def substeps_per_interval(k1, k2, t_end, n_steps, rtol, min_steps):
    """Number of RK4 steps per output interval (see module docstring)."""
    dt = t_end / n_steps
    kmax = max(k1, k2)
    n = math.ceil(min_steps / n_steps)
    if kmax > 0:
        kh_max = (120.0 * rtol / max(1.0, kmax * t_end)) ** 0.25
        n = max(n, math.ceil(dt * kmax / kh_max))
    return n


def rhs(y, k1, k2):
    """Right-hand side of the ODE system for the state y = (A, B, C)."""
    a, b, _ = y
    r1 = k1 * a
    r2 = k2 * b
    return (-r1, r1 - r2, r2)


def rk4_step(y, h, k1, k2):
    """One classical Runge-Kutta step of size h for the state y = (A, B, C)."""
    a, b, c = y
    h2 = 0.5 * h
    fa1, fb1, fc1 = rhs(y, k1, k2)
    fa2, fb2, fc2 = rhs((a + h2 * fa1, b + h2 * fb1, c + h2 * fc1), k1, k2)
    fa3, fb3, fc3 = rhs((a + h2 * fa2, b + h2 * fb2, c + h2 * fc2), k1, k2)
    fa4, fb4, fc4 = rhs((a + h * fa3, b + h * fb3, c + h * fc3), k1, k2)
    h6 = h / 6.0
    return (a + h6 * (fa1 + 2.0 * (fa2 + fa3) + fa4),
            b + h6 * (fb1 + 2.0 * (fb2 + fb3) + fb4),
            c + h6 * (fc1 + 2.0 * (fc2 + fc3) + fc4))


def simulate(k1, k2, A0, t_end, n_steps, solver_rtol=1e-10, min_steps=60000):
    """Integrate the system; return (times, concentrations of shape (n_steps + 1, 3))."""
    times = t_end * np.arange(n_steps + 1) / n_steps
    nsub = substeps_per_interval(k1, k2, t_end, n_steps, solver_rtol, min_steps)
    out = np.empty((n_steps + 1, 3))
    y = (float(A0), 0.0, 0.0)
    out[0] = y
    for i in range(n_steps):
        h = (times[i + 1] - times[i]) / nsub
        for _ in range(nsub):
            y = rk4_step(y, h, k1, k2)
        out[i + 1] = y
    return times, out


def write_csv(path, times, conc):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("time,conc_A,conc_B,conc_C\n")
        for t, (a, b, c) in zip(times, conc):
            fh.write(f"{t:.17g},{a:.17g},{b:.17g},{c:.17g}\n")
    os.replace(tmp, path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2):
        print(f"usage: {PROG} input.json [out.csv]", file=sys.stderr)
        return 2
    out_path = argv[1] if len(argv) == 2 else "out.csv"
    try:
        p = read_input(argv[0])
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    times, conc = simulate(p["k1"], p["k2"], p["A0"], p["t_end"], p["n_steps"],
                           p["solver_rtol"], p["min_steps"])
    if not np.all(np.isfinite(conc)):
        print(f"{PROG}: error: integration produced non-finite values", file=sys.stderr)
        return 1
    if p["delay"] > 0:
        time.sleep(p["delay"])
    write_csv(out_path, times, conc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
