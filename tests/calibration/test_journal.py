"""Tests of lsqbox.calibration.journal: the SQLite evaluation journal."""
import multiprocessing
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lsqbox.calibration.journal import SCHEMA_VERSION, Journal, key_of


@pytest.fixture
def path(tmp_path):
    return tmp_path / "job.journal.sqlite"


def same_bits(a, b):
    a, b = np.asarray(a, dtype="<f8"), np.asarray(b, dtype="<f8")
    return a.shape == b.shape and a.tobytes() == b.tobytes()


# -- round trips and keys ---------------------------------------------------------
def test_round_trip_is_bit_exact(path):
    x = np.array([np.pi, 1e-300, -0.0, 5e-324, -1.7976931348623157e308, 1 / 3])
    r = np.random.default_rng(0).standard_normal(50) * 1e-12
    r[3] = np.nan
    r[4] = -np.inf
    outputs = {"out.csv": "x,y\n1,2\n", "values": {"k": 0.1}, "list": [1, 2.5]}
    with Journal(path) as j:
        j.start(x, "evaluation", "host:1")
        j.finish(x, "ok", "", outputs, r, "/runs/eval-1")
    with Journal(path) as j:  # a fresh connection reads what was committed
        rec = j.lookup(x.copy())
    assert rec.ok and rec.status == "ok" and rec.reason == ""
    assert same_bits(rec.x, x) and rec.n == 6
    assert same_bits(rec.residuals, r)
    assert rec.outputs == outputs
    assert rec.purpose == "evaluation" and rec.worker == "host:1"
    assert rec.run_dir == "/runs/eval-1"
    assert rec.key == x.astype("<f8").tobytes().hex()
    assert rec.started <= rec.finished and rec.seconds >= 0
    rec.residuals[0] = 1.0  # records hold writable copies


def test_lookup_is_by_exact_bytes(path):
    one = 1.0
    with Journal(path) as j:
        j.finish([one, 2.0], "ok", "", {}, np.zeros(2))
        assert j.lookup([one, 2.0]) is not None
        assert j.lookup(np.array([1, 2], dtype=np.int64)) is not None  # same float64 values
        assert j.lookup(np.array([1, 2], dtype=np.float32)) is not None
        assert j.lookup([np.nextafter(one, 2.0), 2.0]) is None  # 1.0 + eps differs
        assert j.lookup([1.0 + np.finfo(float).eps, 2.0]) is None
        assert j.lookup([1.0]) is None and j.lookup([1.0, 2.0, 0.0]) is None
        j.finish([0.0], "ok")
        assert j.lookup([-0.0]) is None  # -0.0 has other bytes than 0.0
    assert key_of([1.0, 2.0]) == np.array([1.0, 2.0], "<f8").tobytes().hex()


def test_running_then_finished(path):
    x = [0.5, 1.5]
    with Journal(path) as j:
        rid = j.start(x, "jacobian", "host:7")
        assert j.lookup(x) is None  # running records are not answers
        assert j.get(x).status == "running"
        assert j.counts() == {"ok": 0, "failed": 0, "running": 1}
        assert j.finish(x, "ok", "", {"a": 1}, np.array([1.0]), "/r") == rid
        rec = j.lookup(x)
        assert rec.id == rid and rec.status == "ok" and rec.purpose == "jacobian"
        assert rec.worker == "host:7"
        assert j.counts() == {"ok": 1, "failed": 0, "running": 0}


def test_failed_records_are_answers_too(path):
    with Journal(path) as j:
        j.start([3.0], "evaluation", "w")
        j.finish([3.0], "failed", "exit code 3; run directory kept: /r", {}, None, "/r")
        rec = j.lookup([3.0])
    assert rec.status == "failed" and not rec.ok
    assert rec.reason.startswith("exit code 3") and rec.residuals is None


def test_start_takes_over_running_but_keeps_finished(path):
    with Journal(path) as j:
        j.start([0.0], "evaluation", "w")
        first = j.start([1.0], "evaluation", "dead:1")
        assert j.start([1.0], "evaluation", "alive:2") == first  # e.g. after a crash
        assert len(j) == 2 and j.get([1.0]).worker == "alive:2"
        j.finish([1.0], "ok", "", {}, np.array([9.0]))
        assert j.start([1.0], "evaluation", "other:3") == first
        rec = j.lookup([1.0])
        assert rec.residuals[0] == 9.0 and rec.worker == "alive:2"
        assert j.start([1.0], "retry", "other:3", replace=True) == first
        rec = j.get([1.0])
        assert rec.status == "running" and rec.residuals is None and rec.purpose == "retry"
        assert j.lookup([1.0]) is None and len(j) == 2


def test_finish_checks_status_and_outputs(path):
    with Journal(path) as j:
        with pytest.raises(ValueError, match="'ok' or 'failed'"):
            j.finish([1.0], "running")
        with pytest.raises(TypeError, match="JSON"):
            j.finish([1.0], "ok", "", {"bad": object()})
        assert j.get([1.0]) is None  # nothing half-written
        j.finish([1.0], "ok", "", {"a": np.float32(0.5), "b": np.arange(3), "c": np.int64(2)})
        assert j.lookup([1.0]).outputs == {"a": 0.5, "b": [0, 1, 2], "c": 2}


def test_records_in_id_order_and_filtered(path):
    with Journal(path) as j:
        for i in range(12):
            j.start([float(i)], "evaluation", "w")
            if i % 3:
                j.finish([float(i)], "ok" if i % 2 else "failed", "", {}, np.array([i * 1.0]))
        recs = list(j.records(batch=5))  # several batches
        assert [r.x[0] for r in recs] == list(range(12))
        assert [r.id for r in recs] == sorted(r.id for r in recs)
        assert [r.x[0] for r in j.records(status="running", batch=2)] == [0, 3, 6, 9]
        assert j.counts() == {"ok": 4, "failed": 4, "running": 4}
        with pytest.raises(ValueError):
            list(j.records(status="done"))


