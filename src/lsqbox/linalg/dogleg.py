"""Dogleg in a rectangular trust region intersected with the box (dogbox).

The feasible set for the step is the box ``max(lb - x, -Delta_i) <= s <=
min(ub - x, Delta_i)``. The Newton (Gauss-Newton) point is taken if it fits;
otherwise the path goes from the Cauchy point (the model minimizer along -g,
clipped to the box) towards the Newton point until it hits a face (Voglis &
Lagaris, "A rectangular trust region dogleg approach for unconstrained and
bound constrained nonlinear optimization", 2004).
"""
import numpy as np

from ..bounds import in_bounds, step_size_to_bound
from .quadratic import minimize_quadratic_1d

__all__ = ["dogleg_step"]


def dogleg_step(x, newton_step, g, a, b, tr_bounds, lb, ub):
    """Dogleg step in the box-shaped trust region.

    Parameters
    ----------
    x : ndarray
        Current (free) variables.
    newton_step : ndarray
        Gauss-Newton step.
    g : ndarray
        Gradient.
    a, b : float
        Model along -g: q(-t g) = a t^2 + b t.
    tr_bounds : ndarray
        Half-widths of the trust region per variable.
    lb, ub : ndarray
        Bounds on x.

    Returns
    -------
    step : ndarray
    bound_hits : ndarray of int
        -1/+1 where the step lands on an original lower/upper bound.
    tr_hit : bool
        Whether the step stops at a face of the trust region.
    """
    lb_rel = lb - x
    ub_rel = ub - x
    lb_total = np.maximum(lb_rel, -tr_bounds)
    ub_total = np.minimum(ub_rel, tr_bounds)
    bound_hits = np.zeros(x.shape, dtype=int)

    if in_bounds(newton_step, lb_total, ub_total):
        return newton_step, bound_hits, False

    to_box, _ = step_size_to_bound(np.zeros(x.shape), -g, lb_total, ub_total, hits=False)
    cauchy_step = -minimize_quadratic_1d(a, b, 0, to_box)[0] * g

    direction = newton_step - cauchy_step
    t, hits = step_size_to_bound(cauchy_step, direction, lb_total, ub_total)
    at_lower = hits < 0
    at_upper = hits > 0
    bound_hits[at_lower & np.equal(lb_total, lb_rel)] = -1
    bound_hits[at_upper & np.equal(ub_total, ub_rel)] = 1
    tr_hit = bool(np.any(at_lower & np.equal(lb_total, -tr_bounds)
                         | at_upper & np.equal(ub_total, tr_bounds)))
    return cauchy_step + t * direction, bound_hits, tr_hit
