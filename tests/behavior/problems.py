"""A small library of nonlinear least-squares test problems.

No pytest code lives here: the module only builds :class:`Problem` objects
that the behaviour tests (``test_problems.py``, ``test_parity.py``) consume.

Most problems come from

    J. J. More, B. S. Garbow and K. E. Hillstrom, "Testing Unconstrained
    Optimization Software", ACM Trans. Math. Softw. 7(1), 17-41 (1981)

and keep MGH's residual definitions and standard starting points; the problem
number in that paper is given in each docstring.  Residuals follow the
convention ``f(x) = model(x) - data`` or MGH's own sign, whichever MGH uses
(the sign does not change the sum of squares).

Every residual function is written so that it also works with complex ``x``
(needed for ``jac='cs'``): no ``abs``, ``min``/``max`` or in-place writes into
real arrays.  Every Jacobian is analytic and dense (an ``(m, n)`` ndarray);
the Broyden tridiagonal problem additionally provides a sparse analytic
Jacobian and its sparsity pattern.

Bounded variants are separate registry entries named ``<name>_bounded``.  They
were designed so that at least one bound is active at the solution (checked
with SciPy in tight tolerances), except where noted, and so that the bounded
minimiser is unique.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np
import scipy.sparse as sp

__all__ = ["Problem", "PROBLEMS", "get", "names", "variant", "BASE_NAMES",
           "BOUNDED_NAMES", "exp_fit_data"]

INF = np.inf


@dataclasses.dataclass(frozen=True)
class Problem:
    """One least-squares test problem.

    Attributes
    ----------
    name : registry key.
    fun : ``fun(x) -> (m,)`` residuals (complex-safe).
    jac : ``jac(x) -> (m, n)`` dense analytic Jacobian.
    x0 : starting point (feasible w.r.t. ``bounds``).
    m, n : number of residuals / variables.
    bounds : ``(lb, ub)`` as accepted by ``least_squares``; ``(-inf, inf)`` if
        unbounded.
    jac_sparsity : optional sparsity pattern (scipy.sparse, ``(m, n)``).
    jac_sparse : optional analytic Jacobian returning a scipy.sparse matrix.
    f_scale : a sensible ``f_scale`` for robust losses on this problem.
    sum_sq_min : reference value of ``sum(f**2)`` at the (local) minimiser
        reached from ``x0`` (MGH values where MGH gives one; for bounded
        variants and data-generated problems, computed with SciPy in tight
        tolerances), or ``None``.
    x_min : reference minimiser, or ``None``.
    unique_min : whether the minimiser reached from ``x0`` is isolated and
        well determined, so that two correct solvers must agree on ``x``.
    x_rtol, x_atol : how closely two correct solvers run with default
        tolerances can be expected to agree on ``x`` (see ``test_parity``).
    note : free text.
    """

    name: str
    fun: Callable
    jac: Callable
    x0: np.ndarray
    m: int
    n: int
    bounds: tuple = (-INF, INF)
    jac_sparsity: Optional[object] = None
    jac_sparse: Optional[Callable] = None
    f_scale: float = 1.0
    sum_sq_min: Optional[float] = None
    x_min: Optional[np.ndarray] = None
    unique_min: bool = True
    x_rtol: float = 1e-6
    x_atol: float = 1e-8
    note: str = ""

    @property
    def is_bounded(self) -> bool:
        lb, ub = (np.broadcast_to(np.asarray(b, float), (self.n,))
                  for b in self.bounds)
        return bool(np.any(np.isfinite(lb)) or np.any(np.isfinite(ub)))

    @property
    def has_sparse(self) -> bool:
        return self.jac_sparsity is not None


def _dtype(x):
    """Result dtype for residual arrays built from ``x`` (real or complex)."""
    return np.result_type(np.asarray(x).dtype, np.float64)


# --------------------------------------------------------------------------
# MGH 1: Rosenbrock, m = n = 2
# --------------------------------------------------------------------------

def _rosenbrock_fun(x):
    return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def _rosenbrock_jac(x):
    return np.array([[-20.0 * x[0], 10.0],
                     [-1.0, 0.0]])


def rosenbrock():
    """MGH #1.  f* = 0 at (1, 1)."""
    return Problem("rosenbrock", _rosenbrock_fun, _rosenbrock_jac,
                   x0=np.array([-1.2, 1.0]), m=2, n=2,
                   sum_sq_min=0.0, x_min=np.array([1.0, 1.0]))