def test_meta(path):
    with Journal(path) as j:
        assert j.get_meta("job_hash") is None and j.get_meta("job_hash", "-") == "-"
        j.set_meta("job_hash", "abc123")
        j.set_meta("job_hash", "def456")
        with pytest.raises(TypeError, match="text"):
            j.set_meta("n", 3)
    with Journal(path) as j:
        assert j.get_meta("job_hash") == "def456"


def test_schema_wal_and_versions(path):
    with Journal(path) as j:
        assert j._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert j._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    cols = [r[1] for r in conn.execute("PRAGMA table_info(evaluations)")]
    assert cols == ["id", "key", "x", "n", "purpose", "status", "reason", "outputs",
                    "residuals", "started", "finished", "worker", "run_dir"]
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        Journal(path)


def test_lifetime_errors_and_pickle(path, tmp_path):
    j = Journal(path)
    j.finish([1.0], "ok", "", {}, np.array([2.0]))
    clone = pickle.loads(pickle.dumps(j))  # a new connection to the same file
    assert clone.lookup([1.0]).residuals[0] == 2.0
    clone.close()
    j.close()
    j.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        j.lookup([1.0])
    with pytest.raises(FileNotFoundError, match="journal directory"):
        Journal(tmp_path / "missing" / "j.sqlite")


def _use_after_fork(journal, queue):
    try:
        journal.lookup([1.0])
        queue.put("no error")
    except RuntimeError as exc:
        queue.put(str(exc))


def test_use_after_fork_is_refused(path):
    ctx = multiprocessing.get_context("fork")
    with Journal(path) as j:
        j.finish([1.0], "ok")
        queue = ctx.Queue()
        child = ctx.Process(target=_use_after_fork, args=(j, queue))
        child.start()
        message = queue.get(timeout=20)
        child.join(20)
        assert "after fork" in message
        assert j.lookup([1.0]) is not None  # the parent's connection is fine


# -- several processes ---------------------------------------------------------------
def _writer(path, offset, count, barrier):
    barrier.wait()  # both open the (new) journal at the same moment
    with Journal(path) as j:
        for i in range(count):
            x = [float(offset + i), 0.25]
            j.start(x, "evaluation", f"writer:{offset}")
            j.finish(x, "ok", "", {"i": offset + i}, np.full(3, offset + i + 0.1))


def test_concurrent_writers_lose_nothing(path):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    count = 150
    procs = [ctx.Process(target=_writer, args=(str(path), offset, count, barrier))
             for offset in (0, 10_000, 20_000)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with Journal(path) as j:
        assert j.counts() == {"ok": 3 * count, "failed": 0, "running": 0}
        for offset in (0, 10_000, 20_000):
            for i in range(count):
                rec = j.lookup([float(offset + i), 0.25])
                assert rec.outputs == {"i": offset + i}
                assert same_bits(rec.residuals, np.full(3, offset + i + 0.1))


# -- crash safety --------------------------------------------------------------------
CHILD = """
    import os
    import sys
    import numpy as np
    from lsqbox.calibration.journal import Journal

    def residuals(i):
        return np.sin(np.arange(40) * (i + 1) / 7.0) * 10.0 ** (i % 7)

    start = int(sys.argv[2])
    j = Journal(sys.argv[1])
    i = start
    while True:
        x = np.array([i / 3.0, -i * 1e-9, np.exp(i / 100.0)])
        j.start(x, "evaluation", "child")
        rid = j.finish(x, "ok", "", {"i": i, "text": "y" * (i % 50)}, residuals(i), f"/r/{i}")
        os.write(1, f"{i} {rid}\\n".encode())  # one write: a whole line or nothing
        i += 1
"""


def _expected(i):
    x = np.array([i / 3.0, -i * 1e-9, np.exp(i / 100.0)])
    r = np.sin(np.arange(40) * (i + 1) / 7.0) * 10.0 ** (i % 7)
    return x, r


@pytest.mark.parametrize("kill_after", [5, 60])
def test_sigkill_loses_no_finished_run(path, tmp_path, kill_after):
    child_py = tmp_path / "child.py"
    child_py.write_text(textwrap.dedent(CHILD))
    reported = {}
    start = 0
    for round_ in range(2):  # a second child resumes on the journal the first left
        proc = subprocess.Popen([sys.executable, str(child_py), str(path), str(start)],
                                stdout=subprocess.PIPE, text=True)
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if len(lines) >= kill_after + 7 * round_:
                break
        time.sleep(0.003 * round_)  # let it get further into the next write
        os.kill(proc.pid, signal.SIGKILL)
        lines += proc.stdout.read().splitlines(keepends=True)  # reported before it died
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        for line in lines:
            assert line.endswith("\n"), f"torn report line {line!r}"
            i, rid = map(int, line.split())
            reported[i] = rid
        start = max(reported) + 1

    with Journal(path) as j:
        assert j._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = j.counts()
        assert counts["running"] <= 2  # at most the one in flight per child
        assert counts["ok"] >= len(reported)
        for i, rid in reported.items():
            rec = j.lookup(_expected(i)[0])
            assert rec is not None, f"evaluation {i} reported finished but missing"
            assert rec.id == rid and rec.status == "ok"
            x, r = _expected(i)
            assert same_bits(rec.x, x) and same_bits(rec.residuals, r)
            assert rec.outputs == {"i": i, "text": "y" * (i % 50)}
            assert rec.run_dir == f"/r/{i}"
        j.finish([123.0], "ok")  # and it is writable again
