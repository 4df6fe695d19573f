"""The Moré–Wild (2009) derivative-free benchmark set: 53 least-squares problems.

Built from 22 residual functions of Moré, Garbow & Hillstrom (1981) and CUTEr,
as specified in

    J. J. Moré and S. M. Wild, "Benchmarking derivative-free optimization
    algorithms", SIAM J. Optim. 20(1):172-191, 2009,

(their ``dfovec``/``dfoxs``). The table of (function, n, m, scale) comes from
``dfo.dat`` (columns ``nprob n m s``; starting point = 10**s times the
standard one). Each residual function below is written from the published
formulas; ``check_problems.py`` compares them with the reference values of
``testout.dat``.

    from problems import PROBLEMS
    p = PROBLEMS[0]            # Problem(index=1, nprob=1, n=9, m=45, s=0, ...)
    r = p.fun(p.x0)            # residual vector, shape (m,)
    f0 = r @ r                 # f(x0) = ||r(x0)||^2

The objective is f(x) = sum_i r_i(x)^2 (no factor 1/2, as in Moré–Wild).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

NAMES = {
    1: "Linear, full rank",
    2: "Linear, rank 1",
    3: "Linear, rank 1, zero cols/rows",
    4: "Rosenbrock",
    5: "Helical valley",
    6: "Powell singular",
    7: "Freudenstein and Roth",
    8: "Bard",
    9: "Kowalik and Osborne",
    10: "Meyer",
    11: "Watson",
    12: "Box 3-D",
    13: "Jennrich and Sampson",
    14: "Brown and Dennis",
    15: "Chebyquad",
    16: "Brown almost-linear",
    17: "Osborne 1",
    18: "Osborne 2",
    19: "Bdqrtic",
    20: "Cube",
    21: "Mancino",
    22: "Heart8",
}

# ---------------------------------------------------------------------------
# Data of the fitting problems (MGH 1981).
# ---------------------------------------------------------------------------
_BARD_Y = np.array([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58,
                    0.73, 0.96, 1.34, 2.10, 4.39])
_KOWALIK_Y = np.array([0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456,
                       0.0342, 0.0323, 0.0235, 0.0246])
_KOWALIK_U = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833,
                       0.0714, 0.0625])
_MEYER_Y = np.array([34780.0, 28610.0, 23650.0, 19630.0, 16370.0, 13720.0,
                     11540.0, 9744.0, 8261.0, 7030.0, 6005.0, 5147.0, 4427.0,
                     3820.0, 3307.0, 2872.0])
_OSBORNE1_Y = np.array([0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850,
                        0.818, 0.784, 0.751, 0.718, 0.685, 0.658, 0.628, 0.603,
                        0.580, 0.558, 0.538, 0.522, 0.506, 0.490, 0.478, 0.467,
                        0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411,
                        0.406])
_OSBORNE2_Y = np.array([1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847,
                        0.786, 0.725, 0.746, 0.679, 0.608, 0.655, 0.616, 0.606,
                        0.602, 0.626, 0.651, 0.724, 0.649, 0.649, 0.694, 0.644,
                        0.624, 0.661, 0.612, 0.558, 0.533, 0.495, 0.500, 0.423,
                        0.395, 0.375, 0.372, 0.391, 0.396, 0.405, 0.428, 0.429,
                        0.523, 0.562, 0.607, 0.653, 0.672, 0.708, 0.633, 0.668,
                        0.645, 0.632, 0.591, 0.559, 0.597, 0.625, 0.739, 0.710,
                        0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162, 0.098,
                        0.054])


# ---------------------------------------------------------------------------
# Residual functions r(x) in R^m. Indices i, j below are 1-based as in MGH.
# ---------------------------------------------------------------------------
def _linear_full_rank(x, m):
    n = x.size
    r = np.full(m, -(2.0 * x.sum() / m + 1.0))
    r[:n] += x
    return r


def _linear_rank1(x, m):
    n = x.size
    s = np.arange(1, n + 1) @ x
    return np.arange(1, m + 1) * s - 1.0


def _linear_rank1_zero(x, m):
    n = x.size
    s = np.arange(2, n) @ x[1:n - 1]
    r = np.arange(0, m) * s - 1.0       # i = 1..m-1 gives (i-1)*s - 1
    r[m - 1] = -1.0
    return r


def _rosenbrock(x, m):
    return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def _helical_valley(x, m):
    x1, x2, x3 = x
    if x1 > 0:
        theta = np.arctan(x2 / x1) / (2 * np.pi)
    elif x1 < 0:
        theta = np.arctan(x2 / x1) / (2 * np.pi) + 0.5
    else:
        theta = 0.25
    return np.array([10.0 * (x3 - 10.0 * theta),
                     10.0 * (np.hypot(x1, x2) - 1.0),
                     x3])


def _powell_singular(x, m):
    x1, x2, x3, x4 = x
    return np.array([x1 + 10.0 * x2,
                     np.sqrt(5.0) * (x3 - x4),
                     (x2 - 2.0 * x3) ** 2,
                     np.sqrt(10.0) * (x1 - x4) ** 2])


def _freudenstein_roth(x, m):
    x1, x2 = x
    return np.array([-13.0 + x1 + ((5.0 - x2) * x2 - 2.0) * x2,
                     -29.0 + x1 + ((1.0 + x2) * x2 - 14.0) * x2])


def _bard(x, m):
    u = np.arange(1, 16, dtype=float)
    v = 16.0 - u
    w = np.minimum(u, v)
    return _BARD_Y - (x[0] + u / (v * x[1] + w * x[2]))


def _kowalik_osborne(x, m):
    u = _KOWALIK_U
    return _KOWALIK_Y - x[0] * (u * (u + x[1])) / (u * (u + x[2]) + x[3])


def _meyer(x, m):
    t = 45.0 + 5.0 * np.arange(1, 17)
    return x[0] * np.exp(x[1] / (t + x[2])) - _MEYER_Y


def _watson(x, m):
    n = x.size
    t = np.arange(1, 30) / 29.0                      # t_i = i/29, i = 1..29
    powers = t[:, None] ** np.arange(n)[None, :]     # t^(j-1), j = 1..n
    s1 = powers[:, :n - 1] @ (np.arange(1, n) * x[1:])   # sum (j-1) x_j t^(j-2)
    s2 = powers @ x                                   # sum x_j t^(j-1)
    r = np.empty(31)
    r[:29] = s1 - s2 ** 2 - 1.0
    r[29] = x[0]
    r[30] = x[1] - x[0] ** 2 - 1.0
    return r


def _box3d(x, m):
    i = np.arange(1, m + 1, dtype=float)
    t = 0.1 * i
    return np.exp(-t * x[0]) - np.exp(-t * x[1]) + (np.exp(-i) - np.exp(-t)) * x[2]


def _jennrich_sampson(x, m):
    i = np.arange(1, m + 1, dtype=float)
    return 2.0 + 2.0 * i - np.exp(i * x[0]) - np.exp(i * x[1])


def _brown_dennis(x, m):
    t = np.arange(1, m + 1) / 5.0
    a = x[0] + t * x[1] - np.exp(t)
    b = x[2] + np.sin(t) * x[3] - np.cos(t)
    return a ** 2 + b ** 2


def _chebyquad(x, m):
    n = x.size
    y = 2.0 * x - 1.0
    # Shifted Chebyshev polynomials T_i(2 x_j - 1), i = 1..m, by recurrence.
    t_prev = np.ones(n)
    t_cur = y.copy()
    r = np.empty(m)
    for i in range(1, m + 1):
        r[i - 1] = t_cur.sum() / n
        t_prev, t_cur = t_cur, 2.0 * y * t_cur - t_prev
    i = np.arange(1, m + 1)
    even = i % 2 == 0
    r[even] += 1.0 / (i[even] ** 2 - 1.0)
    return r


def _brown_almost_linear(x, m):
    n = x.size
    r = np.empty(n)
    r[:n - 1] = x[:n - 1] + x.sum() - (n + 1.0)
    r[n - 1] = np.prod(x) - 1.0
    return r


def _osborne1(x, m):
    t = 10.0 * np.arange(33)
    return _OSBORNE1_Y - (x[0] + x[1] * np.exp(-x[3] * t) + x[2] * np.exp(-x[4] * t))


def _osborne2(x, m):
    t = np.arange(65) / 10.0
    model = (x[0] * np.exp(-x[4] * t)
             + x[1] * np.exp(-x[5] * (t - x[8]) ** 2)
             + x[2] * np.exp(-x[6] * (t - x[9]) ** 2)
             + x[3] * np.exp(-x[7] * (t - x[10]) ** 2))
    return _OSBORNE2_Y - model


def _bdqrtic(x, m):
    n = x.size
    k = n - 4
    r = np.empty(2 * k)
    r[:k] = 3.0 - 4.0 * x[:k]
    r[k:] = (x[:k] ** 2 + 2.0 * x[1:k + 1] ** 2 + 3.0 * x[2:k + 2] ** 2
             + 4.0 * x[3:k + 3] ** 2 + 5.0 * x[n - 1] ** 2)
    return r


def _cube(x, m):
    r = np.empty(x.size)
    r[0] = x[0] - 1.0
    r[1:] = 10.0 * (x[1:] - x[:-1] ** 3)
    return r


def _mancino_sum(v):
    lv = np.log(v)
    return (v * (np.sin(lv) ** 5 + np.cos(lv) ** 5)).sum(axis=1)


def _mancino(x, m):
    n = x.size
    i = np.arange(1, n + 1, dtype=float)
    v = np.sqrt(x[:, None] ** 2 + i[:, None] / i[None, :])    # v_ij
    return 1400.0 * x + (i - 50.0) ** 3 + _mancino_sum(v)


def _heart8(x, m):
    a, b, c, d, t, u, v, w = x
    return np.array([
        a + b + 0.69,
        c + d + 0.044,
        t * a + u * b - v * c - w * d + 1.57,
        v * a + w * b + t * c + u * d + 1.31,
        a * (t ** 2 - v ** 2) - 2.0 * c * t * v + b * (u ** 2 - w ** 2) - 2.0 * d * u * w + 2.65,
        c * (t ** 2 - v ** 2) + 2.0 * a * t * v + d * (u ** 2 - w ** 2) + 2.0 * b * u * w - 2.0,
        a * t * (t ** 2 - 3.0 * v ** 2) + c * v * (v ** 2 - 3.0 * t ** 2)
        + b * u * (u ** 2 - 3.0 * w ** 2) + d * w * (w ** 2 - 3.0 * u ** 2) + 12.6,
        c * t * (t ** 2 - 3.0 * v ** 2) - a * v * (v ** 2 - 3.0 * t ** 2)
        + d * u * (u ** 2 - 3.0 * w ** 2) - b * w * (w ** 2 - 3.0 * u ** 2) - 9.48,
    ])


_RESIDUALS = {
    1: _linear_full_rank, 2: _linear_rank1, 3: _linear_rank1_zero,
    4: _rosenbrock, 5: _helical_valley, 6: _powell_singular,
    7: _freudenstein_roth, 8: _bard, 9: _kowalik_osborne, 10: _meyer,
    11: _watson, 12: _box3d, 13: _jennrich_sampson, 14: _brown_dennis,
    15: _chebyquad, 16: _brown_almost_linear, 17: _osborne1, 18: _osborne2,
    19: _bdqrtic, 20: _cube, 21: _mancino, 22: _heart8,
}


# ---------------------------------------------------------------------------
# Standard starting points (before scaling by 10**s).
# ---------------------------------------------------------------------------
def standard_start(nprob: int, n: int) -> np.ndarray:
    """The standard starting point of function `nprob` in dimension `n`."""
    fixed = {
        4: [-1.2, 1.0],
        5: [-1.0, 0.0, 0.0],
        6: [3.0, -1.0, 0.0, 1.0],
        7: [0.5, -2.0],
        8: [1.0, 1.0, 1.0],
        9: [0.25, 0.39, 0.415, 0.39],
        10: [0.02, 4000.0, 250.0],
        12: [0.0, 10.0, 20.0],
        13: [0.3, 0.4],
        14: [25.0, 5.0, -5.0, -1.0],
        17: [0.5, 1.5, 1.0, 0.01, 0.02],
        18: [1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5],
        22: [-0.3, -0.39, 0.3, -0.344, -1.2, 2.69, 1.59, -1.5],
    }
    if nprob in fixed:
        x = np.array(fixed[nprob], dtype=float)
        if x.size != n:
            raise ValueError(f"function {nprob} has n = {x.size}, not {n}")
        return x
    if nprob in (1, 2, 3, 19):
        return np.ones(n)
    if nprob in (11, 16, 20):
        return np.full(n, 0.5)
    if nprob == 15:
        return np.arange(1, n + 1) / (n + 1.0)
    if nprob == 21:
        i = np.arange(1, n + 1, dtype=float)
        v = np.sqrt(i[:, None] / i[None, :])
        return -8.710996e-4 * ((i - 50.0) ** 3 + _mancino_sum(v))
    raise ValueError(f"unknown function number {nprob}")


def residuals(nprob: int, m: int, x) -> np.ndarray:
    """r(x) of function `nprob` with `m` residuals (n = len(x))."""
    x = np.asarray(x, dtype=float)
    return _RESIDUALS[nprob](x, m)


# ---------------------------------------------------------------------------
# The 53-problem table.
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    index: int          # 1-based row of dfo.dat
    nprob: int          # function number 1..22
    n: int
    m: int
    s: int              # x0 = 10**s * standard start
    fun: Callable[[np.ndarray], np.ndarray]
    x0: np.ndarray

    @property
    def name(self) -> str:
        return NAMES[self.nprob]

    def __iter__(self):
        # Unpacks as (nprob, n, m, s, fun, x0).
        return iter((self.nprob, self.n, self.m, self.s, self.fun, self.x0))


def _data_dir() -> Path:
    env = os.environ.get("MORE_WILD_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "shared" / "data" / "more_wild"
        if cand.is_dir():
            return cand
    return Path("/work/shared/data/more_wild")


DATA_DIR = _data_dir()

# The table of dfo.dat, embedded so that the problems work without the file
# (load_table() reads the file and check_problems.py checks they agree).
DFO_TABLE = [
    (1, 9, 45, 0), (1, 9, 45, 1), (2, 7, 35, 0), (2, 7, 35, 1), (3, 7, 35, 0),
    (3, 7, 35, 1), (4, 2, 2, 0), (4, 2, 2, 1), (5, 3, 3, 0), (5, 3, 3, 1),
    (6, 4, 4, 0), (6, 4, 4, 1), (7, 2, 2, 0), (7, 2, 2, 1), (8, 3, 15, 0),
    (8, 3, 15, 1), (9, 4, 11, 0), (10, 3, 16, 0), (11, 6, 31, 0), (11, 6, 31, 1),
    (11, 9, 31, 0), (11, 9, 31, 1), (11, 12, 31, 0), (11, 12, 31, 1), (12, 3, 10, 0),
    (13, 2, 10, 0), (14, 4, 20, 0), (14, 4, 20, 1), (15, 6, 6, 0), (15, 7, 7, 0),
    (15, 8, 8, 0), (15, 9, 9, 0), (15, 10, 10, 0), (15, 11, 11, 0), (16, 10, 10, 0),
    (17, 5, 33, 0), (18, 11, 65, 0), (18, 11, 65, 1), (19, 8, 8, 0), (19, 10, 12, 0),
    (19, 11, 14, 0), (19, 12, 16, 0), (20, 5, 5, 0), (20, 6, 6, 0), (20, 8, 8, 0),
    (21, 5, 5, 0), (21, 5, 5, 1), (21, 8, 8, 0), (21, 10, 10, 0), (21, 12, 12, 0),
    (21, 12, 12, 1), (22, 8, 8, 0), (22, 8, 8, 1),
]


def load_table(path=None):
    """Rows (nprob, n, m, s) of dfo.dat."""
    path = Path(path) if path else DATA_DIR / "dfo.dat"
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts:
            rows.append(tuple(int(p) for p in parts[:4]))
    return rows


def make_problem(index: int, nprob: int, n: int, m: int, s: int) -> Problem:
    x0 = standard_start(nprob, n) * 10.0 ** s
    x0.setflags(write=False)
    return Problem(index, nprob, n, m, s, partial(residuals, nprob, m), x0)


PROBLEMS = [make_problem(k + 1, *row) for k, row in enumerate(DFO_TABLE)]

__all__ = ["PROBLEMS", "Problem", "NAMES", "DFO_TABLE", "DATA_DIR", "load_table",
           "make_problem", "residuals", "standard_start"]