def rosenbrock_bounded():
    """Rosenbrock with x[1] >= 1.5 (SciPy's docstring example).

    MGH's x0 is infeasible, so x0 = (2, 2) as in SciPy's docs.  Solution
    (1.22437075, 1.5), cost 0.0252131, second bound active.
    """
    return Problem("rosenbrock_bounded", _rosenbrock_fun, _rosenbrock_jac,
                   x0=np.array([2.0, 2.0]), m=2, n=2,
                   bounds=(np.array([-INF, 1.5]), INF),
                   sum_sq_min=2 * 0.025213093946805685,
                   x_min=np.array([1.2243707487, 1.5]))


# --------------------------------------------------------------------------
# MGH 2: Freudenstein and Roth, m = n = 2
# --------------------------------------------------------------------------

def _freudenstein_roth_fun(x):
    x1, x2 = x[0], x[1]
    return np.array([-13.0 + x1 + ((5.0 - x2) * x2 - 2.0) * x2,
                     -29.0 + x1 + ((x2 + 1.0) * x2 - 14.0) * x2])


def _freudenstein_roth_jac(x):
    x2 = x[1]
    return np.array([[1.0, 10.0 * x2 - 3.0 * x2 ** 2 - 2.0],
                     [1.0, 3.0 * x2 ** 2 + 2.0 * x2 - 14.0]])


def freudenstein_roth():
    """MGH #2.  f* = 0 at (5, 4); local minimum f = 48.9842... at
    (11.41..., -0.8968...), which is where Gauss-Newton type methods started
    from MGH's x0 = (0.5, -2) usually end up."""
    return Problem("freudenstein_roth", _freudenstein_roth_fun,
                   _freudenstein_roth_jac, x0=np.array([0.5, -2.0]), m=2, n=2,
                   sum_sq_min=48.98425367924, unique_min=False,
                   note="two minima (global f=0 and local f=48.98...)")


def freudenstein_roth_bounded():
    """Freudenstein-Roth with x1 <= 10: the local minimum at x1 = 11.41 is cut
    off; from x0 = (0.5, -2) the solvers stop on the bound x1 = 10."""
    return Problem("freudenstein_roth_bounded", _freudenstein_roth_fun,
                   _freudenstein_roth_jac, x0=np.array([0.5, -2.0]), m=2, n=2,
                   bounds=(np.array([-INF, -INF]), np.array([10.0, INF])),
                   unique_min=False,
                   note="the bound is active; the global minimum (5, 4) is "
                        "also feasible, so the problem is multimodal")


# --------------------------------------------------------------------------
# MGH 4: Brown badly scaled, m = 3, n = 2
# --------------------------------------------------------------------------

def _brown_fun(x):
    return np.array([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2.0])


def _brown_jac(x):
    return np.array([[1.0, 0.0],
                     [0.0, 1.0],
                     [x[1], x[0]]])


def brown_badly_scaled():
    """MGH #4.  f* = 0 at (1e6, 2e-6).  Compare x with a relative tolerance
    only (x[1] is 2e-6)."""
    return Problem("brown_badly_scaled", _brown_fun, _brown_jac,
                   x0=np.array([1.0, 1.0]), m=3, n=2,
                   sum_sq_min=0.0, x_min=np.array([1e6, 2e-6]),
                   x_atol=0.0)


# --------------------------------------------------------------------------
# MGH 5: Beale, m = 3, n = 2
# --------------------------------------------------------------------------

_BEALE_Y = np.array([1.5, 2.25, 2.625])


def _beale_fun(x):
    i = np.arange(1, 4)
    return _BEALE_Y - x[0] * (1.0 - x[1] ** i)


