"""Unit tests for lsqbox.linalg.lapack: direct LAPACK calls give the wrappers' numbers."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import qr

from lsqbox.linalg.lapack import lstsq_min_norm, qr_pivoted_qtf, svd_thin


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("shape", [(100, 3), (7, 7), (3, 5), (1, 1)])
def test_svd_thin_reconstructs(rng, shape):
    A = rng.standard_normal(shape)
    U, s, Vt = svd_thin(A)
    k = min(shape)
    assert U.shape == (shape[0], k) and s.shape == (k,) and Vt.shape == (k, shape[1])
    assert_allclose((U * s) @ Vt, A, atol=1e-13)
    assert np.all(np.diff(s) <= 0)


@pytest.mark.parametrize("shape", [(100, 3), (12, 12), (3, 5)])
def test_lstsq_min_norm_matches_numpy(rng, shape):
    A = rng.standard_normal(shape)
    b = rng.standard_normal(shape[0])
    x = lstsq_min_norm(A, b)
    assert x.shape == (shape[1],)
    assert_allclose(x, np.linalg.lstsq(A, b, rcond=-1)[0], rtol=1e-12, atol=1e-13)


def test_lstsq_min_norm_of_an_exactly_singular_matrix_is_the_minimum_norm_solution():
    A = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])       # a zero column
    b = np.array([1.0, 2.0, 4.0])
    x = lstsq_min_norm(A, b)
    assert x[1] == 0.0
    assert_allclose(x, np.linalg.lstsq(A, b, rcond=-1)[0], rtol=1e-14)


@pytest.mark.parametrize("shape", [(100, 3), (11, 4), (5, 5)])
def test_qr_pivoted_qtf_gives_scipy_qr(rng, shape):
    J = rng.standard_normal(shape) * np.array([1e-3, 1.0, 1e3, 1.0, 1.0][:shape[1]])
    f = rng.standard_normal(shape[0])
    R, perm, qtf = qr_pivoted_qtf(J, f)
    Q_ref, R_ref, perm_ref = qr(J, mode="economic", pivoting=True, check_finite=False)
    assert_array_equal(R, R_ref)
    assert_array_equal(perm, perm_ref)
    # Q^T f by Householder application (ormqr), not through the formed Q
    assert_allclose(qtf, Q_ref.T.dot(f), rtol=1e-13, atol=1e-13 * np.abs(f).max())
    assert_allclose(J[:, perm], Q_ref @ R, atol=1e-10)
