"""The example programs used by ``lsqbox fit``: examples/kinetics and examples/pest_decay.

The programs know nothing about lsqbox; these tests run them as external
processes (``sys.executable``) in temporary directories and check their
outputs, their error handling, the template/instruction files and that the
committed data are what the data scripts produce.
"""
import csv
import importlib.util
import json
import math
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KINETICS = EXAMPLES / "kinetics"
PEST = EXAMPLES / "pest_decay"


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(args, cwd, timeout=60):
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def _render_moustache(text, values):
    """``{{ name }}`` -> repr of the value, ``{{ name:fmt }}`` -> format(value, fmt)."""
    def repl(m):
        value = values[m.group(1)]
        return format(value, m.group(2)) if m.group(2) else repr(float(value))
    return re.sub(r"\{\{\s*(\w+)\s*(?::\s*([^}\s]+)\s*)?\}\}", repl, text)


def _render_pest(text, values):
    """Minimal PEST template writer: each ``$name   $`` field gets a number of its width."""
    lines = text.splitlines()
    m = re.fullmatch(r"ptf (\S)", lines[0].strip())
    assert m, "template must start with 'ptf <delim>'"
    d = re.escape(m.group(1))

    def repl(field):
        width = len(field.group(0))
        value = values[field.group(1).strip().lower()]
        s = f"{value:.{width - 7}E}"
        assert len(s) <= width
        return s.rjust(width)
    return "\n".join(re.sub(d + r"([^" + d + r"]+)" + d, repl, line) for line in lines[1:]) + "\n"


def _analytic(k1, k2, a0, t):
    a = a0 * np.exp(-k1 * t)
    if k1 == k2:
        b = a0 * k1 * t * np.exp(-k1 * t)
    else:
        b = a0 * k1 / (k2 - k1) * (np.exp(-k1 * t) - np.exp(-k2 * t))
    return np.column_stack([a, b, a0 - a - b])


# --------------------------------------------------------------------------- kinetics

@pytest.fixture(scope="module")
def simulate():
    return _load(KINETICS / "simulate.py", "kinetics_simulate")


def _kinetics_dir(tmp_path, cfg):
    shutil.copy(KINETICS / "simulate.py", tmp_path)
    (tmp_path / "input.json").write_text(json.dumps(cfg))
    return tmp_path


def _read_out(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], np.array(rows[1:], dtype=float)