def _beale_jac(x):
    i = np.arange(1, 4)
    return np.column_stack([-(1.0 - x[1] ** i),
                            x[0] * i * x[1] ** (i - 1)])


def beale():
    """MGH #5.  f* = 0 at (3, 0.5)."""
    return Problem("beale", _beale_fun, _beale_jac, x0=np.array([1.0, 1.0]),
                   m=3, n=2, sum_sq_min=0.0, x_min=np.array([3.0, 0.5]))


def beale_bounded():
    """Beale with x1 <= 2.5: the bound is active at the solution."""
    return Problem("beale_bounded", _beale_fun, _beale_jac,
                   x0=np.array([1.0, 1.0]), m=3, n=2,
                   bounds=(np.array([-INF, -INF]), np.array([2.5, INF])),
                   # SciPy's own x moves by up to 4e-6 relative under 1e-13
                   # perturbations of x0 (nonzero residual, flat valley)
                   x_rtol=2e-5)


# --------------------------------------------------------------------------
# MGH 8: Bard, m = 15, n = 3
# --------------------------------------------------------------------------

_BARD_Y = np.array([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37,
                    0.58, 0.73, 0.96, 1.34, 2.10, 4.39])
_BARD_U = np.arange(1.0, 16.0)
_BARD_V = 16.0 - _BARD_U
_BARD_W = np.minimum(_BARD_U, _BARD_V)


def _bard_fun(x):
    return _BARD_Y - (x[0] + _BARD_U / (_BARD_V * x[1] + _BARD_W * x[2]))


def _bard_jac(x):
    d2 = (_BARD_V * x[1] + _BARD_W * x[2]) ** 2
    return np.column_stack([-np.ones_like(d2),
                            _BARD_U * _BARD_V / d2,
                            _BARD_U * _BARD_W / d2])


def bard():
    """MGH #8.  f* = 8.21487e-3 at (0.0824, 1.133, 2.344)."""
    return Problem("bard", _bard_fun, _bard_jac, x0=np.array([1.0, 1.0, 1.0]),
                   m=15, n=3, sum_sq_min=8.21487730e-3,
                   x_min=np.array([0.0824105599504, 1.13303609868,
                                   2.34369517222]))


def bard_bounded():
    """Bard with x3 <= 2: the bound is active at the solution."""
    return Problem("bard_bounded", _bard_fun, _bard_jac,
                   x0=np.array([1.0, 1.0, 1.0]), m=15, n=3,
                   bounds=(np.array([-INF, -INF, -INF]),
                           np.array([INF, INF, 2.0])))


# --------------------------------------------------------------------------
# MGH 10: Meyer, scaled version, m = 16, n = 3
# --------------------------------------------------------------------------
#
# MGH's Meyer function is f_i = x1 exp(x2 / (t_i + x3)) - y_i with
# t_i = 45 + 5 i.  Writing t_i = 100 u_i (u_i = 0.45 + 0.05 i),
# x1 = z1 * 1e3 * exp(-13), x2 = 1e3 * z2, x3 = 1e2 * z3 and dividing the
# residuals by 1e3 gives the well-known scaled version
#     f_i(z) = z1 exp(10 z2 / (u_i + z3) - 13) - y_i / 1000,
# whose sum of squares is MGH's 87.9458... divided by 1e6.  MGH's
# x0 = (0.02, 4000, 250) maps to z0 = (0.02 e^13 / 1000, 4, 2.5)
# = (8.8483, 4, 2.5).

_MEYER_Y = np.array([34780.0, 28610.0, 23650.0, 19630.0, 16370.0, 13720.0,
                     11540.0, 9744.0, 8261.0, 7030.0, 6005.0, 5147.0, 4427.0,
                     3820.0, 3307.0, 2872.0])
_MEYER_U = 0.45 + 0.05 * np.arange(1.0, 17.0)


def _meyer_fun(x):
    return (x[0] * np.exp(10.0 * x[1] / (_MEYER_U + x[2]) - 13.0)
            - _MEYER_Y / 1000.0)


