"""The residual function as the solver sees it: evaluations, counts, observers.

Every call of the user's ``fun`` goes through one `Problem`, which counts it by
purpose. SciPy's ``nfev`` is the count of the solver's own evaluations (initial
point and trial points); finite-difference evaluations are counted separately
and appear in ``nfev_total``.
"""
from collections import Counter

import numpy as np

__all__ = ["Problem", "BoundFunction", "INITIAL", "TRIAL", "JACOBIAN"]

INITIAL = "initial"
TRIAL = "trial"
JACOBIAN = "jacobian"


class BoundFunction:
    """``fun(x, *args, **kwargs)`` as a picklable one-argument callable."""

    def __init__(self, fun, args=(), kwargs=None):
        self.fun = fun
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})

    def __call__(self, x):
        return np.atleast_1d(self.fun(x, *self.args, **self.kwargs))


class Problem:
    """Evaluates residuals one at a time or as a batch through a map.

    Parameters
    ----------
    fun : BoundFunction
        The residual function.
    map_func : callable
        ``map``-like callable that runs a batch (serial or parallel).
    """

    def __init__(self, fun, map_func=map):
        self.fun = fun
        self.map = map_func
        self.counts = Counter()
        self.observers = []

    @property
    def nfev(self):
        """SciPy's count: the initial point plus trial points."""
        return self.counts[INITIAL] + self.counts[TRIAL]

    @property
    def nfev_total(self):
        """Every call of ``fun``, finite differences included."""
        return sum(self.counts.values())

    def evaluate(self, x, purpose):
        """Residuals at one point (the raw array ``fun`` returned, made 1-d-at-least)."""
        f = self.fun(x)
        self._record(purpose, [x], [f])
        return f

    def evaluate_many(self, xs, purpose):
        """Residuals at several points, run as one batch through the map."""
        xs = list(xs)
        if len(xs) == 1:
            fs = [self.fun(xs[0])]
        else:
            fs = list(self.map(self.fun, xs))
        self._record(purpose, xs, fs)
        return fs

    def _record(self, purpose, xs, fs):
        self.counts[purpose] += len(xs)
        for observer in self.observers:
            observer(purpose, xs, fs)