def test_kinetics_run_from_rendered_template(tmp_path):
    text = _render_moustache((KINETICS / "input.json.tpl").read_text(), {"k1": 0.85, "k2": 0.23})
    cfg = json.loads(text)
    assert cfg["k1"] == 0.85 and cfg["k2"] == 0.23 and cfg["A0"] == 1.0
    shutil.copy(KINETICS / "simulate.py", tmp_path)
    (tmp_path / "input.json").write_text(text)
    t0 = time.perf_counter()
    proc = _run(["simulate.py", "input.json"], tmp_path)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 30
    header, data = _read_out(tmp_path / "out.csv")
    assert header == ["time", "conc_A", "conc_B", "conc_C"]
    assert data.shape == (cfg["n_steps"] + 1, 4)
    np.testing.assert_array_equal(data[:, 0], cfg["t_end"] * np.arange(101) / 100)
    exact = _analytic(0.85, 0.23, 1.0, data[:, 0])
    np.testing.assert_allclose(data[:, 1:], exact, rtol=1e-8, atol=1e-14)
    # mass balance and full precision in the file
    np.testing.assert_allclose(data[:, 1:].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    line = (tmp_path / "out.csv").read_text().splitlines()[1 + 37]
    assert all(float(repr(float(s))) == float(s) for s in line.split(","))
    assert max(len(s) for s in line.split(",")) >= 15


@pytest.mark.parametrize("k1, k2, a0, t_end, n_steps", [
    (0.85, 0.23, 1.0, 15.0, 100),
    (10.0, 5.0, 2.0, 15.0, 100),     # upper bounds of the job
    (0.01, 1e-3, 1.0, 15.0, 100),    # lower bounds
    (3.0, 0.5, 0.7, 4.0, 7),         # coarse output grid
    (0.5, 0.5, 1.0, 15.0, 50),       # k1 == k2: start point of the job
])
def test_kinetics_integrator_matches_analytic(simulate, k1, k2, a0, t_end, n_steps):
    t, y = simulate.simulate(k1, k2, a0, t_end, n_steps)
    exact = _analytic(k1, k2, a0, t)
    np.testing.assert_allclose(y, exact, rtol=1e-8, atol=1e-13 * a0)


def test_kinetics_step_count_does_not_depend_on_rates_within_bounds(simulate):
    counts = {simulate.substeps_per_interval(k1, k2, 15.0, 100, 1e-10, 60000)
              for k1 in (0.01, 0.5, 1.0, 10.0) for k2 in (1e-3, 0.5, 5.0)}
    assert counts == {600}
    assert simulate.substeps_per_interval(50.0, 1.0, 15.0, 100, 1e-10, 60000) > 600


def test_kinetics_solver_rtol_and_extra_keys(tmp_path):
    cfg = {"k1": 0.85, "k2": 0.23, "A0": 1.0, "t_end": 15.0, "n_steps": 10,
           "solver_rtol": 1e-6, "min_steps": 10, "comment": "x"}
    proc = _run(["simulate.py", "input.json"], _kinetics_dir(tmp_path, cfg))
    assert proc.returncode == 0, proc.stderr
    assert "comment" in proc.stderr          # warned about, not fatal
    header, data = _read_out(tmp_path / "out.csv")
    assert data.shape == (11, 4)
    np.testing.assert_allclose(data[:, 1:], _analytic(0.85, 0.23, 1.0, data[:, 0]),
                               rtol=1e-5, atol=1e-8)


def test_kinetics_delay(tmp_path):
    cfg = {"k1": 0.85, "k2": 0.23, "A0": 1.0, "t_end": 1.0, "n_steps": 5, "min_steps": 5,
           "delay": 0.5}
    t0 = time.perf_counter()
    proc = _run(["simulate.py", "input.json"], _kinetics_dir(tmp_path, cfg))
    assert proc.returncode == 0, proc.stderr
    assert time.perf_counter() - t0 >= 0.5


GOOD = {"k1": 0.85, "k2": 0.23, "A0": 1.0, "t_end": 15.0, "n_steps": 100}


@pytest.mark.parametrize("change, message", [
    ({"k1": -0.1}, "k1"),
    ({"k2": -1e-3}, "k2"),
    ({"A0": -1.0}, "A0"),
    ({"k1": "fast"}, "k1"),
    ({"k1": True}, "k1"),
    ({"t_end": 0.0}, "t_end"),
    ({"n_steps": 0}, "n_steps"),
    ({"n_steps": 2.5}, "n_steps"),
    ({"solver_rtol": 0.0}, "solver_rtol"),
    ({"delay": -1}, "delay"),
    ({"k2": None}, "k2"),
    ("drop k2", "k2"),
    ("drop n_steps", "n_steps"),
])
def test_kinetics_invalid_input(tmp_path, change, message):
    cfg = dict(GOOD)
    if isinstance(change, str):
        del cfg[change.split()[1]]
    else:
        cfg.update(change)
    proc = _run(["simulate.py", "input.json"], _kinetics_dir(tmp_path, cfg))
    assert proc.returncode != 0
    assert "error" in proc.stderr and message in proc.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"k1": nan}', ""])
def test_kinetics_bad_json(tmp_path, text):
    shutil.copy(KINETICS / "simulate.py", tmp_path)
    (tmp_path / "input.json").write_text(text)
    proc = _run(["simulate.py", "input.json"], tmp_path)
    assert proc.returncode != 0 and proc.stderr
    assert not (tmp_path / "out.csv").exists()


def test_kinetics_missing_file_and_usage(tmp_path):
    shutil.copy(KINETICS / "simulate.py", tmp_path)
    assert _run(["simulate.py", "nope.json"], tmp_path).returncode != 0
    assert _run(["simulate.py"], tmp_path).returncode != 0
    assert not (tmp_path / "out.csv").exists()


