"""The user's ``jac(x, *args, **kwargs)`` as a Jacobian source."""
import numpy as np
from scipy.sparse import issparse
from scipy.sparse.linalg import LinearOperator

__all__ = ["CallableJacobian", "as_jacobian"]


def as_jacobian(J):
    """Normalize what a user's jac returned: CSR (of the same sparse flavour) for
    sparse input, operators as they are, everything else a 2-d float array
    (SciPy applies np.atleast_2d)."""
    if type(J) is np.ndarray and J.ndim == 2 and J.dtype == np.float64:
        return J
    if issparse(J):
        return J.tocsr().astype(float)
    if isinstance(J, LinearOperator):
        return J
    return np.atleast_2d(np.asarray(J, dtype=float))


class CallableJacobian:
    """Calls the user's function; ignores secant information."""

    def __init__(self, jac, args=(), kwargs=None):
        self.jac_fun = jac
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.n_evaluations = 0

    def jacobian(self, x, f):
        self.n_evaluations += 1
        return as_jacobian(self.jac_fun(x, *self.args, **self.kwargs))

    def updated(self, x, f):
        """No secant updates: nothing changes after a rejected step."""
        return None

    def observe(self, x_from, f_from, x_to, f_to, ratio=None, shrunk=False):
        """Secant information from a trial step; an exact Jacobian needs none."""

    def refine(self, x, status):
        """The user's Jacobian is as good as it gets."""
        return False
