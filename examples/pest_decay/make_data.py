#!/usr/bin/env python3
"""Generate the synthetic measurements ``measured.csv`` for the PEST decay example.

Truth: HALF_LIFE = 8.0 h, AMPLITUDE = 5000 counts, BACKGROUND = 150 counts, i.e.

    counts(t) = 5000 exp(-ln(2) t / 8) + 150     at t = 2, 4, ..., 60 h,

the same formula as decay.py. Observation names c01..c30 follow the order of
the times (c01 is t = 2 h, c30 is t = 60 h). Counting statistics: sd =
sqrt(true counts) (rounded to 4 decimals), Gaussian noise with that sd drawn
with numpy default_rng(2026) (one draw of 30 standard normals, scaled by sd),
then two outliers: c07 (t = 14 h) and c22 (t = 44 h) are raised by 8 sd.
Values are written with 3 decimals.

Usage: python make_data.py [output.csv]   (default: measured.csv next to this file)
"""
import os
import sys

import numpy as np

HALF_LIFE, AMPLITUDE, BACKGROUND = 8.0, 5000.0, 150.0
TIMES = 2.0 * np.arange(1, 31)
SEED = 2026
OUTLIERS = ["c07", "c22"]
OUTLIER_SDS = 8.0


def true_counts(times=TIMES, half_life=HALF_LIFE, amplitude=AMPLITUDE, background=BACKGROUND):
    return amplitude * np.exp(-np.log(2.0) * times / half_life) + background


def make_rows():
    names = [f"c{i:02d}" for i in range(1, TIMES.size + 1)]
    truth = true_counts()
    sd = np.round(np.sqrt(truth), 4)
    rng = np.random.default_rng(SEED)
    value = truth + sd * rng.standard_normal(TIMES.size)
    for name in OUTLIERS:
        value[names.index(name)] += OUTLIER_SDS * sd[names.index(name)]
    lines = ["obs,value,sd"]
    for name, v, s in zip(names, value, sd):
        lines.append(f"{name},{v:.3f},{s:.4f}")
    return "\n".join(lines) + "\n"


def main(argv):
    out = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "measured.csv")
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(make_rows())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
