"""End-to-end tests of `lsqbox.calibration.fit`: a real external program
(tests/calibration/programs/expdecay.py, stdlib only, a few tens of ms per run)
fitted to synthetic data through a job file.

    y = a * exp(-b * x) + c,   truth a = 2.0, b = 0.7, c = 0.3,  sd 0.02

`b` is fitted in log space. The program appends ``start <a> <b> <c> <pid>`` and
``end ...`` lines to the file named by EXPDECAY_LOG, so the tests count program
runs exactly; other EXPDECAY_* variables make it slow, fail, hang or write bad
output in a region of parameter space (see the program's docstring).
"""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import least_squares as scipy_least_squares

from lsqbox.calibration import ExternalModel, ModelRunFailed, fit, load_job
from lsqbox.calibration.journal import Journal
from lsqbox.calibration.report import format_report

HERE = Path(__file__).resolve().parent
PROGRAM = HERE / "programs" / "expdecay.py"
EXAMPLES = HERE.parents[1] / "examples"

TRUTH = {"a": 2.0, "b": 0.7, "c": 0.3}
SD = 0.02
X = np.round(0.2 * np.arange(31), 10)
START = {"a": 1.0, "b": 0.3, "c": 0.0}
# The first trial step of the Broyden fit from START lands at a ~ 1.69,
# b ~ 0.54; a program that misbehaves in a small box around that point is hit
# during the fit, while the start and the solution (a ~ 2.01, b ~ 0.69) are
# outside it and the solver can go around it. (A band the path must cross,
# e.g. 1.5 < a < 1.8, is a wall: the fit stops at its edge.)
BAD_REGION = "abs(a - 1.69) < 0.1 and abs(b - 0.54) < 0.1"


# -- building jobs --------------------------------------------------------------------
def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(i) for i in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(i)}"
                                for k, i in v.items()) + " }"
    raise TypeError(v)


def write_toml(path, doc):
    """A job dict -> TOML text (tables of scalars, lists and inline tables)."""
    lines = []

    def table(name, body):
        lines.append(f"[{name}]")
        subtables = []
        for k, v in body.items():
            if isinstance(v, dict) and name != "parameters" and k == "output":
                subtables.append((f"{name}.{k}", v))
            else:
                lines.append(f"{k} = {_toml_value(v)}")
        lines.append("")
        for sub in subtables:
            table(*sub)

    for name, body in doc.items():
        table(name, body)
    Path(path).write_text("\n".join(lines))
    return Path(path)


def write_data(path, seed=7):
    y = measured(seed)
    with open(path, "w") as fh:
        fh.write("x,y,sd\n")
        for xi, yi in zip(X, y):
            fh.write(f"{xi:.1f},{float(yi)!r},{SD}\n")
    return y


def job_doc(directory, *, jac="broyden", workers=1, env=None, parameters=None,
            timeout=30, solver=None):
    directory = Path(directory)
    params = {"a": {"value": START["a"], "min": 0.0, "max": 10.0},
              "b": {"value": START["b"], "min": 0.01, "max": 10.0, "log": True},
              "c": {"value": START["c"]}}
    params.update(parameters or {})
    full_env = {"EXPDECAY_LOG": str(directory / "runs.log")}
    full_env.update(env or {})
    return {
        "model": {"command": ["{python}", "expdecay.py", "params.json", "out.csv"],
                  "templates": {"params.json": "params.json.tpl"},
                  "copy": ["expdecay.py"], "timeout": timeout, "env": full_env,
                  "output": {"file": "out.csv", "x": "x", "y": ["y"]}},
        "data": {"file": "data.csv", "x": "x", "y": ["y"], "sigma": ["sd"]},
        "parameters": params,
        "solver": dict({"method": "trf", "jac": jac, "workers": workers}, **(solver or {})),
    }


def make_job(directory, **kw):
    """A complete job directory; returns the path of its job.toml."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROGRAM, directory / "expdecay.py")
    (directory / "params.json.tpl").write_text(
        '{"a": {{ a }}, "b": {{ b }}, "c": {{ c }}}\n')
    write_data(directory / "data.csv")
    return write_toml(directory / "job.toml", job_doc(directory, **kw))


def run_log(job_path):
    """[(word, key, pid)] from the program's run log (key = 'a b c' reprs)."""
    path = Path(job_path).parent / "runs.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        word, a, b, c, pid = line.split()
        out.append((word, f"{a} {b} {c}", int(pid)))
    return out


