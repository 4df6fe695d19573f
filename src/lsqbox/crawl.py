"""Geodesic acceleration for trust-region steps that crawl along a valley.

In a long, narrow, slightly curved valley of the cost (NIST MGH17 and Bennett5
from start 1, Nelson, MGH10, the Lanczos problems, Meyer) the Gauss-Newton
model is good only for short steps: its straight step leaves the curved
valley floor, and the cost rises across the valley walls. The radius then
settles where the straight step just fits, and the iterates crawl: every
step ends on the trust-region boundary, points (up to sign) in the direction
of the one before, and the radius stays put, either at one value with ratios
between 1/4 and 3/4 (Bennett5: radius 1.78, ratio 0.70 for 280 steps) or in a
cycle Delta -> 2 Delta -> 4 Delta (rejected) -> Delta (MGH17: 900 evaluations
with the cost falling 1e-10 per step). SciPy crawls the same way.

Transtrum & Sethna (M. K. Transtrum and J. P. Sethna, "Improvements to the
Levenberg-Marquardt algorithm for nonlinear least-squares minimization",
arXiv:1201.5885, 2012) follow the valley with a second-order step: the
geodesic of the model manifold through x with velocity v (the
Levenberg-Marquardt step) is, to second order, x + v + a/2 with the
acceleration

    a = -(J^T J + lambda D^T D)^-1 J^T r''_vv,     r''_vv = d^2/dt^2 r(x + t v),

solved with the same damping as v. The corrected step bends with the valley,
so the same radius buys a step that the model judges well, and the radius
grows. They accept the correction only while it is small, 2 |a| / |v| <=
alpha = 0.75 (their recommendation); we do the same, and fall back to the
plain step v otherwise.

Two deliberate differences from the paper:

* r''_vv costs no evaluation here. Transtrum & Sethna take one extra
  finite difference, r(x + h v), per step. In a crawl the step v is (up to
  sign) parallel to the last accepted step s = x - x_prev, whose residuals
  we have: r(x_prev) = r(x) - J s + r''_ss / 2 + O(|s|^3), so
  r''_ss = 2 (r(x_prev) - r(x) + J s), and for v = t s + (small) we use
  r''_vv ~ t^2 r''_ss. Measured on the NIST problems with trf at default
  settings (crawl detected after 8 steps): the variant with the extra
  evaluation solves MGH17 s1 in 297 and Bennett5 s1 in 190 evaluations,
  this one in 260 and 99.
* It engages only in a crawl (`ValleyCrawl.observe`), never elsewhere:
  every other step is what it was without this module, so lsqbox stays a
  drop-in for SciPy on problems that do not crawl. The radius rule, the ratio test (against the
  model's prediction for v, which the corrected step is meant to realize)
  and the tolerance tests are unchanged.

The acceleration needs the factorization of the current point (trf with
tr_solver='exact': the SVD of J; lm: the pivoted QR and the SVD of R D^-1
that lmpar uses), a linear loss, no bounds (a corrected step could leave the
box) and a Jacobian that is not a secant model (not jac='broyden');
elsewhere the driver does without. The strategy says whether it can
(`accelerates`), computes a (`acceleration`), and reports whether a step
reached the trust-region boundary (`Verdict.bound_hit`; for lm, a positive
LM parameter). Measured on the NIST problems at default settings: trf 52 ->
54 of 54 with at least 4 digits, lm 52 -> 53 (BoxBOD start 1 stays SciPy's
gtol stop at x0); lm's total evaluations 2314 -> 1323.
"""
import numpy as np

from .linalg.vector import nearly_parallel
from .strategies import Trial

__all__ = ["ValleyCrawl"]

# Accepted boundary steps in a row, each (up to sign) parallel to the one
# before, with a radius that did not grow over the second half of them, before
# the crawl is acted on. The crawls that exhaust the budget last hundreds of
# steps, so waiting costs little (MGH17 s1 / Bennett5 s1: 262 / 104
# evaluations with 16, 260 / 99 with 8); a short parallel run on an ordinary
# problem is not taken for a crawl.
STREAK = 16
PARALLEL = 0.99          # |cos| between consecutive steps in a crawl
MAX_ACCELERATION = 0.75  # 2 |a| / |v| (Transtrum & Sethna's alpha)


