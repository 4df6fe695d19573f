"""Parallel evaluation (`workers`) gives the serial results, and `eval_timeout`.

Every kind of `workers` that lsqbox accepts -- a ThreadPoolExecutor, a
ProcessPoolExecutor, an int (a process pool owned by the solve), a map-like
callable (``multiprocessing.Pool(2).map``) and a dask.distributed Client on a
LocalCluster of two worker processes on 127.0.0.1 -- must reproduce the
serial solve exactly (x, cost, nfev, njev, nfev_total) for '2-point',
'3-point' and 'broyden' on a 6-parameter curve fit. Parallelism only changes
where each residual is computed, never which points are evaluated.

The residual function lives at module level so that it pickles by reference
(process pools and dask workers import this module).
"""
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from lsqbox import least_squares

SCHEMES = ("2-point", "3-point", "broyden")

# y = a exp(-b t) + c sin(3 d t + e) + g t, 25 points, seeded noise (n = 6).
T = np.linspace(0.0, 4.0, 25)
P_TRUE = np.array([2.0, 1.3, 0.8, 0.4, 1.5, 0.1])
X0 = np.array([1.0, 1.0, 1.0, 0.5, 1.0, 0.0])


def model(p, t):
    return p[0] * np.exp(-p[1] * t) + p[2] * np.sin(3.0 * p[3] * t + p[4]) + p[5] * t


Y = model(P_TRUE, T) + 0.01 * np.random.default_rng(3).standard_normal(T.size)


def residuals(p):
    return model(p, T) - Y


PID_LOG = "LSQBOX_TEST_PID_LOG"


def logged_residuals(p):
    """`residuals`, appending the evaluating process's id to the file named by
    the environment variable PID_LOG (inherited by pool and dask workers)."""
    with open(os.environ[PID_LOG], "a") as log:
        log.write(f"{os.getpid()}\n")
    return residuals(p)


@pytest.fixture
def pid_log(tmp_path, monkeypatch):
    """Set before a pool or cluster starts; returns a function that lists the
    ids of the processes other than this one that evaluated residuals."""
    path = tmp_path / "pids.txt"
    monkeypatch.setenv(PID_LOG, str(path))

    def other_pids():
        pids = {int(line) for line in path.read_text().split()}
        return pids - {os.getpid()}

    return other_pids


# The first trial step of every scheme overshoots to p[0] ~ 2.2185; the
# solution has p[0] = 2.0936. Points beyond SLOW_FROM take SLOW_SECONDS.
SLOW_FROM = 2.15
SLOW_SECONDS = 1.0


def slow_beyond(p):
    if p[0] > SLOW_FROM:
        time.sleep(SLOW_SECONDS)
    return residuals(p)


def slow_everywhere(p):
    time.sleep(0.05)
    return residuals(p)


FIELDS = ("cost", "nfev", "njev", "nfev_total", "status")


def solve(jac, fun=residuals, **kwargs):
    return least_squares(fun, X0, jac=jac, **kwargs)


SERIAL = {}


def serial(jac):
    if jac not in SERIAL:
        SERIAL[jac] = solve(jac)
    return SERIAL[jac]


def assert_same_as_serial(res, jac):
    ref = serial(jac)
    assert ref.success
    np.testing.assert_array_equal(res.x, ref.x)
    for name in FIELDS:
        assert res[name] == ref[name], (jac, name, res[name], ref[name])
    assert res.failures == []


def test_serial_reference_is_sensible():
    for jac in SCHEMES:
        res = serial(jac)
        assert res.success and res.nfev_total > res.x.size
        np.testing.assert_allclose(res.x, serial("2-point").x, rtol=1e-5)


@pytest.mark.parametrize("jac", SCHEMES)
def test_thread_pool_executor(jac):
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert_same_as_serial(solve(jac, workers=pool), jac)


def test_process_pool_executor(pid_log):
    with ProcessPoolExecutor(max_workers=2) as pool:
        for jac in SCHEMES:
            assert_same_as_serial(solve(jac, logged_residuals, workers=pool), jac)
    assert pid_log()


@pytest.mark.parametrize("jac", SCHEMES)
def test_workers_int(jac, pid_log):
    assert_same_as_serial(solve(jac, logged_residuals, workers=2), jac)
    assert pid_log()


def test_multiprocessing_pool_map(pid_log):
    with multiprocessing.Pool(2) as pool:
        for jac in SCHEMES:
            assert_same_as_serial(solve(jac, logged_residuals, workers=pool.map), jac)
    assert pid_log()


def test_dask_local_cluster(pid_log):
    """Two worker processes on loopback, started and closed here (~6 s)."""
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'lsqbox[dask]')")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            for jac in SCHEMES:
                assert_same_as_serial(solve(jac, logged_residuals, workers=client), jac)
            worker_pids = set(client.run(os.getpid).values())
    assert pid_log() and pid_log() <= worker_pids


# ---------------------------------------------------------------------------
# eval_timeout
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("jac", SCHEMES)
def test_eval_timeout_skips_a_slow_trial_point(jac):
    """The overshooting first trial sleeps 1 s; with eval_timeout=0.25 it is a
    failed evaluation (tried twice), the radius shrinks and the solve goes on to
    the serial solution. 16 threads, so that a whole Jacobian batch (6 points,
    12 for 3-point) runs at once while the timed-out evaluations sleep on."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        start = time.monotonic()
        res = least_squares(slow_beyond, X0, jac=jac, workers=pool, eval_timeout=0.25)
        elapsed = time.monotonic() - start
    assert res.success, res.message
    np.testing.assert_allclose(res.x, serial(jac).x, rtol=1e-6)
    timed_out = [f for f in res.failures if "timed out" in f["reason"]]
    assert timed_out, res.failures
    assert all(f["x"][0] > SLOW_FROM for f in timed_out)
    assert all(f["purpose"] == "trial" for f in timed_out)
    # Each timed-out evaluation costs about eval_timeout, not SLOW_SECONDS.
    assert elapsed < 0.25 * len(timed_out) + 3.0


def test_eval_timeout_on_serial_evaluation():
    """Without workers the evaluation runs in a helper thread."""
    res = least_squares(slow_beyond, X0, jac="2-point", eval_timeout=0.25)
    assert res.success
    np.testing.assert_allclose(res.x, serial("2-point").x, rtol=1e-6)
    assert any("timed out" in f["reason"] for f in res.failures)


@pytest.mark.parametrize("workers", ["threads-1", "int-2"])
def test_eval_timeout_is_per_evaluation_not_per_batch(workers):
    """`eval_timeout` is "seconds one evaluation may take". Here every
    evaluation takes 0.05 s, half the 0.1 s timeout, but a batch of 6
    finite-difference points queued on 1 thread (or 2 processes) takes
    0.3 s (0.15 s) in all: none of them may be declared timed out."""
    if workers == "threads-1":
        with ThreadPoolExecutor(max_workers=1) as pool:
            res = least_squares(slow_everywhere, X0, jac="2-point", workers=pool,
                                eval_timeout=0.1, max_nfev=3)
    else:
        res = least_squares(slow_everywhere, X0, jac="2-point", workers=2,
                            eval_timeout=0.1, max_nfev=3)
    assert res.failures == []
    assert res.nfev == 3
