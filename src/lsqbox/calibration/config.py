"""The job file (TOML): model, outputs, data, parameters, solver.

    [model]
    command = ["{python}", "simulate.py", "input.json"]   # argv; {python}: this Python
    templates = { "input.json" = "input.json.tpl" }       # written into each run dir
    copy = ["simulate.py"]                                # copied into each run dir
    timeout = 600                                         # seconds; a hung run is killed
    retries = 1                                           # re-runs of launch failures
    keep_runs = false                                     # keep successful run dirs
    [model.output]
    file = "out.csv"              # table (CSV/whitespace) or, with `instructions`,
    instructions = "report.ins"   # any text read by a PEST instruction file
    x = "time"                    # column matched against the data's x
    y = ["conc_A", "conc_B"]      # output columns
    [data]
    file = "measured.csv"
    x = "time"
    y = ["conc_A", "conc_B"]
    sigma = ["sd_A", "sd_B"]      # optional: residuals are divided by these
    obs = "obs"                   # instead of x/y pairs: observation names (PEST)
    [parameters]
    k1 = { value = 1.0, min = 0.0, max = 10.0, log = true }
    T0 = { value = 300.0, fixed = true }
    [solver]
    method = "trf"                # any least_squares method
    jac = "broyden"               # or "2-point", "3-point"
    workers = 4                   # or "dask://scheduler:8786"
    max_evaluations = 300
    speculative_trials = 0        # extra trial runs per round (idle workers)
    loss = "linear"               # and f_scale, ftol, xtol, gtol, max_time

Paths are relative to the job file. `load_job` validates everything and raises
`JobError` with the file, the table and the key at fault.
"""
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .parameters import Parameter, ParameterError, ParameterSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["JobError", "Job", "ModelSpec", "OutputSpec", "DataSpec", "SolverSpec",
           "load_job"]


class JobError(ValueError):
    """A problem with the job file; the message says where."""


@dataclass
class OutputSpec:
    file: str
    instructions: str = None
    x: str = None
    y: list = field(default_factory=list)


@dataclass
class ModelSpec:
    command: list
    templates: dict
    copy: list
    timeout: float
    retries: int
    keep_runs: bool
    env: dict
    output: OutputSpec


@dataclass
class DataSpec:
    file: str
    x: str = None
    y: list = field(default_factory=list)
    sigma: list = None
    obs: str = None


@dataclass
class SolverSpec:
    method: str = "trf"
    jac: str = "broyden"
    workers: object = 1
    max_evaluations: int = None
    loss: str = "linear"
    f_scale: float = 1.0
    ftol: float = 1e-8
    xtol: float = 1e-8
    gtol: float = 1e-8
    max_time: float = None
    speculative_trials: int = 0


@dataclass
class Job:
    path: Path
    model: ModelSpec
    data: DataSpec
    parameters: ParameterSet
    solver: SolverSpec

    @property
    def directory(self):
        return self.path.parent

    @property
    def stem(self):
        return self.path.with_suffix("")

    @property
    def journal_path(self):
        return Path(str(self.stem) + ".journal.sqlite")

    @property
    def runs_dir(self):
        return Path(str(self.stem) + ".runs")

    @property
    def result_path(self):
        return Path(str(self.stem) + ".result.json")

    def resolve(self, relative):
        return (self.directory / relative).resolve()


def _as_list(value, where):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise JobError(f"{where}: expected a string or a list of strings, got {value!r}")


def _table(doc, name, path, required=True):
    value = doc.get(name)
    if value is None:
        if required:
            raise JobError(f"{path}: missing table [{name}]")
        return {}
    if not isinstance(value, dict):
        raise JobError(f"{path}: [{name}] must be a table")
    return value


def _unknown(table, allowed, where):
    extra = set(table) - set(allowed)
    if extra:
        raise JobError(f"{where}: unknown keys {sorted(extra)} (allowed: {sorted(allowed)})")


def _model(doc, path):
    m = _table(doc, "model", path)
    _unknown(m, {"command", "templates", "copy", "timeout", "retries", "keep_runs", "env",
                 "output"}, f"{path} [model]")
    command = m.get("command")
    if isinstance(command, str):
        command = shlex.split(command)
    if not command or not all(isinstance(c, str) for c in command):
        raise JobError(f"{path} [model]: `command` must be a non-empty list of strings")
    templates = m.get("templates", {})
    if not isinstance(templates, dict):
        raise JobError(f"{path} [model]: `templates` must be a table "
                       "{ \"rendered name\" = \"template file\" }")
    out = m.get("output")
    if not isinstance(out, dict):
        raise JobError(f"{path}: missing table [model.output]")
    _unknown(out, {"file", "instructions", "x", "y"}, f"{path} [model.output]")
    if "file" not in out:
        raise JobError(f"{path} [model.output]: `file` is required")
    output = OutputSpec(file=out["file"], instructions=out.get("instructions"),
                        x=out.get("x"), y=_as_list(out.get("y"), f"{path} [model.output] y"))
    if output.instructions is None and not output.y:
        raise JobError(f"{path} [model.output]: give `y` (output columns) or "
                       "`instructions` (a PEST instruction file)")
    timeout = m.get("timeout")
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise JobError(f"{path} [model]: `timeout` must be a positive number of seconds")
    retries = m.get("retries", 1)
    if not (isinstance(retries, int) and retries >= 0):
        raise JobError(f"{path} [model]: `retries` must be a non-negative integer")
    return ModelSpec(command=command, templates=dict(templates),
                     copy=_as_list(m.get("copy"), f"{path} [model] copy"),
                     timeout=timeout, retries=retries, keep_runs=bool(m.get("keep_runs")),
                     env=dict(m.get("env", {})), output=output)


