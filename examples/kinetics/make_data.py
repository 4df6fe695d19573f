#!/usr/bin/env python3
"""Generate the synthetic measurements ``measured.csv`` for the kinetics example.

Truth: A -> B -> C with k1 = 0.85, k2 = 0.23, A0 = 1.0 (B0 = C0 = 0), from the
analytic solution

    A(t) = A0 exp(-k1 t)
    B(t) = A0 k1 / (k2 - k1) (exp(-k1 t) - exp(-k2 t))

at 25 times t = 0.25, 0.85, ..., 14.65 (step 0.6). None of them lies on the
simulator's output grid (multiples of 0.15 for t_end = 15, n_steps = 100), so
the model output has to be interpolated. Gaussian noise with sd 0.01 is added
(numpy default_rng(2026), one draw of shape (25, 2) for columns A, B), then two
outliers: +0.15 on conc_A at t = 3.25 (row 6) and +0.15 on conc_B at t = 8.65
(row 15). Values are written with 6 decimals.

Usage: python make_data.py [output.csv]   (default: measured.csv next to this file)
"""
import os
import sys

import numpy as np

K1, K2, A0 = 0.85, 0.23, 1.0
SD = 0.01
SEED = 2026
OUTLIERS = [(5, 0), (14, 1)]   # (row index, column: 0 = conc_A, 1 = conc_B)
OUTLIER_SHIFT = 0.15


def true_concentrations(t, k1=K1, k2=K2, a0=A0):
    a = a0 * np.exp(-k1 * t)
    b = a0 * k1 / (k2 - k1) * (np.exp(-k1 * t) - np.exp(-k2 * t))
    return np.column_stack([a, b])


def make_rows():
    t = np.round(0.25 + 0.6 * np.arange(25), 10)
    rng = np.random.default_rng(SEED)
    y = true_concentrations(t) + rng.normal(0.0, SD, size=(t.size, 2))
    for row, col in OUTLIERS:
        y[row, col] += OUTLIER_SHIFT
    lines = ["time,conc_A,conc_B,sd_A,sd_B"]
    for ti, (a, b) in zip(t, y):
        lines.append(f"{ti:.2f},{a:.6f},{b:.6f},{SD:.2f},{SD:.2f}")
    return "\n".join(lines) + "\n"


def main(argv):
    out = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "measured.csv")
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(make_rows())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
