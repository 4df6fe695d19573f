"""Tests of lsqbox.calibration.config: reading and validating TOML job files.

Every invalid job raises `JobError` whose message names the job file, the table
and the key at fault.
"""
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from lsqbox.calibration.config import Job, JobError, SolverSpec, load_job

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

GOOD = """\
[model]
command = ["{python}", "prog.py", "params.json"]
templates = { "params.json" = "params.json.tpl" }
copy = ["prog.py"]
timeout = 30
retries = 2
env = { OMP_NUM_THREADS = "1" }

[model.output]
file = "out.csv"
x = "t"
y = ["y1", "y2"]

[data]
file = "data.csv"
x = "t"
y = ["y1", "y2"]
sigma = ["s1", "s2"]

[parameters]
k = { value = 0.5, min = 0.01, max = 10.0, log = true }
a = { value = 1.0, min = -5.0, max = 5.0 }
T0 = { value = 300.0, fixed = true }

[solver]
method = "trf"
jac = "2-point"
workers = 2
max_evaluations = 50
loss = "soft_l1"
f_scale = 0.5
"""


@pytest.fixture
def jobdir(tmp_path):
    (tmp_path / "prog.py").write_text("print('hello')\n")
    (tmp_path / "params.json.tpl").write_text('{"k": {{ k }}, "a": {{ a }}}\n')
    (tmp_path / "data.csv").write_text("t,y1,y2,s1,s2\n0,1,2,0.1,0.1\n1,2,3,0.1,0.1\n")
    return tmp_path


def write(jobdir, text, name="job.toml"):
    path = jobdir / name
    path.write_text(text)
    return path


def replace(text, old, new):
    assert old in text, old
    return text.replace(old, new, 1)


def error_of(path):
    with pytest.raises(JobError) as info:
        load_job(path)
    return str(info.value)


# -- a good job ---------------------------------------------------------------------------
def test_good_job_is_read_completely(jobdir):
    job = load_job(write(jobdir, GOOD))
    assert isinstance(job, Job)
    assert job.path == (jobdir / "job.toml").resolve()
    assert job.directory == jobdir.resolve()
    m = job.model
    assert m.command == ["{python}", "prog.py", "params.json"]
    assert m.templates == {"params.json": "params.json.tpl"}
    assert m.copy == ["prog.py"]
    assert (m.timeout, m.retries, m.keep_runs) == (30, 2, False)
    assert m.env == {"OMP_NUM_THREADS": "1"}
    assert (m.output.file, m.output.x, m.output.y, m.output.instructions) == \
        ("out.csv", "t", ["y1", "y2"], None)
    d = job.data
    assert (d.file, d.x, d.y, d.sigma, d.obs) == ("data.csv", "t", ["y1", "y2"],
                                                  ["s1", "s2"], None)
    ps = job.parameters
    assert ps.names == ["k", "a", "T0"] and ps.free_names == ["k", "a"]
    lb, ub = ps.bounds()
    np.testing.assert_allclose(lb, [-2.0, -5.0], atol=1e-15)
    np.testing.assert_allclose(ub, [1.0, 5.0], atol=1e-15)
    assert ps.values(ps.x0())["T0"] == 300.0
    s = job.solver
    assert (s.method, s.jac, s.workers, s.max_evaluations, s.loss, s.f_scale) == \
        ("trf", "2-point", 2, 50, "soft_l1", 0.5)
    assert (s.ftol, s.xtol, s.gtol, s.max_time) == (1e-8, 1e-8, 1e-8, None)
    assert s.speculative_trials == 0
    # files beside the job
    assert job.journal_path == jobdir.resolve() / "job.journal.sqlite"
    assert job.runs_dir == jobdir.resolve() / "job.runs"
    assert job.result_path == jobdir.resolve() / "job.result.json"
    assert job.resolve("data.csv") == (jobdir / "data.csv").resolve()