def _meyer_jac(x):
    d = _MEYER_U + x[2]
    e = np.exp(10.0 * x[1] / d - 13.0)
    return np.column_stack([e,
                            x[0] * e * 10.0 / d,
                            -x[0] * e * 10.0 * x[1] / d ** 2])


def meyer_scaled():
    """MGH #10, scaled.  f* = 8.794585517e-5 at (2.4818, 6.1814, 3.4522)."""
    return Problem("meyer_scaled", _meyer_fun, _meyer_jac,
                   x0=np.array([0.02 * np.exp(13.0) / 1000.0, 4.0, 2.5]),
                   m=16, n=3, sum_sq_min=87.9458551718e-6,
                   # x_min: SciPy with ftol = xtol = gtol = 1e-15
                   x_min=np.array([2.481778299084, 6.181346346286,
                                   3.452236346241]))


# --------------------------------------------------------------------------
# MGH 12: Box three-dimensional, m = 10, n = 3
# --------------------------------------------------------------------------

_BOX_T = 0.1 * np.arange(1.0, 11.0)


def _box3d_fun(x):
    t = _BOX_T
    return (np.exp(-t * x[0]) - np.exp(-t * x[1])
            - x[2] * (np.exp(-t) - np.exp(-10.0 * t)))


def _box3d_jac(x):
    t = _BOX_T
    return np.column_stack([-t * np.exp(-t * x[0]),
                            t * np.exp(-t * x[1]),
                            -(np.exp(-t) - np.exp(-10.0 * t))])


def box3d():
    """MGH #12 with m = 10.  f* = 0 at (1, 10, 1), (10, 1, -1) and on the
    line x1 = x2, x3 = 0: not unique."""
    return Problem("box3d", _box3d_fun, _box3d_jac,
                   x0=np.array([0.0, 10.0, 20.0]), m=10, n=3,
                   sum_sq_min=0.0, unique_min=False,
                   note="zero-residual minima are not isolated")


def box3d_bounded():
    """Box 3-D on [0, 2] x [5, 9.5] x [0, 20]: removes the other minima and
    the line x1 = x2; the bound x2 <= 9.5 is active."""
    return Problem("box3d_bounded", _box3d_fun, _box3d_jac,
                   x0=np.array([0.0, 9.0, 20.0]), m=10, n=3,
                   bounds=(np.array([0.0, 5.0, 0.0]),
                           np.array([2.0, 9.5, 20.0])))


# --------------------------------------------------------------------------
# MGH 13: Powell singular, m = n = 4
# --------------------------------------------------------------------------

_S5 = np.sqrt(5.0)
_S10 = np.sqrt(10.0)


def _powell_fun(x):
    return np.array([x[0] + 10.0 * x[1],
                     _S5 * (x[2] - x[3]),
                     (x[1] - 2.0 * x[2]) ** 2,
                     _S10 * (x[0] - x[3]) ** 2])


def _powell_jac(x):
    a = 2.0 * (x[1] - 2.0 * x[2])
    b = 2.0 * _S10 * (x[0] - x[3])
    return np.array([[1.0, 10.0, 0.0, 0.0],
                     [0.0, 0.0, _S5, -_S5],
                     [0.0, a, -2.0 * a, 0.0],
                     [b, 0.0, 0.0, -b]])


def powell_singular():
    """MGH #13.  f* = 0 at the origin, where the Jacobian is singular:
    convergence is only linear and solvers stop with x of order 1e-4..1e-3,
    so x agreement is checked with an absolute tolerance only."""
    return Problem("powell_singular", _powell_fun, _powell_jac,
                   x0=np.array([3.0, -1.0, 0.0, 1.0]), m=4, n=4,
                   sum_sq_min=0.0, x_min=np.zeros(4),
                   x_rtol=0.0, x_atol=5e-3,
                   note="singular Jacobian at the solution")


def powell_singular_bounded():
    """Powell singular with x1 >= 0.1: the origin is cut off, the bound is
    active and the minimum becomes nonzero and regular."""
    return Problem("powell_singular_bounded", _powell_fun, _powell_jac,
                   x0=np.array([3.0, -1.0, 0.0, 1.0]), m=4, n=4,
                   bounds=(np.array([0.1, -INF, -INF, -INF]), INF))


