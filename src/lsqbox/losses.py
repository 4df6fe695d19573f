"""Robust loss functions: the only place the loss touches residuals and Jacobians.

Conventions (SciPy's): a loss is ``rho(z)`` of ``z = f**2``; it returns an array
of shape (3, m) with rho, rho' and rho''. With a scale ``C = f_scale`` the cost is

    F(x) = 0.5 * sum_i C**2 * rho((f_i / C)**2).

Strategies never see the loss. They work on a robustified residual vector and
Jacobian whose Gauss-Newton model matches the second-order expansion of F
(Triggs et al., "Bundle adjustment - a modern synthesis", 2000, section 4.3):

    J_s = sqrt(rho' + 2 rho'' f**2) J          (clipped at EPS when not positive)
    f_s = rho' f / sqrt(rho' + 2 rho'' f**2)

so that ``J_s^T f_s = J^T (rho' f)`` is the true gradient.
"""
import numpy as np
from scipy.sparse import issparse, diags_array
from scipy.sparse.linalg import LinearOperator

EPS = np.finfo(float).eps

__all__ = ["LOSSES", "Loss", "make_loss"]


def _rows(r0, r1, r2):
    """rho, rho', rho'' stacked into a (3, m) array."""
    rho = np.empty((3, r0.size))
    rho[0] = r0
    rho[1] = r1
    rho[2] = r2
    return rho


def _linear(z):
    return _rows(z, 1.0, 0.0)


def _soft_l1(z):
    t = 1.0 + z
    root = np.sqrt(t)
    r1 = 1.0 / root                   # t^-0.5 (a square root is cheaper than a power)
    return _rows(2.0 * (root - 1.0), r1, -0.5 * r1 / t)


def _huber(z):
    rho = np.empty((3, z.size))
    inlier = z <= 1.0
    out = ~inlier
    zo = z[out]
    rho[0, inlier] = z[inlier]
    rho[1, inlier] = 1.0
    rho[2, inlier] = 0.0
    rho[0, out] = 2.0 * np.sqrt(zo) - 1.0
    rho[1, out] = zo ** -0.5
    rho[2, out] = -0.5 * zo ** -1.5
    return rho


def _cauchy(z):
    t = 1.0 + z
    return _rows(np.log1p(z), 1.0 / t, -1.0 / t ** 2)


def _arctan(z):
    t = 1.0 + z ** 2
    return _rows(np.arctan(z), 1.0 / t, -2.0 * z / t ** 2)


# rho(z) alone, for the cost of trial points (no derivatives needed).
_COST_ONLY = {
    "huber": lambda z: np.where(z <= 1.0, z, 2.0 * np.sqrt(z) - 1.0),
    "soft_l1": lambda z: 2.0 * (np.sqrt(1.0 + z) - 1.0),
    "cauchy": np.log1p,
    "arctan": np.arctan,
}

LOSSES = {
    "linear": None,
    "huber": _huber,
    "soft_l1": _soft_l1,
    "cauchy": _cauchy,
    "arctan": _arctan,
}


class Loss:
    """A loss with its scale, applied to residual vectors.

    ``rho_of_z`` is None for the linear loss (the fast path: nothing to robustify).
    """

    def __init__(self, rho_of_z, f_scale=1.0, user=False, rho0_of_z=None):
        self.rho_of_z = rho_of_z
        self.rho0_of_z = rho0_of_z
        self.f_scale = float(f_scale)
        self.user = user

    @property
    def is_linear(self):
        return self.rho_of_z is None

    def rho(self, f):
        """rho, rho', rho'' at the residuals, with `f_scale` folded in (shape (3, m))."""
        C2 = self.f_scale ** 2
        z = f * f if C2 == 1.0 else (f / self.f_scale) ** 2
        if self.rho_of_z is None:
            rho = _linear(z)
        elif self.user:
            rho = np.array(self.rho_of_z(z), dtype=float, copy=True)
            if rho.shape != (3, f.size):
                raise ValueError("The return value of `loss` callable has wrong shape.")
        else:
            rho = self.rho_of_z(z)           # a new array of ours
        if C2 != 1.0:
            rho[0] *= C2
            rho[2] /= C2
        return rho

    def cost(self, f):
        """0.5 * sum of the (scaled) loss of the residuals."""
        if self.rho_of_z is None:
            return 0.5 * float(np.dot(f, f))
        if self.rho0_of_z is not None:
            z = f * f if self.f_scale == 1.0 else (f / self.f_scale) ** 2
            return 0.5 * self.f_scale ** 2 * float(self.rho0_of_z(z).sum())
        return 0.5 * float(self.rho(f)[0].sum())

    def cost_and_robustify(self, J, f):
        """(cost, J_s, f_s) with the loss evaluated once."""
        if self.rho_of_z is None:
            return 0.5 * float(np.dot(f, f)), J, f
        rho = self.rho(f)
        J_s, f_s = self._robustify(J, f, rho)
        return 0.5 * float(rho[0].sum()), J_s, f_s

    def robustify(self, J, f):
        """Return (J_s, f_s) whose Gauss-Newton model is the loss's (module docstring).

        ``J`` may be a dense array, a sparse matrix or a LinearOperator.
        """
        if self.rho_of_z is None:
            return J, f
        return self._robustify(J, f, self.rho(f))

    @staticmethod
    def _robustify(J, f, rho):
        J_scale = rho[1] + 2.0 * rho[2] * f ** 2
        J_scale = np.sqrt(np.maximum(J_scale, EPS))
        f_s = f * (rho[1] / J_scale)
        return scale_rows(J, J_scale), f_s


def scale_rows(J, w):
    """diag(w) @ J for a dense, sparse or LinearOperator J."""
    if isinstance(J, LinearOperator):
        return LinearOperator(J.shape, matvec=lambda v: w * J.matvec(np.ravel(v)),
                              rmatvec=lambda u: J.rmatvec(w * np.ravel(u)), dtype=float)
    if issparse(J):
        return (diags_array(w) @ J).tocsr()
    return J * w[:, None]


def make_loss(loss, f_scale):
    """Build a `Loss` from SciPy's `loss` argument (validated already)."""
    if callable(loss):
        return Loss(loss, f_scale, user=True)
    return Loss(LOSSES[loss], f_scale, rho0_of_z=_COST_ONLY.get(loss))
