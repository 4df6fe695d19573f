"""A plain-text fit report, in the spirit of lmfit's: statistics, parameters
with standard errors, high correlations, termination and evaluation counts."""
import numpy as np

__all__ = ["correlation_lines", "fit_report"]


def _fmt(value):
    if value is None or not np.isfinite(value):
        return str(value)
    return f"{value:.6g}"


def fit_report(result, names=None, absolute_sigma=False, min_correlation=0.5):
    """Text report of a `LeastSquaresResult`.

    Parameters
    ----------
    result : LeastSquaresResult
    names : list of str, optional
        Parameter names (default x0, x1, ...).
    absolute_sigma : bool
        Residuals are weighted by true standard deviations (no rescaling).
    min_correlation : float
        Correlations with larger magnitude are listed.
    """
    x = np.asarray(result.x)
    n = x.size
    m = np.asarray(result.fun).size
    names = list(names) if names is not None else [f"x{i}" for i in range(n)]
    cov = result.covariance(absolute_sigma=absolute_sigma)
    stderr = cov.stderr
    chisqr = 2.0 * result.cost
    lines = ["[[Fit Statistics]]",
             f"    function evals      = {result.nfev} (total with finite differences: "
             f"{result.get('nfev_total', result.nfev)})",
             f"    jacobian evals      = {result.njev}",
             f"    iterations          = {result.get('nit')}",
             f"    data points         = {m}",
             f"    variables           = {n} ({cov.n_free} free of bounds)",
             f"    degrees of freedom  = {cov.dof}",
             f"    cost (0.5*chi-sq)   = {_fmt(result.cost)}",
             f"    chi-square          = {_fmt(chisqr)}",
             f"    reduced chi-square  = {_fmt(chisqr / cov.dof) if cov.dof > 0 else 'n/a'}",
             f"    optimality          = {_fmt(result.optimality)}",
             f"    status              = {result.status}: {result.message}",
             "[[Variables]]"]
    width = max(len(s) for s in names)
    lower = result.get("active_mask")
    for i, name in enumerate(names):
        value = x[i]
        if cov.held[i]:
            side = "lower" if lower[i] < 0 else "upper"
            lines.append(f"    {name:<{width}}: {value: .8g} (at {side} bound: held fixed, "
                         "no standard error)")
            continue
        err = stderr[i]
        if np.isfinite(err):
            rel = f" ({abs(err / value) * 100:.2f}%)" if value != 0 else ""
            lines.append(f"    {name:<{width}}: {value: .8g} +/- {err:.4g}{rel}")
        else:
            lines.append(f"    {name:<{width}}: {value: .8g} +/- {err}")
    if cov.rank_deficient:
        who = ", ".join(names[j] for j in cov.unidentifiable) or "(spread over all)"
        lines.append(f"[[Warning]]\n    Jacobian rank {cov.rank} < {cov.n_free} free "
                     f"parameters: covariance is a pseudo-inverse; not identifiable: {who}")
    corr = cov.correlation
    pairs = correlation_lines(names, corr, min_correlation)
    if pairs:
        lines.append(f"[[Correlations]] (unreported are below {min_correlation})")
        lines += pairs
    return "\n".join(lines)


def correlation_lines(names, corr, min_correlation):
    """``C(a, b) = +0.9123`` lines for the pairs with |correlation| at least
    `min_correlation`, strongest first (None or non-finite entries skipped)."""
    pairs = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            c = corr[i][j]
            if c is not None and np.isfinite(c) and abs(c) >= min_correlation:
                pairs.append((abs(c), names[i], names[j], c))
    return [f"    C({a}, {b}) = {c:+.4f}" for _, a, b, c in sorted(pairs, reverse=True)]
