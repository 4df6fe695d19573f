"""Tests of lsqbox.calibration.runner: one external program run per call."""
import errno
import multiprocessing
import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from lsqbox.calibration import runner
from lsqbox.calibration.runner import (RunResult, RunSetupError, RunSpec, remove_run_dir,
                                       run_once)


def script(tmp_path, body, name="prog.py"):
    """Write a Python program to tmp_path; its command list."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return ["{python}", str(path)]


def spec(tmp_path, command, **kw):
    kw.setdefault("workdir_root", tmp_path / "job.runs")
    kw.setdefault("job_dir", tmp_path)
    return RunSpec(command=command, **kw)


def run_dirs(tmp_path):
    root = tmp_path / "job.runs"
    return sorted(root.iterdir()) if root.exists() else []


def gone(pid):
    """True if pid no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_gone(pid, seconds=3.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.02)
    return gone(pid)


# -- success and failure ---------------------------------------------------------
def test_success_with_output_file(tmp_path):
    cmd = script(tmp_path, """
        import sys
        text = open("params.txt").read()
        a = float(text.split("=")[1])
        open("out.csv", "w").write(f"x,y\\n1,{2 * a}\\n")
        print("done", a)
        print("note", file=sys.stderr)
    """)
    s = spec(tmp_path, cmd, files={"params.txt": "a = 1.5\n"}, output_files=["out.csv"])
    r = run_once(s, "eval-000001")
    assert r.ok, r.reason
    assert r.reason == ""
    assert r.returncode == 0
    assert r.outputs == {"out.csv": "x,y\n1,3.0\n"}
    assert r.stdout == "done 1.5\n" and r.stderr == "note\n"
    assert r.attempts == 1
    assert r.worker == f"{socket.gethostname()}:{os.getpid()}"
    assert r.seconds > 0
    assert r.run_dir.parent == tmp_path / "job.runs"
    assert r.run_dir.name.startswith("eval-000001-")
    assert not r.run_dir.exists()  # removed after success
    assert run_dirs(tmp_path) == []


def test_each_call_gets_a_fresh_directory(tmp_path):
    cmd = script(tmp_path, """
        import os
        seen = " ".join(sorted(os.listdir(".")))
        open("seen.txt", "w").write(seen)
    """)
    s = spec(tmp_path, cmd, files={"in.txt": "x"}, output_files=["seen.txt"])
    a, b = run_once(s, "eval-1"), run_once(s, "eval-1")
    assert a.ok and b.ok and a.run_dir != b.run_dir
    assert a.outputs["seen.txt"] == "in.txt stderr.txt stdout.txt"


def test_nonzero_exit(tmp_path):
    cmd = script(tmp_path, """
        import sys
        print("bad input", file=sys.stderr)
        open("out.csv", "w").write("partial")
        sys.exit(3)
    """)
    r = run_once(spec(tmp_path, cmd, output_files=["out.csv"]), "eval-000002")
    assert not r.ok
    assert r.returncode == 3
    assert r.reason.startswith("exit code 3")
    assert str(r.run_dir) in r.reason  # says where the run was kept
    assert r.run_dir.is_dir()
    assert (r.run_dir / "stderr.txt").read_text() == "bad input\n"
    assert r.stderr == "bad input\n"
    assert r.outputs == {"out.csv": "partial"}
    assert r.attempts == 1  # a non-zero exit is not retried


def test_killed_by_signal(tmp_path):
    cmd = script(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)\n")
    r = run_once(spec(tmp_path, cmd, retries=2), "eval")
    assert not r.ok and r.returncode == -signal.SIGKILL
    assert r.reason.startswith("killed by signal 9 (SIGKILL)")
    assert r.attempts == 1


def test_missing_output(tmp_path):
    cmd = script(tmp_path, "open('other.csv', 'w').write('1')\n")
    r = run_once(spec(tmp_path, cmd, output_files=["out.csv", "other.csv"]), "eval")
    assert not r.ok and r.returncode == 0
    assert r.reason.startswith("missing output out.csv;")
    assert r.outputs == {"other.csv": "1"}
    assert r.run_dir.is_dir()


def test_could_not_start_is_not_retried(tmp_path):
    r = run_once(spec(tmp_path, ["/nonexistent/program-xyz", "a"], retries=3), "eval")
    assert not r.ok and r.returncode is None
    assert r.reason.startswith("could not start: ")
    assert "program-xyz" in r.reason
    assert r.attempts == 1


