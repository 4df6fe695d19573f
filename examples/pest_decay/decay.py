#!/usr/bin/env python3
"""DECAY: predicted detector counts of a radioactive source over a constant background.

    counts(t) = AMPLITUDE * exp(-ln(2) t / HALF_LIFE) + BACKGROUND
    rate(t)   = counts(t) / COUNT_WINDOW            (COUNT_WINDOW = 600 s)

at the 30 sampling times t = 2, 4, ..., 60 h.

Usage::

    python decay.py [model.in [report.txt]]

The input is a fixed-format text file in the style of old modelling codes: the
first line is a free-text title, every further non-blank line is a keyword and
a value separated by blanks (keywords are case-insensitive; Fortran ``D``
exponents are accepted)::

    Decay calibration run
    HALF_LIFE      12.5
    AMPLITUDE      100.0
    BACKGROUND     2.0

Required keywords: HALF_LIFE (h, > 0), AMPLITUDE (counts, >= 0), BACKGROUND
(counts, >= 0). Optional: DELAY (seconds to sleep before writing, default 0).
Lines starting with ``#`` are comments.

The output ``report.txt`` is a human-readable report with a fixed-width table
(columns 1-8 TIME, 9-24 COUNTS, 25-38 RATE), preceded by a header whose length
varies (a warning line appears when the half-life is shorter than the sampling
interval) and followed by a summary. COUNTS are printed with 8 decimals; a value
too wide for its field (>= 1e7) is printed as asterisks, Fortran-style. Errors go to stderr with exit status 2.

Only the standard library and numpy are used.
"""
import math
import os
import sys
import time

import numpy as np

PROG = "decay.py"
VERSION = "2.1"
TIMES = 2.0 * np.arange(1, 31)          # h
COUNT_WINDOW = 600.0                    # s
REQUIRED = ("HALF_LIFE", "AMPLITUDE", "BACKGROUND")
OPTIONAL = {"DELAY": 0.0}
RULE = "=" * 64
TABLE_RULE = "  ------  --------------  ------------"


class InputError(Exception):
    """Invalid contents of the input file."""


def read_input(path):
    """Parse the fixed-format input file; return (title, dict of values)."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if not lines:
        raise InputError(f"{path} is empty (expected a title line)")
    title = lines[0].strip()
    values = {}
    for lineno, line in enumerate(lines[1:], start=2):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if len(fields) != 2:
            raise InputError(f"{path}, line {lineno}: expected 'KEYWORD value', got {line!r}")
        key, text = fields[0].upper(), fields[1]
        if key not in REQUIRED and key not in OPTIONAL:
            raise InputError(f"{path}, line {lineno}: unknown keyword {fields[0]!r}")
        if key in values:
            raise InputError(f"{path}, line {lineno}: keyword {key} given twice")
        try:
            value = float(text.replace("D", "E").replace("d", "e"))
        except ValueError:
            raise InputError(f"{path}, line {lineno}: {key} value {text!r} is not a number") from None
        if not math.isfinite(value):
            raise InputError(f"{path}, line {lineno}: {key} value {text!r} is not finite")
        values[key] = value
    missing = [key for key in REQUIRED if key not in values]
    if missing:
        raise InputError(f"{path}: missing keyword(s): " + ", ".join(missing))
    for key, default in OPTIONAL.items():
        values.setdefault(key, default)
    if values["HALF_LIFE"] <= 0:
        raise InputError(f"HALF_LIFE must be > 0, got {values['HALF_LIFE']!r}")
    for key in ("AMPLITUDE", "BACKGROUND", "DELAY"):
        if values[key] < 0:
            raise InputError(f"{key} must be >= 0, got {values[key]!r}")
    return title, values


def predict(half_life, amplitude, background, times=TIMES):
    """Expected counts at the sampling times."""
    lam = math.log(2.0) / half_life
    return amplitude * np.exp(-lam * times) + background


def format_report(title, values, input_name):
    half_life = values["HALF_LIFE"]
    amplitude = values["AMPLITUDE"]
    background = values["BACKGROUND"]
    counts = predict(half_life, amplitude, background)
    rates = counts / COUNT_WINDOW
    interval = TIMES[1] - TIMES[0]

    out = [
        RULE,
        f" DECAY  v{VERSION}  -  radioactive source with constant background",
        RULE,
        f" Run title : {title}",
        f" Input file: {input_name}",
        "",
        " MODEL PARAMETERS",
        f"   Half-life    (h)    : {half_life:16.8E}",
        f"   Decay const  (1/h)  : {math.log(2.0) / half_life:16.8E}",
        f"   Amplitude    (cts)  : {amplitude:16.8E}",
        f"   Background   (cts)  : {background:16.8E}",
        f"   Count window (s)    : {COUNT_WINDOW:16.1f}",
        "",
    ]
    if half_life < interval:
        out += [f" *** WARNING: half-life shorter than the sampling interval ({interval:.1f} h);",
                " ***          most samples are background only.",
                ""]
    out += [
        " PREDICTED COUNTS",
        "    TIME          COUNTS          RATE",
        "     (h)           (cts)       (cts/s)",
        TABLE_RULE,
    ]
    for t, c, r in zip(TIMES, counts, rates):
        field = f"{c:16.8f}"
        if len(field) > 16:            # Fortran-style overflow of the fixed-width field
            field = "*" * 16
        out.append(f"{t:8.2f}{field}{r:14.6E}")
    out += [
        TABLE_RULE,
        f" SUMMARY: {len(TIMES)} samples, total counts = {counts.sum():.6f}, "
        f"mean rate = {rates.mean():.6E} cts/s",
        " Normal termination.",
    ]
    return "\n".join(out) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 2:
        print(f"usage: {PROG} [model.in [report.txt]]", file=sys.stderr)
        return 2
    in_path = argv[0] if argv else "model.in"
    out_path = argv[1] if len(argv) > 1 else "report.txt"
    try:
        title, values = read_input(in_path)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    text = format_report(title, values, os.path.basename(in_path))
    if values["DELAY"] > 0:
        time.sleep(values["DELAY"])
    tmp = f"{out_path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