# --------------------------------------------------------------------------
# MGH 17: Osborne 1, m = 33, n = 5
# --------------------------------------------------------------------------

_OSB1_Y = np.array([0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850,
                    0.818, 0.784, 0.751, 0.718, 0.685, 0.658, 0.628, 0.603,
                    0.580, 0.558, 0.538, 0.522, 0.506, 0.490, 0.478, 0.467,
                    0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411,
                    0.406])
_OSB1_T = 10.0 * np.arange(33.0)


def _osborne1_fun(x):
    t = _OSB1_T
    return _OSB1_Y - (x[0] + x[1] * np.exp(-t * x[3])
                      + x[2] * np.exp(-t * x[4]))


def _osborne1_jac(x):
    t = _OSB1_T
    e4 = np.exp(-t * x[3])
    e5 = np.exp(-t * x[4])
    return np.column_stack([-np.ones_like(t), -e4, -e5,
                            t * x[1] * e4, t * x[2] * e5])


def osborne1():
    """MGH #17.  f* = 5.46489e-5 at (0.3754, 1.9358, -1.4647, 0.01287,
    0.02212)."""
    return Problem("osborne1", _osborne1_fun, _osborne1_jac,
                   x0=np.array([0.5, 1.5, -1.0, 0.01, 0.02]), m=33, n=5,
                   sum_sq_min=5.46489469e-5,
                   # ill-conditioned: SciPy's own x moves by 1.3e-6 relative
                   # under 1e-13 perturbations of x0
                   x_rtol=1e-5,
                   # x_min: SciPy with ftol = xtol = gtol = 1e-15
                   x_min=np.array([0.3754100539, 1.935847182, -1.464687407,
                                   0.01286753516, 0.02212269851]))


def osborne1_bounded():
    """Osborne 1 with x1 <= 0.37: the bound is active at the solution."""
    ub = np.full(5, INF)
    ub[0] = 0.37
    return Problem("osborne1_bounded", _osborne1_fun, _osborne1_jac,
                   x0=np.array([0.3, 1.5, -1.0, 0.01, 0.02]), m=33, n=5,
                   bounds=(-INF, ub))


# --------------------------------------------------------------------------
# MGH 20: Watson, n = 6, m = 31
# --------------------------------------------------------------------------

_WATSON_N = 6
_WATSON_T = np.arange(1.0, 30.0) / 29.0


def _watson_fun(x):
    n = x.shape[0]
    t = _WATSON_T[:, None]
    j = np.arange(n)[None, :]                      # j = 0..n-1 (MGH j-1)
    s1 = np.sum(j[:, 1:] * x[1:] * t ** (j[:, 1:] - 1), axis=1)
    s2 = np.sum(x * t ** j, axis=1)
    f = s1 - s2 ** 2 - 1.0
    return np.concatenate([f, [x[0], x[1] - x[0] ** 2 - 1.0]])


def _watson_jac(x):
    n = x.shape[0]
    t = _WATSON_T[:, None]
    j = np.arange(n)[None, :]
    s2 = np.sum(x * t ** j, axis=1)[:, None]
    d = np.zeros((29, n), dtype=_dtype(x))
    d[:, 1:] = j[:, 1:] * t ** (j[:, 1:] - 1)
    d = d - 2.0 * s2 * t ** j
    r30 = np.zeros((1, n), dtype=_dtype(x))
    r30[0, 0] = 1.0
    r31 = np.zeros((1, n), dtype=_dtype(x))
    r31[0, 0] = -2.0 * x[0]
    r31[0, 1] = 1.0
    return np.vstack([d, r30, r31])


