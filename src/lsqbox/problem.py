"""The residual function as the solver sees it: evaluations, counts, failures.

Every call of the user's ``fun`` goes through one `Problem`, which counts it by
purpose and tells observers (journal, progress display). SciPy's ``nfev`` is
the count of the solver's own evaluations (initial point and trial points);
finite-difference evaluations are counted separately and appear in
``nfev_total``.

A failed evaluation (the function raised, returned non-finite values, or timed
out) comes back as a `Failure` and is recorded in `failures`. Residuals of the
wrong length are a programming error and raise a ValueError. The initial point
is special: its exception is raised, with a note naming x0.
"""
from collections import Counter

import numpy as np

from .executor import Failure, Guarded

__all__ = ["Problem", "BoundFunction", "Failure", "INITIAL", "TRIAL", "JACOBIAN"]

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
    """Evaluates residuals one at a time or as a batch through an executor.

    Parameters
    ----------
    fun : BoundFunction
        The residual function.
    executor : ExecutorHandle
        Runs batches (serial, pools, dask).
    """

    def __init__(self, fun, executor):
        self.fun = fun
        self.guarded = Guarded(fun)
        self.executor = executor
        self.counts = Counter()
        self.observers = []
        self.failures = []
        self.m = None
        self.count_all = False

    @property
    def nfev(self):
        """SciPy's count: the initial point plus trial points (every call of
        ``fun`` when `count_all`, as for Broyden Jacobians)."""
        if self.count_all:
            return self.nfev_total
        return self.counts[INITIAL] + self.counts[TRIAL]

    @property
    def nfev_total(self):
        """Every call of ``fun``, finite differences included."""
        return sum(self.counts.values())

    def evaluate_initial(self, x):
        """Residuals at x0, run here; an exception propagates with a note."""
        try:
            f = self.fun(x)
        except Exception as exc:
            if hasattr(exc, "add_note"):
                exc.add_note(f"lsqbox: `fun` failed at the initial point x0 = {x!r}")
            raise
        self.counts[INITIAL] += 1
        self._notify(INITIAL, [x], [f])
        return f

    def evaluate(self, x, purpose):
        """Residuals at one point, or a `Failure`."""
        return self.evaluate_many([x], purpose)[0]

    def evaluate_many(self, xs, purpose):
        """Residuals at several points, run as one batch; failures as `Failure`."""
        xs = list(xs)
        raw = self.executor.run(self.guarded, xs)
        fs = [self._check(x, value, purpose) for x, value in zip(xs, raw)]
        self.counts[purpose] += len(xs)
        self._notify(purpose, xs, fs)
        return fs

    def _check(self, x, value, purpose):
        if not isinstance(value, Failure):
            value = np.asarray(value)
            if self.m is not None and value.shape != (self.m,):
                # A programming error, not a failed run: stop with a clear message.
                raise ValueError(f"`fun` returned residuals of shape {value.shape} at "
                                 f"x = {x!r}; at x0 they had shape ({self.m},).")
            if not np.isfinite(value).all():
                bad = int(np.count_nonzero(~np.isfinite(value)))
                value = Failure(f"non-finite residuals ({bad} of {value.size})")
        if isinstance(value, Failure):
            self.failures.append({"x": np.array(x, copy=True), "purpose": purpose,
                                  "reason": value.reason})
        return value

    def _notify(self, purpose, xs, fs):
        for observer in self.observers:
            observer(purpose, xs, fs)
