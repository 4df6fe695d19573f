"""Sanity checks of the test-problem library itself (no solver involved).

* analytic Jacobians agree with central finite differences and with the
  complex-step derivative (which also proves ``fun`` is complex-safe, as
  ``jac='cs'`` requires);
* the sparse Jacobian and sparsity pattern agree with the dense Jacobian;
* shapes, feasibility of ``x0`` and the reference optimal values.
"""

import os
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

sys.path.insert(0, os.path.dirname(__file__))
import problems  # noqa: E402

NAMES = problems.names()


def _points(p):
    """x0, a seeded random perturbation of x0, and x_min when known."""
    rng = np.random.default_rng(1234)
    pts = [np.asarray(p.x0, float)]
    scale = np.maximum(np.abs(p.x0), 0.1)
    pts.append(p.x0 + 0.1 * scale * rng.standard_normal(p.n))
    if p.x_min is not None:
        pts.append(np.asarray(p.x_min, float))
    return pts


def _central_diff(fun, x):
    """Central differences and a per-entry bound on their rounding error."""
    x = np.asarray(x, float)
    J = np.empty((fun(x).size, x.size))
    rounding = np.empty_like(J)
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        fp, fm = fun(x + e), fun(x - e)
        J[:, j] = (fp - fm) / (2 * h)
        rounding[:, j] = 4 * np.finfo(float).eps * np.maximum(
            np.abs(fp), np.abs(fm)) / (2 * h)
    return J, rounding


def _complex_step(fun, x):
    x = np.asarray(x, float)
    J = np.empty((fun(x).size, x.size))
    for j in range(x.size):
        h = 1e-20 * max(1.0, abs(x[j]))
        xc = x.astype(complex)
        xc[j] += 1j * h
        J[:, j] = fun(xc).imag / h
    return J


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_x0(name):
    p = problems.get(name)
    x0 = np.asarray(p.x0, float)
    assert x0.shape == (p.n,)
    f = p.fun(x0)
    assert isinstance(f, np.ndarray) and f.shape == (p.m,)
    assert np.all(np.isfinite(f))
    J = p.jac(x0)
    assert isinstance(J, np.ndarray) and J.shape == (p.m, p.n)
    lb, ub = (np.broadcast_to(np.asarray(b, float), (p.n,)) for b in p.bounds)
    assert np.all(lb <= x0) and np.all(x0 <= ub)
    assert np.all(lb < ub)
    assert p.is_bounded == name.endswith("_bounded")


@pytest.mark.parametrize("name", NAMES)
def test_jacobian_vs_finite_differences(name):
    p = problems.get(name)
    for x in _points(p):
        J = p.jac(x)
        Jfd, rounding = _central_diff(p.fun, x)
        # truncation error O(h^2), plus rounding error
        tol = 1e-6 * np.maximum(np.abs(J), 1.0) + rounding
        bad = np.abs(J - Jfd) > tol
        assert not bad.any(), (name, x, np.argwhere(bad), (J - Jfd)[bad])


@pytest.mark.parametrize("name", NAMES)
def test_jacobian_vs_complex_step(name):
    p = problems.get(name)
    for x in _points(p):
        assert_allclose(p.jac(x), _complex_step(p.fun, x),
                        rtol=1e-12, atol=1e-12 * np.max(np.abs(p.jac(x))),
                        err_msg=name)


@pytest.mark.parametrize("name", [k for k in NAMES
                                  if problems.get(k).has_sparse])
def test_sparse_jacobian_and_pattern(name):
    p = problems.get(name)
    pattern = sp.csr_array(p.jac_sparsity)
    assert pattern.shape == (p.m, p.n)
    for x in _points(p):
        Js = p.jac_sparse(x)
        assert sp.issparse(Js) and Js.shape == (p.m, p.n)
        Jd = p.jac(x)
        assert_allclose(Js.toarray(), Jd, rtol=0, atol=0)
        # every structural nonzero of J is inside the pattern
        assert np.all(pattern.toarray()[Jd != 0] != 0)


@pytest.mark.parametrize("name", [k for k in NAMES
                                  if problems.get(k).x_min is not None])
def test_reference_minimum(name):
    p = problems.get(name)
    f = p.fun(np.asarray(p.x_min, float))
    ss = float(f @ f)
    if p.sum_sq_min is not None:
        assert ss == pytest.approx(p.sum_sq_min, rel=1e-6, abs=1e-12)
    # first-order optimality at x_min (unbounded problems only)
    if not p.is_bounded:
        g = p.jac(np.asarray(p.x_min, float)).T @ f
        assert np.max(np.abs(g)) < 1e-6 * max(1.0, ss)


def test_exp_fit_data_is_seeded():
    t1, y1 = problems.exp_fit_data(seed=5)
    t2, y2 = problems.exp_fit_data(seed=5)
    assert_allclose(y1, y2, rtol=0, atol=0)
    assert_allclose(t1, np.linspace(0, 10, 15))
