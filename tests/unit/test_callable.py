"""Unit tests for lsqbox.jacobian.callable."""
import numpy as np
from numpy.testing import assert_array_equal
from scipy.sparse import coo_array, coo_matrix, csr_array, csr_matrix, issparse
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from lsqbox.jacobian.callable import CallableJacobian, as_jacobian


def test_as_jacobian_dense():
    J = as_jacobian([[1, 2], [3, 4]])
    assert isinstance(J, np.ndarray) and J.dtype == float
    assert_array_equal(J, [[1.0, 2.0], [3.0, 4.0]])
    # SciPy applies atleast_2d: a 1-d return is one row
    assert as_jacobian(np.array([1.0, 2.0])).shape == (1, 2)
    assert as_jacobian(3.0).shape == (1, 1)


def test_as_jacobian_sparse_keeps_flavour_and_becomes_csr():
    A = np.array([[1, 0], [0, 2]])
    for kind, cls in ((coo_array, csr_array), (coo_matrix, csr_matrix), (csr_array, csr_array)):
        J = as_jacobian(kind(A))
        assert issparse(J) and J.format == "csr" and isinstance(J, cls)
        assert J.dtype == float
        assert_array_equal(J.toarray(), A)


def test_as_jacobian_operator_untouched():
    op = aslinearoperator(np.eye(2))
    assert as_jacobian(op) is op


def test_callable_jacobian_passes_args_and_ignores_secants():
    calls = []

    def jac(x, a, b=1.0):
        calls.append((x.copy(), a, b))
        return np.diag(a * x + b)

    source = CallableJacobian(jac, (2.0,), {"b": 0.5})
    J = source.jacobian(np.array([1.0, 2.0]), np.zeros(2))
    assert_array_equal(J, np.diag([2.5, 4.5]))
    assert source.observe(np.zeros(2), np.zeros(2), np.ones(2), np.ones(2)) is None
    assert len(calls) == 1
    assert isinstance(source.jacobian(np.ones(2), None), np.ndarray)
    assert not isinstance(source.jacobian(np.ones(2), None), LinearOperator)


def test_callable_jacobian_cannot_refine():
    source = CallableJacobian(lambda x: np.eye(2))
    if hasattr(source, "refine"):
        assert source.refine(np.zeros(1), 2) is False