def _data(doc, path):
    d = _table(doc, "data", path)
    _unknown(d, {"file", "x", "y", "sigma", "obs"}, f"{path} [data]")
    if "file" not in d:
        raise JobError(f"{path} [data]: `file` is required")
    sigma = d.get("sigma")
    data = DataSpec(file=d["file"], x=d.get("x"), y=_as_list(d.get("y"), f"{path} [data] y"),
                    sigma=None if sigma is None else _as_list(sigma, f"{path} [data] sigma"),
                    obs=d.get("obs"))
    if not data.y:
        raise JobError(f"{path} [data]: `y` (measured columns) is required")
    if data.sigma is not None and len(data.sigma) != len(data.y):
        raise JobError(f"{path} [data]: `sigma` must name one column per `y` column")
    return data


def _parameters(doc, path):
    table = _table(doc, "parameters", path)
    params = []
    for name, spec in table.items():
        where = f"{path} [parameters] {name}"
        if isinstance(spec, (int, float)):
            spec = {"value": float(spec)}
        if not isinstance(spec, dict) or "value" not in spec:
            raise JobError(f"{where}: expected {{ value = ..., min = ..., max = ... }}")
        _unknown(spec, {"value", "min", "max", "log", "fixed"}, where)
        try:
            params.append(Parameter(name=name, value=float(spec["value"]),
                                    min=float(spec.get("min", "-inf")),
                                    max=float(spec.get("max", "inf")),
                                    log=bool(spec.get("log", False)),
                                    fixed=bool(spec.get("fixed", False))))
        except (ParameterError, TypeError, ValueError) as exc:
            raise JobError(f"{where}: {exc}") from None
    try:
        return ParameterSet(params)
    except ParameterError as exc:
        raise JobError(f"{path} [parameters]: {exc}") from None


def _solver(doc, path):
    s = _table(doc, "solver", path, required=False)
    allowed = set(SolverSpec.__dataclass_fields__)
    _unknown(s, allowed, f"{path} [solver]")
    spec = SolverSpec(**s)
    if spec.method not in ("trf", "dogbox", "lm"):
        raise JobError(f"{path} [solver]: `method` must be 'trf', 'dogbox' or 'lm'")
    if spec.jac not in ("broyden", "2-point", "3-point"):
        raise JobError(f"{path} [solver]: `jac` must be 'broyden', '2-point' or '3-point'")
    w = spec.workers
    if not ((isinstance(w, int) and not isinstance(w, bool) and w >= 1)
            or (isinstance(w, str) and w.startswith("dask://"))):
        raise JobError(f"{path} [solver]: `workers` must be a positive integer or "
                       "'dask://host:port'")
    losses = ("linear", "soft_l1", "huber", "cauchy", "arctan")
    if spec.loss not in losses:
        raise JobError(f"{path} [solver]: `loss` must be one of {', '.join(losses)}")
    number = (int, float)
    if not (isinstance(spec.f_scale, number) and spec.f_scale > 0):
        raise JobError(f"{path} [solver]: `f_scale` must be a positive number")
    for name in ("ftol", "xtol", "gtol"):
        value = getattr(spec, name)
        if not (isinstance(value, number) and not isinstance(value, bool) and value >= 0):
            raise JobError(f"{path} [solver]: `{name}` must be a non-negative number")
    if spec.max_evaluations is not None and not (
            isinstance(spec.max_evaluations, int) and not isinstance(spec.max_evaluations, bool)
            and spec.max_evaluations >= 1):
        raise JobError(f"{path} [solver]: `max_evaluations` must be a positive integer")
    if spec.max_time is not None and not (isinstance(spec.max_time, number)
                                          and spec.max_time > 0):
        raise JobError(f"{path} [solver]: `max_time` must be a positive number of seconds")
    k = spec.speculative_trials
    if not (isinstance(k, int) and not isinstance(k, bool) and k >= 0):
        raise JobError(f"{path} [solver]: `speculative_trials` must be a non-negative integer")
    return spec


def load_job(path):
    """Read and validate a job file; returns a `Job`."""
    path = Path(path).resolve()
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise JobError(f"{path}: no such job file") from None
    except tomllib.TOMLDecodeError as exc:
        raise JobError(f"{path}: not valid TOML: {exc}") from None
    _unknown(doc, {"model", "data", "parameters", "solver"}, str(path))
    job = Job(path=path, model=_model(doc, path), data=_data(doc, path),
              parameters=_parameters(doc, path), solver=_solver(doc, path))
    if job.solver.method == "lm":
        lb, ub = job.parameters.bounds()
        if (lb > -float("inf")).any() or (ub < float("inf")).any():
            raise JobError(f"{path} [solver]: method 'lm' cannot handle bounds; use 'trf'")
    for rendered, template in job.model.templates.items():
        if not job.resolve(template).is_file():
            raise JobError(f"{path} [model] templates: template {template!r} for "
                           f"{rendered!r} not found")
    for name in job.model.copy:
        if not job.resolve(name).exists():
            raise JobError(f"{path} [model] copy: {name!r} not found")
    if not job.resolve(job.data.file).is_file():
        raise JobError(f"{path} [data]: file {job.data.file!r} not found")
    return job
