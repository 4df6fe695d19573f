"""`ExternalModel`: an external program as a picklable x -> residuals callable.

One call renders the templates with the parameter values, runs the program in
a fresh directory (runner.py), reads its outputs (tables.py), puts them beside
the measured data and returns ``(y_model - y_data) / sigma`` over all selected
columns. Every call is journaled (journal.py) before its result is returned,
and a point the journal already knows is answered from it without running the
program: a killed fit resumes where it stopped.

A failed run (non-zero exit, timeout, unreadable or non-finite output) raises
`ModelRunFailed`; the solver treats it as a failed evaluation.
"""
import csv
import os
import re
import socket
import threading

import numpy as np

from ..problem import Failure
from .journal import Journal
from .runner import RunSpec, remove_run_dir, run_once
from .tables import align, read_instructions, read_table
from .template import Template

__all__ = ["ExternalModel", "JournalCache", "ModelResiduals", "ModelRunFailed",
           "MeasuredData", "load_data"]


class ModelRunFailed(RuntimeError):
    """The external program did not produce usable outputs."""


class ModelResiduals:
    """Residuals plus what the run produced (``info``: parameter values, model
    values at the data, alignment, run directory, worker). A plain object with
    ``__array__``, so it pickles whole across processes and Dask workers (an
    ndarray subclass would lose ``info`` in Dask's array serialization) and
    the journal kept by the solver's process can record it; the solver sees
    only the numbers."""

    __slots__ = ("residuals", "info")

    def __init__(self, residuals, info):
        self.residuals = np.asarray(residuals, dtype=float)
        self.info = info

    def __array__(self, dtype=None, copy=None):
        return self.residuals if dtype is None else self.residuals.astype(dtype)

    def __len__(self):
        return self.residuals.size


class JournalCache:
    """The journal as `least_squares`' evaluation cache (``cache=``).

    Used in the process that runs the solver: points the journal knows are
    answered from it; every new result is committed before the solver sees
    it, whatever ran the model (threads, processes, Dask workers on other
    hosts). Failed evaluations are answered as failures again.
    """

    def __init__(self, journal_path):
        self.journal = Journal(journal_path)
        self.worker = _worker()

    def lookup(self, x):
        record = self.journal.lookup(np.asarray(x, dtype=float))
        if record is None:
            return None
        if record.status == "ok":
            return np.array(record.residuals, dtype=float)
        return Failure(f"(from the journal) {record.reason}")

    def start(self, xs):
        for x in xs:
            self.journal.start(np.asarray(x, dtype=float), "evaluation", self.worker)

    def record(self, x, value):
        x = np.asarray(x, dtype=float)
        if isinstance(value, Failure):
            kept = re.search(r"run directory (\S+?)\)", value.reason)
            self.journal.finish(x, "failed", value.reason,
                                run_dir=kept.group(1) if kept else None)
            return
        info = dict(getattr(value, "info", None) or {})
        residuals = np.asarray(value, dtype=float)
        worker = info.pop("worker", None)
        if not np.all(np.isfinite(residuals)):
            self.journal.finish(x, "failed", "non-finite residuals", info, None,
                                worker=worker)
            return
        self.journal.finish(x, "ok", "", info, residuals, info.get("run_dir"), worker=worker)

    def close(self):
        self.journal.close()


class MeasuredData:
    """Measured values, their sigmas and what they are matched by.

    ``columns``: the data's y column names; ``x``: the matching x values (None
    for observation-name matching); ``obs``: observation names (PEST), ``y``:
    list of arrays, one per column; ``sigma``: same shapes (ones if absent).
    """

    def __init__(self, columns, y, sigma, x=None, obs=None):
        self.columns = columns
        self.y = [np.asarray(v, dtype=float) for v in y]
        self.sigma = [np.asarray(s, dtype=float) for s in sigma]
        self.x = None if x is None else np.asarray(x, dtype=float)
        self.obs = obs
        self.weighted = False
        for s in self.sigma:
            if np.any(~np.isfinite(s)) or np.any(s <= 0):
                raise ValueError("every sigma must be a positive finite number")

    @property
    def size(self):
        return sum(v.size for v in self.y)

    def flat(self):
        return np.concatenate(self.y)


