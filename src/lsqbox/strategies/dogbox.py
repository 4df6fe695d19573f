"""Dogleg with rectangular trust regions (Voglis & Lagaris, 2004).

The trust region is a box ``|s_i| <= Delta * scale_i`` (the infinity norm in
scaled variables), so its intersection with the bounds is again a box. Variables
on a bound whose gradient pushes them outward form the active set and are held
fixed; the Gauss-Newton step is computed over the free variables (dense
least squares, or LSMR on the masked operator) and combined with the Cauchy
step by a dogleg in the box (linalg/dogleg.py). Iterates may sit exactly on the
bounds; `on_bound` records which.

Not recommended for rank-deficient Jacobians (the Gauss-Newton step is then a
minimum-norm solution that can be poor), as SciPy's documentation says too.
"""
import numpy as np
from numpy.linalg import norm
from scipy.sparse.linalg import aslinearoperator, lsmr

from ..bounds import has_bounds
from ..linalg.dogleg import dogleg_step
from ..linalg.lapack import lstsq_min_norm
from ..linalg.vector import norm_inf
from ..linalg.operators import masked_scaled_operator
from ..linalg.quadratic import build_quadratic_1d, evaluate_quadratic
from . import Trial
from .rules import TrustRegionRules

__all__ = ["DogboxStrategy"]

_float64 = np.float64


class DogboxStrategy(TrustRegionRules):
    """Dogbox steps (see the module docstring)."""

    def __init__(self, lb, ub, tr_solver, tr_options, x0):
        self.lb = lb
        self.ub = ub
        self.tr_solver = tr_solver
        self.lsmr_options = dict(tr_options)
        self.on_bound = np.zeros_like(x0, dtype=int)
        self.on_bound[np.equal(x0, lb)] = -1
        self.on_bound[np.equal(x0, ub)] = 1
        self.bounded = has_bounds(lb, ub)
        self.no_hits = np.zeros(x0.size, dtype=int)
        self.exact_steps = tr_solver == "exact"

    def initial_radius(self, lin):
        Delta = norm(lin.x * lin.scale_inv, ord=np.inf)
        return Delta if Delta != 0 else 1.0

    def _free_gradient(self, lin):
        active = self.on_bound * lin.g < 0
        if not active.any():
            return lin.g, active
        g = lin.g.copy()
        g[active] = 0.0
        return g, active

    def optimality(self, lin):
        """||g||_inf over the variables not held at a bound."""
        g, _ = self._free_gradient(lin)
        return norm_inf(g)

    def prepare(self, lin, g_norm, Delta):
        g, active = self._free_gradient(lin)
        free = ~active
        self.lin = lin
        self.free = free
        self.all_free = all_free = not active.any()
        self.g = g
        self.g_free = g if all_free else g[free]
        self.scale_free = lin.scale if all_free else lin.scale[free]
        if self.tr_solver == "exact":
            self.J_free = lin.J if all_free else lin.J[:, free]
            # gelsd with the machine-precision cutoff, as SciPy's dogbox.
            self.newton_step = lstsq_min_norm(self.J_free, -lin.f)
        else:
            self.Jop = aslinearoperator(lin.J)
            op = masked_scaled_operator(self.Jop, lin.scale, active)
            self.newton_step = -lsmr(op, lin.f, **self.lsmr_options)[0][free] * self.scale_free
        self.cauchy_model = None        # the model along -g, when a dogleg needs it

    def propose(self, Delta):
        lin, free = self.lin, self.free
        if self.all_free:
            x_free, lb_free, ub_free = lin.x, self.lb, self.ub
        else:
            x_free, lb_free, ub_free = lin.x[free], self.lb[free], self.ub[free]
        if not self.bounded and (abs(self.newton_step) <= Delta * self.scale_free).all():
            # The Gauss-Newton step fits in the box-shaped trust region.
            step_free, on_bound_free, tr_hit = self.newton_step, self.no_hits, False
        else:
            if self.cauchy_model is None:
                self.cauchy_model = (
                    build_quadratic_1d(self.J_free, self.g_free, -self.g_free)
                    if self.tr_solver == "exact" else build_quadratic_1d(self.Jop, self.g, -self.g))
            a, b = self.cauchy_model
            step_free, on_bound_free, tr_hit = dogleg_step(
                x_free, self.newton_step, self.g_free, a, b,
                Delta * self.scale_free, lb_free, ub_free)
        if self.all_free:
            step = step_free.copy()
        else:
            step = np.zeros(lin.x.shape)
            step[free] = step_free
        if self.tr_solver == "exact":
            predicted = -evaluate_quadratic(self.J_free, self.g_free, step_free)
        else:
            predicted = -evaluate_quadratic(self.Jop, self.g, step)
        gauss_newton = self.tr_solver == "exact" and step_free is self.newton_step
        x_new = lin.x + step
        if self.bounded:
            x_new = np.minimum(np.maximum(x_new, self.lb), self.ub)
        return Trial(x_new=x_new, step=step,
                     step_h_norm=_float64(norm_inf(step * lin.scale_inv)),
                     predicted_reduction=predicted, tr_hit=tr_hit,
                     on_bound=on_bound_free, gauss_newton=gauss_newton,
                     gn_reduction=predicted if gauss_newton else None)

    def bound_hit(self, trial, Delta):
        return trial.tr_hit

    def accept(self, trial):
        """Record which bounds the step reached and put x exactly on them."""
        self.on_bound[self.free] = trial.on_bound
        x = trial.x_new.copy()
        lower = self.on_bound == -1
        upper = self.on_bound == 1
        x[lower] = self.lb[lower]
        x[upper] = self.ub[upper]
        return x

    def active_mask(self, x, xtol):
        return self.on_bound.copy()
