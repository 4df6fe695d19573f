"""Trust Region Reflective (Branch, Coleman & Li, "A subspace, interior, and
conjugate gradient method for large-scale bound-constrained minimization
problems", SIAM J. Sci. Comput. 21, 1999).

Notation: v, dv is the Coleman-Li scaling vector (bounds.py) and D = diag(v^0.5)
combined with the user's scale, d = v^0.5 * scale. In the scaled variables
x = d * x_h the first-order conditions of the bounded problem become those of an
unconstrained one, and the trust-region subproblem is

    min_p_h  0.5 ||J_h p_h + f||^2 + 0.5 p_h^T diag(g * dv * scale) p_h,
    ||p_h|| <= Delta,  J_h = J diag(d),  g_h = d * g.

The diagonal term (C in the paper) is zero for unbounded variables, so an
unbounded problem is the special case v = 1, dv = 0 of the same loop and is not
written twice. The subproblem is solved

* exactly ('exact'): one SVD of [J_h; diag(C)^0.5] per accepted point, then
  Moré's LM iteration for each radius (linalg/subproblem.py);
* approximately ('lsmr'): in the 2-D subspace spanned by the scaled gradient and
  an (optionally regularized) Gauss-Newton direction found by LSMR.

A step that leaves the box is handled by the reflective selection of STIR
(`select_step`): the step truncated at the boundary and backed off by theta, its
reflection, and the scaled gradient step are compared on the model, and the
best of the three is taken. Iterates stay strictly feasible.
"""
from math import sqrt

import numpy as np
from scipy.linalg import qr
from scipy.sparse.linalg import lsmr

from ..bounds import (ball_crossings, cl_scaling_vector, has_bounds, in_bounds,
                      make_strictly_feasible, step_size_to_bound, find_active_constraints)
from ..linalg.operators import scale_columns, regularized_lsq_operator
from ..linalg.quadratic import (QuadraticOnSpan, build_quadratic_1d, evaluate_quadratic,
                                minimize_quadratic_1d)
from ..linalg.lapack import svd_thin as _svd
from ..linalg.subproblem import solve_lsq_trust_region, solve_trust_region_2d
from ..linalg.vector import norm2, norm_inf
from . import Trial
from .rules import TrustRegionRules

__all__ = ["TRFStrategy"]


