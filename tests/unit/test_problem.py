"""Unit tests for lsqbox.problem: evaluations, counts by purpose, observers,
failures."""
import pickle
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from lsqbox.executor import Failure, open_executor
from lsqbox.problem import INITIAL, JACOBIAN, TRIAL, BoundFunction, Problem


def residuals(x, a, b=0.0):
    return a * np.asarray(x) + b


class CountingFunction:
    def __init__(self):
        self.calls = []

    def __call__(self, x):
        self.calls.append(np.array(x, copy=True))
        return np.array([x[0] ** 2, x[0] + x[1]])


def serial_problem(fun, m=None):
    p = Problem(fun, open_executor(None))
    p.m = m
    return p


def test_bound_function_passes_args_and_kwargs():
    bf = BoundFunction(residuals, (2.0,), {"b": 1.0})
    assert_array_equal(bf(np.array([1.0, 3.0])), [3.0, 7.0])
    assert bf.args == (2.0,) and bf.kwargs == {"b": 1.0}


def test_scalars_become_1d_in_the_problem():
    # BoundFunction returns what fun returned (a worker's result object keeps
    # its extras on the way back); the Problem makes it an array.
    bf = BoundFunction(lambda x: float(np.sum(x)))
    assert bf(np.array([1.0, 2.0])) == 3.0
    p = Problem(bf, open_executor(None))
    out = p.evaluate(np.array([1.0, 2.0]), TRIAL)
    assert out.shape == (1,)
    assert out[0] == 3.0


def test_bound_function_copies_args():
    args, kwargs = [2.0], {"b": 1.0}
    bf = BoundFunction(residuals, args, kwargs)
    kwargs["b"] = 100.0
    assert_array_equal(bf(np.array([1.0])), [3.0])


def test_bound_function_is_picklable():
    bf = BoundFunction(residuals, (3.0,), {"b": -1.0})
    clone = pickle.loads(pickle.dumps(bf))
    assert_array_equal(clone(np.array([1.0, 2.0])), [2.0, 5.0])


def test_counts_by_purpose_and_nfev():
    fun = CountingFunction()
    p = serial_problem(fun)
    x = np.array([1.0, 2.0])
    p.evaluate_initial(x)
    for _ in range(3):
        p.evaluate(x + 1, TRIAL)
    p.evaluate_many([x, x + 0.1, x + 0.2], JACOBIAN)
    p.evaluate_many([x], JACOBIAN)
    p.evaluate(x, "refresh")
    assert p.counts == {INITIAL: 1, TRIAL: 3, JACOBIAN: 4, "refresh": 1}
    assert p.nfev == 4                      # SciPy's count: initial + trial
    assert p.nfev_total == 9                # every call of fun
    assert len(fun.calls) == 9
    assert p.rounds == 7                    # batches: 1 + 3 + 1 + 1 + 1
    assert p.failures == []


def test_rounds_count_batches_that_run():
    """A batch is one round, run or answered in part by a cache; a batch the
    cache answers whole runs nothing and is no round; an empty one neither."""
    class Cache:
        def __init__(self):
            self.known = {}

        def lookup(self, x):
            return self.known.get(x.tobytes())

        def start(self, xs):
            pass

        def record(self, x, value):
            self.known[x.tobytes()] = value

    p = serial_problem(CountingFunction())
    x = np.array([1.0, 2.0])
    p.evaluate_block(np.array([x, x + 1.0]), JACOBIAN)        # the short path
    p.evaluate_many([], JACOBIAN)
    assert p.rounds == 1
    p.cache = Cache()
    p.evaluate_many([x, x + 1.0], JACOBIAN)
    p.evaluate_many([x, x + 1.0], JACOBIAN)                   # answered whole
    p.evaluate_many([x, x + 2.0], JACOBIAN)                   # one point runs
    assert p.rounds == 3 and p.nfev_total == 8


def test_fresh_problem_counts_zero():
    p = serial_problem(CountingFunction())
    assert p.nfev == 0 and p.nfev_total == 0
    assert p.failures == [] and p.m is None


def test_evaluate_returns_what_fun_returned():
    p = serial_problem(BoundFunction(lambda x: np.float32(2.0) * x))
    x = np.array([1.0, 2.0], dtype=np.float32)
    f0 = p.evaluate_initial(x)
    f = p.evaluate(x, TRIAL)
    for out in (f0, f):
        assert out.dtype == np.float32
        assert_array_equal(out, [2.0, 4.0])


