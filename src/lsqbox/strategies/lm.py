"""Levenberg-Marquardt in the style of MINPACK's lmder (J. J. Moré, "The
Levenberg-Marquardt algorithm: implementation and theory", LNM 630, 1978).

Once per accepted point: a QR factorization with column pivoting of J, Q^T f,
and the scaling D from the running maximum of the column norms of J (or the
user's fixed ``1 / x_scale``). Per trial: Moré's LM parameter for the radius
(linalg/lmpar.py), reusing R. The rules differ from trf's and are MINPACK's:

* the radius is measured as ||D p|| and starts at 100 ||D x0|| (then clipped to
  the first step's length);
* a step is accepted when rho = actred / prered >= 1e-4, with the reductions
  relative to ||f||^2;
* on rho <= 1/4 the radius shrinks by a factor in [0.1, 0.5] chosen from a
  quadratic interpolation (lmder's `temp`), on rho >= 3/4 (or lambda = 0) it
  becomes 2 ||D p||;
* tests: ftol on relative actual and predicted reductions, xtol on
  Delta <= xtol ||D x||, gtol on the largest cosine between f and a column of J.

Two additions shared with trf and dogbox (driver.py, damping.py): a full
Gauss-Newton step (lambda = 0) that the previous one showed to overshoot is
shortened, and an ftol verdict stands only when the model's next Gauss-Newton
step promises less than 1e-3 ftol F (`promised_reduction`). A third, shared
with trf: a long crawl along a curved valley gets geodesic acceleration
(crawl.py, `acceleration`). Problems whose steps agree with the model take
MINPACK's path step for step.
"""
from math import sqrt

import numpy as np

from ..linalg.lapack import qr_pivoted_qtf
from ..linalg.lmpar import LMSubproblem
from ..linalg.operators import column_norms
from ..linalg.vector import norm2
from ..termination import Status
from . import Trial
from .rules import Verdict

__all__ = ["LMStrategy"]

EPSMCH = np.finfo(float).eps
FACTOR = 100.0


