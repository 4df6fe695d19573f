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
from concurrent.futures import Executor

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
    """Any concurrent.futures.Executor.

    With a timeout, at most `capacity` evaluations are in flight, so each one
    starts when it is submitted and its own clock (not the batch's) decides
    whether it is late. The capacity is the executor's worker count where it
    says (thread and process pools); otherwise everything is submitted at once
    and the timeout counts from submission.
    """

    def __init__(self, executor, timeout=None, owned=False):
        self.executor = executor
        self.timeout = timeout
        self.owned = owned
        self.capacity = getattr(executor, "_max_workers", None)

    def run(self, func, xs):
        if self.timeout is None:
            futures = [self.executor.submit(func, x) for x in xs]
            return [future.result() for future in futures]
        return _windowed(lambda x: self.executor.submit(func, x), xs,
                         self.capacity or len(xs), self.timeout,
                         done=lambda f: f.done(), value=lambda f: f.result(),
                         abandon=lambda f: f.cancel())

    def close(self):
        if self.owned:
            self.executor.shutdown(wait=False, cancel_futures=True)


def _windowed(submit, xs, capacity, timeout, done, value, abandon):
    """Run with at most `capacity` in flight; each gets `timeout` seconds from
    its own start. Results in input order; late ones become `Failure`."""
    results = [None] * len(xs)
    pending = list(enumerate(xs))
    running = []                       # (index, handle, deadline)
    while pending or running:
        while pending and len(running) < capacity:
            i, x = pending.pop(0)
            running.append((i, submit(x), time.monotonic() + timeout))
        time.sleep(0.001)
        still = []
        now = time.monotonic()
        for i, handle, deadline in running:
            if done(handle):
                results[i] = value(handle)
            elif now >= deadline:
                abandon(handle)
                results[i] = _timeout_failure(timeout)
            else:
                still.append((i, handle, deadline))
        running = still
    return results


class _OwnedPool:
    """A multiprocessing pool created for one solve; hung workers are killed
    (``terminate``) when it closes."""

    def __init__(self, processes, timeout=None):
        import multiprocessing
        self.pool = multiprocessing.get_context().Pool(processes)
        self.processes = processes
        self.timeout = timeout

    def run(self, func, xs):
        if self.timeout is None:
            return self.pool.map(func, xs)
        # A hung evaluation keeps its worker busy until the pool is terminated
        # at the end of the solve; an evaluation that waits behind it in the
        # pool's queue may be timed out too (it is then retried as a failure).
        return _windowed(lambda x: self.pool.apply_async(func, (x,)), xs,
                         self.processes, self.timeout,
                         done=lambda r: r.ready(), value=lambda r: r.get(),
                         abandon=lambda r: None)

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
        # One point at a time may be run directly by the caller, in this process.
        self.inline = isinstance(backend, _Serial) and backend.timeout is None

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