def starts(job_path):
    return Counter(key for word, key, _ in run_log(job_path) if word == "start")


def key_of_values(values):
    return " ".join(repr(float(values[n])) for n in ("a", "b", "c"))


def journal_records(job_path):
    job = load_job(job_path)
    with Journal(job.journal_path) as journal:
        return list(journal.records())


def value(result, name):
    return result["parameters"][name]["value"]


def stderr(result, name):
    return result["parameters"][name]["stderr"]


# -- the answer the external-program fits must reproduce ------------------------------
def _direct_fit(fixed_c=None):
    """The same fit done directly in Python on the analytic model (value space),
    with analytic standard errors (sigma known: absolute)."""
    data = measured()

    def model(p):
        a, b, c = (p[0], p[1], fixed_c if fixed_c is not None else p[2])
        return (a * np.exp(-b * X) + c - data) / SD

    p0 = [START["a"], START["b"]] + ([] if fixed_c is not None else [START["c"]])
    res = scipy_least_squares(model, p0, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
    a, b = res.x[:2]
    J = np.column_stack([np.exp(-b * X), -a * X * np.exp(-b * X), np.ones_like(X)]) / SD
    if fixed_c is not None:
        J = J[:, :2]
    cov = np.linalg.inv(J.T @ J)
    names = ["a", "b"] + ([] if fixed_c is not None else ["c"])
    return ({n: float(v) for n, v in zip(names, res.x)},
            {n: float(s) for n, s in zip(names, np.sqrt(np.diag(cov)))}, float(res.cost))


def measured(seed=7):
    """The y values `write_data` writes (same seed, same formula; written with
    repr, so the file reads back exactly these floats)."""
    rng = np.random.default_rng(seed)
    return (TRUTH["a"] * np.exp(-TRUTH["b"] * X) + TRUTH["c"]
            + rng.normal(0.0, SD, X.size))


@pytest.fixture(scope="module")
def direct():
    return _direct_fit()


def assert_matches_direct(result, direct, names=("a", "b", "c"), tol=1e-3):
    """Values agree with the direct fit to a small fraction of a standard error,
    and lie within 4 standard errors of the truth; standard errors agree."""
    values, errors, cost = direct
    for n in names:
        v, s = value(result, n), stderr(result, n)
        assert s is not None and s > 0
        assert abs(v - values[n]) < tol * errors[n], (n, v, values[n], errors[n])
        assert abs(v - TRUTH[n]) < 4 * s, (n, v, TRUTH[n], s)
        assert s == pytest.approx(errors[n], rel=2e-3), n
    assert result["cost"] == pytest.approx(cost, rel=1e-7)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Uninterrupted serial fits of the base job, one per Jacobian kind."""
    out = {}
    for jac in ("broyden", "2-point"):
        job = make_job(tmp_path_factory.mktemp(f"ref-{jac}"), jac=jac)
        out[jac] = (job, fit(job, workers=1, progress=False))
    return out


# -- (1) serial and parallel fits ---------------------------------------------------------
@pytest.mark.parametrize("jac", ["broyden", "2-point"])
def test_serial_fit_matches_direct_fit(reference, direct, jac):
    job, result = reference[jac]
    assert result["success"] and result["status"] > 0
    assert_matches_direct(result, direct)
    assert result["weighted"] is True
    assert result["dof"] == X.size - 3
    assert result["chi_square"] == pytest.approx(2 * result["cost"], rel=1e-12)
    assert result["parameters"]["b"]["log"] is True
    assert result["parameters"]["a"]["log"] is False
    # the solver works on log10(b)
    assert result["x_solver"][1] == pytest.approx(math.log10(value(result, "b")), abs=1e-15)
    # every program run is in the journal, and each point ran exactly once
    records = journal_records(job)
    assert all(r.status == "ok" for r in records)
    counted = starts(job)
    assert sum(counted.values()) == len(records) == result["runs"]["ok"]
    assert set(counted.values()) == {1}
    # the journal knows the model values at the optimum
    job_obj = load_job(job)
    with Journal(job_obj.journal_path) as journal:
        best = journal.lookup(np.array(result["x_solver"]))
    assert best is not None and best.ok
    assert best.outputs["alignment"] == ["exact"]
    assert best.outputs["values"] == pytest.approx({n: value(result, n) for n in "abc"},
                                                   rel=1e-15)
    # successful run directories are removed
    runs_dir = job_obj.runs_dir
    assert not runs_dir.exists() or not any(runs_dir.iterdir())
    # the result file beside the job holds the same result
    saved = json.loads(job_obj.result_path.read_text())
    assert saved["x_solver"] == result["x_solver"]
    assert saved["parameters"] == result["parameters"]


def test_speculative_trials_fit_in_fewer_rounds(tmp_path, reference, direct):
    _, plain = reference["broyden"]
    job = make_job(tmp_path, jac="broyden", workers=2, solver={"speculative_trials": 1})
    result = fit(job, progress=False)
    assert result["success"]
    assert_matches_direct(result, direct)
    assert result["rounds"] < plain["rounds"]
    # every run is journalled once, speculative ones included
    assert set(starts(job).values()) == {1}
    assert sum(starts(job).values()) == result["runs"]["ok"]
    assert "rounds" in format_report(result)


@pytest.mark.parametrize("jac", ["broyden", "2-point"])
def test_two_workers_give_the_serial_result(tmp_path, reference, jac):
    _, serial = reference[jac]
    job = make_job(tmp_path, jac=jac, workers=2)
    parallel = fit(job, progress=False)                 # workers = 2 from the job file
    assert parallel["x_solver"] == serial["x_solver"]   # bit for bit
    assert parallel["cost"] == serial["cost"]
    assert parallel["parameters"] == serial["parameters"]
    assert parallel["evaluations"] == serial["evaluations"]
    assert parallel["runs"] == serial["runs"]
    pids = {pid for word, _, pid in run_log(job) if word == "start"}
    assert len(pids) == parallel["runs"]["ok"]          # one process per run


def test_fixed_parameter_is_rendered_and_not_fitted(tmp_path):
    job = make_job(tmp_path, parameters={"c": {"value": 0.3, "fixed": True}})
    result = fit(job, progress=False)
    values, errors, cost = _direct_fit(fixed_c=0.3)
    assert result["parameters"]["c"] == {"value": 0.3, "fixed": True, "log": False}
    assert len(result["x_solver"]) == 2
    assert result["correlation"]["names"] == ["a", "b"]
    assert result["dof"] == X.size - 2
    for n in ("a", "b"):
        assert abs(value(result, n) - values[n]) < 1e-3 * errors[n]
        assert stderr(result, n) == pytest.approx(errors[n], rel=2e-3)
    assert result["cost"] == pytest.approx(cost, rel=1e-7)
    # every run of the program got c = 0.3
    keys = starts(job)
    assert keys and all(k.split()[2] == "0.3" for k in keys)
    for record in journal_records(job):
        assert record.x.shape == (2,)
        assert record.outputs["values"]["c"] == 0.3


def test_log_parameter_stays_positive_and_uses_log_bounds(tmp_path):
    # b starts at 0.3 with bounds [0.2, 0.5] in log space: the optimum (b ~ 0.69)
    # is outside, so the fit ends at the upper bound 0.5, reported as such.
    job = make_job(tmp_path, parameters={"b": {"value": 0.3, "min": 0.2, "max": 0.5,
                                               "log": True}},
                   jac="2-point")
    result = fit(job, progress=False)
    b = result["parameters"]["b"]
    assert b["at_bound"] == "upper"
    assert b["value"] == pytest.approx(0.5, rel=1e-12)
    assert result["x_solver"][1] == pytest.approx(math.log10(0.5), abs=1e-12)
    for key in starts(job):
        assert 0.2 <= float(key.split()[1]) <= 0.5


# -- (2) resume ----------------------------------------------------------------------------
def test_second_fit_runs_nothing_and_gives_the_same_result(tmp_path):
    job = make_job(tmp_path, jac="2-point")
    first = fit(job, progress=False)
    ran = sum(starts(job).values())
    assert ran == first["runs"]["ok"] > 0
    (tmp_path / "job.result.json").unlink()
    second = fit(load_job(job), workers=2, progress=False)
    assert sum(starts(job).values()) == ran             # the program ran zero times
    for key in ("x_solver", "cost", "parameters", "evaluations", "iterations", "runs",
                "status", "correlation", "trace"):
        assert second[key] == first[key], key
    assert json.loads((tmp_path / "job.result.json").read_text())["x_solver"] == \
        first["x_solver"]
    # fresh=True discards the journal and runs everything again
    third = fit(job, fresh=True, progress=False)
    assert sum(starts(job).values()) == 2 * ran
    assert third["x_solver"] == first["x_solver"]


# -- (3) SIGKILL in the middle of a fit, then resume --------------------------------------
def test_sigkill_then_resume_repeats_no_finished_run(tmp_path, reference):
    ref_job, ref = reference["2-point"]
    job = make_job(tmp_path, jac="2-point", workers=2, env={"EXPDECAY_SLEEP": "0.15"})
    job_obj = load_job(job)
    out = open(tmp_path / "fit.out", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "lsqbox", "fit", str(job), "--quiet"],
                            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        finished = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if job_obj.journal_path.exists():
                with Journal(job_obj.journal_path) as journal:
                    counts = journal.counts()
                finished = counts["ok"] + counts["failed"]
                if finished >= 5:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, "the fit ended before it could be killed"
        assert finished >= 5
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
    assert proc.returncode == -signal.SIGKILL
    assert not job_obj.result_path.exists()

    with Journal(job_obj.journal_path) as journal:
        at_kill = list(journal.records())
    done_keys = {key_of_values(job_obj.parameters.values(r.x))
                 for r in at_kill if r.status in ("ok", "failed")}
    in_flight = {key_of_values(job_obj.parameters.values(r.x))
                 for r in at_kill if r.status == "running"}
    assert len(done_keys) >= 5
    # The solver's process marks a whole batch as running before it dispatches
    # it (a batch is at most n = 3 finite-difference points here); finished
    # runs are committed by the worker on this host the moment they end.
    assert len(in_flight) <= 3
    # the orphaned program runs (own sessions) finish on their own; wait for them
    time.sleep(0.5)
    started_before = starts(job)
    # a finished record had its program run; a running one may or may not have
    # got as far as starting the program when the fit was killed
    assert done_keys <= set(started_before) <= done_keys | in_flight
    assert all(n == 1 for n in started_before.values())

    result = fit(job_obj, progress=False)

    counted = starts(job)
    repeated = {k for k, n in counted.items() if n > 1}
    assert all(counted[k] == 1 for k in done_keys)      # no finished run ran again
    assert repeated <= in_flight                        # only interrupted runs may
    assert max(counted.values()) <= 2
    with Journal(job_obj.journal_path) as journal:
        after = journal.counts()
    assert after["running"] == 0
    assert after["ok"] == len(counted) == ref["runs"]["ok"]
    # the same answer as the uninterrupted fit
    np.testing.assert_allclose(result["x_solver"], ref["x_solver"], rtol=0, atol=1e-12)
    assert result["cost"] == pytest.approx(ref["cost"], rel=1e-12)
    assert result["evaluations"] == ref["evaluations"]
    for n in "abc":
        assert value(result, n) == pytest.approx(value(ref, n), rel=1e-12)


# -- (4), (5) failing runs ------------------------------------------------------------------
@pytest.mark.parametrize("switch, reason, timeout", [
    ("EXPDECAY_FAIL_IF", "exit code 3", 30),
    ("EXPDECAY_HANG_IF", "timed out after 1 s", 1),
    ("EXPDECAY_NAN_IF", "unreadable output", 30),
], ids=["exit-code", "timeout", "nan-output"])
def test_failed_runs_are_failed_evaluations(tmp_path, direct, switch, reason, timeout):
    job = make_job(tmp_path, env={switch: BAD_REGION}, timeout=timeout)
    t0 = time.monotonic()
    result = fit(job, progress=False)
    assert time.monotonic() - t0 < 40
    assert result["success"], result["message"]
    assert_matches_direct(result, direct, tol=0.05)
    failures = result["failures"]
    assert failures, "the bad region was never visited"
    assert all(reason in f["reason"] for f in failures), failures
    for f in failures:
        assert abs(f["values"]["a"] - 1.69) < 0.1 and abs(f["values"]["b"] - 0.54) < 0.1
    # the journal has each failed point once, with the reason and a kept run directory
    records = journal_records(job)
    failed = [r for r in records if r.status == "failed"]
    assert failed and result["runs"]["failed"] == len(failed)
    params = load_job(job).parameters
    assert {key_of_values(f["values"]) for f in failures} == \
        {key_of_values(params.values(r.x)) for r in failed}
    for r in failed:
        assert reason in r.reason
    # a failed point is never run twice (the solver's retry is answered by the journal)
    counted = starts(job)
    assert set(counted.values()) == {1}
    if switch == "EXPDECAY_HANG_IF":
        with Journal(load_job(job).journal_path) as journal:
            for r in failed:
                assert journal.lookup(r.x).seconds < 10
    # failed runs keep their directories (for inspection), named in the reason;
    # the directories of successful runs are removed
    runs_dir = load_job(job).runs_dir
    for r in failed:
        run_dir = Path(r.run_dir)
        assert run_dir.parent == runs_dir
        assert run_dir.is_dir(), f"run directory of a failed run removed: {r.reason!r}"
        assert json.loads((run_dir / "params.json").read_text())["a"] == \
            load_job(job).parameters.values(r.x)["a"]
        assert str(run_dir) in r.reason
    kept = sorted(p for p in runs_dir.iterdir())
    assert kept == sorted(Path(r.run_dir) for r in failed)


@pytest.mark.parametrize("switch, reason", [
    ("EXPDECAY_NAN_IF", "NaN"),
    ("EXPDECAY_GARBAGE_IF", "unreadable output"),
    ("EXPDECAY_NOCOL_IF", "unreadable output"),
    ("EXPDECAY_NOFILE_IF", "missing output out.csv"),
    ("EXPDECAY_FAIL_IF", "exit code 3"),
])
def test_bad_outputs_raise_model_run_failed(tmp_path, switch, reason):
    job = load_job(make_job(tmp_path, env={switch: "a > 5"}))
    model = ExternalModel(job)
    good = model(np.array([2.0, math.log10(0.7), 0.3]))
    assert good.shape == (X.size,) and np.all(np.isfinite(good))
    bad_x = np.array([6.0, math.log10(0.7), 0.3])
    with pytest.raises(ModelRunFailed, match=reason):
        model(bad_x)
    with Journal(job.journal_path) as journal:
        record = journal.lookup(bad_x)
    assert record.status == "failed" and reason in record.reason
    assert record.residuals is None
    # asked again: answered from the journal, the program does not run
    before = sum(starts(job.path).values())
    with pytest.raises(ModelRunFailed, match="from the journal"):
        model(bad_x)
    assert sum(starts(job.path).values()) == before == 2
    # the failed run's directory is kept, with the program's inputs and outputs
    run_dir = Path(record.run_dir)
    assert run_dir.is_dir(), f"run directory of a failed run removed: {record.reason!r}"
    assert (run_dir / "params.json").is_file() and (run_dir / "stderr.txt").is_file()


# -- (6) the PEST example ------------------------------------------------------------------
def test_pest_example_fit(tmp_path):
    # Slow-ish: the one example-based fit of the suite (~75 runs of decay.py,
    # about 10-15 s on two cores).
    work = tmp_path / "pest_decay"
    shutil.copytree(EXAMPLES / "pest_decay", work,
                    ignore=shutil.ignore_patterns("*.journal.sqlite*", "*.runs",
                                                  "*.result.json", "*.plots"))
    job = load_job(work / "job.toml")
    assert job.solver.jac == "2-point"
    result = fit(job, progress=False)
    assert result["success"], result["message"]
    # README: half-life ~ 8.052 h, amplitude ~ 4982, background ~ 148.7
    assert value(result, "half_life") == pytest.approx(8.052, abs=0.0015)
    assert value(result, "amplitude") == pytest.approx(4982, abs=1.5)
    assert value(result, "background") == pytest.approx(148.7, abs=0.15)
    truth = {"half_life": 8.0, "amplitude": 5000.0, "background": 150.0}
    for name, true in truth.items():
        assert abs(value(result, name) - true) < 4 * stderr(result, name), name
    assert result["alignment"] == ["observation names"]
    assert result["failures"] == []
    assert 50 <= result["runs"]["ok"] <= 110             # README: about 75 runs
    assert result["runs"]["failed"] == 0 and result["runs"]["running"] == 0
    assert result["loss"] == "soft_l1"


# -- (7) Dask ----------------------------------------------------------------------------------
def test_dask_cluster_gives_the_thread_result(tmp_path, reference):
    distributed = pytest.importorskip("dask.distributed")
    _, threads = reference["broyden"]
    job = make_job(tmp_path, jac="broyden", workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            worker_pids = set(client.run(os.getpid).values())
        result = fit(job, dask_address=cluster.scheduler_address, progress=False)
    assert result["x_solver"] == threads["x_solver"]
    assert result["cost"] == threads["cost"]
    assert result["parameters"] == threads["parameters"]
    assert result["runs"] == threads["runs"]
    # the evaluations really ran in the cluster's worker processes (the start
    # point x0 is evaluated by the solver itself, in this process)
    records = journal_records(job)
    pids = Counter(int(r.worker.rsplit(":", 1)[1]) for r in records)
    assert set(pids) <= worker_pids | {os.getpid()}
    assert sum(n for pid, n in pids.items() if pid in worker_pids) >= len(records) - 1
