"""Executors: how a batch of residual evaluations is run.

Everything reduces to a ``map(func, iterable) -> iterable`` callable, SciPy's
`workers` contract, so the rest of the package sees one interface:

* None or 1: the built-in serial ``map``;
* an int > 1 (or -1 for all cores): a process pool owned by us for the solve;
* a map-like callable (``multiprocessing.Pool().map``, ``executor.map``...);
* any ``concurrent.futures.Executor``: its ``map``.
"""
import os
from concurrent.futures import Executor

__all__ = ["open_map"]


class _OwnedPool:
    """A process pool created for one solve; closed by `close`."""

    def __init__(self, processes):
        import multiprocessing
        self._pool = multiprocessing.get_context().Pool(processes)

    def map(self, func, iterable):
        return self._pool.map(func, iterable)

    def close(self):
        self._pool.terminate()
        self._pool.join()


class MapHandle:
    """A map callable plus the clean-up that goes with it."""

    def __init__(self, map_func, owned=None):
        self.map = map_func
        self._owned = owned

    def close(self):
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_map(workers):
    """Turn SciPy's `workers` argument into a `MapHandle`.

    Raises
    ------
    ValueError
        For an int below -1 or equal to 0.
    TypeError
        For anything that is neither an int, a callable nor an Executor.
    """
    if workers is None:
        return MapHandle(map)
    if isinstance(workers, Executor):
        return MapHandle(workers.map)
    if isinstance(workers, bool):
        raise TypeError("`workers` must be an int, a map-like callable or an Executor.")
    if isinstance(workers, int):
        if workers == -1:
            workers = os.cpu_count() or 1
        if workers <= 0:
            raise ValueError("Number of workers must be positive or -1 for all cores.")
        if workers == 1:
            return MapHandle(map)
        pool = _OwnedPool(workers)
        return MapHandle(pool.map, owned=pool)
    if callable(workers):
        return MapHandle(workers)
    raise TypeError("`workers` must be an int, a map-like callable or an Executor.")