class ValleyCrawl:
    """Detects a crawl from the accepted steps, and accelerates the trials
    while it lasts."""

    def __init__(self):
        # The current run of accepted boundary steps (their velocities),
        # preceded by the accepted step before it, and the radius of each step
        # of the run. Their directions are compared lazily, once the run is
        # long enough to count (`_check`): on ordinary problems, runs of
        # boundary steps are short and cost an append each.
        self.run = []
        self.radii = []
        self.previous = None     # (x, f) of the accepted point before the current one
        self.engaged = False

    def observe(self, trial, Delta, bound_hit, x, f):
        """Learn from an accepted trial from the point (x, f) at radius Delta
        (rejected trials tell nothing about the valley's direction)."""
        v = trial.velocity if isinstance(trial, AcceleratedTrial) else trial.step
        self.previous = (x, f)
        if not (bound_hit and self.run) or (self.engaged and not nearly_parallel(v, self.run[-1], PARALLEL)):
            self.run, self.radii, self.engaged = [v], [], False
            return
        if self.engaged:
            self.run[-1] = v        # only the last direction matters now
            return
        self.run.append(v)
        self.radii.append(Delta)
        if len(self.radii) >= STREAK:
            self._check()

    def _check(self):
        """Engage when the last STREAK steps of the run each point (up to sign)
        along the one before and the radius did not grow over the second half
        of them; otherwise drop the run up to its last turn."""
        V = np.array(self.run[-(STREAK + 1):])
        dots = np.einsum("ij,ij->i", V[1:], V[:-1])
        squares = np.einsum("ij,ij->i", V, V)
        # `nearly_parallel` for each pair of consecutive steps at once.
        denom = np.sqrt(squares[1:] * squares[:-1])
        turns = np.flatnonzero(~((denom > 0) & (np.abs(dots) >= PARALLEL * denom)))
        if turns.size:
            # Step turns[-1] + 1 of these turned: the run restarts from it.
            start = len(self.run) - (STREAK + 1) + turns[-1] + 1
            self.run, self.radii = self.run[start:], self.radii[start:]
            return
        self.run, self.radii = self.run[-(STREAK + 1):], self.radii[-STREAK:]
        half = STREAK // 2
        # A steadily growing radius is a good model at work, not a crawl.
        self.engaged = max(self.radii[half:]) <= max(self.radii[:half])

    def accelerate(self, trial, lin, strategy):
        """The trial with the geodesic correction (module docstring), or the
        trial itself when not crawling or when the correction is not small.
        Once engaged, every trial is corrected, also a Gauss-Newton step inside
        the region (as in the paper): the crawl ends with the first accepted
        step that is not on the boundary or turns away (`observe`). Measured:
        correcting only boundary steps left Bennett5 s1 at an ftol stop with
        3.8 digits (105 evaluations) instead of a gtol stop with 5.6 (104)."""
        if not self.engaged:
            return trial
        v = trial.step
        x_prev, f_prev = self.previous
        s = lin.x - x_prev
        if not nearly_parallel(v, s, PARALLEL):
            return trial
        t = v.dot(s) / s.dot(s)
        rpp = (2.0 * t * t) * (f_prev - lin.f + lin.J.dot(s))
        a, a_h_norm = strategy.acceleration(rpp)
        if not 2.0 * a_h_norm <= MAX_ACCELERATION * trial.step_h_norm:
            return trial
        step = v + 0.5 * a
        accelerated = AcceleratedTrial(
            velocity=v, x_new=lin.x + step, step=step, step_h_norm=trial.step_h_norm,
            predicted_reduction=trial.predicted_reduction, tr_hit=trial.tr_hit)
        # What else the strategy attached to its trial for `judge` (lm: ||J v||)
        # is the velocity's too.
        for name, value in vars(trial).items():
            accelerated.__dict__.setdefault(name, value)
        return accelerated


class AcceleratedTrial(Trial):
    """A step v + a/2: its radius and prediction are those of the velocity v."""

    def __init__(self, velocity, **fields):
        super().__init__(**fields)
        self.velocity = velocity
