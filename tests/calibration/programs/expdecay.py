#!/usr/bin/env python3
"""Tiny external program for the calibration tests: y = a*exp(-b*x) + c.

Usage: python expdecay.py [params.json [out.csv]]

Reads a JSON object with numbers a, b, c and writes ``x,y`` rows for
x = 0.0, 0.2, ..., 6.0 (31 rows, x printed with one decimal, y with repr so
it reads back bit for bit). Standard library only, so a run takes a few tens
of milliseconds.

Behaviour switches (environment variables; conditions are Python expressions
in a, b, c):

    EXPDECAY_LOG        append "start <a> <b> <c> <pid>" before and
                        "end <a> <b> <c> <pid>" after the work (one write each)
    EXPDECAY_SLEEP      seconds to sleep before writing the output
    EXPDECAY_FAIL_IF    exit with status 3 (no output) where true
    EXPDECAY_HANG_IF    sleep 60 s where true (to be killed by a timeout)
    EXPDECAY_NAN_IF     write nan for y where true
    EXPDECAY_GARBAGE_IF write text that is no table where true
    EXPDECAY_NOCOL_IF   write a table without the y column where true
    EXPDECAY_NOFILE_IF  exit 0 without writing the output where true
"""
import json
import math
import os
import sys
import time


def log(path, word, key):
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{word} {key} {os.getpid()}\n".encode())
        finally:
            os.close(fd)


def when(name, values):
    expr = os.environ.get(name)
    return bool(expr) and bool(eval(expr, {"math": math}, dict(values)))


def main(argv):
    src = argv[1] if len(argv) > 1 else "params.json"
    dst = argv[2] if len(argv) > 2 else "out.csv"
    with open(src) as fh:
        p = json.load(fh)
    a, b, c = float(p["a"]), float(p["b"]), float(p["c"])
    values = {"a": a, "b": b, "c": c}
    key = f"{a!r} {b!r} {c!r}"
    logfile = os.environ.get("EXPDECAY_LOG")
    log(logfile, "start", key)
    if when("EXPDECAY_HANG_IF", values):
        time.sleep(60)
    delay = float(os.environ.get("EXPDECAY_SLEEP", "0") or 0)
    if delay:
        time.sleep(delay)
    if when("EXPDECAY_FAIL_IF", values):
        print(f"expdecay: refusing a={a} b={b} c={c}", file=sys.stderr)
        log(logfile, "end", key)
        return 3
    if when("EXPDECAY_NOFILE_IF", values):
        log(logfile, "end", key)
        return 0
    if when("EXPDECAY_GARBAGE_IF", values):
        text = "this is not a table\nat all, really ; ?\n"
    else:
        nan = when("EXPDECAY_NAN_IF", values)
        ycol = "z" if when("EXPDECAY_NOCOL_IF", values) else "y"
        lines = [f"x,{ycol}"]
        for i in range(31):
            x = round(0.2 * i, 10)
            y = math.nan if nan else a * math.exp(-b * x) + c
            lines.append(f"{x:.1f},{y!r}")
        text = "\n".join(lines) + "\n"
    tmp = dst + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, dst)
    log(logfile, "end", key)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
