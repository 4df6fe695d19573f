"""Named parameters and the solver's vector.

A calibration works with named physical parameters; the solver with a vector of
the free ones. A parameter may be fixed (not in the vector), bounded, and
fitted in log space (the solver sees log10(value), which makes rate constants
spanning decades well scaled and keeps them positive):

    x_solver[j] = log10(value) if log else value        (free parameters only)

Bounds are transformed the same way. `ParameterSet` does both directions and
knows the names, so reports and journals speak the user's language.
"""
from dataclasses import dataclass

import numpy as np

__all__ = ["Parameter", "ParameterSet", "ParameterError"]


class ParameterError(ValueError):
    """An invalid parameter definition (the message names the parameter)."""


@dataclass(frozen=True)
class Parameter:
    """One named parameter: start value, bounds, log transform, fixed flag."""

    name: str
    value: float
    min: float = -np.inf
    max: float = np.inf
    log: bool = False
    fixed: bool = False

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ParameterError(f"parameter name {self.name!r} is not an identifier")
        for label in ("value", "min", "max"):
            if np.isnan(getattr(self, label)):
                raise ParameterError(f"parameter {self.name!r}: {label} is NaN")
        if not np.isfinite(self.value):
            raise ParameterError(f"parameter {self.name!r}: value must be finite")
        if self.fixed:
            return
        if not self.min < self.max:
            raise ParameterError(f"parameter {self.name!r}: min ({self.min}) must be "
                                 f"below max ({self.max})")
        if not self.min <= self.value <= self.max:
            raise ParameterError(f"parameter {self.name!r}: value {self.value} is outside "
                                 f"[{self.min}, {self.max}]")
        if self.log and not (self.value > 0 and self.min >= 0):
            raise ParameterError(f"parameter {self.name!r}: log = true needs a positive "
                                 f"value and min >= 0 (got value {self.value}, min "
                                 f"{self.min})")

    def to_solver(self, value):
        return np.log10(value) if self.log else value

    def from_solver(self, u):
        return 10.0 ** u if self.log else u

    def solver_bounds(self):
        if not self.log:
            return self.min, self.max
        lo = np.log10(self.min) if self.min > 0 else -np.inf
        return lo, np.log10(self.max)


class ParameterSet:
    """An ordered collection of parameters; maps solver vectors to values."""

    def __init__(self, parameters):
        self.parameters = list(parameters)
        names = [p.name for p in self.parameters]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ParameterError(f"duplicate parameter names: {sorted(duplicates)}")
        self.free = [p for p in self.parameters if not p.fixed]
        if not self.free:
            raise ParameterError("every parameter is fixed: nothing to fit")

    @property
    def names(self):
        return [p.name for p in self.parameters]

    @property
    def free_names(self):
        return [p.name for p in self.free]

    def x0(self):
        """Solver vector of the start values."""
        return np.array([p.to_solver(p.value) for p in self.free], dtype=float)

    def bounds(self):
        """(lb, ub) in solver space."""
        pairs = [p.solver_bounds() for p in self.free]
        return (np.array([lo for lo, _ in pairs], dtype=float),
                np.array([hi for _, hi in pairs], dtype=float))

    def values(self, x):
        """All parameter values (fixed ones included) for a solver vector."""
        x = np.asarray(x, dtype=float)
        out = {p.name: p.value for p in self.parameters if p.fixed}
        for p, u in zip(self.free, x):
            out[p.name] = float(p.from_solver(u))
        return {name: out[name] for name in self.names}

    def free_values(self, x):
        """Values of the free parameters only, in order."""
        return np.array([p.from_solver(u) for p, u in zip(self.free, np.asarray(x))])

    def value_jacobian(self, x):
        """d value / d x_solver for each free parameter (for standard errors)."""
        x = np.asarray(x, dtype=float)
        return np.array([np.log(10.0) * 10.0 ** u if p.log else 1.0
                         for p, u in zip(self.free, x)])