def test_defaults_and_shorthands(jobdir):
    text = """\
[model]
command = "{python} prog.py 'params file.json'"
templates = { "params file.json" = "params.json.tpl" }
copy = "prog.py"
[model.output]
file = "out.csv"
y = "y1"
[data]
file = "data.csv"
x = "t"
y = "y1"
[parameters]
k = 0.5
a = { value = 1.0 }
"""
    job = load_job(write(jobdir, text))
    assert job.model.command == ["{python}", "prog.py", "params file.json"]  # shlex
    assert job.model.copy == ["prog.py"]
    assert job.model.output.y == ["y1"] and job.data.y == ["y1"]
    assert job.data.sigma is None
    assert (job.model.timeout, job.model.retries, job.model.keep_runs, job.model.env) == \
        (None, 1, False, {})
    assert job.solver == SolverSpec()                       # no [solver]: all defaults
    assert (job.solver.method, job.solver.jac, job.solver.workers) == ("trf", "broyden", 1)
    p = job.parameters.parameters[0]
    assert (p.name, p.value, p.min, p.max, p.log, p.fixed) == \
        ("k", 0.5, -math.inf, math.inf, False, False)


def test_relative_paths_are_relative_to_the_job_file(jobdir, monkeypatch):
    sub = jobdir / "jobs"
    sub.mkdir()
    for name in ("prog.py", "params.json.tpl", "data.csv"):
        shutil.move(str(jobdir / name), sub / name)
    path = write(sub, GOOD)
    monkeypatch.chdir(jobdir)
    job = load_job(Path("jobs") / "job.toml")
    assert job.path == path.resolve()
    assert job.journal_path.parent == sub.resolve()


def test_instruction_file_output_and_obs_data(jobdir):
    text = replace(GOOD, 'x = "t"\ny = ["y1", "y2"]\n\n[data]',
                   'instructions = "out.ins"\n\n[data]')
    text = replace(text, 'x = "t"\ny = ["y1", "y2"]\nsigma = ["s1", "s2"]',
                   'obs = "name"\ny = "value"\nsigma = "sd"')
    job = load_job(write(jobdir, text))
    assert job.model.output.instructions == "out.ins" and job.model.output.y == []
    assert (job.data.obs, job.data.y, job.data.sigma) == ("name", ["value"], ["sd"])


@pytest.mark.parametrize("workers", ['"dask://127.0.0.1:8786"', "1", "16"])
def test_valid_workers(jobdir, workers):
    job = load_job(write(jobdir, replace(GOOD, "workers = 2", f"workers = {workers}")))
    assert job.solver.workers in ("dask://127.0.0.1:8786", 1, 16)


def test_lm_without_bounds_is_fine(jobdir):
    text = replace(GOOD, 'method = "trf"', 'method = "lm"')
    text = replace(text, "k = { value = 0.5, min = 0.01, max = 10.0, log = true }",
                   "k = { value = 0.5, min = 0.0, log = true }")   # log10: no bounds left
    text = replace(text, "a = { value = 1.0, min = -5.0, max = 5.0 }", "a = 1.0")
    job = load_job(write(jobdir, text))
    assert job.solver.method == "lm"
    lb, ub = job.parameters.bounds()
    assert np.all(np.isinf(lb)) and np.all(np.isinf(ub))


@pytest.mark.parametrize("example", ["kinetics", "pest_decay"])
def test_example_jobs_load(example):
    job = load_job(EXAMPLES / example / "job.toml")
    assert job.parameters.free_names


