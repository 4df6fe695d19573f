"""lsqbox.least_squares on the NIST StRD nonlinear regression suite.

27 datasets x 2 NIST starting points = 54 problems, each solved with
``method='trf'`` and everything else at its default (finite-difference
Jacobian, default tolerances), as a user of scipy.optimize.least_squares
would call it.

Bar (NIST's usual one): the log relative error of *every* parameter against
the certified value is at least 4 (4 correct significant digits), and the
final cost matches the certified residual sum of squares / 2.  With tight
tolerances (ftol = xtol = gtol = 1e-15) the bar is 6 digits.  6 digits are
achievable with the default 2-point Jacobian on every dataset: started at
the certified values the solver must stay within 6 digits of them
(``test_tight_from_certified_values``).

Both ``trf`` and ``lm`` are checked, and with tight tolerances the standard
errors (``res.stderr``) against the certified standard deviations (4 digits).

For comparison, scipy 1.17 reaches 4 digits at default settings on 45 of 54
with trf (misses Hahn1 x2, ENSO x2, MGH09 x2, Bennett5 x2, MGH17 start 1) and
6 digits with tight tolerances on 45 of 54.

Problems lsqbox does not (yet) solve are listed in the XFAIL_* tables below
with the LRE measured when they were added; they are strict xfails, so a fix
turns them into an XPASS failure and the entry must then be deleted.
"""

import numpy as np
import pytest

from lsqbox import least_squares

from nist_strd import ALL_NAMES, load, lre

pytestmark = [
    # The solvers legitimately evaluate some models far from the solution
    # (e.g. MGH17 and Bennett5 from start 1), where they overflow.
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning"),
]

DEFAULT_DIGITS = 4.0
TIGHT_DIGITS = 6.0
TIGHT = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15)

# (method, dataset, start) -> reason, with the LRE measured on 2026-11-23
# (scipy 1.17's in brackets). BoxBOD from start 1 has a gradient that vanishes
# to gtol at the start for 'lm' (MINPACK's cosine test), as it does in SciPy.
# (MGH17 and Bennett5 from start 1, which exhaust SciPy's default budget in a
# curved valley, are solved by both methods since they accelerate such
# crawls, crawl.py: trf in 262 and 104 evaluations, lm in 190 and 75; lm's
# MGH17 and MGH09 from start 1 no longer end near the budget.)
XFAIL_DEFAULT: dict[tuple[str, str, int], str] = {
    ("lm", "BoxBOD", 1): "LRE 0.00 (scipy 0.00): gtol met at the start (cosine test)",
}
# Outcomes that flip with the last bits of floating-point rounding (summation
# order in a norm, a LAPACK wrapper): Lanczos1's standard errors (3.1-4.0
# digits measured): reported as xfail, but not strict.
ROUNDING_DEPENDENT = {("trf", "Lanczos1", 1), ("trf", "Lanczos1", 2),
                      ("lm", "Lanczos1", 1), ("lm", "Lanczos1", 2)}
XFAIL_TIGHT: dict[tuple[str, str, int], str] = dict(XFAIL_DEFAULT)
# Certified standard deviations: Lanczos1's certified RSS is 1.4e-25, i.e. its
# residuals are ~100 ulps of the data; in double precision the residual
# standard deviation (and so every standard error) has only ~3 digits
# (3.36/3.09 for trf, 2.88/2.99 for lm measured). The certified values were
# computed in higher precision; no float64 residual function can reach them.
XFAIL_STDERR: dict[tuple[str, str, int], str] = {
    **XFAIL_TIGHT,
    **{(m, "Lanczos1", s): "standard errors limited to ~3 digits in float64 "
                           "(certified RSS 1.4e-25)"
       for m in ("trf", "lm") for s in (1, 2)},
}
XFAIL_FROM_CERTIFIED: dict[str, str] = {}
METHODS = ("trf", "lm")


def _cases(xfails):
    out = []
    for method in METHODS:
        for name in ALL_NAMES:
            for start in (1, 2):
                marks = ()
                key = (method, name, start)
                if key in xfails:
                    marks = pytest.mark.xfail(strict=key not in ROUNDING_DEPENDENT,
                                              reason=xfails[key])
                out.append(pytest.param(method, name, start, marks=marks,
                                        id=f"{method}-{name}-start{start}"))
    return out


def _rss_atol(ds):
    """Absolute slack for comparing the RSS.

    The data are printed to at most 13 significant digits, so residuals below
    ~1e-12 * max|y| are data rounding.  Only matters for Lanczos1, whose
    certified RSS (1.4e-25) is below that resolution; for every other
    dataset the relative 1e-4 term dominates by orders of magnitude.
    """
    return ds.n_obs * (1e-12 * float(np.max(np.abs(ds.y)))) ** 2


def _check(ds, res, digits, label):
    x = np.asarray(res.x, dtype=float)
    assert x.shape == ds.certified.shape
    per_param = ds.lre(x)
    worst = float(per_param.min())
    assert worst >= digits, (
        f"{ds.name} {label}: min LRE {worst:.2f} < {digits:g} "
        f"(per parameter {np.round(per_param, 2).tolist()}, "
        f"nfev={res.nfev}, status={res.status}: {res.message})")

    # The reported cost is that of the returned x ...
    r = ds.residuals(x)
    assert res.cost == pytest.approx(0.5 * float(r @ r), rel=1e-12, abs=1e-300)
    # ... and matches the certified residual sum of squares.
    rss = 2.0 * float(res.cost)
    tol = 1e-4 * ds.certified_rss + _rss_atol(ds)
    assert abs(rss - ds.certified_rss) <= tol, (
        f"{ds.name} {label}: 2*cost = {rss:.10e}, certified RSS "
        f"{ds.certified_rss:.10e}")


