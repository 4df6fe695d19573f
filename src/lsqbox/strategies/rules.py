"""Acceptance, radius and termination rules of SciPy's `trf` and `dogbox`.

A strategy decides after each trial whether the step is taken, what the new
radius is and whether a tolerance is met (`judge`). `trf` and `dogbox` share
SciPy's rules, collected here; `lm` has MINPACK's (strategies/lm.py).
"""
from dataclasses import dataclass

from ..linalg.vector import norm2
from ..termination import Status, gtol_satisfied, step_tolerances

__all__ = ["Verdict", "TrustRegionRules", "update_radius", "interpolated_shrink"]


@dataclass
class Verdict:
    """The outcome of one trial step."""

    accepted: bool
    Delta: float
    status: object           # a Status or None
    actual_reduction: float
    ratio: float
    bound_hit: bool = False   # the step reached the trust-region boundary (lm: par > 0)


def update_radius(Delta, actual_reduction, predicted_reduction, step_norm, bound_hit):
    """Classic radius rule: quarter the step on poor agreement, double on a
    good step that reached the boundary. Returns (Delta_new, ratio)."""
    if predicted_reduction > 0:
        ratio = actual_reduction / predicted_reduction
    elif predicted_reduction == actual_reduction == 0:
        ratio = 1.0
    else:
        ratio = 0.0
    if ratio < 0.25:
        Delta = 0.25 * step_norm
    elif ratio > 0.75 and bound_hit:
        Delta *= 2.0
    return Delta, ratio


def interpolated_shrink(Delta, actual_reduction, slope, cost, cost_new, step_norm):
    """MINPACK's radius after a poor step (lmder, Moré 1978): the minimizer of
    the quadratic through cost(x), the slope g^T s and cost(x + s), as a
    fraction of the step in [0.1, 0.5] (0.1 when the cost grew a hundredfold),
    and applied to min(Delta, 10 ||s||) rather than to the step alone, so that
    a Gauss-Newton step well inside the region that failed does not collapse
    the radius to a quarter of it. A poor step that still decreased the cost
    keeps trf's quarter. Used by jac='broyden' with method='trf' on smooth
    residuals (see `TrustRegionRules.interpolated_shrink`)."""
    if actual_reduction >= 0:
        temp = 0.25
    elif slope is not None and slope < 0:
        temp = 0.5 * slope / (slope + actual_reduction)
    else:
        temp = 0.1
    if cost_new >= 100.0 * cost or temp < 0.1:
        temp = 0.1
    return min(temp, 0.5) * min(Delta, 10.0 * step_norm)


class TrustRegionRules:
    """SciPy's rules: accept any decrease; ftol/xtol tested after every trial.

    ``interpolated_shrink`` (off: SciPy's rule) replaces the quarter of the
    step after a poor one by MINPACK's interpolated fraction of the radius
    (`interpolated_shrink`); the strategy's trials must carry ``slope``.
    Measured on benchmarks/more_wild with jac='broyden', where every trial is
    a run: median simplex gradients to solve at tau = 1e-5 from 3.8 to 3.2."""

    interpolated_shrink = False

    exact_steps = False     # set by strategies with exact (SVD / lstsq) steps

    def first_order_status(self, lin, gtol, status):
        """(g_norm, status): the optimality measure at an accepted point, and the
        status after the gradient test, which overrides a step tolerance met on
        the way to this point (SciPy's order)."""
        g_norm = self.optimality(lin)
        if gtol_satisfied(g_norm, gtol):
            status = Status.GTOL
        return g_norm, status

    def promised_reduction(self, lin, g_norm, Delta):
        """The reduction the model predicts for the next step from `lin` when
        that step is the full Gauss-Newton step (exact steps; it fits in the
        radius Delta and the bounds). None elsewhere. The driver uses it to
        confirm an `ftol` verdict (driver._ftol_confirmed)."""
        if not self.exact_steps:
            return None
        self.prepare(lin, g_norm, Delta)
        trial = self.propose(Delta)
        return trial.gn_reduction if trial.gauss_newton else None

    def result_optimality(self, lin, g_norm):
        return g_norm

    def failed_step(self, Delta, trial):
        """Radius after a trial whose residuals were not finite."""
        return 0.25 * trial.step_h_norm

    def judge(self, Delta, trial, cost, cost_new, x_norm, ftol, xtol):
        actual_reduction = cost - cost_new
        bound_hit = self.bound_hit(trial, Delta)
        Delta_new, ratio = update_radius(Delta, actual_reduction,
                                         trial.predicted_reduction, trial.step_h_norm,
                                         bound_hit)
        if ratio < 0.25 and self.interpolated_shrink:
            Delta_new = interpolated_shrink(Delta, actual_reduction, trial.slope, cost,
                                            cost_new, trial.step_h_norm)
        step_norm = norm2(trial.step)
        status = step_tolerances(actual_reduction, cost, step_norm, x_norm, ratio,
                                 ftol, xtol)
        if status is None:
            self.radius_changed(Delta, Delta_new)
            Delta = Delta_new
        return Verdict(accepted=actual_reduction > 0, Delta=Delta, status=status,
                       actual_reduction=actual_reduction, ratio=ratio, bound_hit=bound_hit)

    def radius_changed(self, Delta_old, Delta_new):
        """Hook for strategies that keep radius-dependent state."""

    def bound_hit(self, trial, Delta):
        raise NotImplementedError

