"""Executors: how a batch of residual evaluations is run.

`open_executor` turns SciPy's `workers` argument (and more) into one object
with ``run(func, xs)``, which returns one result per point in order:

* None or 1: serial, in this process;
* an int > 1 (or -1 for all cores): a process pool owned for the solve;
* any ``concurrent.futures.Executor`` (thread or process pools,
  ``mpi4py.futures``, loky): its ``submit``;
* a ``dask.distributed.Client``: its ``get_executor()`` (dask is not imported
  unless a Client is given);
* any other callable: SciPy's contract, a map-like ``workers(func, iterable)``.

With ``timeout`` (seconds per evaluation) a result that does not arrive in time
is replaced by a `Failure`; a hung evaluation in an owned process pool is
killed when the solve ends. A map-like callable cannot be timed out.
"""
import numbers
import os
import threading
import time
from concurrent.futures import Executor, wait

__all__ = ["Failure", "open_executor"]


class Failure:
    """A failed evaluation: the exception text, a timeout, or bad output."""

    __slots__ = ("reason",)

    def __init__(self, reason):
        self.reason = reason

    def __repr__(self):
        return f"Failure({self.reason!r})"


class Guarded:
    """Calls ``func(x)``; an exception becomes a `Failure` (picklable)."""

    def __init__(self, func):
        self.func = func

    def __call__(self, x):
        try:
            return self.func(x)
        except Exception as exc:  # noqa: BLE001 - any error of the user's function
            return Failure(f"{type(exc).__name__}: {exc}")


def _timeout_failure(timeout):
    return Failure(f"timed out after {timeout:g} s")


class _Serial:
    def __init__(self, timeout=None):
        self.timeout = timeout

    def run(self, func, xs):
        if self.timeout is None:
            return [func(x) for x in xs]
        return [self._with_timeout(func, x) for x in xs]

    def _with_timeout(self, func, x):
        box = []
        worker = threading.Thread(target=lambda: box.append(func(x)), daemon=True)
        worker.start()
        worker.join(self.timeout)
        return box[0] if box else _timeout_failure(self.timeout)

    def close(self):
        pass


class _MapLike:
    def __init__(self, map_func):
        self.map = map_func

    def run(self, func, xs):
        return list(self.map(func, xs))

    def close(self):
        pass


class _Futures:
    """Any concurrent.futures.Executor."""

    def __init__(self, executor, timeout=None, owned=False):
        self.executor = executor
        self.timeout = timeout
        self.owned = owned

    def run(self, func, xs):
        futures = [self.executor.submit(func, x) for x in xs]
        done, _ = wait(futures, timeout=self.timeout)
        results = []
        for future in futures:
            if future in done:
                results.append(future.result())
            else:
                future.cancel()
                results.append(_timeout_failure(self.timeout))
        return results

    def close(self):
        if self.owned:
            self.executor.shutdown(wait=False, cancel_futures=True)


class _OwnedPool:
    """A multiprocessing pool created for one solve; hung workers are killed
    (``terminate``) when it closes."""

    def __init__(self, processes, timeout=None):
        import multiprocessing
        self.pool = multiprocessing.get_context().Pool(processes)
        self.timeout = timeout

    def run(self, func, xs):
        if self.timeout is None:
            return self.pool.map(func, xs)
        pending = [self.pool.apply_async(func, (x,)) for x in xs]
        deadline = time.monotonic() + self.timeout
        results = []
        for item in pending:
            item.wait(max(0.0, deadline - time.monotonic()))
            results.append(item.get() if item.ready() else _timeout_failure(self.timeout))
        return results

    def close(self):
        self.pool.terminate()
        self.pool.join()


def _is_dask_client(obj):
    cls = type(obj)
    return cls.__module__.startswith("distributed") and hasattr(obj, "get_executor")


class ExecutorHandle:
    """What the solver uses: ``run(func, xs)`` and ``close()``; a context manager."""

    def __init__(self, backend, parallel):
        self.backend = backend
        self.parallel = parallel

    def run(self, func, xs):
        return self.backend.run(func, xs)

    def close(self):
        self.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_executor(workers, timeout=None):
    """Turn `workers` into an `ExecutorHandle` (module docstring).

    Raises
    ------
    ValueError
        For an int that is 0 or below -1.
    TypeError
        For anything else that is not an Executor, a dask Client or a callable.
    """
    if workers is None:
        return ExecutorHandle(_Serial(timeout), parallel=False)
    if isinstance(workers, Executor):
        return ExecutorHandle(_Futures(workers, timeout), parallel=True)
    if _is_dask_client(workers):
        return ExecutorHandle(_Futures(workers.get_executor(), timeout), parallel=True)
    if isinstance(workers, bool):
        raise TypeError("`workers` must be an int, a map-like callable, an Executor "
                        "or a dask Client.")
    if isinstance(workers, numbers.Integral):
        workers = int(workers)
        if workers == -1:
            workers = os.cpu_count() or 1
        if workers <= 0:
            raise ValueError("Number of workers must be positive or -1 for all cores.")
        if workers == 1:
            return ExecutorHandle(_Serial(timeout), parallel=False)
        return ExecutorHandle(_OwnedPool(workers, timeout), parallel=True)
    if callable(workers):
        return ExecutorHandle(_MapLike(workers), parallel=True)
    raise TypeError("`workers` must be an int, a map-like callable, an Executor "
                    "or a dask Client.")