# -- invalid jobs --------------------------------------------------------------------------
BROKEN = [
    # (id, old, new, fragments the message must contain)
    ("no-model", "[model]\n", "[modelx]\n", ["unknown keys ['modelx']"]),
    ("unknown-top", "[solver]", "[extra]\nq = 1\n[solver]", ["unknown keys ['extra']"]),
    ("model-not-table", None, "model = 3\n", None),
    ("unknown-model-key", "timeout = 30", "timeout = 30\ncomand = 1",
     ["[model]", "unknown keys ['comand']"]),
    ("command-empty", '["{python}", "prog.py", "params.json"]', "[]", ["[model]", "`command`"]),
    ("command-number", '["{python}", "prog.py", "params.json"]', '["prog", 3]',
     ["[model]", "`command`"]),
    ("templates-not-table", 'templates = { "params.json" = "params.json.tpl" }',
     'templates = ["params.json.tpl"]', ["[model]", "`templates`"]),
    ("copy-bad", 'copy = ["prog.py"]', "copy = 3", ["[model] copy"]),
    ("timeout-zero", "timeout = 30", "timeout = 0", ["[model]", "`timeout`"]),
    ("timeout-negative", "timeout = 30", "timeout = -1.5", ["[model]", "`timeout`"]),
    ("timeout-string", "timeout = 30", 'timeout = "1h"', ["[model]", "`timeout`"]),
    ("retries-negative", "retries = 2", "retries = -1", ["[model]", "`retries`"]),
    ("retries-float", "retries = 2", "retries = 1.5", ["[model]", "`retries`"]),
    ("no-output", '[model.output]\nfile = "out.csv"\nx = "t"\ny = ["y1", "y2"]\n', "",
     ["missing table [model.output]"]),
    ("output-unknown", 'file = "out.csv"', 'file = "out.csv"\ncolumns = 2',
     ["[model.output]", "unknown keys ['columns']"]),
    ("output-no-file", 'file = "out.csv"\n', "", ["[model.output]", "`file` is required"]),
    ("output-no-y", 'x = "t"\ny = ["y1", "y2"]\n\n[data]', 'x = "t"\n\n[data]',
     ["[model.output]", "`y`", "`instructions`"]),
    ("no-data", '[data]\nfile = "data.csv"\nx = "t"\ny = ["y1", "y2"]\nsigma = ["s1", "s2"]\n',
     "", ["missing table [data]"]),
    ("data-unknown", 'sigma = ["s1", "s2"]', 'sigma = ["s1", "s2"]\nweights = 1',
     ["[data]", "unknown keys ['weights']"]),
    ("data-no-file", 'file = "data.csv"\n', "", ["[data]", "`file` is required"]),
    ("data-no-y", 'y = ["y1", "y2"]\nsigma', "sigma", ["[data]", "`y`"]),
    ("sigma-count", 'sigma = ["s1", "s2"]', 'sigma = ["s1"]', ["[data]", "`sigma`"]),
    ("no-parameters", "[parameters]\n", "[parameterz]\n", ["unknown keys ['parameterz']"]),
    ("param-unknown-key", "a = { value = 1.0, min = -5.0, max = 5.0 }",
     "a = { value = 1.0, mni = -5.0, max = 5.0 }",
     ["[parameters] a", "unknown keys ['mni']"]),
    ("param-no-value", "a = { value = 1.0, min = -5.0, max = 5.0 }", "a = { min = -5.0 }",
     ["[parameters] a", "value ="]),
    ("param-string", "a = { value = 1.0, min = -5.0, max = 5.0 }", 'a = "one"',
     ["[parameters] a"]),
    ("param-value-string", "a = { value = 1.0, min = -5.0, max = 5.0 }",
     'a = { value = "abc" }', ["[parameters] a"]),
    ("param-min-above-max", "a = { value = 1.0, min = -5.0, max = 5.0 }",
     "a = { value = 1.0, min = 5.0, max = -5.0 }", ["[parameters] a", "must be below max"]),
    ("param-outside", "a = { value = 1.0, min = -5.0, max = 5.0 }",
     "a = { value = 7.0, min = -5.0, max = 5.0 }", ["[parameters] a", "outside"]),
    ("log-negative-min", "k = { value = 0.5, min = 0.01, max = 10.0, log = true }",
     "k = { value = 0.5, min = -1.0, max = 10.0, log = true }",
     ["[parameters] k", "log = true", "min >= 0"]),
    ("log-no-min", "k = { value = 0.5, min = 0.01, max = 10.0, log = true }",
     "k = { value = 0.5, log = true }", ["[parameters] k", "min >= 0"]),
    ("param-nan", "a = { value = 1.0, min = -5.0, max = 5.0 }", "a = { value = nan }",
     ["[parameters] a", "NaN"]),
    ("param-bad-name", "a = { value = 1.0, min = -5.0, max = 5.0 }",
     '"my-a" = { value = 1.0 }', ["[parameters] my-a", "not an identifier"]),
    ("all-fixed", "k = { value = 0.5, min = 0.01, max = 10.0, log = true }\n"
     "a = { value = 1.0, min = -5.0, max = 5.0 }",
     "k = { value = 0.5, fixed = true }\na = { value = 1.0, fixed = true }",
     ["[parameters]", "every parameter is fixed"]),
    ("solver-unknown", 'method = "trf"', 'method = "trf"\nsteps = 3',
     ["[solver]", "unknown keys ['steps']"]),
    ("solver-method", 'method = "trf"', 'method = "newton"', ["[solver]", "`method`"]),
    ("solver-jac", 'jac = "2-point"', 'jac = "cs"', ["[solver]", "`jac`"]),
    ("workers-zero", "workers = 2", "workers = 0", ["[solver]", "`workers`"]),
    ("workers-negative", "workers = 2", "workers = -1", ["[solver]", "`workers`"]),
    ("workers-string", "workers = 2", 'workers = "4"', ["[solver]", "`workers`"]),
    ("workers-float", "workers = 2", "workers = 2.5", ["[solver]", "`workers`"]),
    ("workers-tcp", "workers = 2", 'workers = "tcp://host:8786"', ["[solver]", "`workers`"]),
    ("lm-with-bounds", 'method = "trf"', 'method = "lm"',
     ["[solver]", "'lm' cannot handle bounds"]),
    ("missing-template", '"params.json.tpl"', '"nope.tpl"',
     ["[model] templates", "'nope.tpl'", "'params.json'", "not found"]),
    ("missing-copy", 'copy = ["prog.py"]', 'copy = ["prog.py", "lib.dat"]',
     ["[model] copy", "'lib.dat'", "not found"]),
    ("missing-data", 'file = "data.csv"', 'file = "nope.csv"',
     ["[data]", "'nope.csv'", "not found"]),
]


