"""Text report and plots of a calibration result (the dictionary `fit` returns
and writes to ``<job>.result.json``)."""
import json
from pathlib import Path

import numpy as np

from ..fit.report import correlation_lines

__all__ = ["format_report", "load_result", "plot_result"]


def load_result(job):
    """The saved result of a job, or None if the job has not been fitted."""
    path = job.result_path
    if not path.exists():
        return None
    return json.loads(path.read_text())


def _fmt(v, spec=".6g"):
    return "n/a" if v is None else format(v, spec)


def format_report(result, min_correlation=0.5):
    """Human-readable report of a result dictionary."""
    lines = [f"lsqbox calibration report: {result['job']}", "",
             "[[Fit]]",
             f"    status              = {result['status']}: {result['message']}",
             f"    cost                = {_fmt(result['cost'])}"
             + (f"   (loss {result['loss']})" if result.get("loss", "linear") != "linear"
                else "   (0.5 chi-square)"),
             f"    chi-square          = {_fmt(result['chi_square'])}",
             f"    degrees of freedom  = {result['dof']}",
             f"    reduced chi-square  = {_fmt(result['reduced_chi_square'])}"
             + ("" if result["weighted"] else "   (unweighted: errors scaled by it)"),
             f"    iterations          = {result['iterations']}",
             f"    model evaluations   = {result['evaluations']} requested by the solver"
             + (f", in {result['rounds']} rounds" if result.get("rounds") else ""),
             "    program runs        = " + ", ".join(
                 f"{v} {k}" for k, v in sorted(result["runs"].items())),
             f"    alignment to data   = {', '.join(result['alignment']) or 'n/a'}",
             f"    wall time           = {result['seconds']:.1f} s",
             "", "[[Parameters]]  (standard errors from a fresh finite-difference "
             "Jacobian at the solution)"]
    width = max(len(n) for n in result["parameters"])
    for name, p in result["parameters"].items():
        value = p["value"]
        if p["fixed"]:
            lines.append(f"    {name:<{width}} = {value:.8g}  (fixed)")
            continue
        if p.get("at_bound"):
            lines.append(f"    {name:<{width}} = {value:.8g}  (at its {p['at_bound']} bound: "
                         "held there, no standard error)")
            continue
        err = p.get("stderr")
        rel = f" ({abs(err / value) * 100:.2f}%)" if err is not None and value else ""
        log = "  [fitted in log space]" if p.get("log") else ""
        lines.append(f"    {name:<{width}} = {value:.8g} +/- {_fmt(err, '.3g')}{rel}{log}")
    if result.get("rank_deficient"):
        lines.append("    WARNING: the Jacobian is rank deficient at the solution; some "
                     "parameters are not identifiable from these data.")
    corr = result["correlation"]
    names, matrix = corr["names"], corr["matrix"]
    pairs = correlation_lines(names, matrix, min_correlation)
    if pairs:
        lines += ["", f"[[Correlations]] (|c| >= {min_correlation})"] + pairs
    if result["failures"]:
        lines += ["", f"[[Failed evaluations]] ({len(result['failures'])})"]
        for f in result["failures"][:10]:
            lines.append(f"    {f['purpose']}: {f['reason']}")
    return "\n".join(lines)


def plot_result(job, result, data, best_model, out_dir=None):
    """PNG files: data vs best fit per column, residuals, cost and parameter traces.

    ``best_model``: dict column -> model values at the data points (from the
    journal). Returns the list of files written. Needs matplotlib.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir or str(job.stem) + ".plots")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    xs = data.x if data.x is not None else np.arange(data.y[0].size)
    xlabel = job.data.x or "observation"
    for column, y, s in zip(data.columns, data.y, data.sigma):
        fig, (ax, axr) = plt.subplots(2, 1, figsize=(7, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
        ax.errorbar(xs, y, yerr=s if data.weighted else None, fmt="o", ms=4,
                    label="measured", color="tab:blue")
        if column in best_model:
            m = np.asarray(best_model[column])
            order = np.argsort(xs)
            ax.plot(np.asarray(xs)[order], m[order], "-", color="tab:red", label="best fit")
            axr.axhline(0, color="0.6", lw=1)
            axr.plot(xs, (m - y) / s, "o", ms=4, color="tab:red")
        ax.set_ylabel(column)
        ax.legend()
        ax.set_title(f"{job.path.name}: {column}")
        axr.set_xlabel(xlabel)
        axr.set_ylabel("residual / sigma" if data.weighted else "residual")
        path = out_dir / f"fit_{column}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    trace = result.get("trace") or []
    if trace:
        names = [n for n, p in result["parameters"].items() if not p["fixed"]]
        fig, axes = plt.subplots(len(names) + 1, 1, figsize=(7, 2.2 * (len(names) + 1)),
                                 sharex=True)
        it = [t["iteration"] for t in trace]
        axes[0].semilogy(it, [max(t["cost"], 1e-300) for t in trace], "o-")
        axes[0].set_ylabel("cost")
        axes[0].set_title(f"{job.path.name}: iterations")
        for ax, name in zip(axes[1:], names):
            ax.plot(it, [t["values"][name] for t in trace], "o-")
            ax.set_ylabel(name)
        axes[-1].set_xlabel("iteration")
        fig.tight_layout()
        path = out_dir / "traces.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
