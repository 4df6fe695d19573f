"""Unit tests for lsqbox.executor: open_executor, ExecutorHandle, Failure, Guarded."""
import os
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from lsqbox.executor import ExecutorHandle, Failure, Guarded, open_executor
from lsqbox.problem import JACOBIAN, BoundFunction, Problem


def square_and_pid(x):
    """Module level, so a process pool can pickle it."""
    return (float(x) ** 2, os.getpid())


def residuals(x, shift):
    return np.asarray(x) ** 2 - shift


def sleepy(x):
    """Sleeps 0.6 s for negative inputs (module level: picklable)."""
    if x < 0:
        time.sleep(0.6)
    return 10 * x


def fails_on_three(x):
    if x == 3:
        raise ZeroDivisionError("three")
    return x + 1


# ---- Failure and Guarded -----------------------------------------------------------
def test_failure_holds_a_reason():
    f = Failure("timed out after 1 s")
    assert f.reason == "timed out after 1 s"
    assert repr(f) == "Failure('timed out after 1 s')"
    assert pickle.loads(pickle.dumps(f)).reason == f.reason


def test_guarded_turns_exceptions_into_failures():
    g = Guarded(fails_on_three)
    assert g(2) == 3
    out = g(3)
    assert isinstance(out, Failure)
    assert out.reason == "ZeroDivisionError: three"