@pytest.mark.parametrize("old, new, fragments", [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_invalid_job(jobdir, old, new, fragments):
    text = new + GOOD if old is None else replace(GOOD, old, new)
    path = write(jobdir, text)
    message = error_of(path)
    assert str(path.resolve()) in message               # names the file
    for fragment in fragments or []:
        assert fragment in message, (fragment, message)


def test_missing_tables_are_named(jobdir):
    for table in ("model", "data", "parameters"):
        doc = GOOD.split("\n\n")
        kept = [part for part in doc if not part.startswith(f"[{table}]")]
        if table == "model":   # [model.output] alone implies [model]; drop it too
            kept = [part for part in kept if not part.startswith("[model.output]")]
        message = error_of(write(jobdir, "\n\n".join(kept)))
        assert f"missing table [{table}]" in message, message


def test_missing_job_file_and_bad_toml(jobdir):
    message = error_of(jobdir / "nothere.toml")
    assert "nothere.toml" in message and "no such job file" in message
    message = error_of(write(jobdir, "[model\ncommand = 1\n"))
    assert "job.toml" in message and "not valid TOML" in message
    message = error_of(write(jobdir, GOOD + "\n[parameters]\nz = 1\n"))   # duplicate table
    assert "not valid TOML" in message


def test_job_error_is_a_value_error():
    assert issubclass(JobError, ValueError)


# The module docstring promises: "`load_job` validates everything and raises
# `JobError` with the file, the table and the key at fault" -- solver settings
# included, so a bad one never gets as far as `fit`.
@pytest.mark.parametrize("setting, key", [
    ('loss = "bogus"', "loss"),
    ("max_evaluations = 0", "max_evaluations"),
    ('ftol = "tight"', "ftol"),
    ('max_time = "soon"', "max_time"),
    ("max_time = -5", "max_time"),
    ("f_scale = 0.0", "f_scale"),
    ("gtol = -1e-8", "gtol"),
    ("max_evaluations = 2.5", "max_evaluations"),
    ("speculative_trials = -1", "speculative_trials"),
    ("speculative_trials = true", "speculative_trials"),
], ids=["loss", "max_evaluations", "ftol", "max_time", "max_time-negative", "f_scale",
        "gtol", "max_evaluations-float", "speculative-negative", "speculative-bool"])
def test_solver_settings_are_validated_at_load_time(jobdir, setting, key):
    text = replace(GOOD, 'loss = "soft_l1"\n', "")
    text = replace(text, "max_evaluations = 50\n", "")
    text = replace(text, "f_scale = 0.5\n", "")
    path = write(jobdir, text + setting + "\n")
    message = error_of(path)
    assert "[solver]" in message and key in message
