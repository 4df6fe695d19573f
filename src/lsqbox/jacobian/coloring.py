"""Column grouping for sparse finite differences (Curtis, Powell & Reid, 1974).

Columns that share no nonzero row can be perturbed together: one evaluation
then gives all their derivatives. We colour the column-intersection graph
greedily in a seeded random order (a random order usually needs fewer groups
which journaled runs rely on: the same pattern always gives the same groups).
The natural column order is tried first: on banded patterns it is optimal
(bandwidth-many groups); a seeded random order is tried too and the grouping
with fewer groups wins.
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
    # int32: a narrower type would wrap around when columns share 256 rows.
    S = (S != 0).astype(np.int32)
    m, n = S.shape
    # Columns j, k conflict when they share a row: the pattern of S^T S.
    C = (S.T @ S).tocsr()
    indptr = C.indptr.tolist()
    indices = C.indices.tolist()
    best = _greedy(range(n), indptr, indices, n)
    # A row with k nonzeros needs k groups: no order can beat that bound.
    lower_bound = int(np.diff(S.tocsr().indptr).max()) if m else 0
    if n > 1 and best.max() + 1 > lower_bound:
        order = np.random.default_rng(seed).permutation(n).tolist()
        shuffled = _greedy(order, indptr, indices, n)
        if shuffled.max() < best.max():
            best = shuffled
    return best


def _greedy(order, indptr, indices, n):
    """First-fit colouring of the conflict graph in the given column order."""
    groups = [-1] * n
    for j in order:
        used = {groups[k] for k in indices[indptr[j]:indptr[j + 1]]}
        g = 0
        while g in used:
            g += 1
        groups[j] = g
    return np.array(groups, dtype=int)
