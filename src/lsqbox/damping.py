"""Damped Gauss-Newton steps for problems where Gauss-Newton overshoots.

On a problem with large residuals the Hessian of the cost is J^T J + S, and the
Gauss-Newton model (J^T J alone) misjudges the curvature along its own step.
When S is positive along the step, the full Gauss-Newton step overshoots the
minimum along its line, the trust region never binds, every step is accepted
with a ratio of actual to predicted reduction well below 1, and the iterates
converge only linearly, each step flipping over the solution by a constant
fraction (NIST Thurber, ENSO, MGH09: ratios near 0.4, 15 to 30 iterations of
which the last dozen each gain a fraction of a digit). This is the classic
failure of undamped Gauss-Newton that Hartley's modified Gauss-Newton method
cures with a line search along the Gauss-Newton direction (H. O. Hartley,
Technometrics 3, 1961; Dennis & Schnabel, *Numerical Methods for Unconstrained
Optimization and Nonlinear Equations*, 1983, section 10.2).

No extra evaluation is spent here. Along a full Gauss-Newton step p (the
minimizer of the model q(s) = g.s + 1/2 |J s|^2, so g.p = -|J p|^2 = -2P with
P = the predicted reduction) the cost is, to second order,

    phi(t) = phi(0) - 2 P t + 1/2 kappa 2P t^2,

where kappa is the true curvature along p relative to the model's (kappa = 1:
the model is exact). A trial at t measures phi(t), hence

    kappa = (2 t - ared / P) / t^2        (ared = phi(0) - phi(t)),

and the best step along p is t* = 1 / kappa (for t = 1: kappa = 2 - ratio).
In the linearly converging regime the Gauss-Newton steps keep (up to sign)
one direction, the slowest eigenvector of the iteration, with a steady kappa;
so when the next full Gauss-Newton step is nearly parallel to the last one
and the last kappa says it overshoots clearly (kappa > 1.2), the step is
shortened to t* = 1/kappa (not below 1/4). Its model prediction is
P (2t - t^2), and with the true curvature its ratio is kappa / (2 kappa - 1),
e.g. 0.72 instead of 0.36. Problems whose Gauss-Newton steps agree with the
model (kappa near 1: small residuals, the usual case) are untouched, and so
are steps limited by the trust region or the bounds and 'lsmr' steps. The
strategies say which steps are full Gauss-Newton steps (`Trial.gauss_newton`:
trf's and dogbox's exact steps, lm's steps with lambda = 0); jac='broyden'
does without (driver.py).
"""
import numpy as np

from .linalg.vector import nearly_parallel
from .strategies import Trial

__all__ = ["GaussNewtonDamping"]

SHORTEST = 0.25          # never shorten a step below a quarter
PARALLEL = 0.9           # |cos| between consecutive Gauss-Newton steps
# kappa above which the step is shortened (ratio below 0.8 for a full step).
# Near 1 the quadratic picture is too crude to act on: where a residual
# vanishes quadratically (Powell singular) the cost is quartic along the step,
# a full Gauss-Newton step gives ratio 15/16 and the best step is longer.
OVERSHOOT = 1.2


class GaussNewtonDamping:
    """Curvature along the last full Gauss-Newton step, and the shortened next one."""

    def __init__(self):
        self.kappa = None
        self.direction = None

    def adjust(self, trial, x):
        """The trial, shortened when the last curvature says Gauss-Newton
        overshoots along (nearly) the same line; else unchanged."""
        if not trial.gauss_newton or self.kappa is None:
            return trial
        t = max(1.0 / self.kappa, SHORTEST)
        step = trial.step
        if not nearly_parallel(step, self.direction, PARALLEL):
            return trial
        step = t * step
        return _DampedTrial(x_new=x + step, step=step, step_h_norm=t * trial.step_h_norm,
                            predicted_reduction=trial.gn_reduction * t * (2.0 - t),
                            tr_hit=False, on_bound=trial.on_bound, gauss_newton=False,
                            t=t, full_prediction=trial.gn_reduction)

    def learn(self, trial, actual_reduction):
        """Curvature from an evaluated trial (only full or damped Gauss-Newton
        steps tell it; any other trial forgets it)."""
        self.kappa = None
        if isinstance(trial, _DampedTrial):
            t, P = trial.t, trial.full_prediction
        elif trial.gauss_newton:
            t, P = 1.0, trial.gn_reduction
        else:
            return
        if not (P > 0 and np.isfinite(actual_reduction)):
            return
        kappa = (2.0 * t - actual_reduction / P) / (t * t)
        if kappa > OVERSHOOT:
            self.kappa = kappa
            self.direction = trial.step


class _DampedTrial(Trial):
    """A shortened Gauss-Newton trial: the fraction t and the full step's prediction."""

    def __init__(self, t, full_prediction, **fields):
        super().__init__(**fields)
        self.t = t
        self.full_prediction = full_prediction