@pytest.mark.parametrize("method,name,start", _cases(XFAIL_DEFAULT))
def test_default_settings(method, name, start):
    ds = load(name)
    res = least_squares(ds.residuals, ds.start(start), method=method)
    _check(ds, res, DEFAULT_DIGITS, f"{method} start {start}, default settings")


@pytest.mark.parametrize("method,name,start", _cases(XFAIL_TIGHT))
def test_tight_tolerances(method, name, start):
    ds = load(name)
    res = least_squares(ds.residuals, ds.start(start), method=method, **TIGHT)
    _check(ds, res, TIGHT_DIGITS, f"{method} start {start}, ftol=xtol=gtol=1e-15")


@pytest.mark.parametrize("method,name,start", _cases(XFAIL_STDERR))
def test_certified_standard_errors(method, name, start):
    """Standard errors from res.stderr (the Jacobian at the solution, scaled by
    the reduced chi-square) against NIST's certified standard deviations."""
    ds = load(name)
    res = least_squares(ds.residuals, ds.start(start), method=method, **TIGHT)
    per_param = lre(res.stderr, ds.certified_std)
    assert per_param.min() >= 4.0, (
        f"{method} {name} start {start}: standard error LRE "
        f"{np.round(per_param, 2).tolist()}")
    cov = res.covariance()
    assert cov.dof == ds.dof and not cov.rank_deficient


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True,
                                            reason=XFAIL_FROM_CERTIFIED[n]))
    if n in XFAIL_FROM_CERTIFIED else n
    for n in ALL_NAMES
])
def test_tight_from_certified_values(name):
    """Shows the 6-digit bar is reachable with the default FD Jacobian."""
    ds = load(name)
    res = least_squares(ds.residuals, np.array(ds.certified), method="trf",
                        **TIGHT)
    _check(ds, res, TIGHT_DIGITS, "from certified values, tight")


# Large-residual datasets on which Gauss-Newton converges linearly (ratio of
# actual to predicted reduction near 0.4 at every step): with SciPy's rules
# the solver stops after a step that gains less than ftol * F with x still
# wrong in the third digit (scipy 1.17: ENSO 2.9 digits, MGH09 3.8, Thurber
# 4.4). lsqbox damps the overshooting Gauss-Newton steps (damping.py) and
# waits for the model's promise before an ftol verdict (driver.py), so it
# ends with more digits in fewer evaluations. Measured 2026-12-07 (lsqbox
# nfev / SciPy nfev, digits (SciPy's)): ENSO 18/21 4.5 (2.9), 12/17 4.7 (2.9);
# MGH09 s2 11/20 6.1 (3.8); Thurber 18/24 6.7 (4.4), 10/17 6.9 (4.4). On BoxBOD
# and Rat43 the confirmation costs one more step for a digit more: BoxBOD
# 23/22 6.1 (5.4), 8/7 6.1 (5.4); Rat43 25/24 5.9 (4.9), 8/7 5.7 (4.8).
LINEAR_CONVERGENCE = [("ENSO", 1), ("ENSO", 2), ("MGH09", 2), ("Thurber", 1),
                      ("Thurber", 2), ("BoxBOD", 1), ("BoxBOD", 2), ("Rat43", 1),
                      ("Rat43", 2)]


@pytest.mark.parametrize("name, start", LINEAR_CONVERGENCE)
def test_large_residual_problems_beat_scipy_in_digits_and_evaluations(name, start):
    from scipy.optimize import least_squares as scipy_least_squares
    ds = load(name)
    x0 = ds.start1 if start == 1 else ds.start2
    ours = least_squares(ds.residuals, x0)
    ref = scipy_least_squares(ds.residuals, x0)
    digits = float(np.min(lre(ours.x, ds.certified)))
    assert digits >= 4.0, digits
    assert digits >= float(np.min(lre(ref.x, ds.certified))) + 0.5
    extra = 1 if name in ("BoxBOD", "Rat43") else 0
    assert ours.nfev <= ref.nfev + extra and ours.njev <= ref.njev + extra, (
        ours.nfev, ref.nfev)
    assert ours.cost <= ref.cost * (1 + 1e-12)


# The same two rules on top of MINPACK's in method='lm' (its Gauss-Newton
# steps are lmpar's with lambda = 0). Measured 2026-12-07, lsqbox/SciPy nfev,
# digits (SciPy's): ENSO 17/21 4.7 (3.2), 12/19 4.7 (3.2); MGH09 s2 11/18 5.5
# (4.0); Thurber 23/34 5.5 (4.6), 10/19 6.7 (4.7); Bennett5 s2 8/203 5.3-5.6 (5.1).
LM_LINEAR_CONVERGENCE = [("ENSO", 1), ("ENSO", 2), ("MGH09", 2), ("Thurber", 1),
                         ("Thurber", 2), ("Bennett5", 2)]


@pytest.mark.parametrize("name, start", LM_LINEAR_CONVERGENCE)
def test_large_residual_problems_lm_beats_minpack(name, start):
    from scipy.optimize import least_squares as scipy_least_squares
    ds = load(name)
    x0 = ds.start1 if start == 1 else ds.start2
    ours = least_squares(ds.residuals, x0, method="lm")
    ref = scipy_least_squares(ds.residuals, x0, method="lm")
    digits = float(np.min(lre(ours.x, ds.certified)))
    assert digits >= 4.0, digits
    assert digits >= float(np.min(lre(ref.x, ds.certified)))
    assert ours.nfev < ref.nfev, (ours.nfev, ref.nfev)
    assert ours.cost <= ref.cost * (1 + 1e-12)