def watson():
    """MGH #20 with n = 6, m = 31.  f* = 2.28767005e-3."""
    return Problem("watson", _watson_fun, _watson_jac,
                   x0=np.zeros(_WATSON_N), m=31, n=_WATSON_N,
                   sum_sq_min=2.28767005355e-3,
                   # x_min: SciPy with ftol = xtol = gtol = 1e-15
                   x_min=np.array([-0.015725086423, 1.012434869367,
                                   -0.232991625938, 1.260430087621,
                                   -1.513728922451, 0.992996432270]),
                   # ill-conditioned (Hilbert-like) Jacobian: x is determined
                   # to ~1e-5 relative by the default ftol/xtol.
                   x_rtol=1e-4, x_atol=1e-6)


# --------------------------------------------------------------------------
# MGH 30: Broyden tridiagonal, m = n = 30 (sparse)
# --------------------------------------------------------------------------

_BROYDEN_N = 30


def _broyden_fun(x):
    # f_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1, x_0 = x_{n+1} = 0
    xm = np.concatenate([[0.0], x[:-1]])
    xp = np.concatenate([x[1:], [0.0]])
    return (3.0 - 2.0 * x) * x - xm - 2.0 * xp + 1.0


def _broyden_jac_sparse(x):
    n = x.shape[0]
    return sp.diags_array([-np.ones(n - 1), 3.0 - 4.0 * x,
                           -2.0 * np.ones(n - 1)],
                          offsets=[-1, 0, 1], shape=(n, n), format="csr",
                          dtype=_dtype(x))


def _broyden_jac(x):
    return _broyden_jac_sparse(x).toarray()


def _broyden_sparsity(n):
    return sp.diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)],
                          offsets=[-1, 0, 1], shape=(n, n), format="csr",
                          dtype=int)


def broyden_tridiagonal():
    """MGH #30 with n = 30.  f* = 0."""
    n = _BROYDEN_N
    return Problem("broyden_tridiagonal", _broyden_fun, _broyden_jac,
                   x0=-np.ones(n), m=n, n=n,
                   jac_sparsity=_broyden_sparsity(n),
                   jac_sparse=_broyden_jac_sparse, sum_sq_min=0.0,
                   # residuals at x0 are ~1; with f_scale=1 huber/cauchy
                   # get stuck at nonzero cost depending on 1e-13 changes
                   # of x0, with f_scale=2 every loss reaches f = 0.
                   f_scale=2.0)


def broyden_tridiagonal_bounded():
    """Broyden tridiagonal (n = 30) with x >= -0.6: several components of
    the unconstrained root are below -0.6, so those bounds are active."""
    n = _BROYDEN_N
    return Problem("broyden_tridiagonal_bounded", _broyden_fun, _broyden_jac,
                   x0=-0.5 * np.ones(n), m=n, n=n, bounds=(-0.6, INF),
                   jac_sparsity=_broyden_sparsity(n),
                   jac_sparse=_broyden_jac_sparse, f_scale=2.0)


# --------------------------------------------------------------------------
# MGH 32: Linear function - full rank, n = 5, m = 10
# --------------------------------------------------------------------------

_LIN_N = 5
_LIN_M = 10


def _linear_fun(x):
    s = 2.0 * np.sum(x) / _LIN_M
    return np.concatenate([x - s - 1.0, np.zeros(_LIN_M - _LIN_N) - s - 1.0])


def _linear_jac(x):
    a = np.zeros((_LIN_M, _LIN_N), dtype=_dtype(x))
    a[:_LIN_N] = np.eye(_LIN_N)
    return a - 2.0 / _LIN_M


def linear():
    """MGH #32 (n = 5, m = 10).  f* = m - n = 5 at x = -1."""
    return Problem("linear", _linear_fun, _linear_jac,
                   x0=np.ones(_LIN_N), m=_LIN_M, n=_LIN_N,
                   sum_sq_min=float(_LIN_M - _LIN_N), x_min=-np.ones(_LIN_N))


