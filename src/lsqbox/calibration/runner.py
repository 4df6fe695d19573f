"""Run an external program once per evaluation, in a fresh directory.

`run_once(spec, tag)` makes ``spec.workdir_root / f"{tag}-{uuid}"``, writes the
rendered input files into it, copies (or symlinks) the job's static files,
runs the command there with its output captured to ``stdout.txt`` and
``stderr.txt``, reads the expected output files and returns a `RunResult`.
It never raises for a failed *run* (non-zero exit, timeout, missing output,
a program that cannot be started): those are results with ``ok=False`` and a
one-line ``reason``. It raises `RunSetupError` for a broken *job* (a file to
copy that does not exist, a run directory that cannot be made), which no
evaluation can succeed with; `RunSpec` itself raises ValueError/TypeError for
malformed settings (a command given as a string, a file name leaving the run
directory).

A timed-out program is stopped as a whole process group: it runs in its own
session, gets SIGTERM, and SIGKILL 2 s later, so helper processes and MPI
launchers it started die with it.

Everything here is module-level and plain data, so `RunSpec` and `run_once`
pickle into process pools and dask workers.
"""
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RunSpec", "RunResult", "RunSetupError", "run_once", "remove_run_dir"]

#: Bytes of stdout/stderr kept in `RunResult` (the files hold everything).
OUTPUT_LIMIT = 10_000
#: Seconds between SIGTERM and SIGKILL when a run times out.
KILL_GRACE = 2.0
#: Launch errors that retrying cannot fix (no such program, not executable).
_PERMANENT_LAUNCH_ERRORS = (errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.ENOTDIR)


class RunSetupError(RuntimeError):
    """The run directory could not be prepared: a problem with the job itself."""


@dataclass
class RunSpec:
    """How to run the external program for one evaluation.

    command: argv list; ``{python}`` in any element becomes ``sys.executable``.
    workdir_root: where run directories are made (e.g. ``<job>.runs/``).
    job_dir: the directory ``copy`` paths are relative to.
    files: rendered inputs, ``{relative name: text}``, written into the run dir.
    copy: files or directories (relative to ``job_dir``) put into each run dir
        at the same relative path (an absolute path goes in under its name).
    link: symlink the ``copy`` entries instead of copying them.
    timeout: seconds before the program's process group is killed (None: never).
    retries: extra attempts after a launch failure that may be transient
        (e.g. EAGAIN, ENOMEM), or after a timeout if ``retry_timeouts``.
        A non-zero exit and a missing program are never retried.
    env: extra environment variables on top of this process's environment.
    keep_runs: keep the run directories of successful runs too.
    output_files: names (relative to the run dir) that must exist afterwards;
        their text is returned in `RunResult.outputs`.
    """

    command: list
    workdir_root: Path
    job_dir: Path = Path(".")
    files: dict = field(default_factory=dict)
    copy: list = field(default_factory=list)
    link: bool = False
    timeout: float | None = None
    retries: int = 0
    retry_timeouts: bool = False
    env: dict | None = None
    keep_runs: bool = False
    output_files: list = field(default_factory=list)

    def __post_init__(self):
        if isinstance(self.command, (str, bytes)) or not self.command:
            raise TypeError("RunSpec.command must be a non-empty list of arguments "
                            f"(use shlex.split for a command line), got {self.command!r}")
        self.command = [str(arg) for arg in self.command]
        self.workdir_root = Path(self.workdir_root)
        self.job_dir = Path(self.job_dir)
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"RunSpec.timeout must be positive or None, got {self.timeout!r}")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"RunSpec.retries must be a non-negative integer, got {self.retries!r}")
        relative = [c for c in self.copy if not Path(c).is_absolute()]
        for name in list(self.files) + list(self.output_files) + relative:
            _relative(name)

    def argv(self):
        """The command with ``{python}`` replaced by this interpreter."""
        return [arg.replace("{python}", sys.executable) for arg in self.command]

    def environment(self):
        """This process's environment updated with ``env``."""
        environ = dict(os.environ)
        environ.update({str(k): str(v) for k, v in (self.env or {}).items()})
        return environ


@dataclass
class RunResult:
    """What one `run_once` call did.

    ok: the program exited 0 and every output file exists.
    reason: why not ("exit code 3", "timed out after 600 s", "missing output
        out.csv", "could not start: ..."), with where the run dir was kept;
        empty when ok.
    run_dir: the run directory (already removed after a success unless kept).
    outputs: ``{name: text}`` of each output file that exists.
    stdout, stderr: the program's output, the last 10 kB of each.
    returncode: exit status (negative: killed by that signal; None: not run).
    seconds: wall time of the whole call, all attempts included.
    attempts: how many times the program was launched (or tried to be).
    worker: ``hostname:pid`` of the process that ran it.
    """

    ok: bool
    reason: str
    run_dir: Path
    outputs: dict
    stdout: str
    stderr: str
    returncode: int | None
    seconds: float
    attempts: int
    worker: str


def run_once(spec, tag="run"):
    """Run ``spec``'s program once in a fresh run directory; a `RunResult`.

    Launch failures that may be transient are retried up to ``spec.retries``
    times (timeouts too if ``spec.retry_timeouts``), each in a new directory;
    the directories of superseded attempts are removed unless ``keep_runs``.
    """
    t0 = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        run_dir = _make_run_dir(spec, tag)
        attempt = _attempt(spec, run_dir)
        retry = attempt["retryable"] and attempts <= spec.retries
        if not retry:
            break
        if not spec.keep_runs:
            shutil.rmtree(run_dir, ignore_errors=True)
        time.sleep(min(0.1 * 2 ** attempts, 5.0))
    return _finish(spec, run_dir, attempt, attempts, time.monotonic() - t0)