class LMStrategy:
    """MINPACK-style Levenberg-Marquardt steps (see the module docstring)."""

    def __init__(self, x_scale):
        # x_scale 'jac': MINPACK's mode 1 (diag from column norms); an array:
        # mode 2 with diag = 1 / x_scale fixed.
        self.adaptive = isinstance(x_scale, str)
        self.diag = None if self.adaptive else 1.0 / np.asarray(x_scale, dtype=float)
        self.par = 0.0
        self.first_iteration = True
        self._factors_for = None

    # Set by `propose` and read by `judge`: the driver restores it for the
    # trial it judges when it proposed several (driver._speculative_round).
    proposal_state = ("par",)

    def initial_radius(self, lin):
        if self.adaptive:
            acnorm = column_norms(lin.J)
            self.diag = np.where(acnorm == 0, 1.0, acnorm)
        Delta = FACTOR * norm2(self.diag * lin.x)
        return Delta if Delta != 0 else FACTOR

    def restart(self, lin):
        """Broyden's noisy restarts only (driver._after_refresh): D and the LM
        parameter start afresh from the new Jacobian, as at the first iteration
        of lmder. D is MINPACK's running maximum of the column norms; with
        noisy finite differences (new steps at every restart) the noise-inflated
        column norms would accumulate in it for good and distort every later
        step. (A restart through `refine` already gets a new D, from
        `initial_radius`.) Returns lmder's initial radius, FACTOR |D x|, for
        the restart: the radius the earlier, noisy run shrank to says nothing
        about the new model (measured on the noisy Moré-Wild set over six
        noise seeds, docs/benchmarks.md)."""
        self.par = 0.0
        return self.initial_radius(lin)

    # -- once per accepted point ---------------------------------------------
    def _factor(self, lin):
        if self._factors_for is lin.J:
            return
        self.R, self.perm, self.qtf = qr_pivoted_qtf(lin.J, lin.f)
        self.acnorm = column_norms(lin.J)
        self.fnorm = norm2(lin.f)
        self.x = lin.x
        self.J = lin.J
        self._factors_for = lin.J

    def optimality(self, lin):
        """MINPACK's gtol measure: max_j |cos(angle(J e_j, f))|."""
        self._factor(lin)
        if self.fnorm == 0:
            return 0.0
        cosines = self.R.T.dot(self.qtf / self.fnorm)
        acnorm_perm = self.acnorm[self.perm]
        nonzero = acnorm_perm != 0
        if nonzero.all():
            return float(abs(cosines / acnorm_perm).max())
        if not nonzero.any():
            return 0.0
        return float(np.max(np.abs(cosines[nonzero] / acnorm_perm[nonzero])))

    def first_order_status(self, lin, gtol, status):
        """MINPACK stops as soon as a step meets ftol/xtol, without factoring the
        Jacobian at the new point; the gradient test runs only otherwise. So the
        factors kept here are those MINPACK would report (leastsq's fjac)."""
        if status is not None:
            return self.result_optimality(lin, None), status
        self.gnorm = self.optimality(lin)
        return self.gnorm, (Status.GTOL if self.gnorm <= gtol else None)

    def factors(self):
        """(R, perm, qtf) of the last factored Jacobian (MINPACK's fjac, ipvt, qtf)."""
        return self.R, self.perm, self.qtf

    def result_optimality(self, lin, g_norm):
        """Reported like SciPy: ||J^T f||_inf (the cosine is only the test)."""
        return float(np.max(np.abs(lin.g))) if lin.g.size else 0.0

    def prepare(self, lin, g_norm, Delta):
        self._factor(lin)
        if self.adaptive:
            self.diag = np.maximum(self.diag, self.acnorm)
        self.subproblem = LMSubproblem(self.R, self.perm, self.diag, self.qtf)

    # -- once per trial ------------------------------------------------------
    def propose(self, Delta):
        self.par, p = self.subproblem.solve(Delta, self.par)
        step = -p
        pnorm = norm2(self.diag * step)
        # Model terms (lmder): ||J p||^2 and lambda ||D p||^2, relative to ||f||^2.
        Jp = self.R.dot(step[self.perm])
        Jp_norm = norm2(Jp)
        gauss_newton = self.par == 0
        trial = Trial(x_new=self.x + step, step=step, step_h_norm=pnorm,
                      predicted_reduction=None, tr_hit=None, gauss_newton=gauss_newton,
                      gn_reduction=0.5 * Jp_norm ** 2 if gauss_newton else None)
        trial.Jp_norm = Jp_norm
        return trial

    # Geodesic acceleration in a crawl (crawl.py): MINPACK's steps have no
    # bounds and a dense J.
    accelerates = True

    def acceleration(self, rpp):
        """Transtrum & Sethna's geodesic acceleration for the last proposed
        step, a = -(J^T J + par D^2)^-1 J^T rpp (crawl.py), from the
        factorization lmpar uses. Returns (a, ||D a||)."""
        a = -self.subproblem.solve_regularized(self.J.T.dot(rpp), self.par)
        return a, norm2(self.diag * a)

    def promised_reduction(self, lin, g_norm, Delta):
        """The reduction of the cost the model promises for a full Gauss-Newton
        step from `lin` (None if the radius Delta cuts it): MINPACK's lmpar on
        a factorization of its own, so that the factors MINPACK would report
        (`factors`, curve_fit's covariance) stay those of the last iteration.
        The driver confirms ftol verdicts with it (driver._ftol_confirmed)."""
        R, perm, qtf = qr_pivoted_qtf(lin.J, lin.f)
        diag = np.maximum(self.diag, column_norms(lin.J)) if self.adaptive else self.diag
        par, x = LMSubproblem(R, perm, diag, qtf).solve(Delta, 0.0)
        if par != 0:
            return None
        Jp = R.dot(x[perm])
        return 0.5 * Jp.dot(Jp)

    def failed_step(self, Delta, trial):
        """Non-finite residuals: treat as a very poor step (lmder's temp = 0.1)."""
        self.par /= 0.1
        return 0.1 * min(Delta, trial.step_h_norm / 0.1)

    def judge(self, Delta, trial, cost, cost_new, x_norm, ftol, xtol):
        bound_hit = self.par > 0        # lmpar cut the Gauss-Newton step
        fnorm = self.fnorm
        fnorm1 = sqrt(2.0 * cost_new)
        pnorm = trial.step_h_norm
        if self.first_iteration:
            Delta = min(Delta, pnorm)
        actred = 1.0 - (fnorm1 / fnorm) ** 2 if 0.1 * fnorm1 < fnorm else -1.0
        t = getattr(trial, "t", None)
        if fnorm == 0:
            prered = dirder = 0.0
        elif t is not None:
            # A damped Gauss-Newton step t p (damping.py): the model's relative
            # reduction is (2t - t^2) ||J p||^2 / ||f||^2, its slope -t ||J p||^2.
            q = 2.0 * trial.full_prediction / fnorm ** 2
            prered = (2.0 * t - t * t) * q
            dirder = -t * q
        else:
            temp1 = trial.Jp_norm / fnorm
            temp2 = sqrt(self.par) * pnorm / fnorm
            prered = temp1 ** 2 + temp2 ** 2 / 0.5
            dirder = -(temp1 ** 2 + temp2 ** 2)
        ratio = actred / prered if prered != 0 else 0.0

        if ratio <= 0.25:
            temp = 0.5 if actred >= 0 else 0.5 * dirder / (dirder + 0.5 * actred)
            if 0.1 * fnorm1 >= fnorm or temp < 0.1:
                temp = 0.1
            Delta = temp * min(Delta, pnorm / 0.1)
            self.par /= temp
        elif self.par == 0 or ratio >= 0.75:
            Delta = pnorm / 0.5
            self.par *= 0.5

        accepted = ratio >= 1e-4
        xnorm = norm2(self.diag * (trial.x_new if accepted else self.x))
        if accepted:
            self.first_iteration = False

        ftol_ok = abs(actred) <= ftol and prered <= ftol and 0.5 * ratio <= 1
        xtol_ok = Delta <= xtol * xnorm
        status = None
        if ftol_ok and xtol_ok:
            status = Status.FTOL_AND_XTOL
        elif ftol_ok:
            status = Status.FTOL
        elif xtol_ok:
            status = Status.XTOL
        # MINPACK's "tolerance too small" exits (info 6-8): no further progress
        # is possible in floating point; report the matching tolerance.
        elif abs(actred) <= EPSMCH and prered <= EPSMCH and 0.5 * ratio <= 1:
            status = Status.FTOL
        elif Delta <= EPSMCH * xnorm:
            status = Status.XTOL
        elif self.gnorm <= EPSMCH:
            status = Status.GTOL
        return Verdict(accepted=accepted, Delta=Delta, status=status,
                       actual_reduction=cost - cost_new, ratio=ratio, bound_hit=bound_hit)

    def accept(self, trial):
        return trial.x_new

    def active_mask(self, x, xtol):
        return np.zeros(x.size, dtype=int)
