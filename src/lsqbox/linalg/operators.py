"""LinearOperator wrappers and column scaling for Jacobians of any kind.

A Jacobian is a dense ndarray, a scipy.sparse array/matrix, or a LinearOperator.
These helpers build the scaled and augmented operators the LSMR-based steps need
without forming them.
"""
import numpy as np
from scipy.sparse import issparse, diags_array
from scipy.sparse.linalg import LinearOperator, aslinearoperator

__all__ = ["scale_columns", "regularized_lsq_operator", "column_norms",
           "jac_scale", "masked_scaled_operator"]


def scale_columns(J, d):
    """J diag(d) for a dense, sparse or LinearOperator J (not copied for operators)."""
    if isinstance(J, LinearOperator):
        return LinearOperator(J.shape, matvec=lambda x: J.matvec(np.ravel(x) * d),
                              rmatvec=lambda y: J.rmatvec(np.ravel(y)) * d, dtype=float)
    if issparse(J):
        return (J @ diags_array(d)).tocsr()
    return J * d


def regularized_lsq_operator(J, diag):
    """The (m + n) x n operator [J; diag(diag)] for regularized least squares."""
    J = aslinearoperator(J)
    m, n = J.shape

    def matvec(x):
        x = np.ravel(x)
        return np.hstack((J.matvec(x), diag * x))

    def rmatvec(y):
        y = np.ravel(y)
        return J.rmatvec(y[:m]) + diag * y[m:]

    return LinearOperator((m + n, n), matvec=matvec, rmatvec=rmatvec, dtype=float)


def masked_scaled_operator(J, scale, active):
    """J diag(scale) with the columns in `active` zeroed (dogbox's free subspace)."""
    J = aslinearoperator(J)
    d = np.where(active, 0.0, scale)
    return LinearOperator(J.shape, matvec=lambda x: J.matvec(np.ravel(x) * d),
                          rmatvec=lambda y: d * J.rmatvec(np.ravel(y)), dtype=float)


def column_norms(J):
    """Euclidean norms of the columns of a dense or sparse J."""
    if issparse(J):
        return np.sqrt(np.asarray(J.power(2).sum(axis=0)).ravel())
    return np.sqrt(np.einsum("ij,ij->j", J, J))


def jac_scale(J, scale_inv_old=None):
    """``x_scale='jac'``: scale from the running maximum of column norms (Moré 1978).

    Returns (scale, scale_inv); zero columns get scale 1.
    """
    scale_inv = column_norms(J)
    scale_inv[scale_inv == 0] = 1.0
    if scale_inv_old is not None:
        scale_inv = np.maximum(scale_inv, scale_inv_old)
    return 1.0 / scale_inv, scale_inv
