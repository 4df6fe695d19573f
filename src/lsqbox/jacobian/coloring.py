"""Column grouping for sparse finite differences (Curtis, Powell & Reid, 1974).

Columns that share no nonzero row can be perturbed together: one evaluation
then gives all their derivatives. We colour the column-intersection graph
greedily in a seeded random order (a random order usually needs fewer groups
than the natural one on structured patterns, and the seed makes every run ask
for the same evaluation points, which journaled runs rely on).
"""
import numpy as np
from scipy.sparse import csc_array, issparse

__all__ = ["group_columns"]


def group_columns(sparsity, seed=0):
    """Greedy CPR grouping.

    Parameters
    ----------
    sparsity : array_like or sparse, shape (m, n)
        Nonzero pattern of the Jacobian.
    seed : int
        Seed for the column order.

    Returns
    -------
    groups : ndarray of int, shape (n,)
        Group number of each column, 0 .. n_groups - 1.
    """
    S = csc_array(sparsity if issparse(sparsity) else np.atleast_2d(sparsity))
    S = (S != 0).astype(np.int8)
    m, n = S.shape
    order = np.random.default_rng(seed).permutation(n)
    # Columns j, k conflict when they share a row: the pattern of S^T S.
    C = (S.T @ S).tocsr()
    indptr = C.indptr.tolist()
    indices = C.indices.tolist()
    groups = [-1] * n
    for j in order.tolist():
        used = {groups[k] for k in indices[indptr[j]:indptr[j + 1]]}
        g = 0
        while g in used:
            g += 1
        groups[j] = g
    return np.asarray(groups, dtype=int)
