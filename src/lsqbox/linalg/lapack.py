"""Direct LAPACK calls for the small dense factorizations of every iteration.

numpy's and scipy.linalg's wrappers validate, copy and query workspace sizes
on every call; on the matrices of curve fitting (tens to hundreds of rows, a
few columns) that costs more than the factorization. The routines are looked
up once per dtype and the workspace size once per shape.
"""
import numpy as np
from scipy.linalg import get_lapack_funcs, svd

__all__ = ["svd_thin", "lstsq_min_norm", "qr_pivoted_qtf"]

_GESDD = {}
_GELSD = {}
_GEQP3 = {}


def _prepared(cache, A, prepare):
    """``prepare(A)`` (routines and workspace sizes) once per shape of A."""
    entry = cache.get(A.shape)
    if entry is None:
        if len(cache) > 256:          # a long session with many shapes
            cache.clear()
        entry = cache[A.shape] = prepare(A)
    return entry


def _prepare_gesdd(A):
    gesdd, gesdd_lwork = get_lapack_funcs(("gesdd", "gesdd_lwork"), (A,))
    work, info = gesdd_lwork(A.shape[0], A.shape[1], compute_uv=1, full_matrices=0)
    return gesdd, max(1, int(np.real(work)))


def _prepare_gelsd(A):
    gelsd, gelsd_lwork = get_lapack_funcs(("gelsd", "gelsd_lwork"), (A,))
    work, iwork, info = gelsd_lwork(A.shape[0], A.shape[1], 1, -1)
    return gelsd, max(1, int(np.real(work))), max(1, int(iwork))


def _prepare_geqp3(A):
    m, n = A.shape
    geqp3, ormqr = get_lapack_funcs(("geqp3", "ormqr"), (A,))
    lwork_qr = int(np.real(geqp3(A, lwork=-1)[3][0]))
    lwork_q = int(np.real(ormqr("L", "T", np.zeros((m, n), order="F"), np.zeros(n),
                                np.zeros((m, 1), order="F"), lwork=-1)[1][0]))
    below_diagonal = np.tri(n, n, -1, dtype=bool)      # np.triu costs more than the QR
    return geqp3, max(1, lwork_qr), ormqr, max(1, lwork_q), below_diagonal


def svd_thin(A):
    """Thin SVD: LAPACK's gesdd called directly (the wrappers of numpy and
    scipy.linalg cost more than the factorization itself on the small
    matrices of curve fitting), the slower but sturdier gesvd if it fails."""
    A = np.asarray(A, dtype=float)
    gesdd, lwork = _prepared(_GESDD, A, _prepare_gesdd)
    U, s, Vt, info = gesdd(A, compute_uv=True, lwork=lwork, full_matrices=False)
    if info == 0:
        return U, s, Vt
    try:
        return np.linalg.svd(A, full_matrices=False)
    except np.linalg.LinAlgError:
        return svd(A, full_matrices=False, check_finite=False, lapack_driver="gesvd")


def lstsq_min_norm(A, b):
    """Minimum-norm least-squares solution of A x = b (LAPACK gelsd, singular
    values below machine precision times the largest treated as zero, as
    numpy's ``lstsq(A, b, rcond=-1)``), called directly for the same reason."""
    A = np.asarray(A, dtype=float)
    m, n = A.shape
    gelsd, lwork, liwork = _prepared(_GELSD, A, _prepare_gelsd)
    if m < n:                        # gelsd's right-hand side has max(m, n) rows
        b = np.concatenate((b, np.zeros(n - m)))
    x, _, _, info = gelsd(A, b, lwork, liwork, -1)
    if info == 0:
        return x[:n]
    return np.linalg.lstsq(A, b[:m], rcond=-1)[0]


def qr_pivoted_qtf(A, f):
    """QR with column pivoting, A P = Q R (m >= n), by direct LAPACK calls.

    Returns ``(R, perm, qtf)``: the n x n upper-triangular R, the permutation
    (column j of A P is column perm[j] of A) and Q^T f (n components). R and the
    permutation are those of ``qr(A, mode='economic', pivoting=True)`` to the
    last bit; Q^T f comes from applying the Householder reflections to f
    (ormqr), as MINPACK's lmder does, without forming Q."""
    A = np.asarray(A, dtype=float)
    m, n = A.shape
    geqp3, lwork_qr, ormqr, lwork_q, below = _prepared(_GEQP3, A, _prepare_geqp3)
    qr, jpvt, tau, _, info = geqp3(A, lwork_qr)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK geqp3 failed (info={info})")
    R = qr[:n, :n].copy()
    R[below] = 0.0
    qtf, _, info = ormqr("L", "T", qr, tau, f.reshape(m, 1), lwork_q)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK ormqr failed (info={info})")
    return R, jpvt - 1, qtf[:n, 0]