def linear_bounded():
    """Linear full rank with x1 >= -0.5, x2 >= -0.8, x5 <= 2: a strictly
    convex bound-constrained quadratic; the lower bounds are active.

    (Equal lower bounds on x1 and x2 together with the symmetric x0 = ones
    made SciPy's dogbox stall at a non-optimal point (cost 3.125 instead of
    2.75) under 1e-10 perturbations of x0, so the bounds are asymmetric.)"""
    lb = np.full(_LIN_N, -INF)
    lb[:2] = (-0.5, -0.8)
    ub = np.full(_LIN_N, INF)
    ub[4] = 2.0
    return Problem("linear_bounded", _linear_fun, _linear_jac,
                   x0=np.ones(_LIN_N), m=_LIN_M, n=_LIN_N, bounds=(lb, ub))


# --------------------------------------------------------------------------
# Exponential fit y = a + b exp(c t) with noise and outliers (seeded)
# --------------------------------------------------------------------------

EXP_FIT_TRUE = np.array([0.5, 2.0, -1.0])


def exp_fit_data(n_points=15, noise=0.1, n_outliers=3, seed=0,
                 params=EXP_FIT_TRUE, t_min=0.0, t_max=10.0):
    """Data as in SciPy's ``least_squares`` docstring: Gaussian noise, and
    ``n_outliers`` points (drawn with replacement) whose error is x10."""
    rng = np.random.default_rng(seed)
    t = np.linspace(t_min, t_max, n_points)
    a, b, c = params
    y = a + b * np.exp(c * t)
    err = noise * rng.standard_normal(t.size)
    out = rng.integers(0, t.size, n_outliers)
    err[out] *= 10.0
    return t, y + err


_EXP_SEED = 2
_EXP_T, _EXP_Y = exp_fit_data(seed=_EXP_SEED)


def _exp_fun(x):
    return x[0] + x[1] * np.exp(x[2] * _EXP_T) - _EXP_Y


def _exp_jac(x):
    e = np.exp(x[2] * _EXP_T)
    return np.column_stack([np.ones_like(e), e, x[1] * _EXP_T * e])


# Not the docs' x0 = (1, 1, 0): at c = 0 the Jacobian columns of a and b
# coincide, and from there SciPy's trf path is chaotic (1e-13 perturbations
# of x0 change the result from a proper fit to a = 1e6, b = -1e6, c = 1e-7).
_EXP_X0 = np.array([0.5, 1.5, -0.8])


def exp_fit():
    """y = a + b exp(c t), true (0.5, 2, -1), noise 0.1, 3 outliers, seed 2,
    x0 = (0.5, 1.5, -0.8).  Use ``f_scale=0.1`` for robust losses."""
    return Problem("exp_fit", _exp_fun, _exp_jac, x0=_EXP_X0.copy(),
                   m=_EXP_T.size, n=3, f_scale=0.1)


def exp_fit_bounded():
    """Exponential fit with b <= 1.8 and c <= 0.5: b is active."""
    return Problem("exp_fit_bounded", _exp_fun, _exp_jac,
                   x0=_EXP_X0.copy(), m=_EXP_T.size, n=3,
                   bounds=(-INF, np.array([INF, 1.8, 0.5])), f_scale=0.1)


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------

_FACTORIES = [
    rosenbrock, rosenbrock_bounded,
    freudenstein_roth, freudenstein_roth_bounded,
    brown_badly_scaled,
    beale, beale_bounded,
    bard, bard_bounded,
    meyer_scaled,
    box3d, box3d_bounded,
    powell_singular, powell_singular_bounded,
    osborne1, osborne1_bounded,
    watson,
    broyden_tridiagonal, broyden_tridiagonal_bounded,
    linear, linear_bounded,
    exp_fit, exp_fit_bounded,
]

PROBLEMS = {f().name: f() for f in _FACTORIES}
BASE_NAMES = [k for k in PROBLEMS if not k.endswith("_bounded")]
BOUNDED_NAMES = [k for k in PROBLEMS if k.endswith("_bounded")]


def get(name: str) -> Problem:
    return PROBLEMS[name]


def names():
    return list(PROBLEMS)


def variant(base: str, bounded: bool) -> Optional[Problem]:
    """The unbounded problem ``base`` or its bounded variant (None if the
    problem has no bounded variant)."""
    if not bounded:
        return PROBLEMS[base]
    return PROBLEMS.get(base + "_bounded")