def remove_run_dir(run_dir):
    """Delete a run directory (ignoring errors and one that is already gone).

    For callers that judge the outputs themselves: run with ``keep_runs=True``
    and remove the directory once the outputs turned out usable, so a run
    whose outputs are unusable keeps its directory for inspection.
    """
    shutil.rmtree(run_dir, ignore_errors=True)


# -- preparing the run directory ---------------------------------------------
def _relative(name):
    """``name`` as a relative path that stays inside the run directory."""
    path = Path(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"{name!r} must be a relative path inside the run directory")
    return path


def _make_run_dir(spec, tag):
    """A new, empty, uniquely named run directory, with inputs in place."""
    run_dir = spec.workdir_root / f"{tag}-{uuid.uuid4().hex}"
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise RunSetupError(f"cannot create run directory {run_dir}: {exc}") from exc
    try:
        _write_files(spec, run_dir)
        _copy_files(spec, run_dir)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run_dir


def _write_files(spec, run_dir):
    """Write the rendered input files."""
    for name, text in spec.files.items():
        target = run_dir / _relative(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        except OSError as exc:
            raise RunSetupError(f"cannot write input file {target}: {exc}") from exc


def _copy_files(spec, run_dir):
    """Copy (or symlink) the job's static files into the run directory."""
    for entry in spec.copy:
        source = Path(entry)
        rel = Path(source.name) if source.is_absolute() else _relative(entry)
        source = source if source.is_absolute() else spec.job_dir / source
        if not source.exists():
            raise RunSetupError(f"file to copy into the run directory not found: {source}")
        target = run_dir / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if spec.link:
                target.symlink_to(source.resolve(), target_is_directory=source.is_dir())
            elif source.is_dir():
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target)
        except OSError as exc:
            raise RunSetupError(f"cannot copy {source} to {target}: {exc}") from exc


# -- running -------------------------------------------------------------------
def _attempt(spec, run_dir):
    """Launch and wait once; a dict with returncode, reason and retryable."""
    argv = spec.argv()
    with open(run_dir / "stdout.txt", "wb") as out, open(run_dir / "stderr.txt", "wb") as err:
        try:
            proc = subprocess.Popen(argv, cwd=run_dir, env=spec.environment(),
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
        except OSError as exc:
            return {"returncode": None, "reason": f"could not start: {exc}",
                    "retryable": exc.errno not in _PERMANENT_LAUNCH_ERRORS}
        try:
            returncode = proc.wait(timeout=spec.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return {"returncode": proc.returncode,
                    "reason": f"timed out after {spec.timeout:g} s",
                    "retryable": spec.retry_timeouts}
        except BaseException:  # KeyboardInterrupt etc.: do not leave it running
            _kill_group(proc, grace=0)
            raise
    return {"returncode": returncode, "reason": _exit_reason(returncode), "retryable": False}


def _kill_group(proc, grace=None):
    """SIGTERM the program's process group, SIGKILL it after ``grace`` s
    (default `KILL_GRACE`), and reap the program."""
    pgid = proc.pid  # start_new_session: the program leads its own group
    _signal_group(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=KILL_GRACE if grace is None else grace)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(pgid, signal.SIGKILL)  # members that ignored SIGTERM
    proc.wait()


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exit_reason(returncode):
    """'' for success, else a short description of the exit status."""
    if returncode == 0:
        return ""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown"
        return f"killed by signal {-returncode} ({name})"
    return f"exit code {returncode}"


# -- collecting results --------------------------------------------------------
def _finish(spec, run_dir, attempt, attempts, seconds):
    """Read outputs, decide ok, clean up; the `RunResult`."""
    outputs, missing = _read_outputs(spec, run_dir)
    reason = attempt["reason"]
    if not reason and missing:
        reason = "missing output " + ", ".join(missing)
    ok = not reason
    if attempts > 1 and not ok:
        reason += f" ({attempts} attempts)"
    result = RunResult(
        ok=ok, reason=reason, run_dir=run_dir, outputs=outputs,
        stdout=_tail(run_dir / "stdout.txt"), stderr=_tail(run_dir / "stderr.txt"),
        returncode=attempt["returncode"], seconds=seconds, attempts=attempts,
        worker=f"{socket.gethostname()}:{os.getpid()}")
    if ok and not spec.keep_runs:
        remove_run_dir(run_dir)
    elif not ok:
        result.reason += f"; run directory kept: {run_dir}"
    return result


def _read_outputs(spec, run_dir):
    """``({name: text} of the outputs found, [names missing])``."""
    outputs, missing = {}, []
    for name in spec.output_files:
        try:
            outputs[name] = (run_dir / name).read_text(errors="replace")
        except FileNotFoundError:
            missing.append(name)
        except OSError as exc:
            missing.append(f"{name} (unreadable: {exc})")
    return outputs, missing


def _tail(path, limit=OUTPUT_LIMIT):
    """The last ``limit`` bytes of a file as text ('' if absent)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            data = fh.read()
    except OSError:
        return ""
    text = data.decode(errors="replace")
    return f"[... {size - limit} bytes cut ...]\n" + text if size > limit else text
