"""Unit tests for lsqbox.linalg.operators against dense equivalents."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse import coo_array, csr_array, csr_matrix, issparse
from scipy.sparse.linalg import LinearOperator, aslinearoperator, lsmr

from lsqbox.linalg.operators import (column_norms, jac_scale, masked_scaled_operator,
                                     regularized_lsq_operator, scale_columns)

KINDS = ["dense", "csr_array", "csr_matrix", "operator"]


def as_kind(J, kind):
    return {"dense": lambda: J.copy(), "csr_array": lambda: csr_array(J),
            "csr_matrix": lambda: csr_matrix(J),
            "operator": lambda: aslinearoperator(J)}[kind]()


def to_dense(A):
    if isinstance(A, LinearOperator):
        return A.matmat(np.eye(A.shape[1]))
    if issparse(A):
        return A.toarray()
    return np.asarray(A)


@pytest.fixture
def J():
    rng = np.random.default_rng(0)
    J = rng.normal(size=(7, 4))
    J[np.abs(J) < 0.5] = 0.0
    return J


def check_operator(op, ref, rng, two_d=True):
    m, n = ref.shape
    assert op.shape == ref.shape
    v, u = rng.normal(size=n), rng.normal(size=m)
    assert_allclose(op.dot(v), ref @ v, rtol=1e-13, atol=1e-14)
    assert_allclose(op.T.dot(u), ref.T @ u, rtol=1e-13, atol=1e-14)
    if two_d:
        X = rng.normal(size=(n, 3))
        assert_allclose(op.dot(X), ref @ X, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_scale_columns(J, kind):
    d = np.array([0.5, 2.0, 0.0, 3.0])
    out = scale_columns(as_kind(J, kind), d)
    ref = J @ np.diag(d)
    assert_allclose(to_dense(out), ref, rtol=1e-14)
    if kind == "operator":
        assert isinstance(out, LinearOperator)
        check_operator(out, ref, np.random.default_rng(1))
    elif kind == "dense":
        assert isinstance(out, np.ndarray)
    else:
        assert issparse(out) and out.format == "csr"


def test_scale_columns_does_not_modify_input(J):
    J0 = J.copy()
    scale_columns(J, np.arange(4.0))
    assert_array_equal(J, J0)


@pytest.mark.parametrize("kind", KINDS)
def test_regularized_lsq_operator(J, kind):
    diag = np.array([1.0, 0.0, 0.5, 2.0])
    op = regularized_lsq_operator(as_kind(J, kind), diag)
    ref = np.vstack((J, np.diag(diag)))
    assert isinstance(op, LinearOperator)
    check_operator(op, ref, np.random.default_rng(2))
    assert_allclose(to_dense(op), ref, rtol=1e-14)
    # LSMR on it solves the regularized problem min ||J x - f||^2 + ||diag x||^2
    f = np.random.default_rng(3).normal(size=J.shape[0])
    x = lsmr(op, np.concatenate((f, np.zeros(4))), atol=1e-14, btol=1e-14)[0]
    x_ref = np.linalg.solve(J.T @ J + np.diag(diag ** 2), J.T @ f)
    assert_allclose(x, x_ref, rtol=1e-8)


@pytest.mark.parametrize("kind", KINDS)
def test_masked_scaled_operator(J, kind):
    scale = np.array([0.5, 2.0, 1.5, 3.0])
    active = np.array([False, True, False, True])
    op = masked_scaled_operator(as_kind(J, kind), scale, active)
    ref = J * np.where(active, 0.0, scale)
    assert isinstance(op, LinearOperator)
    check_operator(op, ref, np.random.default_rng(4))
    # the masked columns are exactly zero: rmatvec gives exact zeros there
    out = op.rmatvec(np.ones(J.shape[0]))
    assert_array_equal(out[active], 0.0)


def test_scale_columns_operator_rmatmat(J):
    """BUG (latent; SciPy's right_multiplied_operator shares it): the rmatvec of
    the operators from `scale_columns` and `masked_scaled_operator` is
    ``J.rmatvec(y) * d``; with y of shape (m, 1), which LinearOperator's default
    rmatmat passes, this broadcasts (n, 1) * (n,) to (n, n), so ``op.T @ Y``
    raises ValueError."""
    rng = np.random.default_rng(5)
    Y = rng.normal(size=(J.shape[0], 2))
    d = np.array([0.5, 2.0, 1.5, 3.0])
    op = scale_columns(aslinearoperator(J), d)
    assert_allclose(op.T @ Y, (J * d).T @ Y, rtol=1e-13)
    active = np.array([False, True, False, False])
    op = masked_scaled_operator(J, d, active)
    assert_allclose(op.T @ Y, (J * np.where(active, 0, d)).T @ Y, rtol=1e-13)


@pytest.mark.parametrize("kind", ["dense", "csr_array", "csr_matrix", "coo"])
def test_column_norms(J, kind):
    A = coo_array(J) if kind == "coo" else as_kind(J, kind)
    norms = column_norms(A)
    assert norms.shape == (4,)
    assert_allclose(norms, np.linalg.norm(J, axis=0), rtol=1e-14)


def test_jac_scale_zero_column_and_running_max():
    J = np.array([[3.0, 0.0, 1.0], [4.0, 0.0, 0.0]])
    scale, scale_inv = jac_scale(J)
    assert_allclose(scale_inv, [5.0, 1.0, 1.0])
    assert_allclose(scale, 1 / scale_inv)
    scale, scale_inv = jac_scale(csr_array(J), np.array([2.0, 7.0, 0.5]))
    assert_allclose(scale_inv, [5.0, 7.0, 1.0])
    assert_allclose(scale, [0.2, 1 / 7, 1.0])