def _read_csv_columns(path):
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].lstrip().startswith("#")]
    header, body = [h.strip() for h in rows[0]], rows[1:]
    return {name: [row[i].strip() for row in body] for i, name in enumerate(header)}


def load_data(job):
    """The measured data of a job (`MeasuredData`)."""
    spec = job.data
    path = job.resolve(spec.file)
    if spec.obs is not None:
        cols = _read_csv_columns(path)
        for name in [spec.obs] + spec.y + (spec.sigma or []):
            if name not in cols:
                raise ValueError(f"{path}: no column {name!r} (have {sorted(cols)})")
        y = [np.array(cols[c], dtype=float) for c in spec.y]
        sigma = ([np.array(cols[c], dtype=float) for c in spec.sigma] if spec.sigma
                 else [np.ones_like(v) for v in y])
        data = MeasuredData(spec.y, y, sigma, obs=list(cols[spec.obs]))
    else:
        table = read_table(path)
        if spec.x is None:
            raise ValueError(f"{path}: [data] needs `x` (or `obs` for instruction files)")
        y = [np.asarray(table[c], dtype=float) for c in spec.y]
        sigma = ([np.asarray(table[c], dtype=float) for c in spec.sigma] if spec.sigma
                 else [np.ones_like(v) for v in y])
        data = MeasuredData(spec.y, y, sigma, x=np.asarray(table[spec.x], dtype=float))
    data.weighted = spec.sigma is not None
    return data