class TRFStrategy(TrustRegionRules):
    """Trust Region Reflective steps (see the module docstring)."""

    def __init__(self, lb, ub, tr_solver, tr_options, bounded=None):
        self.lb = lb
        self.ub = ub
        self.bounded = has_bounds(lb, ub) if bounded is None else bounded
        self.exact_steps = tr_solver == "exact"
        self._finite = (lb > -np.inf, ub < np.inf) if self.bounded else None
        self.tr_solver = tr_solver
        options = dict(tr_options)
        self.regularize = options.pop("regularize", True)
        self.lsmr_options = options
        self.alpha = 0.0   # LM parameter, warm start across radii
        self._unit = None
        self._scaled_at = None
        self._unit_scale = None

    # Set by `propose` (the LM parameter's warm start): the driver restores
    # it for the trial it judges when it proposed several
    # (driver._speculative_round).
    proposal_state = ("alpha",)

    # -- once per problem -------------------------------------------------
    def initial_radius(self, lin):
        if self.bounded:
            v, _ = self._scaling(lin)
            Delta = norm2(lin.x * lin.scale_inv / v ** 0.5)
        else:
            Delta = norm2(lin.x * lin.scale_inv)
        return Delta if Delta != 0 else 1.0

    # -- once per accepted point -------------------------------------------
    def _scaling(self, lin):
        """Coleman-Li v, dv at the point (ones and zeros without bounds); the
        arrays are shared, not to be modified."""
        if not self.bounded:
            if self._unit is None or self._unit[0].size != lin.x.size:
                self._unit = (np.ones(lin.x.size), np.zeros(lin.x.size))
            return self._unit
        if self._scaled_at is not lin:       # optimality and prepare share it
            self._scaled_at = lin
            self._v_dv = cl_scaling_vector(lin.x, lin.g, self.lb, self.ub, self._finite)
        return self._v_dv

    def _unless_unit(self, d):
        """None for the scaling d = 1 (x_scale=1 without bounds, the default):
        no products with it. The driver passes the same array every time."""
        if d is self._unit_scale:
            return None
        if not self.bounded and self._unit_scale is None and (d == 1).all():
            self._unit_scale = d
            return None
        return d

    def optimality(self, lin):
        """||v * g||_inf, the first-order measure of Coleman & Li."""
        if not self.bounded:
            return norm_inf(lin.g)
        v, _ = self._scaling(lin)
        return norm_inf(lin.g * v)

    def prepare(self, lin, g_norm, Delta):
        x, f, J, g = lin.x, lin.f, lin.J, lin.g
        m, n = f.size, x.size
        if self.bounded:
            v, dv = self._scaling(lin)
            v = np.where(dv != 0, v * lin.scale_inv, v)
            d = v ** 0.5 * lin.scale
            diag_h = g * dv * lin.scale
            augmented = bool(diag_h.any())
        else:
            # v = 1, dv = 0: no Coleman-Li term.
            d, diag_h, augmented = lin.scale, None, False
        self.d = d = self._unless_unit(d)
        self.g_h = g_h = g if d is None else d * g
        self.x = x
        self.theta = max(0.995, 1.0 - g_norm)
        self.diag_for_model = diag_h if augmented else None

        if self.tr_solver == "exact":
            J_h = J if d is None else J * d
            if augmented:
                U, s, Vt = _svd(np.vstack((J_h, np.diag(diag_h ** 0.5))))
                self.uf = U.T.dot(np.concatenate((f, np.zeros(n))))
            else:
                U, s, Vt = _svd(J_h)
                self.uf = U.T.dot(f)
            self.s, self.V = s, Vt.T
            self.m_aug = m + n if augmented else m
            self.J_h = J_h
        else:
            J_h = J if d is None else scale_columns(J, d)
            reg_term = 0.0
            if self.regularize:
                a, b = build_quadratic_1d(J_h, g_h, -g_h, diag=self.diag_for_model)
                to_tr = Delta / norm2(g_h)
                ag_value = minimize_quadratic_1d(a, b, 0, to_tr)[1]
                reg_term = -ag_value / Delta ** 2
            if augmented:
                op = regularized_lsq_operator(J_h, (diag_h + reg_term) ** 0.5)
                gn_h = lsmr(op, np.concatenate((f, np.zeros(n))), **self.lsmr_options)[0]
            else:
                options = dict(self.lsmr_options)
                damp = options.pop("damp", 0.0)
                gn_h = lsmr(J_h, f, damp=(damp ** 2 + reg_term) ** 0.5, **options)[0]
            S, _ = qr(np.vstack((g_h, gn_h)).T, mode="economic", check_finite=False)
            JS = J_h.dot(S)
            B_S = JS.T.dot(JS)
            if augmented:
                B_S += S.T.dot(diag_h[:, None] * S)
            self.S, self.B_S, self.g_S = S, B_S, S.T.dot(g_h)
            self.J_h = J_h

    # -- once per trial radius ---------------------------------------------
    def propose(self, Delta):
        if self.tr_solver == "exact":
            p_h, self.alpha, _ = solve_lsq_trust_region(
                self.x.size, self.m_aug, self.uf, self.s, self.V, Delta,
                initial_alpha=self.alpha)
        else:
            p_S, _ = solve_trust_region_2d(self.B_S, self.g_S, Delta)
            p_h = self.S.dot(p_S)
        p = p_h if self.d is None else self.d * p_h
        step, step_h, predicted = self._select_step(p, p_h, Delta)
        x_new = self.x + step
        if self.bounded and not ((x_new > self.lb) & (x_new < self.ub)).all():
            x_new = make_strictly_feasible(x_new, self.lb, self.ub, rstep=0)
        gauss_newton = self.tr_solver == "exact" and self.alpha == 0 and step is p
        return Trial(x_new=x_new, step=step, step_h_norm=norm2(step_h),
                     predicted_reduction=predicted,
                     tr_hit=None, gauss_newton=gauss_newton,
                     gn_reduction=predicted if gauss_newton else None,
                     slope=float(self.g_h.dot(step_h)) if self.interpolated_shrink else None)

    @property
    def accelerates(self):
        """Geodesic acceleration is available (crawl.py): exact steps, no bounds."""
        return self.tr_solver == "exact" and not self.bounded

    def acceleration(self, rpp):
        """Transtrum & Sethna's geodesic acceleration for the last proposed step,
        a = -(J^T J + alpha D^-2)^-1 J^T rpp with the step's LM parameter
        alpha (crawl.py), from the SVD of J_h = J D: in scaled variables
        a_h = -V diag(1 / (s^2 + alpha)) V^T J_h^T rpp, a = D a_h. Returns
        (a, ||a_h||)."""
        c = self.V.T.dot(self.J_h.T.dot(rpp))
        denom = self.s * self.s + self.alpha
        c = np.divide(c, denom, out=np.zeros_like(c), where=denom > 0)
        a_h = -self.V.dot(c)
        a = a_h if self.d is None else self.d * a_h
        return a, norm2(a_h)

    def radius_changed(self, Delta_old, Delta_new):
        """Keep the LM parameter roughly consistent with the new radius."""
        self.alpha *= Delta_old / Delta_new

    def bound_hit(self, trial, Delta):
        return trial.step_h_norm > 0.95 * Delta

    def accept(self, trial):
        return trial.x_new

    def active_mask(self, x, xtol):
        if not self.bounded:
            return np.zeros(x.size, dtype=int)
        return find_active_constraints(x, self.lb, self.ub, rtol=xtol)

    # -- reflective step selection -------------------------------------------
    def _model(self, s_h):
        return evaluate_quadratic(self.J_h, self.g_h, s_h, diag=self.diag_for_model)

    def _select_step(self, p, p_h, Delta):
        """Best of: truncated step, its reflection, scaled gradient (STIR)."""
        x, d, lb, ub, theta = self.x, self.d, self.lb, self.ub, self.theta
        if not self.bounded or in_bounds(x + p, lb, ub):
            return p, p_h, -self._model(p_h)

        p_stride, hits = step_size_to_bound(x, p, lb, ub)
        # The three candidates lie along p_h, its reflection r_h (from the
        # boundary point) and the scaled gradient: one product with J_h for
        # the model along all of them.
        r_h = np.where(hits != 0, -p_h, p_h)
        ag_h = -self.g_h
        q = QuadraticOnSpan(self.J_h, self.g_h, np.array((p_h, r_h, ag_h)),
                            diag=self.diag_for_model)
        P, R, AG = 0, 1, 2

        # Reflection of the remaining path at the boundary it hits.
        r = d * r_h
        x_on_bound = x + p * p_stride
        _, to_tr = ball_crossings(q.E[R][R], p_stride * q.E[P][R],
                                  p_stride ** 2 * q.E[P][P], Delta)
        to_bound, _ = step_size_to_bound(x_on_bound, r, lb, ub, hits=False)
        r_stride = min(to_bound, to_tr)
        if r_stride > 0:
            r_stride_l = (1 - theta) * p_stride / r_stride
            r_stride_u = theta * to_bound if r_stride == to_bound else to_tr
        else:
            r_stride_l, r_stride_u = 0.0, -1.0
        if r_stride_l <= r_stride_u:
            a, b, c = q.line(R, P, p_stride)
            r_stride, r_value = minimize_quadratic_1d(a, b, r_stride_l, r_stride_u, c=c)
        else:
            r_value = np.inf

        # The truncated step, backed off from the boundary.
        p_value = q.value(P, theta * p_stride)

        ag = d * ag_h
        to_tr = Delta / sqrt(q.E[AG][AG])
        to_bound, _ = step_size_to_bound(x, ag, lb, ub, hits=False)
        ag_stride = theta * to_bound if to_bound < to_tr else to_tr
        a, b, _ = q.line(AG)
        ag_stride, ag_value = minimize_quadratic_1d(a, b, 0, ag_stride)

        if p_value < r_value and p_value < ag_value:
            t = theta * p_stride
            return p * t, p_h * t, -p_value
        if r_value < p_value and r_value < ag_value:
            r_h = p_h * p_stride + r_h * r_stride
            return d * r_h, r_h, -r_value
        return ag * ag_stride, ag_h * ag_stride, -ag_value