def test_kinetics_measured_data_is_make_data_output(tmp_path):
    proc = _run([KINETICS / "make_data.py", tmp_path / "m.csv"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m.csv").read_bytes() == (KINETICS / "measured.csv").read_bytes()


def test_kinetics_measured_data_shape():
    with open(KINETICS / "measured.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["time", "conc_A", "conc_B", "sd_A", "sd_B"]
    assert len(rows) == 25
    t = np.array([float(r["time"]) for r in rows])
    assert 0 <= t.min() and t.max() <= 15 and np.all(np.diff(t) > 0)
    on_grid = np.isclose(t / 0.15, np.round(t / 0.15), rtol=0, atol=1e-9)
    assert not on_grid.all()
    y = np.array([[float(r["conc_A"]), float(r["conc_B"])] for r in rows])
    resid = (y - _analytic(0.85, 0.23, 1.0, t)[:, :2]) / 0.01
    assert np.sum(np.abs(resid) > 10) == 2            # the two outliers
    assert np.all(np.array([[float(r["sd_A"]), float(r["sd_B"])] for r in rows]) == 0.01)


def _job(path):
    tomllib = pytest.importorskip("tomllib")
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def test_kinetics_job_file_is_consistent():
    job = _job(KINETICS / "job.toml")
    model = job["model"]
    assert model["command"] == ["{python}", "simulate.py", "input.json"]
    assert model["copy"] == ["simulate.py"]
    for name in [*model["templates"].values(), *model["copy"], job["data"]["file"]]:
        assert (KINETICS / name).is_file()
    assert model["output"] == {"file": "out.csv", "x": "time", "y": ["conc_A", "conc_B"]}
    assert job["data"] == {"file": "measured.csv", "x": "time", "y": ["conc_A", "conc_B"],
                           "sigma": ["sd_A", "sd_B"]}
    params = job["parameters"]
    assert params["k1"] == {"value": 0.5, "min": 0.01, "max": 10.0, "log": True}
    assert params["k2"] == {"value": 0.5, "min": 1e-3, "max": 5.0, "log": True}
    assert params["A0"] == {"value": 1.0, "fixed": True}
    assert job["solver"] == {"method": "trf", "jac": "broyden", "workers": 2,
                             "max_evaluations": 200, "loss": "soft_l1", "f_scale": 1.0}
    placeholders = set(re.findall(r"\{\{\s*(\w+)", (KINETICS / "input.json.tpl").read_text()))
    assert placeholders == {"k1", "k2"}


# --------------------------------------------------------------------------- pest_decay

@pytest.fixture(scope="module")
def decay():
    return _load(PEST / "decay.py", "pest_decay_program")


TRUE_PEST = {"half_life": 8.0, "amplitude": 5000.0, "background": 150.0}


def _decay_dir(tmp_path, model_in):
    shutil.copy(PEST / "decay.py", tmp_path)
    (tmp_path / "model.in").write_text(model_in)
    return tmp_path


def _read_table_by_instructions(report_lines):
    """Follow report.ins (checked to have exactly the expected shape) on report lines."""
    ins = (PEST / "report.ins").read_text().splitlines()
    expected = ["pif @", "@TIME@", "l3 [c01]9:24"] + [f"l1 [c{i:02d}]9:24" for i in range(2, 31)]
    assert ins == expected
    line = next(i for i, text in enumerate(report_lines) if "TIME" in text) + 3
    values = {}
    for i in range(1, 31):
        values[f"c{i:02d}"] = float(report_lines[line][8:24])
        line += 1
    return values


def test_pest_run_from_rendered_template(tmp_path, decay):
    model_in = _render_pest((PEST / "model.in.tpl").read_text(), TRUE_PEST)
    assert model_in.splitlines()[1].split() == ["HALF_LIFE", "8.0000000E+00"]
    _decay_dir(tmp_path, model_in)
    proc = _run(["decay.py", "model.in", "report.txt"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "report.txt").read_text().splitlines()
    header = [i for i, text in enumerate(lines) if "TIME" in text]
    assert len(header) == 1 and lines[header[0]].split() == ["TIME", "COUNTS", "RATE"]
    rows = lines[header[0] + 3: header[0] + 33]
    assert all(len(r) == 38 for r in rows)
    table = np.array([r.split() for r in rows], dtype=float)
    np.testing.assert_array_equal(table[:, 0], 2.0 * np.arange(1, 31))
    expected = decay.predict(8.0, 5000.0, 150.0)
    np.testing.assert_allclose(table[:, 1], expected, rtol=0, atol=5.1e-9)
    np.testing.assert_allclose(table[:, 2], expected / 600.0, rtol=1e-6)
    assert lines[header[0] + 33].startswith("  ------")
    assert lines[-2].startswith(" SUMMARY: 30 samples") and lines[-1] == " Normal termination."
    obs = _read_table_by_instructions(lines)
    np.testing.assert_allclose([obs[f"c{i:02d}"] for i in range(1, 31)], expected,
                               rtol=0, atol=5.1e-9)


def test_pest_default_file_names_and_warning_shifts_table(tmp_path, decay):
    model_in = "Short-lived run\nhalf_life 1.0D+00\nAMPLITUDE 100.0\nBACKGROUND 2.0\n# note\n"
    proc = _run(["decay.py"], _decay_dir(tmp_path, model_in))
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "report.txt").read_text().splitlines()
    assert any("WARNING" in text for text in lines)
    obs = _read_table_by_instructions(lines)
    np.testing.assert_allclose([obs[f"c{i:02d}"] for i in range(1, 31)],
                               decay.predict(1.0, 100.0, 2.0), rtol=0, atol=5.1e-9)


def test_pest_overflowing_counts_are_asterisks(tmp_path):
    model_in = "Big\nHALF_LIFE 5\nAMPLITUDE 5e7\nBACKGROUND 0\n"
    proc = _run(["decay.py"], _decay_dir(tmp_path, model_in))
    assert proc.returncode == 0
    assert "*" * 16 in (tmp_path / "report.txt").read_text()


@pytest.mark.parametrize("model_in", [
    "title\nHALF_LIFE 12.5\nAMPLITUDE 100.0\n",                        # missing keyword
    "title\nHALF_LIFE -1\nAMPLITUDE 100.0\nBACKGROUND 2.0\n",           # negative half-life
    "title\nHALF_LIFE 0\nAMPLITUDE 100.0\nBACKGROUND 2.0\n",
    "title\nHALF_LIFE 12.5\nAMPLITUDE -3\nBACKGROUND 2.0\n",
    "title\nHALF_LIFE 12.5\nAMPLITUDE 100.0\nBACKGROUND abc\n",         # not a number
    "title\nHALF_LIFE 12.5\nAMPLITUDE 100.0\nBACKGROUND 2.0\nCOLOR 3\n",  # unknown keyword
    "title\nHALF_LIFE 12.5 13\nAMPLITUDE 100.0\nBACKGROUND 2.0\n",      # bad line
    "title\nHALF_LIFE nan\nAMPLITUDE 100.0\nBACKGROUND 2.0\n",
    "",
])
def test_pest_invalid_input(tmp_path, model_in):
    proc = _run(["decay.py"], _decay_dir(tmp_path, model_in))
    assert proc.returncode != 0
    assert "error" in proc.stderr
    assert not (tmp_path / "report.txt").exists()


def test_pest_template_fields():
    lines = (PEST / "model.in.tpl").read_text().splitlines()
    assert lines[0] == "ptf $"
    fields = re.findall(r"\$([^$]+)\$", "\n".join(lines[1:]))
    assert [f.strip() for f in fields] == ["half_life", "amplitude", "background"]
    assert all(len(f) + 2 >= 12 for f in fields)


def test_pest_measured_data_is_make_data_output(tmp_path):
    proc = _run([PEST / "make_data.py", tmp_path / "m.csv"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m.csv").read_bytes() == (PEST / "measured.csv").read_bytes()


def test_pest_measured_data_shape(decay):
    with open(PEST / "measured.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["obs", "value", "sd"]
    assert [r["obs"] for r in rows] == [f"c{i:02d}" for i in range(1, 31)]
    value = np.array([float(r["value"]) for r in rows])
    sd = np.array([float(r["sd"]) for r in rows])
    resid = (value - decay.predict(8.0, 5000.0, 150.0)) / sd
    assert sorted(np.flatnonzero(np.abs(resid) > 5)) == [6, 21]     # c07, c22


def test_pest_job_file_is_consistent():
    job = _job(PEST / "job.toml")
    model = job["model"]
    assert model["command"][:2] == ["{python}", "decay.py"]
    assert model["copy"] == ["decay.py"]
    assert model["templates"] == {"model.in": "model.in.tpl"}
    assert model["output"] == {"file": "report.txt", "instructions": "report.ins"}
    assert job["data"] == {"file": "measured.csv", "obs": "obs", "y": "value", "sigma": "sd"}
    for name in ["model.in.tpl", "report.ins", "decay.py", "measured.csv"]:
        assert (PEST / name).is_file()
    assert set(job["parameters"]) == {"half_life", "amplitude", "background"}
    for p in job["parameters"].values():
        assert p["min"] <= p["value"] <= p["max"]
    assert math.isclose(job["parameters"]["half_life"]["value"], 12.5)
