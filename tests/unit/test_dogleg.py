"""Unit tests for lsqbox.linalg.dogleg.dogleg_step."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from lsqbox.linalg.dogleg import dogleg_step
from lsqbox.linalg.quadratic import build_quadratic_1d

inf = np.inf


def setup(seed, n=3, m=6):
    rng = np.random.default_rng(seed)
    J = rng.normal(size=(m, n))
    f = rng.normal(size=m) * 3
    g = J.T @ f
    newton = np.linalg.lstsq(J, -f, rcond=None)[0]
    a, b = build_quadratic_1d(J, g, -g)
    return rng, J, f, g, newton, a, b


def q(J, g, s):
    return 0.5 * np.sum((J @ s) ** 2) + g @ s


def cauchy_point(J, g, lo, hi):
    """Model minimizer along -g inside the box [lo, hi] (independent code)."""
    t_box = np.inf
    for gi, l, h in zip(g, lo, hi):
        if gi > 0:
            t_box = min(t_box, -l / gi)
        elif gi < 0:
            t_box = min(t_box, -h / gi)
    t_star = (g @ g) / np.sum((J @ g) ** 2)
    return -min(t_star, t_box) * g


def test_newton_step_returned_when_it_fits():
    _, J, f, g, newton, a, b = setup(0)
    x = np.zeros(3)
    step, hits, tr_hit = dogleg_step(x, newton, g, a, b, np.full(3, 1e6),
                                     np.full(3, -inf), np.full(3, inf))
    assert step is newton
    assert_array_equal(hits, 0)
    assert tr_hit is False
    # exactly on the box face still counts as inside
    tr = np.abs(newton)
    step, hits, tr_hit = dogleg_step(x, newton, g, a, b, tr, np.full(3, -inf), np.full(3, inf))
    assert step is newton and not tr_hit


@pytest.mark.parametrize("seed", range(30))
def test_step_on_dogleg_path_inside_box(seed):
    rng, J, f, g, newton, a, b = setup(seed)
    n = 3
    x = rng.uniform(-1, 1, n)
    scale = np.abs(newton) + 0.1
    kind = seed % 3
    if kind == 0:      # trust region binds, no bounds
        tr = scale * rng.uniform(0.05, 0.6)
        lb, ub = np.full(n, -inf), np.full(n, inf)
    elif kind == 1:    # bounds bind, huge trust region
        tr = np.full(n, 1e6)
        lb = x - np.abs(newton) * rng.uniform(0.1, 0.7, n)
        ub = x + np.abs(newton) * rng.uniform(0.1, 0.7, n)
    else:              # both
        tr = scale * rng.uniform(0.2, 0.8)
        lb = x - np.abs(newton) * rng.uniform(0.1, 2.0, n)
        ub = x + np.abs(newton) * rng.uniform(0.1, 2.0, n)
    lo = np.maximum(lb - x, -tr)
    hi = np.minimum(ub - x, tr)
    if np.all((newton >= lo) & (newton <= hi)):
        pytest.skip("Newton step fits for this draw")

    step, hits, tr_hit = dogleg_step(x, newton, g, a, b, tr, lb, ub)
    tol = 1e-12 * (1 + np.abs(hi - lo))
    # inside the box
    assert np.all(step >= lo - tol) and np.all(step <= hi + tol)
    # on a face of the box
    on_lo = np.isclose(step, lo, rtol=1e-12, atol=1e-14)
    on_hi = np.isclose(step, hi, rtol=1e-12, atol=1e-14)
    assert np.any(on_lo | on_hi)
    # on the dogleg path: c + t (N - c) with t in [0, 1]
    c = cauchy_point(J, g, lo, hi)
    d = newton - c
    t = (step - c) @ d / (d @ d)
    assert -1e-12 <= t <= 1 + 1e-12
    assert_allclose(step, c + t * d, rtol=1e-10, atol=1e-12)
    # the model decreases along the path from the Cauchy point
    assert q(J, g, step) <= q(J, g, c) + 1e-12 * abs(q(J, g, c))
    # bound_hits: the original bound faces the step lands on
    expected_hits = np.zeros(n, dtype=int)
    expected_hits[on_lo & (lb - x >= -tr)] = -1
    expected_hits[on_hi & (ub - x <= tr)] = 1
    assert_array_equal(hits, expected_hits)
    assert hits.dtype.kind == "i"
    # tr_hit: the step stops on a trust-region face
    expected_tr = bool(np.any((on_lo & (lo == -tr)) | (on_hi & (hi == tr))))
    assert tr_hit == expected_tr
    if kind == 0:
        assert tr_hit and not np.any(hits)
    if kind == 1:
        assert not tr_hit and np.any(hits)


def test_simple_two_variable_case():
    """Identity model: Newton step = -f, Cauchy step = -g clipped/minimized."""
    J = np.eye(2)
    f = np.array([4.0, 1.0])
    g = J.T @ f
    newton = -f
    a, b = build_quadratic_1d(J, g, -g)
    x = np.zeros(2)
    # trust-region box of half-width 1: Cauchy point = -g/4 (hits x-face),
    # then the path towards the Newton point (-4, -1) stays on the x = -1 face.
    step, hits, tr_hit = dogleg_step(x, newton, g, a, b, np.ones(2),
                                     np.full(2, -inf), np.full(2, inf))
    # Cauchy point: t* = 1 would give -g, but the box stops at t = 1/4: c = (-1, -0.25)
    # direction N - c = (-3, -0.75) leaves the box immediately through x = -1
    assert_allclose(step, [-1.0, -0.25], atol=1e-15)
    assert tr_hit is True
    assert_array_equal(hits, [0, 0])
    # the same with a lower bound at x - 1 instead of the trust region
    step, hits, tr_hit = dogleg_step(x, newton, g, a, b, np.full(2, 10.0),
                                     np.array([-1.0, -inf]), np.full(2, inf))
    assert_allclose(step, [-1.0, -0.25], atol=1e-15)
    assert tr_hit is False
    assert_array_equal(hits, [-1, 0])
