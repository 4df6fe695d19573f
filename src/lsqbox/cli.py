"""`lsqbox fit | report | plot | check job.toml` — black-box calibration.

Exit codes: 0 success; 1 the fit ran but did not converge (or there is no
result yet to report or plot); 2 the job file or the command line is wrong;
3 the model could not be run, or its outputs could not be read and aligned.
"""
import argparse
import json
import sys

__all__ = ["main"]

EXIT_OK, EXIT_NOT_CONVERGED, EXIT_USAGE, EXIT_RUN = 0, 1, 2, 3


def _parser():
    parser = argparse.ArgumentParser(
        prog="lsqbox", description="Fit external programs to measured data "
        "(nonlinear least squares with Broyden Jacobians, parallel runs and a "
        "journal that makes every fit resumable).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fit", help="run (or resume) the fit described by a job file",
                       description="Run the fit; a job with an existing journal "
                       "resumes without repeating finished runs.")
    p.add_argument("job", help="the job file (TOML)")
    p.add_argument("--workers", type=int, help="parallel model runs (overrides the job)")
    p.add_argument("--dask", metavar="ADDRESS", help="run the model on a Dask scheduler")
    p.add_argument("--fresh", action="store_true",
                   help="discard the journal and earlier runs and start over")
    p.add_argument("--quiet", action="store_true", help="no progress display")

    p = sub.add_parser("report", help="print the report of a fitted job (runs nothing)")
    p.add_argument("job")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("plot", help="write PNGs: data vs fit, residuals, traces")
    p.add_argument("job")
    p.add_argument("--out", help="output folder (default <job>.plots)")

    p = sub.add_parser("check", help="validate the job, run the model once at the "
                       "start values and check that outputs read and align")
    p.add_argument("job")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    from .calibration.config import JobError, load_job
    try:
        job = load_job(args.job)
        return {"fit": _fit, "report": _report, "plot": _plot, "check": _check}[
            args.command](job, args)
    except JobError as exc:
        print(f"lsqbox: error in the job file: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"lsqbox: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _fit(job, args):
    from .calibration.fit import fit
    from .calibration.report import format_report
    try:
        result = fit(job, workers=args.workers, dask_address=args.dask, fresh=args.fresh,
                     progress=not args.quiet)
    except RuntimeError as exc:
        print(f"lsqbox: the model could not be run: {exc}", file=sys.stderr)
        return EXIT_RUN
    print(format_report(result))
    print(f"\nresult written to {job.result_path}")
    return EXIT_OK if result["success"] else EXIT_NOT_CONVERGED


def _report(job, args):
    from .calibration.report import format_report, load_result
    result = load_result(job)
    if result is None:
        return _journal_summary(job, args)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return EXIT_OK


def _journal_summary(job, args):
    """No result file yet (a fit was interrupted): what the journal knows."""
    import numpy as np
    from .calibration.journal import Journal
    if not job.journal_path.exists():
        print(f"lsqbox: {job.path.name} has not been fitted yet (no "
              f"{job.result_path.name}, no journal)", file=sys.stderr)
        return EXIT_NOT_CONVERGED
    best = None
    with Journal(job.journal_path) as journal:
        counts = journal.counts()
        for record in journal.records():
            if record.status == "ok" and record.residuals is not None:
                cost = 0.5 * float(np.dot(record.residuals, record.residuals))
                if best is None or cost < best[0]:
                    best = (cost, record.outputs.get("values", {}))
    summary = {"job": str(job.path), "complete": False, "runs": counts,
               "best_cost": None if best is None else best[0],
               "best_parameters": None if best is None else best[1]}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{job.path.name}: fit not finished; journal has runs {counts}")
        if best is not None:
            print(f"best cost so far {best[0]:.6g} at " +
                  ", ".join(f"{k}={v:.6g}" for k, v in best[1].items()))
        print("(run `lsqbox fit` again to resume)")
    return EXIT_NOT_CONVERGED


def _plot(job, args):
    import numpy as np
    from .calibration.journal import Journal
    from .calibration.model import load_data
    from .calibration.report import load_result, plot_result
    result = load_result(job)
    if result is None:
        print(f"lsqbox: no result for {job.path.name}; run `lsqbox fit` first",
              file=sys.stderr)
        return EXIT_NOT_CONVERGED
    best_model = {}
    with Journal(job.journal_path) as journal:
        record = journal.lookup(np.array(result["x_solver"]))
        if record is not None and record.outputs:
            best_model = record.outputs.get("model", {})
    files = plot_result(job, result, load_data(job), best_model, args.out)
    for path in files:
        print(f"wrote {path}")
    return EXIT_OK


def _check(job, args):
    import numpy as np
    from .calibration.model import ExternalModel, ModelRunFailed
    from .calibration.template import check_coverage
    print(f"job file {job.path}: valid")
    params = job.parameters
    print(f"parameters: {len(params.free)} free ({', '.join(params.free_names)}), "
          f"{len(params.parameters) - len(params.free)} fixed")
    model = ExternalModel(job, journal=False)
    check_coverage(list(model.templates.values()), params.free_names,
                   known_names=params.names)
    values = params.values(params.x0())
    for name, tpl in model.templates.items():
        tpl.render(values)
        print(f"template for {name}: renders; parameters {sorted(tpl.parameters)}")
    data = model.data
    print(f"data {job.data.file}: {data.size} values in columns {data.columns}"
          + (" with sigma" if data.weighted else " (no sigma: unweighted)"))
    print(f"running the model once at the start values: {' '.join(job.model.command)}")
    try:
        residuals, methods = model.evaluate_with_alignment(params.x0())
    except ModelRunFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return EXIT_RUN
    print(f"outputs read and aligned ({', '.join(sorted(methods))}): "
          f"{residuals.size} residuals, cost {0.5 * float(np.dot(residuals, residuals)):.6g}")
    print("check passed")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