def test_evaluate_many_runs_the_batch_through_the_executor_in_order():
    seen = []

    def my_map(func, xs):
        xs = list(xs)
        seen.append(len(xs))
        return [func(x) for x in reversed(xs)][::-1]     # order restored

    p = Problem(BoundFunction(lambda x: x * 2), open_executor(my_map))
    xs = [np.array([float(i)]) for i in range(5)]
    fs = p.evaluate_many(iter(xs), JACOBIAN)
    assert seen == [5]
    assert [f[0] for f in fs] == [0.0, 2.0, 4.0, 6.0, 8.0]
    p.evaluate_many([np.array([1.0])], JACOBIAN)
    p.evaluate(np.array([1.0]), TRIAL)
    assert seen == [5, 1, 1]                  # every batch goes to the executor
    assert p.counts[JACOBIAN] == 6 and p.counts[TRIAL] == 1


def test_evaluate_initial_runs_in_this_process_not_through_the_executor():
    seen = []

    def my_map(func, xs):
        seen.append(1)
        return [func(x) for x in xs]

    p = Problem(BoundFunction(lambda x: x + 1), open_executor(my_map))
    assert_array_equal(p.evaluate_initial(np.array([1.0])), [2.0])
    assert seen == [] and p.counts == {INITIAL: 1}


def test_observers_called_for_every_evaluation():
    log = []
    p = serial_problem(BoundFunction(lambda x: x + 1))
    p.observers.append(lambda purpose, xs, fs: log.append(
        (purpose, [x.tolist() for x in xs], [f.tolist() for f in fs])))
    second = []
    p.observers.append(lambda purpose, xs, fs: second.append(purpose))
    p.evaluate_initial(np.array([0.0]))
    p.evaluate_many([np.array([1.0]), np.array([2.0])], JACOBIAN)
    p.evaluate(np.array([3.0]), TRIAL)
    assert log == [
        (INITIAL, [[0.0]], [[1.0]]),
        (JACOBIAN, [[1.0], [2.0]], [[2.0], [3.0]]),
        (TRIAL, [[3.0]], [[4.0]]),
    ]
    assert second == [INITIAL, JACOBIAN, TRIAL]


# ---- failures --------------------------------------------------------------------------
def picky(x):
    """Raises for x[0] == 1, NaN and inf for x[0] == 2, wrong length for x[0] == 3."""
    if x[0] == 1:
        raise ValueError("one is not allowed")
    if x[0] == 2:
        return np.array([np.nan, 1.0, np.inf])
    if x[0] == 3:
        return np.zeros(2)
    return np.array([x[0], 2 * x[0], 3 * x[0]])


def test_failures_are_returned_and_recorded():
    p = serial_problem(BoundFunction(picky), m=3)
    xs = [np.array([float(v)]) for v in (0, 1, 2, 4)]
    fs = p.evaluate_many(xs, JACOBIAN)
    assert_array_equal(fs[0], [0.0, 0.0, 0.0])
    assert_array_equal(fs[3], [4.0, 8.0, 12.0])
    assert [isinstance(f, Failure) for f in fs] == [False, True, True, False]
    assert fs[1].reason == "ValueError: one is not allowed"
    assert fs[2].reason == "non-finite residuals (2 of 3)"
    assert [f["purpose"] for f in p.failures] == [JACOBIAN] * 2
    assert [f["x"].tolist() for f in p.failures] == [[1.0], [2.0]]
    assert [f["reason"] for f in p.failures] == [fs[1].reason, fs[2].reason]
    assert p.counts[JACOBIAN] == 4            # failed evaluations are counted too


def test_wrong_shape_is_a_programming_error():
    """Residuals of another length than at x0 are not a failed run: ValueError."""
    p = serial_problem(BoundFunction(picky), m=3)
    with pytest.raises(ValueError, match=r"`fun` returned residuals of shape \(2,\) at "
                                         r"x = .*3\..*; at x0 they had shape \(3,\)"):
        p.evaluate_many([np.array([0.0]), np.array([3.0])], JACOBIAN)


def test_failure_records_a_copy_of_x():
    p = serial_problem(BoundFunction(picky), m=3)
    x = np.array([1.0])
    f = p.evaluate(x, TRIAL)
    x[0] = 99.0
    assert isinstance(f, Failure)
    assert p.failures == [{"x": p.failures[0]["x"], "purpose": TRIAL,
                           "reason": "ValueError: one is not allowed"}]
    assert p.failures[0]["x"].tolist() == [1.0]
    assert p.nfev == 1


def test_shape_is_not_checked_before_m_is_known():
    p = serial_problem(BoundFunction(picky))
    assert_array_equal(p.evaluate(np.array([3.0]), TRIAL), [0.0, 0.0])
    assert p.failures == []


def test_observers_see_failures():
    log = []
    p = serial_problem(BoundFunction(picky), m=3)
    p.observers.append(lambda purpose, xs, fs: log.append(
        (purpose, [isinstance(f, Failure) for f in fs])))
    p.evaluate_many([np.array([0.0]), np.array([1.0])], JACOBIAN)
    assert log == [(JACOBIAN, [False, True])]


