"""The residual function as the solver sees it: evaluations, counts, failures.

Every call of the user's ``fun`` goes through one `Problem`, which counts it by
purpose and tells observers (journal, progress display). SciPy's ``nfev`` is
the count of the solver's own evaluations (initial point and trial points);
finite-difference evaluations are counted separately and appear in
``nfev_total``.

A failed evaluation (the function raised, returned non-finite values, or timed
out) comes back as a `Failure` and is recorded in `failures`. An optional
evaluation cache (``lookup(x)``, ``start(xs)``, ``record(x, value)``; the
calibration journal is one) answers points it already knows. Residuals of the
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
        # Returned as the function made it: the conversion to an array happens
        # in the solver's process (`Problem`), so a result object that carries
        # more than numbers (a journal record) survives the trip from a worker.
        return self.fun(x, *self.args, **self.kwargs)


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
        # Serial calls skip the argument binding when there is nothing to bind.
        plain = (isinstance(fun, BoundFunction) and not fun.args and not fun.kwargs)
        self.guarded_here = Guarded(fun.fun) if plain else self.guarded
        self.executor = executor
        self.inline = getattr(executor, "inline", False)
        self.counts = Counter()
        self.rounds = 0                 # batches of evaluations (parallel: wall-time units)
        self.observers = []
        self.failures = []
        self.m = None
        self.count_all = False
        self.cache = None

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
        if self.cache is not None:
            hit = self.cache.lookup(x)
            if isinstance(hit, Failure):
                raise RuntimeError(f"`fun` failed at the initial point x0 = {x!r} "
                                   f"(answered by the evaluation cache): {hit.reason}")
            if hit is not None:
                f = np.atleast_1d(hit)
                self.counts[INITIAL] += 1
                self._notify(INITIAL, [x], [f])
                return f
            self.cache.start([x])
        self.rounds += 1
        try:
            value = self.fun(x)
        except Exception as exc:
            if hasattr(exc, "add_note"):
                exc.add_note(f"lsqbox: `fun` failed at the initial point x0 = {x!r}")
            raise
        if self.cache is not None:
            self.cache.record(x, value)
        f = np.atleast_1d(np.asarray(value))
        self.counts[INITIAL] += 1
        self._notify(INITIAL, [x], [f])
        return f

    def evaluate(self, x, purpose):
        """Residuals at one point, or a `Failure`."""
        return self.evaluate_many((x,), purpose)[0]

    def evaluate_many(self, xs, purpose):
        """Residuals at several points, run as one batch; failures as `Failure`.

        With a cache, points it knows are answered from it and only the others
        run; every new result is recorded in the cache before it is returned
        (so a journal commits it before the solver sees it). Answered points
        count as evaluations: a resumed solve follows the same path and meets
        its budget at the same point."""
        xs = list(xs)
        if self.inline and self.cache is None:
            self.rounds += bool(xs)
            guarded = self.guarded_here
            fs = [self._check(x, guarded(x), purpose) for x in xs]
            self.counts[purpose] += len(xs)
            if self.observers:
                self._notify(purpose, xs, fs)
            return fs
        raw = [None] * len(xs)
        todo = list(range(len(xs)))
        if self.cache is not None:
            todo = []
            for i, x in enumerate(xs):
                hit = self.cache.lookup(x)
                if hit is None:
                    todo.append(i)
                else:
                    raw[i] = hit
            if todo:
                self.cache.start([xs[i] for i in todo])
        if todo:
            self.rounds += 1
            results = self.executor.run(self.guarded, [xs[i] for i in todo])
            for i, value in zip(todo, results):
                if self.cache is not None:
                    self.cache.record(xs[i], value)
                raw[i] = value
        fs = [self._check(x, value, purpose) for x, value in zip(xs, raw)]
        self.counts[purpose] += len(xs)
        self._notify(purpose, xs, fs)
        return fs

    def evaluate_block(self, X, purpose):
        """Residuals at the rows of X as one (k, m) float array when every
        evaluation succeeded with finite values; otherwise the list
        `evaluate_many` would return (failures as `Failure`). Serial solves
        without a cache or observers take a short path (one conversion and
        one finiteness test for the block); the rest go through
        `evaluate_many`."""
        if not (self.inline and self.cache is None and not self.observers):
            return self._as_block(self.evaluate_many(X, purpose))
        guarded = self.guarded_here
        raw = [guarded(x) for x in X]
        self.counts[purpose] += len(raw)
        self.rounds += bool(raw)
        try:
            F = np.array(raw, dtype=float)
        except (TypeError, ValueError):       # a Failure, or ragged residuals
            F = None
        if F is not None and F.shape == (len(raw), self.m) and _all_finite(F):
            return F
        return [self._check(x, value, purpose) for x, value in zip(X, raw)]

    @staticmethod
    def _as_block(fs):
        if any(isinstance(f, Failure) for f in fs):
            return fs
        return np.array(fs, dtype=float)

    def _check(self, x, value, purpose):
        if not isinstance(value, Failure):
            if type(value) is not np.ndarray or value.ndim != 1:
                value = np.atleast_1d(np.asarray(value))
            if self.m is not None and value.shape != (self.m,):
                # A programming error, not a failed run: stop with a clear message.
                raise ValueError(f"`fun` returned residuals of shape {value.shape} at "
                                 f"x = {x!r}; at x0 they had shape ({self.m},).")
            if not _all_finite(value):
                bad = int(np.count_nonzero(~np.isfinite(value)))
                value = Failure(f"non-finite residuals ({bad} of {value.size})")
        if isinstance(value, Failure):
            self.failures.append({"x": np.array(x, copy=True), "purpose": purpose,
                                  "reason": value.reason})
        return value

    def _notify(self, purpose, xs, fs):
        for observer in self.observers:
            observer(purpose, xs, fs)


def _all_finite(value):
    """Whether every residual is finite (no overflow warning for huge ones)."""
    return bool(np.isfinite(value).all())
