"""Calibration of external programs: run them, journal every evaluation, fit.

    from lsqbox.calibration import load_job, fit
    result = fit(load_job("job.toml"), workers=2)

Modules: parameters (names, bounds, log transform, fixed), template (write
inputs: ``{{ name }}`` and PEST templates), runner (run the command in a fresh
directory with a timeout), tables (read outputs, PEST instruction files, align
to observations), journal (SQLite record of every run, the resume cache),
model (ExternalModel: a picklable x -> residuals callable), config (the TOML
job file), fit (the fit itself), report (text and plots). The core solver
never imports this package.
"""
from .config import Job, JobError, load_job
from .fit import fit
from .model import ExternalModel, ModelRunFailed
from .parameters import Parameter, ParameterSet

__all__ = ["ExternalModel", "Job", "JobError", "ModelRunFailed", "Parameter",
           "ParameterSet", "fit", "load_job"]