def test_evaluate_initial_raises_the_original_exception_with_a_note():
    p = serial_problem(BoundFunction(picky), m=3)
    with pytest.raises(ValueError, match="one is not allowed") as info:
        p.evaluate_initial(np.array([1.0]))
    if sys.version_info >= (3, 11):
        assert any("initial point x0" in note and "1." in note
                   for note in info.value.__notes__)
    assert p.counts[INITIAL] == 0 and p.failures == []


def test_evaluate_initial_does_not_check_values():
    """x0's residuals are checked by options.check_initial_point (SciPy's errors)."""
    p = serial_problem(BoundFunction(picky), m=3)
    f = p.evaluate_initial(np.array([2.0]))
    assert np.isnan(f[0]) and p.failures == []


def slow_for_negative(x):
    """Module level (picklable): sleeps 0.6 s when x[0] < 0."""
    if x[0] < 0:
        time.sleep(0.6)
    return np.array([x[0] + 1.0, x[0] * x[1]])


@pytest.mark.parametrize("kind", ["serial", "threads", "processes"])
def test_timeouts_through_problem(kind):
    xs = [np.array([1.0, 2.0]), np.array([-1.0, 2.0]), np.array([3.0, 4.0])]
    if kind == "threads":
        ex = ThreadPoolExecutor(max_workers=3)
        workers = ex
    else:
        ex = None
        workers = None if kind == "serial" else 2
    try:
        with open_executor(workers, timeout=0.2) as handle:
            p = Problem(BoundFunction(slow_for_negative), handle)
            p.m = 2
            fs = p.evaluate_many(xs, JACOBIAN)
    finally:
        if ex is not None:
            ex.shutdown(wait=True)
    assert_array_equal(fs[0], [2.0, 2.0])
    assert_array_equal(fs[2], [4.0, 12.0])
    assert isinstance(fs[1], Failure) and "timed out" in fs[1].reason
    assert p.failures[0]["x"].tolist() == [-1.0, 2.0]
    assert p.failures[0]["purpose"] == JACOBIAN
    assert p.counts[JACOBIAN] == 3


def test_huge_finite_residuals_are_not_failures_and_raise_no_overflow_warning():
    import warnings
    p = Problem(BoundFunction(lambda x: np.array([1e200, -1e200, 1.0])), open_executor(None))
    p.m = 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = p.evaluate(np.zeros(1), "trial")
    assert not isinstance(f, Failure)
    assert f[0] == 1e200 and p.failures == []


# ---- evaluate_block: the finite-difference batch as one array ---------------------
def _inline_problem(fun):
    from lsqbox.executor import open_executor
    p = Problem(BoundFunction(fun), open_executor(None))
    p.m = 2
    return p


def test_evaluate_block_returns_one_array_when_all_succeed():
    p = _inline_problem(lambda x: np.array([x[0], 2 * x[1]]))
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    F = p.evaluate_block(X, "jacobian")
    assert isinstance(F, np.ndarray) and F.dtype == float
    np.testing.assert_array_equal(F, [[1, 4], [3, 8], [5, 12]])
    assert p.counts["jacobian"] == 3 and p.failures == []


def test_evaluate_block_falls_back_to_per_point_values_on_failure():
    def fun(x):
        if x[0] == 3.0:
            raise RuntimeError("boom")
        if x[0] == 5.0:
            return np.array([np.nan, 1.0])
        return [x[0], 1]                       # a list: converted like any result
    p = _inline_problem(fun)
    out = p.evaluate_block(np.array([[1.0, 0.0], [3.0, 0.0], [5.0, 0.0]]), "jacobian")
    assert isinstance(out, list) and len(out) == 3
    np.testing.assert_array_equal(out[0], [1.0, 1.0])
    assert isinstance(out[1], Failure) and "boom" in out[1].reason
    assert isinstance(out[2], Failure) and out[2].reason.startswith("non-finite")
    assert [f["purpose"] for f in p.failures] == ["jacobian", "jacobian"]
    assert p.counts["jacobian"] == 3           # every call counted once


def test_evaluate_block_wrong_length_is_an_error():
    p = _inline_problem(lambda x: np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        p.evaluate_block(np.zeros((2, 2)), "jacobian")


def test_evaluate_block_with_observers_goes_through_evaluate_many():
    seen = []
    p = _inline_problem(lambda x: np.array([x[0], 0.0]))
    p.observers.append(lambda purpose, xs, fs: seen.append((purpose, len(xs))))
    F = p.evaluate_block(np.array([[1.0, 0.0], [2.0, 0.0]]), "jacobian")
    np.testing.assert_array_equal(F[:, 0], [1.0, 2.0])
    assert seen == [("jacobian", 2)]