def test_transient_launch_failure_is_retried(tmp_path, monkeypatch):
    real_popen = subprocess.Popen
    calls = []

    def flaky_popen(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        return real_popen(*args, **kw)

    monkeypatch.setattr(runner.subprocess, "Popen", flaky_popen)
    cmd = script(tmp_path, "open('out.txt', 'w').write('ok')\n")
    r = run_once(spec(tmp_path, cmd, retries=1, output_files=["out.txt"]), "eval")
    assert r.ok, r.reason
    assert r.attempts == 2
    assert run_dirs(tmp_path) == []  # the superseded attempt's directory is gone


# -- timeouts ---------------------------------------------------------------------
def test_timeout_kills_the_process_group(tmp_path):
    cmd = script(tmp_path, """
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        open("pids.txt", "w").write(f"{os.getpid()} {child.pid}")
        time.sleep(30)
    """)
    t0 = time.monotonic()
    r = run_once(spec(tmp_path, cmd, timeout=0.5), "eval-000003")
    elapsed = time.monotonic() - t0
    assert elapsed < 5
    assert not r.ok
    assert r.reason.startswith("timed out after 0.5 s")
    pids = [int(p) for p in (r.run_dir / "pids.txt").read_text().split()]
    for pid in pids:  # the program and the helper it started
        assert wait_gone(pid), f"process {pid} survived the timeout"
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)  # the leader is reaped


def test_timeout_sigkill_when_sigterm_is_ignored(tmp_path):
    cmd = script(tmp_path, """
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open("pid.txt", "w").write(str(os.getpid()))
        time.sleep(30)
    """)
    t0 = time.monotonic()
    r = run_once(spec(tmp_path, cmd, timeout=0.5), "eval")
    elapsed = time.monotonic() - t0
    assert runner.KILL_GRACE <= elapsed < 0.5 + runner.KILL_GRACE + 2.5
    assert r.returncode == -signal.SIGKILL
    assert r.reason.startswith("timed out after 0.5 s")
    assert gone(int((r.run_dir / "pid.txt").read_text()))


def test_timeouts_retried_only_when_asked(tmp_path):
    cmd = script(tmp_path, "import time; time.sleep(30)\n")
    r = run_once(spec(tmp_path, cmd, timeout=0.2, retries=1), "eval")
    assert r.attempts == 1
    r = run_once(spec(tmp_path, cmd, timeout=0.2, retries=1, retry_timeouts=True), "eval")
    assert r.attempts == 2 and not r.ok
    assert r.reason.startswith("timed out after 0.2 s (2 attempts)")


# -- directories, command, environment ------------------------------------------
def test_keep_runs(tmp_path):
    cmd = script(tmp_path, "print('hello'); open('out.txt', 'w').write('1')\n")
    kept = run_once(spec(tmp_path, cmd, files={"in.txt": "abc"}, keep_runs=True,
                         output_files=["out.txt"]), "eval-000004")
    assert kept.ok and kept.run_dir.is_dir()
    assert (kept.run_dir / "in.txt").read_text() == "abc"
    assert (kept.run_dir / "stdout.txt").read_text() == "hello\n"
    assert (kept.run_dir / "out.txt").read_text() == "1"
    removed = run_once(spec(tmp_path, cmd, output_files=["out.txt"]), "eval-000005")
    assert removed.ok and not removed.run_dir.exists()
    assert removed.outputs == {"out.txt": "1"}  # read before cleanup
    assert run_dirs(tmp_path) == [kept.run_dir]
    remove_run_dir(kept.run_dir)  # the caller found the outputs usable
    remove_run_dir(kept.run_dir)  # already gone: no error
    assert run_dirs(tmp_path) == []


def test_python_substitution(tmp_path):
    s = spec(tmp_path, ["{python}", "-c", "import sys; print(sys.argv[1])", "--interp={python}"])
    assert s.argv()[0] == sys.executable
    r = run_once(s, "eval")
    assert r.ok and r.stdout == f"--interp={sys.executable}\n"


def test_files_in_subdirectories(tmp_path):
    cmd = script(tmp_path, "print(open('input/deck.inp').read())\n")
    r = run_once(spec(tmp_path, cmd, files={"input/deck.inp": "K = 2"}), "eval")
    assert r.ok and r.stdout == "K = 2\n"