class ExternalModel:
    """x (solver vector) -> weighted residuals of the external program.

    Picklable: it holds paths and plain data; files and the journal are opened
    inside each call, in whatever process or thread runs it. `fit` uses it
    with ``journal=False, carry_info=True`` and keeps the journal itself (a
    `JournalCache` in the solver's process), so workers on other hosts need
    no access to the journal.
    """

    def __init__(self, job, data=None, journal=True, carry_info=False):
        self.job = job
        self.parameters = job.parameters
        self.data = data if data is not None else load_data(job)
        self.templates = {name: Template.from_file(job.resolve(tpl))
                          for name, tpl in job.model.templates.items()}
        out = job.model.output
        self.instructions = (read_instructions(job.resolve(out.instructions))
                             if out.instructions else None)
        self.journal_path = job.journal_path if journal else None
        self.home_host = socket.gethostname()
        self.home_journal = job.journal_path if carry_info else None
        # Return `ModelResiduals` (numbers plus the run's record) for a
        # `JournalCache` in the solver's process.
        self.carry_info = carry_info

    # -- the callable ---------------------------------------------------------
    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        if self.journal_path is not None:
            # The model keeps its own journal: answer known points from it.
            hit = _cache(self.journal_path).lookup(x)
            if isinstance(hit, Failure):
                raise ModelRunFailed(hit.reason)
            if hit is not None:
                return hit
            _cache(self.journal_path).start([x])
        # Without its own journal the solver's process keeps one (JournalCache);
        # on the job's own host the run is also committed right here, the
        # moment it finishes, so a fit killed before the solver's process
        # collected the result loses no finished run.
        commit = self.journal_path or (
            self.home_journal if socket.gethostname() == self.home_host else None)
        try:
            residuals, _, info = self._run(x)
        except ModelRunFailed as exc:
            if commit is not None:
                _cache(commit).record(x, Failure(str(exc)))
            raise
        result = ModelResiduals(residuals, info)
        if commit is not None:
            _cache(commit).record(x, result)
        return result if self.carry_info else residuals

    def evaluate_with_alignment(self, x):
        """Run once without the journal; returns (residuals, alignment methods)."""
        return self._run(np.asarray(x, dtype=float))[:2]

    def _run(self, x):
        """Run the program at x: (residuals, alignment methods, the run's record).
        Raises ModelRunFailed, naming the kept run directory."""
        values = self.parameters.values(x)
        files = {name: tpl.render(values) for name, tpl in self.templates.items()}
        result = run_once(self._spec(files), tag="eval")
        if not result.ok:
            raise ModelRunFailed(f"{result.reason} (run directory {result.run_dir})")
        try:
            y_model, methods = self._model_values(result.outputs)
            residuals = self.residuals_from(y_model)
        except Exception as exc:  # unreadable output: a failed evaluation
            raise ModelRunFailed(f"unreadable output: {type(exc).__name__}: {exc} "
                                 f"(run directory {result.run_dir})") from None
        run_dir = result.run_dir
        if not self.job.model.keep_runs:
            # Only now is the run known to be good; unusable outputs keep their
            # directory for inspection like any failed run.
            remove_run_dir(run_dir)
            run_dir = None
        info = {"values": values, "alignment": sorted(methods),
                "model": {c: v.tolist() for c, v in zip(self.data.columns, y_model)},
                "run_dir": None if run_dir is None else str(run_dir),
                "worker": _worker()}
        return residuals, methods, info

    def _spec(self, files):
        m = self.job.model
        return RunSpec(command=list(m.command), workdir_root=self.job.runs_dir,
                       job_dir=self.job.directory, files=files, copy=list(m.copy),
                       timeout=m.timeout, retries=m.retries, env=dict(m.env),
                       keep_runs=True, output_files=[m.output.file])

    # -- outputs to residuals ------------------------------------------------
    def model_values(self, outputs):
        """Model values at the data points, one array per data column."""
        return self._model_values(outputs)[0]

    def _model_values(self, outputs):
        """(values, alignment methods used); no shared state, so model runs in
        several threads do not mix their records."""
        out = self.job.model.output
        text = outputs[out.file]
        methods = set()
        if self.instructions is not None:
            methods.add("observation names")
            observed = self.instructions.read(text)
            try:
                values = np.array([observed[name] for name in self.data.obs], dtype=float)
            except KeyError as exc:
                raise ValueError(f"the instruction file defines no observation {exc}") from None
            return [values], methods
        table = read_table(text)
        if out.x is None:
            columns = [np.asarray(table[c], dtype=float) for c in out.y]
            methods.add("row")
            return [align(np.arange(c.size), c, np.arange(c.size), how="row")[0]
                    for c in columns], methods
        x_model = np.asarray(table[out.x], dtype=float)
        result = []
        for name in out.y:
            y_at, method = align(x_model, np.asarray(table[name], dtype=float), self.data.x)
            methods.add(method)
            result.append(np.asarray(y_at, dtype=float))
        return result, methods

    def residuals_from(self, y_model):
        parts = [(ym - yd) / s for ym, yd, s in zip(y_model, self.data.y, self.data.sigma)]
        r = np.concatenate(parts)
        if not np.all(np.isfinite(r)):
            raise ValueError("the model output contains NaN or inf at data points")
        return r


_OPEN = threading.local()


def _cache(path):
    """This thread's `JournalCache` on the journal (opening SQLite costs ~3 ms,
    a tenth of a cheap run's overhead; each thread and process keeps its own
    connection, as SQLite requires)."""
    caches = getattr(_OPEN, "caches", None)
    if caches is None:
        caches = _OPEN.caches = {}
    key = (os.getpid(), str(path))
    try:
        inode = os.stat(path).st_ino
    except FileNotFoundError:
        inode = None
    cached = caches.get(key)
    if cached is None or cached[1] != inode:
        # New, or the file was removed (fit --fresh) or replaced since.
        if cached is not None:
            cached[0].close()
        cache = JournalCache(path)
        cached = caches[key] = (cache, os.stat(path).st_ino)
    return cached[0]


def _worker():
    return f"{socket.gethostname()}:{os.getpid()}"