def test_guarded_lets_base_exceptions_through():
    def interrupt(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Guarded(interrupt)(1)


def test_guarded_is_picklable():
    clone = pickle.loads(pickle.dumps(Guarded(fails_on_three)))
    assert clone(1) == 2
    assert clone(3).reason == "ZeroDivisionError: three"


# ---- the backends --------------------------------------------------------------------
@pytest.mark.parametrize("workers", [None, 1, np.int64(1)])
def test_serial(workers):
    handle = open_executor(workers)
    assert isinstance(handle, ExecutorHandle)
    assert handle.parallel is False
    calls = []
    assert handle.run(lambda v: calls.append(v) or v + 1, [1, 2, 5]) == [2, 3, 6]
    assert calls == [1, 2, 5]                  # in this process, in order
    handle.close()
    handle.close()                             # idempotent


def test_process_pool_two_workers():
    with open_executor(2) as handle:
        assert handle.parallel is True
        out = handle.run(square_and_pid, range(8))
        assert [v for v, _ in out] == [float(i) ** 2 for i in range(8)]
        assert os.getpid() not in {pid for _, pid in out}
        pool = handle.backend.pool
        assert pool._processes == 2
    assert pool._state != "RUN"                # terminated on exit


def test_process_pool_through_problem():
    with open_executor(2) as handle:
        p = Problem(BoundFunction(residuals, (1.0,)), handle)
        xs = [np.array([float(i), 1.0]) for i in range(4)]
        fs = p.evaluate_many(xs, JACOBIAN)
    assert [f.tolist() for f in fs] == [[i * i - 1.0, 0.0] for i in range(4)]
    assert p.counts[JACOBIAN] == 4
    assert p.failures == []


def test_minus_one_uses_all_cores():
    with open_executor(-1) as handle:
        out = handle.run(square_and_pid, [1.0, 2.0, 3.0])
        assert [v for v, _ in out] == [1.0, 4.0, 9.0]
        if (os.cpu_count() or 1) > 1:
            assert handle.parallel is True
            assert handle.backend.pool._processes == os.cpu_count()
        else:
            assert handle.parallel is False


def test_executor_is_used_through_submit_and_not_shut_down():
    with ThreadPoolExecutor(max_workers=2) as ex:
        handle = open_executor(ex)
        assert handle.parallel is True
        assert handle.run(lambda v: v * 3, [1, 2, 3]) == [3, 6, 9]
        # order is the order of the points, not of completion
        assert handle.run(lambda v: time.sleep(0.01 * v) or v, [5, 1, 3]) == [5, 1, 3]
        handle.close()
        # the user's executor is still usable after the solve
        assert ex.submit(lambda: 5).result() == 5


def test_executor_without_timeout_waits_for_everything():
    with ThreadPoolExecutor(max_workers=2) as ex, open_executor(ex) as handle:
        assert handle.run(lambda v: time.sleep(0.05) or v, [1, 2, 3]) == [1, 2, 3]


def test_map_like_callable():
    calls = []

    def my_map(func, iterable):
        calls.append(1)
        return [func(v) for v in iterable]

    with open_executor(my_map) as handle:
        assert handle.parallel is True
        assert handle.run(abs, [-1, -2]) == [1, 2]
    assert calls == [1]


def test_map_like_returning_an_iterator_is_listed():
    with open_executor(map) as handle:
        out = handle.run(abs, [-1, -2])
    assert out == [1, 2] and isinstance(out, list)


def test_dask_like_client_uses_its_executor():
    """A dask.distributed.Client is recognised by its module and get_executor()
    (dask itself is not imported)."""
    class Client:
        def __init__(self, ex):
            self.ex = ex

        def get_executor(self):
            return self.ex

    Client.__module__ = "distributed.client"
    with ThreadPoolExecutor(max_workers=2) as ex:
        handle = open_executor(Client(ex))
        assert handle.backend.executor is ex
        assert handle.run(lambda v: v - 1, [1, 2]) == [0, 1]
        handle.close()
        assert ex.submit(lambda: 1).result() == 1      # not owned: not shut down


@pytest.mark.parametrize("workers", [0, -2, -10])
def test_bad_int_raises_value_error(workers):
    with pytest.raises(ValueError, match="Number of workers must be positive or -1"):
        open_executor(workers)


@pytest.mark.parametrize("workers", [True, False, 2.0, "4", [1, 2], object()])
def test_bad_type_raises_type_error(workers):
    with pytest.raises(TypeError, match="`workers` must be an int, a map-like callable, "
                                        "an Executor or a dask Client."):
        open_executor(workers)


def test_numpy_integer_workers_accepted_like_scipy():
    """SciPy's `workers` takes any integer (it calls int(workers))."""
    with open_executor(np.int64(1)) as handle:
        assert handle.run(abs, [-1]) == [1]
    with open_executor(np.int32(2)) as handle:
        assert handle.parallel is True
        assert [v for v, _ in handle.run(square_and_pid, [3])] == [9.0]


# ---- timeouts --------------------------------------------------------------------------
def check_timed_out(out):
    assert out[0] == 10 and out[2] == 20 and out[3] == 30
    assert isinstance(out[1], Failure)
    assert out[1].reason == "timed out after 0.2 s"


def test_serial_timeout():
    with open_executor(None, timeout=0.2) as handle:
        start = time.monotonic()
        out = handle.run(sleepy, [1, -1, 2, 3])
        elapsed = time.monotonic() - start
    check_timed_out(out)
    assert elapsed < 0.55                       # did not wait for the sleeper


def test_serial_timeout_runs_in_order_in_other_threads():
    seen = []

    def record(x):
        seen.append((x, threading.current_thread() is threading.main_thread()))
        return x

    with open_executor(1, timeout=5.0) as handle:
        assert handle.run(record, [3, 1, 2]) == [3, 1, 2]
    assert seen == [(3, False), (1, False), (2, False)]


def test_thread_pool_timeout():
    with ThreadPoolExecutor(max_workers=4) as ex:
        with open_executor(ex, timeout=0.2) as handle:
            start = time.monotonic()
            out = handle.run(sleepy, [1, -1, 2, 3])
            elapsed = time.monotonic() - start
        check_timed_out(out)
        assert elapsed < 0.55


def test_owned_process_pool_timeout_and_kill():
    with open_executor(2, timeout=0.2) as handle:
        pool = handle.backend.pool
        start = time.monotonic()
        out = handle.run(sleepy, [1, -1, 2, 3])
        elapsed = time.monotonic() - start
        check_timed_out(out)
        assert elapsed < 0.55
    assert pool._state != "RUN"                 # the hung worker was terminated


def test_timeout_with_a_batch_that_finishes_in_time():
    for workers in (None, 2):
        with open_executor(workers, timeout=5.0) as handle:
            assert handle.run(sleepy, [1, 2]) == [10, 20]


def test_map_like_callable_cannot_be_timed_out():
    with open_executor(map, timeout=0.01) as handle:
        assert handle.run(lambda v: time.sleep(0.05) or v, [7]) == [7]
