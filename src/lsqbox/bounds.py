"""Box constraints lb <= x <= ub: feasibility, steps to the boundary, scaling.

The Coleman-Li scaling vector (Coleman & Li, "An interior trust region approach
for nonlinear minimization subject to bounds", SIAM J. Optim. 6, 1996) is

    v_i = ub_i - x_i   if g_i < 0 and ub_i <  inf
    v_i = x_i - lb_i   if g_i > 0 and lb_i > -inf
    v_i = 1            otherwise,

with dv_i = -1, +1 or 0 its derivative. First-order optimality of a bounded
problem is ``||v * g||_inf == 0``; unbounded problems get v = 1 everywhere, so the
same code serves both.
"""
from math import copysign, sqrt

import numpy as np

__all__ = [
    "in_bounds", "make_strictly_feasible", "step_size_to_bound",
    "find_active_constraints", "cl_scaling_vector", "intersect_trust_region",
    "ball_crossings",
    "has_bounds",
]


def has_bounds(lb, ub):
    """True if any variable has a finite bound."""
    return bool(np.isfinite(lb).any() or np.isfinite(ub).any())


def in_bounds(x, lb, ub):
    """Whether every component of x lies within [lb, ub]."""
    return bool(((x >= lb) & (x <= ub)).all())


def make_strictly_feasible(x, lb, ub, rstep=1e-10):
    """Shift x into the interior of the box.

    Components on or beyond a bound are moved inside by the relative step
    `rstep` (or to the nearest float inside when ``rstep == 0``); components in a
    box too narrow for that are put in the middle.
    """
    if rstep == 0 and ((x > lb) & (x < ub)).all():
        return x.copy()                  # strictly inside already (the usual case)
    if not has_bounds(lb, ub):
        return x.copy()
    x_new = x.copy()
    active = find_active_constraints(x, lb, ub, rstep)
    lower = np.equal(active, -1)
    upper = np.equal(active, 1)
    if rstep == 0:
        x_new[lower] = np.nextafter(lb[lower], ub[lower])
        x_new[upper] = np.nextafter(ub[upper], lb[upper])
    else:
        x_new[lower] = lb[lower] + rstep * np.maximum(1.0, np.abs(lb[lower]))
        x_new[upper] = ub[upper] - rstep * np.maximum(1.0, np.abs(ub[upper]))
    tight = (x_new < lb) | (x_new > ub)
    x_new[tight] = 0.5 * (lb[tight] + ub[tight])
    return x_new


def find_active_constraints(x, lb, ub, rtol=1e-10):
    """-1 where x is at its lower bound, +1 at its upper bound, 0 elsewhere.

    "At" means within ``rtol * max(1, |bound|)``; with ``rtol == 0`` exactly.
    """
    active = np.zeros_like(x, dtype=int)
    if rtol == 0:
        active[x <= lb] = -1
        active[x >= ub] = 1
        return active
    lower_dist = x - lb
    upper_dist = ub - x
    lower_threshold = rtol * np.maximum(1.0, np.abs(lb))
    upper_threshold = rtol * np.maximum(1.0, np.abs(ub))
    finite_lb = np.isfinite(lb)
    finite_ub = np.isfinite(ub)
    lower = finite_lb & (lower_dist <= np.minimum(upper_dist, lower_threshold))
    upper = finite_ub & (upper_dist <= np.minimum(lower_dist, upper_threshold))
    active[lower] = -1
    active[upper] = 1
    return active


def step_size_to_bound(x, s, lb, ub, hits=True):
    """Largest t >= 0 with x + t s inside the box, and which bounds it hits.

    Returns ``(t, hits)``: hits is +1/-1 for components that reach the upper/lower
    bound at t, 0 otherwise. t is inf when the ray never leaves the box.
    """
    with np.errstate(over="ignore"):
        if s.all():
            steps = np.maximum((lb - x) / s, (ub - x) / s)
        else:
            nonzero = np.nonzero(s)
            s_nz = s[nonzero]
            steps = np.full_like(x, np.inf)
            steps[nonzero] = np.maximum((lb - x)[nonzero] / s_nz, (ub - x)[nonzero] / s_nz)
    t = steps.min()
    if not hits:
        return t, None
    return t, np.equal(steps, t) * np.sign(s).astype(int)


def intersect_trust_region(x, s, Delta):
    """Both t with ||x + t s|| = Delta (x inside the ball), t_neg <= 0 <= t_pos."""
    return ball_crossings(s.dot(s), x.dot(s), x.dot(x), Delta)


def ball_crossings(ss, xs, xx, Delta):
    """`intersect_trust_region` from the products s.s, x.s and x.x."""
    if ss == 0:
        raise ValueError("`s` is zero.")
    c = xx - Delta ** 2
    if c > 0:
        raise ValueError("`x` is not within the trust region.")
    # Numerically stable roots of a t^2 + 2 b t + c (Numerical Recipes' form).
    d = sqrt(xs * xs - ss * c)
    q = -(xs + copysign(d, xs))
    t1 = q / ss
    t2 = c / q
    return (t1, t2) if t1 < t2 else (t2, t1)


def cl_scaling_vector(x, g, lb, ub, finite=None):
    """Coleman-Li scaling vector v and its derivative dv (module docstring).

    `finite`, when given, is ``(lb > -inf, ub < inf)`` computed once by the
    caller (the bounds do not change during a solve)."""
    finite_lb, finite_ub = (lb > -np.inf, ub < np.inf) if finite is None else finite
    to_upper = (g < 0) & finite_ub
    to_lower = (g > 0) & finite_lb
    v = np.where(to_upper, ub - x, np.where(to_lower, x - lb, 1.0))
    dv = to_lower - to_upper.astype(float)
    return v, dv
