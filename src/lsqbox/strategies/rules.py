"""Acceptance, radius and termination rules of SciPy's `trf` and `dogbox`.

A strategy decides after each trial whether the step is taken, what the new
radius is and whether a tolerance is met (`judge`). `trf` and `dogbox` share
SciPy's rules, collected here; `lm` has MINPACK's (strategies/lm.py).
"""
from dataclasses import dataclass

from ..linalg.vector import norm2
from ..termination import Status, gtol_satisfied, step_tolerances

__all__ = ["Verdict", "TrustRegionRules", "update_radius"]


@dataclass
class Verdict:
    """The outcome of one trial step."""

    accepted: bool
    Delta: float
    status: object           # a Status or None
    actual_reduction: float
    ratio: float


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


class TrustRegionRules:
    """SciPy's rules: accept any decrease; ftol/xtol tested after every trial."""

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
        radius Delta and the bounds). None elsewhere. The driver uses it to confirm an `ftol` verdict
        (driver._ftol_confirmed)."""
        if not self.exact_steps:
            return None
        self.prepare(lin, g_norm, Delta)
        trial = self.propose(Delta)
        return trial.predicted_reduction if trial.gauss_newton else None

    def result_optimality(self, lin, g_norm):
        return g_norm

    def failed_step(self, Delta, trial):
        """Radius after a trial whose residuals were not finite."""
        return 0.25 * trial.step_h_norm

    def judge(self, Delta, trial, cost, cost_new, x_norm, ftol, xtol):
        actual_reduction = cost - cost_new
        Delta_new, ratio = update_radius(Delta, actual_reduction,
                                         trial.predicted_reduction, trial.step_h_norm,
                                         self.bound_hit(trial, Delta))
        step_norm = norm2(trial.step)
        status = step_tolerances(actual_reduction, cost, step_norm, x_norm, ratio,
                                 ftol, xtol)
        if status is None:
            self.radius_changed(Delta, Delta_new)
            Delta = Delta_new
        return Verdict(accepted=actual_reduction > 0, Delta=Delta, status=status,
                       actual_reduction=actual_reduction, ratio=ratio)

    def radius_changed(self, Delta_old, Delta_new):
        """Hook for strategies that keep radius-dependent state."""

    def bound_hit(self, trial, Delta):
        raise NotImplementedError

