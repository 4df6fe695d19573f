"""Loader for the NIST StRD nonlinear-regression reference datasets.

Plain importable helper (no pytest code), used by the behaviour tests and by
``benchmarks/nist_strd_lre.py``.  The 27 ``.dat`` files live in
``tests/data/nist_strd/`` in NIST's own text format; this module parses them
and pairs each with a hand-written model function.

Usage::

    from nist_strd import load, ALL_NAMES, lre

    ds = load("Misra1a")
    ds.residuals(ds.start1)            # model(b, x) - y
    ds.jac(ds.start1)                  # complex-step Jacobian of residuals
    lre(b_hat, ds.certified)           # per-parameter log relative error

Conventions
-----------
* ``x`` is 1-D of shape ``(n,)`` for every dataset except Nelson, which has two
  predictors and uses shape ``(n, 2)`` (columns x1, x2, rows = observations).
* Nelson's model is stated for ``log[y]``; there ``Dataset.y`` is ``log`` of the
  observed response (which is kept in ``Dataset.y_raw``), so that
  ``residuals(b) = model(b, x) - y`` and the certified residual sum of squares
  refer to the same quantity.  For every other dataset ``y == y_raw``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "nist_strd"

#: Order used by NIST's own web listing (lower, average, higher difficulty).
ALL_NAMES: tuple[str, ...] = (
    # lower difficulty
    "Misra1a", "Chwirut2", "Chwirut1", "Lanczos3", "Gauss1", "Gauss2",
    "DanWood", "Misra1b",
    # average difficulty
    "Kirby2", "Hahn1", "Nelson", "MGH17", "Lanczos1", "Lanczos2", "Gauss3",
    "Misra1c", "Misra1d", "Roszman1", "ENSO",
    # higher difficulty
    "MGH09", "Thurber", "BoxBOD", "Rat42", "MGH10", "Eckerle4", "Rat43",
    "Bennett5",
)

#: Cap applied by :func:`lre` (an exact match would otherwise be +inf).
LRE_CAP = 11.0

_PI = math.pi  # Roszman1 states pi = 3.141592653589793238462643383279


# ---------------------------------------------------------------------------
# Model functions, written from the "Model:" block of each file header.
# ``b`` is the parameter vector (b1 is b[0]), ``x`` the predictor array.
# ---------------------------------------------------------------------------

def _misra1a(b, x):
    # y = b1*(1-exp[-b2*x])
    return b[0] * (1.0 - np.exp(-b[1] * x))


def _chwirut(b, x):
    # y = exp[-b1*x]/(b2+b3*x)   (Chwirut1 and Chwirut2)
    return np.exp(-b[0] * x) / (b[1] + b[2] * x)


def _lanczos(b, x):
    # y = b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)   (Lanczos1/2/3)
    return (b[0] * np.exp(-b[1] * x)
            + b[2] * np.exp(-b[3] * x)
            + b[4] * np.exp(-b[5] * x))


def _gauss(b, x):
    # y = b1*exp(-b2*x) + b3*exp(-(x-b4)**2/b5**2) + b6*exp(-(x-b7)**2/b8**2)
    return (b[0] * np.exp(-b[1] * x)
            + b[2] * np.exp(-((x - b[3]) ** 2) / b[4] ** 2)
            + b[5] * np.exp(-((x - b[6]) ** 2) / b[7] ** 2))


def _danwood(b, x):
    # y = b1*x**b2
    return b[0] * x ** b[1]


def _misra1b(b, x):
    # y = b1 * (1-(1+b2*x/2)**(-2))
    return b[0] * (1.0 - (1.0 + b[1] * x / 2.0) ** (-2.0))


def _rational_22(b, x):
    # Kirby2: y = (b1 + b2*x + b3*x**2) / (1 + b4*x + b5*x**2)
    return (b[0] + b[1] * x + b[2] * x ** 2) / (1.0 + b[3] * x + b[4] * x ** 2)


def _rational_33(b, x):
    # Hahn1, Thurber:
    # y = (b1 + b2*x + b3*x**2 + b4*x**3) / (1 + b5*x + b6*x**2 + b7*x**3)
    num = b[0] + b[1] * x + b[2] * x ** 2 + b[3] * x ** 3
    den = 1.0 + b[4] * x + b[5] * x ** 2 + b[6] * x ** 3
    return num / den


def _nelson(b, x):
    # log[y] = b1 - b2*x1 * exp[-b3*x2]
    x1, x2 = x[:, 0], x[:, 1]
    return b[0] - b[1] * x1 * np.exp(-b[2] * x2)


def _mgh17(b, x):
    # y = b1 + b2*exp[-x*b4] + b3*exp[-x*b5]
    return b[0] + b[1] * np.exp(-x * b[3]) + b[2] * np.exp(-x * b[4])


def _misra1c(b, x):
    # y = b1 * (1-(1+2*b2*x)**(-.5))
    return b[0] * (1.0 - (1.0 + 2.0 * b[1] * x) ** (-0.5))


def _misra1d(b, x):
    # y = b1*b2*x*((1+b2*x)**(-1))
    return b[0] * b[1] * x / (1.0 + b[1] * x)


def _roszman1(b, x):
    # y = b1 - b2*x - arctan[b3/(x-b4)]/pi
    return b[0] - b[1] * x - np.arctan(b[2] / (x - b[3])) / _PI


def _enso(b, x):
    # y = b1 + b2*cos(2*pi*x/12) + b3*sin(2*pi*x/12)
    #        + b5*cos(2*pi*x/b4) + b6*sin(2*pi*x/b4)
    #        + b8*cos(2*pi*x/b7) + b9*sin(2*pi*x/b7)
    w0 = 2.0 * _PI * x / 12.0
    w1 = 2.0 * _PI * x / b[3]
    w2 = 2.0 * _PI * x / b[6]
    return (b[0] + b[1] * np.cos(w0) + b[2] * np.sin(w0)
            + b[4] * np.cos(w1) + b[5] * np.sin(w1)
            + b[7] * np.cos(w2) + b[8] * np.sin(w2))


def _mgh09(b, x):
    # y = b1*(x**2+x*b2) / (x**2+x*b3+b4)
    return b[0] * (x ** 2 + x * b[1]) / (x ** 2 + x * b[2] + b[3])


def _boxbod(b, x):
    # y = b1*(1-exp[-b2*x])
    return b[0] * (1.0 - np.exp(-b[1] * x))


def _rat42(b, x):
    # y = b1 / (1+exp[b2-b3*x])
    return b[0] / (1.0 + np.exp(b[1] - b[2] * x))


def _mgh10(b, x):
    # y = b1 * exp[b2/(x+b3)]
    return b[0] * np.exp(b[1] / (x + b[2]))


def _eckerle4(b, x):
    # y = (b1/b2) * exp[-0.5*((x-b3)/b2)**2]
    return (b[0] / b[1]) * np.exp(-0.5 * ((x - b[2]) / b[1]) ** 2)


def _rat43(b, x):
    # y = b1 / ((1+exp[b2-b3*x])**(1/b4))
    return b[0] / (1.0 + np.exp(b[1] - b[2] * x)) ** (1.0 / b[3])


def _bennett5(b, x):
    # y = b1 * (b2+x)**(-1/b3)
    return b[0] * (b[1] + x) ** (-1.0 / b[2])


MODELS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Misra1a": _misra1a,
    "Chwirut2": _chwirut,
    "Chwirut1": _chwirut,
    "Lanczos3": _lanczos,
    "Gauss1": _gauss,
    "Gauss2": _gauss,
    "DanWood": _danwood,
    "Misra1b": _misra1b,
    "Kirby2": _rational_22,
    "Hahn1": _rational_33,
    "Nelson": _nelson,
    "MGH17": _mgh17,
    "Lanczos1": _lanczos,
    "Lanczos2": _lanczos,
    "Gauss3": _gauss,
    "Misra1c": _misra1c,
    "Misra1d": _misra1d,
    "Roszman1": _roszman1,
    "ENSO": _enso,
    "MGH09": _mgh09,
    "Thurber": _rational_33,
    "BoxBOD": _boxbod,
    "Rat42": _rat42,
    "MGH10": _mgh10,
    "Eckerle4": _eckerle4,
    "Rat43": _rat43,
    "Bennett5": _bennett5,
}

#: Datasets whose model is stated for log(y) rather than y.
LOG_RESPONSE = frozenset({"Nelson"})


# ---------------------------------------------------------------------------
# Dataset container
# ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    difficulty: str                 # "lower" | "average" | "higher"
    formula: str                    # model text from the file header
    x: np.ndarray                   # (n,) or (n, k) for k > 1 predictors
    y: np.ndarray                   # response the model predicts (log for Nelson)
    y_raw: np.ndarray               # response column as printed in the file
    start1: np.ndarray
    start2: np.ndarray
    certified: np.ndarray           # certified parameter values
    certified_std: np.ndarray       # certified standard deviations
    certified_rss: float            # certified residual sum of squares
    certified_rsd: float            # certified residual standard deviation
    dof: int                        # residual degrees of freedom, n - p
    dof_printed: int                # as printed in the file (wrong for Rat43)
    model: Callable[[np.ndarray, np.ndarray], np.ndarray] = field(repr=False)

    @property
    def n_obs(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_params(self) -> int:
        return int(self.certified.shape[0])

    @property
    def starts(self) -> dict[str, np.ndarray]:
        return {"start1": self.start1, "start2": self.start2}

    def start(self, which) -> np.ndarray:
        """``which`` is 1, 2, "start1" or "start2"; returns a fresh copy."""
        key = which if isinstance(which, str) else f"start{int(which)}"
        return self.starts[key].copy()

    def predict(self, b) -> np.ndarray:
        b = np.asarray(b, dtype=float)
        with np.errstate(all="ignore"):
            return self.model(b, self.x)

    def jac(self, b) -> np.ndarray:
        """Jacobian of :meth:`residuals`, ``(n_obs, n_params)``, by complex step.

        Complex-step differentiation has no subtractive cancellation, so this
        is exact to rounding error (all 27 models are analytic near their
        solutions).  Usable as ``jac=`` for ``least_squares``.
        """
        b = np.asarray(b, dtype=float)
        out = np.empty((self.n_obs, b.size))
        for k in range(b.size):
            h = 1e-30 * max(abs(b[k]), 1.0)
            bc = b.astype(complex)
            bc[k] += 1j * h
            with np.errstate(all="ignore"):
                out[:, k] = self.model(bc, self.x).imag / h
        return out

    def residuals(self, b) -> np.ndarray:
        """``model(b, x) - y``; non-finite values are passed through."""
        return self.predict(b) - self.y

    def rss(self, b) -> float:
        r = self.residuals(b)
        return float(r @ r)

    def lre(self, b) -> np.ndarray:
        """Per-parameter LRE of ``b`` against the certified values."""
        return lre(b, self.certified)

    def min_lre(self, b) -> float:
        return float(np.min(self.lre(b)))

    def rss_lre(self, rss) -> float:
        """LRE of a residual sum of squares against the certified one."""
        return float(lre(np.array([rss]), np.array([self.certified_rss]))[0])


# ---------------------------------------------------------------------------
# Log relative error
# ---------------------------------------------------------------------------

def lre(estimate, certified, cap: float = LRE_CAP) -> np.ndarray:
    """Log relative error ``-log10(|b - c| / |c|)``, elementwise.

    Clipped to ``[0, cap]``: an exact match gives ``cap``, anything off by
    100 % or more (or non-finite) gives 0.  Where ``c == 0`` the absolute
    error is used instead (does not occur in the StRD certified values).
    """
    b = np.asarray(estimate, dtype=float)
    c = np.asarray(certified, dtype=float)
    err = np.abs(b - c)
    scale = np.where(c != 0.0, np.abs(c), 1.0)
    rel = err / scale
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.log10(rel)
    out = np.where(rel == 0.0, cap, out)
    out = np.where(np.isfinite(out), out, 0.0)   # nan estimate -> 0
    return np.clip(out, 0.0, cap)


def min_lre(estimate, certified, cap: float = LRE_CAP) -> float:
    return float(np.min(lre(estimate, certified, cap)))


# ---------------------------------------------------------------------------
# Parser for NIST's .dat format
# ---------------------------------------------------------------------------

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][-+]?\d+)?"
_PARAM_RE = re.compile(
    rf"^\s*b(\d+)\s*=\s*({_NUM})\s+({_NUM})\s+({_NUM})\s+({_NUM})\s*$")
_DIFF_RE = re.compile(r"(Lower|Average|Higher)\s+Level\s+of\s+Difficulty", re.I)


def _float(tok: str) -> float:
    return float(tok.replace("D", "E").replace("d", "e"))


def _labelled_value(lines, label: str) -> str:
    for line in lines:
        if line.strip().startswith(label):
            return line.split(":", 1)[1].split()[0]
    raise ValueError(f"missing {label!r}")


def parse(path) -> dict:
    """Parse one NIST StRD nonlinear ``.dat`` file into a plain dict."""
    path = Path(path)
    lines = path.read_text().splitlines()

    name = path.stem
    difficulty = None
    for line in lines:
        m = _DIFF_RE.search(line)
        if m:
            difficulty = m.group(1).lower()
            break
    if difficulty is None:
        raise ValueError(f"{path}: no difficulty level")

    # Model formula: lines between "Model:" and the starting-values table,
    # after the "k Parameters" line.
    i_model = next(i for i, l in enumerate(lines) if l.startswith("Model:"))
    i_table = next(i for i, l in enumerate(lines)
                   if i > i_model and "Starting" in l and "Certified" in l)
    formula_lines = [l.strip() for l in lines[i_model + 2:i_table] if l.strip()]
    formula = " ".join(formula_lines)

    params = {}
    for line in lines[i_table:]:
        m = _PARAM_RE.match(line)
        if m:
            k = int(m.group(1))
            params[k] = tuple(_float(m.group(j)) for j in range(2, 6))
        elif params and line.strip().startswith("Residual"):
            break
    p = len(params)
    if sorted(params) != list(range(1, p + 1)):
        raise ValueError(f"{path}: parameter rows {sorted(params)}")
    table = np.array([params[k] for k in range(1, p + 1)])

    rss = _float(_labelled_value(lines, "Residual Sum of Squares"))
    rsd = _float(_labelled_value(lines, "Residual Standard Deviation"))
    dof = int(_labelled_value(lines, "Degrees of Freedom"))
    n_obs = int(_labelled_value(lines, "Number of Observations"))

    # Data block: the "Data:" line whose first column label is y.
    i_data = next(i for i, l in enumerate(lines)
                  if l.startswith("Data:") and l.split()[1:2] == ["y"])
    columns = lines[i_data].split()[1:]
    rows = [[_float(t) for t in l.split()] for l in lines[i_data + 1:] if l.strip()]
    data = np.array(rows, dtype=float)
    if data.shape != (n_obs, len(columns)):
        raise ValueError(f"{path}: data shape {data.shape}, expected "
                         f"({n_obs}, {len(columns)})")
    # The printed degrees of freedom are wrong in Rat43.dat (9 instead of
    # 15 - 4 = 11; the printed residual standard deviation uses 11), so the
    # value is recomputed and the printed one kept for reference.
    dof_printed = dof
    dof = n_obs - p

    return {
        "name": name,
        "difficulty": difficulty,
        "formula": formula,
        "columns": columns,
        "data": data,
        "start1": table[:, 0].copy(),
        "start2": table[:, 1].copy(),
        "certified": table[:, 2].copy(),
        "certified_std": table[:, 3].copy(),
        "certified_rss": rss,
        "certified_rsd": rsd,
        "dof": dof,
        "dof_printed": dof_printed,
    }


_CACHE: dict[str, Dataset] = {}


def load(name: str) -> Dataset:
    """Load dataset ``name`` (case-insensitive, e.g. ``"misra1a"``)."""
    canonical = {n.lower(): n for n in ALL_NAMES}.get(name.lower())
    if canonical is None:
        raise KeyError(f"unknown NIST StRD dataset {name!r}")
    if canonical not in _CACHE:
        info = parse(DATA_DIR / f"{canonical}.dat")
        data = info["data"]
        y_raw = data[:, 0].copy()
        y = np.log(y_raw) if canonical in LOG_RESPONSE else y_raw.copy()
        x = data[:, 1].copy() if data.shape[1] == 2 else data[:, 1:].copy()
        for arr in (x, y, y_raw, info["start1"], info["start2"],
                    info["certified"], info["certified_std"]):
            arr.setflags(write=False)
        _CACHE[canonical] = Dataset(
            name=canonical,
            difficulty=info["difficulty"],
            formula=info["formula"],
            x=x,
            y=y,
            y_raw=y_raw,
            start1=info["start1"],
            start2=info["start2"],
            certified=info["certified"],
            certified_std=info["certified_std"],
            certified_rss=info["certified_rss"],
            certified_rsd=info["certified_rsd"],
            dof=info["dof"],
            dof_printed=info["dof_printed"],
            model=MODELS[canonical],
        )
    return _CACHE[canonical]


def load_all() -> list[Dataset]:
    return [load(n) for n in ALL_NAMES]
