"""Unit tests for lsqbox.linalg.quadratic against direct formulas."""
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.sparse import csr_array
from scipy.sparse.linalg import aslinearoperator

from lsqbox.linalg.quadratic import (QuadraticOnSpan, build_quadratic_1d,
                                     evaluate_quadratic, minimize_quadratic_1d)


def q_direct(J, g, s, diag=None):
    val = 0.5 * s @ J.T @ J @ s + g @ s
    if diag is not None:
        val += 0.5 * s @ np.diag(diag) @ s
    return val


@pytest.fixture
def model():
    rng = np.random.default_rng(0)
    J = rng.normal(size=(6, 4))
    g = rng.normal(size=4)
    diag = rng.uniform(0, 2, 4)
    return J, g, diag, rng


@pytest.mark.parametrize("kind", ["dense", "sparse", "operator"])
@pytest.mark.parametrize("use_diag", [False, True])
def test_evaluate_quadratic_single_and_batch(model, kind, use_diag):
    J, g, diag, rng = model
    diag = diag if use_diag else None
    Jk = {"dense": J, "sparse": csr_array(J), "operator": aslinearoperator(J)}[kind]
    s = rng.normal(size=4)
    assert evaluate_quadratic(Jk, g, s, diag) == pytest.approx(q_direct(J, g, s, diag), rel=1e-13)
    S = rng.normal(size=(5, 4))
    batch = evaluate_quadratic(Jk, g, S, diag)
    assert batch.shape == (5,)
    assert_allclose(batch, [q_direct(J, g, row, diag) for row in S], rtol=1e-13)


def test_evaluate_quadratic_zero_step(model):
    J, g, diag, _ = model
    assert evaluate_quadratic(J, g, np.zeros(4), diag) == 0.0


@pytest.mark.parametrize("kind", ["dense", "sparse", "operator"])
@pytest.mark.parametrize("use_diag", [False, True])
def test_build_quadratic_1d(model, kind, use_diag):
    J, g, diag, rng = model
    diag = diag if use_diag else None
    Jk = {"dense": J, "sparse": csr_array(J), "operator": aslinearoperator(J)}[kind]
    s, s0 = rng.normal(size=4), rng.normal(size=4)
    a, b = build_quadratic_1d(Jk, g, s, diag=diag)
    a_ref = 0.5 * s @ J.T @ J @ s + (0.5 * s @ (diag * s) if diag is not None else 0)
    assert a == pytest.approx(a_ref, rel=1e-13)
    assert b == pytest.approx(g @ s, rel=1e-13)
    a, b, c = build_quadratic_1d(Jk, g, s, diag=diag, s0=s0)
    assert c == pytest.approx(q_direct(J, g, s0, diag), rel=1e-13)
    for t in (-2.0, -0.3, 0.0, 0.7, 3.0):
        assert a * t ** 2 + b * t + c == pytest.approx(q_direct(J, g, s0 + t * s, diag),
                                                       rel=1e-12, abs=1e-12)



@pytest.mark.parametrize("kind", ["dense", "sparse", "operator"])
@pytest.mark.parametrize("use_diag", [False, True])
def test_quadratic_on_span_matches_the_model_along_each_direction(model, kind, use_diag):
    """trf's reflective step selection: values and 1-D restrictions along
    three directions from one product with J agree with the direct model."""
    J, g, diag, rng = model
    diag = diag if use_diag else None
    Jk = {"dense": J, "sparse": csr_array(J), "operator": aslinearoperator(J)}[kind]
    S = rng.normal(size=(3, 4))
    q = QuadraticOnSpan(Jk, g, S, diag=diag)
    assert_allclose(q.E, S @ S.T, rtol=1e-14)
    for i in range(3):
        for t in (-1.5, 0.0, 0.4, 2.0):
            assert q.value(i, t) == pytest.approx(q_direct(J, g, t * S[i], diag),
                                                  rel=1e-12, abs=1e-13)
        a, b, c = q.line(i)
        assert (a, b, c) == pytest.approx((*build_quadratic_1d(J, g, S[i], diag=diag), 0.0),
                                          rel=1e-12)
        for j in range(3):
            t0 = 0.7
            a, b, c = q.line(j, i, t0)
            assert (a, b, c) == pytest.approx(
                build_quadratic_1d(J, g, S[j], diag=diag, s0=t0 * S[i]), rel=1e-12)


@pytest.mark.parametrize("a, b, lb, ub, c", [
    (1.0, -2.0, -5.0, 5.0, 0.0),     # interior minimum at t = 1
    (1.0, -2.0, 2.0, 5.0, 0.3),      # minimum left of the interval: lb
    (1.0, -2.0, -5.0, 0.5, 0.0),     # minimum right of the interval: ub
    (-1.0, 0.5, -1.0, 2.0, 0.0),     # concave: an end point
    (-1.0, -0.5, -2.0, 1.0, 1.0),
    (0.0, 3.0, -1.0, 1.0, 0.0),      # linear
    (0.0, -3.0, -1.0, 1.0, 2.0),
    (0.0, 0.0, -1.0, 1.0, 0.5),      # constant
    (2.0, 1.0, 0.0, 0.0, 0.0),       # degenerate interval
])
def test_minimize_quadratic_1d_vs_grid(a, b, lb, ub, c):
    t, value = minimize_quadratic_1d(a, b, lb, ub, c=c)
    assert lb <= t <= ub
    assert value == pytest.approx(a * t ** 2 + b * t + c, abs=1e-15)
    grid = np.linspace(lb, ub, 100001)
    assert value <= np.min(a * grid ** 2 + b * grid + c) + 1e-12


def test_minimize_quadratic_1d_interior_point_is_exact():
    t, value = minimize_quadratic_1d(2.0, -6.0, 0.0, 10.0)
    assert t == 1.5
    assert value == -4.5


def test_minimize_quadratic_1d_infinite_upper_bound():
    t, value = minimize_quadratic_1d(1.0, -4.0, 0.0, np.inf)
    assert t == 2.0 and value == -4.0


def test_minimize_quadratic_1d_takes_the_first_minimizer_like_argmin():
    # a = 0: the values at lb and ub tie; numpy's argmin (the former code) took lb.
    t, value = minimize_quadratic_1d(0.0, 0.0, -1.0, 2.0, c=3.0)
    assert (t, value) == (-1.0, 3.0)
    assert isinstance(t, np.float64) and isinstance(value, np.float64)


def test_minimize_quadratic_1d_reports_nan_values():
    t, value = minimize_quadratic_1d(np.nan, 1.0, 0.0, 1.0)
    assert t == 0.0 and np.isnan(value)