@pytest.mark.parametrize("link", [False, True])
def test_copy_and_link(tmp_path, link):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.txt").write_text("1 2 3")
    (tmp_path / "mesh").mkdir()
    (tmp_path / "mesh" / "a.txt").write_text("mesh-a")
    cmd = script(tmp_path, """
        print(open("data/table.txt").read(), open("mesh/a.txt").read())
    """)
    r = run_once(spec(tmp_path, cmd, copy=["data/table.txt", "mesh"], link=link,
                      keep_runs=True), "eval")
    assert r.ok, r.reason
    assert r.stdout == "1 2 3 mesh-a\n"
    table, mesh = r.run_dir / "data" / "table.txt", r.run_dir / "mesh"
    assert table.is_symlink() == link and mesh.is_symlink() == link
    if link:
        assert table.resolve() == (tmp_path / "data" / "table.txt").resolve()
    else:  # a real copy: changing it leaves the job's file alone
        table.write_text("changed")
        assert (tmp_path / "data" / "table.txt").read_text() == "1 2 3"


def test_copy_absolute_path_goes_in_by_name(tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "lib.dat").write_text("L")
    cmd = script(tmp_path, "print(open('lib.dat').read())\n")
    r = run_once(spec(tmp_path, cmd, copy=[str(other / "lib.dat")]), "eval")
    assert r.ok and r.stdout == "L\n"


def test_missing_copy_source_is_a_setup_error(tmp_path):
    with pytest.raises(RunSetupError, match="not found"):
        run_once(spec(tmp_path, ["{python}", "-c", "pass"], copy=["nope.dat"]), "eval")
    assert run_dirs(tmp_path) == []


def test_env_passthrough(tmp_path, monkeypatch):
    monkeypatch.setenv("LSQBOX_TEST_OUTER", "from-job")
    cmd = ["{python}", "-c",
           "import os; print(os.environ['LSQBOX_TEST_OUTER'], os.environ['LSQBOX_TEST_EXTRA'])"]
    r = run_once(spec(tmp_path, cmd, env={"LSQBOX_TEST_EXTRA": 7}), "eval")
    assert r.ok, r.reason + r.stderr
    assert r.stdout == "from-job 7\n"


def test_long_output_is_truncated_to_its_tail(tmp_path):
    cmd = ["{python}", "-c", "print('a' * 50000); print('THE END')"]
    r = run_once(spec(tmp_path, cmd, keep_runs=True), "eval")
    assert r.ok
    assert r.stdout.endswith("THE END\n")
    assert len(r.stdout.encode()) < runner.OUTPUT_LIMIT + 100
    assert "bytes cut" in r.stdout
    assert (r.run_dir / "stdout.txt").stat().st_size == 50009


def test_spec_validation(tmp_path):
    with pytest.raises(TypeError, match="shlex.split"):
        RunSpec(command="prog --flag", workdir_root=tmp_path)
    with pytest.raises(TypeError):
        RunSpec(command=[], workdir_root=tmp_path)
    with pytest.raises(ValueError, match="inside the run directory"):
        RunSpec(command=["x"], workdir_root=tmp_path, files={"../evil.txt": ""})
    with pytest.raises(ValueError, match="inside the run directory"):
        RunSpec(command=["x"], workdir_root=tmp_path, output_files=["/etc/passwd"])
    with pytest.raises(ValueError, match="timeout"):
        RunSpec(command=["x"], workdir_root=tmp_path, timeout=0)
    with pytest.raises(ValueError, match="retries"):
        RunSpec(command=["x"], workdir_root=tmp_path, retries=-1)
    s = RunSpec(command=["x"], workdir_root=str(tmp_path), job_dir=str(tmp_path))
    assert isinstance(s.workdir_root, Path) and isinstance(s.job_dir, Path)


# -- pools ---------------------------------------------------------------------------
def test_runs_in_a_process_pool(tmp_path):
    cmd = script(tmp_path, """
        import os
        a = float(open("a.txt").read())
        open("out.txt", "w").write(f"{a * a} {os.getpid()}")
    """)
    specs = [spec(tmp_path, cmd, files={"a.txt": str(a)}, output_files=["out.txt"])
             for a in range(6)]
    assert pickle.loads(pickle.dumps(specs[0])) == specs[0]
    ctx = multiprocessing.get_context("spawn")  # spawn: everything must pickle
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        results = list(pool.map(run_once, specs, [f"eval-{i:06d}" for i in range(6)]))
    assert all(isinstance(r, RunResult) and r.ok for r in results)
    assert [float(r.outputs["out.txt"].split()[0]) for r in results] == [a * a for a in range(6)]
    assert len({r.run_dir for r in results}) == 6
    assert all(not r.worker.endswith(f":{os.getpid()}") for r in results)
    assert run_dirs(tmp_path) == []
