"""Broyden's rank-1 secant updates over a finite-difference source.

For expensive residual functions a finite-difference Jacobian costs n
evaluations per accepted point; a trial step costs one. Every trial evaluation,
accepted or rejected, carries secant information: with s = x_new - x and
y = f(x_new) - f(x), Broyden's "good" update (Broyden, Math. Comp. 19, 1965)

    J <- J + (y - J s) (W s)^T / (s^T W s),    W = diag(1 / x_scale^2),

is the least change to J (in the scaled Frobenius norm) with J s = y. The
weighting makes the update invariant to the units of the variables.

A pure Broyden Jacobian drifts (Moré & Wild, "Benchmarking derivative-free
optimization algorithms", 2009, and the DFO-LS papers discuss the same
effect), so it is refreshed by finite differences

* after two consecutive poor steps (ratio of actual to predicted reduction
  below 0.1): the model, not the radius, is the problem;
* after max(n, 10) updates without a refresh;
* when the radius has shrunk three times in a row;
* before the solver reports convergence (the final covariance needs an honest
  Jacobian; if the fresh Jacobian says the point is not optimal, the solve
  goes on).

A refresh recomputes only the columns that recent steps did not explore when
that is cheaper: a coordinate direction e_j whose scaled component outside the
span of the recent steps is small has been measured by the secant updates
already (Powell's idea of keeping "well-poised" directions, in a simple form).
Measured on the Moré-Wild set this pays with noisy residuals only, so by
default (``partial_refresh=None``) it is used only then.

Beyond the plain update (each measured on benchmarks/more_wild, see docs/benchmarks.md):

* multiple secant conditions: earlier trial points near x stay satisfied
  (``_secant_conditions``; DFO-LS's interpolation model, Gay-Schnabel's
  projected updates);
* no update from a trial whose residuals grew tenfold (MINPACK lmder's test
  for a step far too long): its secant is curvature, not slope;
* after a refresh the policy asked for, the driver returns the radius to
  ``radius_restore`` times its size before the shrinks the stale model caused
  (driver hook ``take_refresh_notice``);
* at a point where J was evaluated, a convergence verdict reached with an
  older or secant-modified J gets one more try with the finite-difference J
  (kept, so free);
* noisy residuals (``noise`` given or 'auto'): no secant update over steps
  inside the box of the finite-difference steps h_j ~ sqrt(noise) |x_j|;
  restarts instead of stopping while budget remains (DFO-LS's soft
  restarts), each with a new full finite-difference J (alternating sides, so
  two in a row at the same point average to a central difference, and their
  difference measures each column's curvature, which sets the noise-optimal
  step of the later ones: `noise_optimal_scale`), also when a poor step lies
  inside that box (the radius has reached the noise level).
  The result reports the first convergence verdict and the restarts; with
  method='lm' a restart also resets MINPACK's scaling and the LM parameter
  (``restarting``; the noisy finite differences inflated the running maximum
  of the column norms).

With method='trf' and smooth residuals the radius after a poor step follows
MINPACK's lmder instead of SciPy's quarter of the step: a quadratic
interpolation along the step gives the fraction (0.1 to 0.5) and it applies to
min(radius, 10 |step|) (strategies/rules.py, `interpolated_shrink`; option
``interpolated_shrink``). A Gauss-Newton step from a stale secant model that
lands well inside the region and fails then costs one or two trials, not a
run of quarterings. Measured on the Moré-Wild set (docs/benchmarks_more_wild.md):
median simplex gradients to solve at tau = 1e-5 from 3.8 to 3.2, same problems
solved. Not with noisy residuals: near the noise level the actual reduction
the interpolation uses is noise (measured: no gain there).
"""
import numpy as np

__all__ = ["BroydenJacobian", "DEFAULT_OPTIONS", "noise_optimal_scale", "restart_step_factor"]

DEFAULT_OPTIONS = {
    "max_updates": None,          # default max(n, 10)
    "poor_ratio": 0.1,
    "poor_steps": 2,
    "radius_shrinks": 3,
    "partial_refresh": None,      # None: with noisy residuals only (measured, see below)
    "explored_threshold": 0.5,    # |e_j - proj(e_j)| below this: column explored
    "radius_restore": 0.25,       # after a refresh: radius >= this x radius before the shrinks
    "noise_restarts": True,       # noisy: restart when the radius reaches the noise level
    "secant_memory": None,        # earlier trial points kept as secant conditions (default n - 1)
    "memory_angle": 0.2,          # their scaled steps' part outside the others' span, at least
    "memory_distance": 10.0,      # and at most this many times the newest step from x
    "interpolated_shrink": None,  # method='trf': MINPACK's radius after a poor step
                                  # (None: on smooth residuals only, see below)
}


# Radius factor per fruitless noisy restart in a row (take_refresh_notice).
# Measured on the noisy Moré-Wild set over six noise seeds (f_L over the
# variants compared, method='trf'): 88% -> 92% solved at tau = 1e-5, 75.5% ->
# 77% by the noise-free f; deterministic noise, seeds 1-3: -1.3 and +1.3
# points. Against the published f_L (DFO-LS and lm included) the means are
# unchanged (79%; noise-free 74% -> 76%).
RESTART_WIDENING = 4.0


def restart_step_factor(k, stochastic=False):
    """The finite-difference step factor of the k-th noisy restart (k >= 1).

    Each restart differences anew at the best point, usually the point of the
    restart before, with the step on the other side (the first restart thus
    completes a central difference with the first Jacobian; see `_refresh`).

    * Stochastic noise (another value at the same point, noise.probe_noise):
      1, then 1/2 from the second restart on. From the third restart the
      points repeat, which gives new noise there: a central difference over
      the same two points, averaged anew. (Measured on the noisy Moré-Wild
      set, seeds 1-3, f_L over the variants compared: 85-89% solved at
      tau = 1e-5 with method='lm', 74-84% with steps that never repeat.)
    * Deterministic noise (the usual kind in simulation codes: meshes,
      tolerances, inner iterations): the same points would return the same
      values, so the sizes run through 2^(2 v_k - 1), v_k the base-2 van der
      Corput sequence (1, 0.71, 1.41, 0.59, 1.19, 0.84, ...): never the same
      twice, and always within a factor of two of the noise-optimal step."""
    side = -1.0 if k % 2 else 1.0
    if stochastic:
        return side * (0.5 if k > 1 else 1.0)
    v, weight, i = 0.0, 0.5, k
    while i:
        v += weight * (i & 1)
        i >>= 1
        weight *= 0.5
    return side * 2.0 ** (2.0 * v - 1.0)


def noise_optimal_scale(D_a, h_a, D_b, h_b, f, noise, scale, factor=1.0):
    """Per-column step multipliers from two forward differences at one point.

    D_a, D_b are forward-difference Jacobians over the signed steps h_a, h_b
    (opposite sides). D_a - D_b = (h_a - h_b) f''/2 + noise, so it measures the
    second derivative mu_j of each column. With residual noise of standard
    deviation noise |f_i|, the forward difference errs by |h| ||mu_j|| / 2
    (truncation) and sqrt(2) noise ||f|| / |h| (noise); their sum of squares
    is least at

        h_j = 8^(1/4) sqrt(noise ||f|| / ||mu_j||)

    (Moré & Wild, "Estimating derivatives of noisy simulations", ACM TOMS
    38(3), 2012, for one function; here the norms over the residuals). The
    default step sqrt(noise) |x_j| assumes curvature of the size of f / x^2;
    a column curved much more (Chebyquad's high-degree polynomials) has a
    forward difference wrong by tens of percent there, and a trust-region
    step from it fails at any radius. Columns whose measured curvature is
    not clearly above the noise, or whose two steps were on one side (the
    bounds), keep their multiplier. Returns the new multipliers of the
    default step, within [1/64, 1] (`scale`: the current ones, None for 1;
    `factor`: the restart's step factor that h_b also carried)."""
    scale = np.broadcast_to(np.asarray(1.0 if scale is None else scale, dtype=float),
                            h_a.shape).copy()
    level = noise * float(np.linalg.norm(f))
    if level == 0:
        return scale
    gap = np.linalg.norm(D_a - D_b, axis=0)
    noise_in_gap = np.sqrt(2.0) * level * np.sqrt(1.0 / h_a ** 2 + 1.0 / h_b ** 2)
    apart = h_a * h_b < 0
    mu = 2.0 * gap / np.where(apart, np.abs(h_a - h_b), 1.0)
    clear = (gap > 3.0 * noise_in_gap) & apart
    h_opt = 8.0 ** 0.25 * np.sqrt(level / np.where(clear, mu, 1.0))
    # The steps used, h_b, were the default times `scale` and the restart's
    # `factor`: express h_opt as a multiple of the default.
    default = np.abs(h_b) / (scale * abs(factor))
    new = np.clip(h_opt / default, 1.0 / 64.0, 1.0)
    return np.where(clear, new, scale)


class BroydenJacobian:
    """Jacobian estimate kept current by rank-1 updates (module docstring).

    Parameters
    ----------
    fd : FiniteDifferenceJacobian
        Forward-difference source used for the first Jacobian and refreshes.
    n : int
        Number of variables.
    x_scale : ndarray or 'jac'
        Variable scaling for the update's weighting ('jac': unweighted).
    options : dict
        Overrides of `DEFAULT_OPTIONS`.
    stochastic_noise : bool
        Noisy residuals that differ between two evaluations at one point
        (noise.probe_noise); sets the steps of the restarts.
    """

    # The driver's MINPACK-style ftol stop (driver._flat_within_ftol): a
    # converged expensive solve does not spend runs shrinking the radius.
    flat_model_stops = True

    def __init__(self, fd, n, x_scale, options=None, stochastic_noise=False):
        unknown = set(options or {}) - set(DEFAULT_OPTIONS)
        if unknown:
            raise ValueError(f"Unknown `jac_options` for jac='broyden': {sorted(unknown)}")
        self.options = {**DEFAULT_OPTIONS, **(options or {})}
        if self.options["max_updates"] is None:
            self.options["max_updates"] = max(n, 10)
        if self.options["secant_memory"] is None:
            self.options["secant_memory"] = max(n - 1, 0)
        self.fd = fd
        self.n = n
        self.stochastic_noise = stochastic_noise
        self.weight = (np.ones(n) if isinstance(x_scale, str)
                       else 1.0 / np.asarray(x_scale, dtype=float) ** 2)
        self.J = None
        self.n_evaluations = 0          # refreshes: Jacobians actually evaluated
        self.refreshes = 0
        self.columns_refreshed = 0
        self._reset_counters()
        self._changed = False
        self._refresh_due = False
        self._full_refresh_due = False
        self._fresh_at = None
        self.updates_since_full = 0
        self.distance_since_full = 0.0
        self.points = []                # (x, f) of recent trial evaluations
        self._refresh_notice = False
        self._noticed_at = None
        self._partial_at = None
        self._J_fresh = None
        self._J_raw = None              # the last full forward difference, unaveraged
        self._h_raw = None              # and its signed steps
        self._full_at = None            # last full refresh: point and step factor
        self._full_factor = None
        self.converged_status = None    # noisy runs: the verdict before the restarts
        self.restarts = 0
        self._at_noise_level = False
        self._restart_notice = False
        self.trials_since_restart = 0
        self.decreases_since_restart = 0
        self.fruitless_restarts = 0
        self.restart_factor = 1.0
        self._restored_at = None
        self._tried_fresh_at = None
        # The evaluation budget (max_nfev; set by least_squares): refreshes
        # never run past it. None: no limit here.
        self.max_evaluations = None

    def _reset_counters(self):
        self.updates = 0
        self.poor = 0
        self.shrinks = 0
        self.recent_steps = []

    # -- the JacobianSource protocol --------------------------------------
    def jacobian(self, x, f):
        """J at an accepted point: the current estimate, or a refresh if due."""
        fresh_here = self._fresh_at == np.asarray(x, dtype=float).tobytes()
        if self.J is None:
            self._refresh(x, f, all_columns=True)
        elif (self._refresh_due or self._policy_says_refresh()) and not fresh_here:
            self._refresh(x, f)
        elif fresh_here:
            # Evaluated here already: the same finite differences again would
            # ask for the same points (a journal would answer them; a plain
            # function would run them twice).
            self._refresh_due = False
            self._reset_counters()
        self._changed = False
        return self.J.copy()

    def observe(self, x_from, f_from, x_to, f_to, ratio=None, shrunk=False):
        """Rank-1 update from a trial evaluation; refresh bookkeeping."""
        self.trials_since_restart += 1
        if self.updates_since_full == 0 and self._fresh_at == np.asarray(x_from, float).tobytes():
            self._tried_fresh_at = self._fresh_at      # a trial of the fresh J (see refine)
        s = x_to - x_from
        ws = self.weight * s
        denom = float(np.dot(s, ws))
        # A step shorter than a good forward-difference step carries rounding,
        # not slope: (y - J s) / |s| would inject noise into J.
        x_size = 1.0 + float(np.sqrt(np.dot(x_from, self.weight * x_from)))
        # With noisy residuals the same holds for a step inside the box of the
        # finite-difference steps h_j ~ sqrt(noise) |x_j| (Moré & Wild,
        # "Estimating derivatives of noisy simulations", 2012): the change in
        # f over it is mostly noise. Per coordinate: variables of different
        # sizes have steps of different sizes (Osborne 1: 1 and 0.01; a
        # step of 0.02 is far beyond the stencil of the small ones).
        fd_steps = np.abs(self.fd.step_sizes(x_from)) if self._noisy() else None
        short = (np.sqrt(denom) <= 1e-7 * x_size if fd_steps is None
                 else bool(np.all(np.abs(s) <= fd_steps)))
        # A trial whose residuals grew tenfold (lmder's test for a step far
        # too long) says the linear model is meaningless at that distance;
        # its secant would be curvature, not slope: no update.
        f_from_norm = np.linalg.norm(f_from)
        wild = f_from_norm > 0 and np.linalg.norm(f_to) >= 10.0 * f_from_norm
        if denom > 0 and not short and self.J is not None and not wild:
            S, Y = self._secant_conditions(x_from, f_from, s, f_to - f_from, x_size, fd_steps)
            self._secant_update(S, Y)
            self.points.append((np.array(x_to, dtype=float), np.array(f_to, dtype=float)))
            del self.points[:-4 * self.n - 4]
            self.updates += 1
            self.updates_since_full += 1
            self.distance_since_full += float(np.sqrt(denom))
            self.recent_steps.append(s * np.sqrt(self.weight))
            self._changed = True
        # Noisy residuals: a poor step shorter than the finite-difference step
        # means the radius has reached the noise level; shrinking it further
        # only chases noise (the ratio is noise there). Restart instead: see
        # updated() (DFO-LS's rho reaching its noise-level floor, Cartis et al.
        # 2019).
        self._at_noise_level = (self._noisy() and ratio is not None
                                and ratio < self.options["poor_ratio"] and short)
        if ratio is not None:
            self.decreases_since_restart += ratio > 0
            self.poor = self.poor + 1 if ratio < self.options["poor_ratio"] else 0
            self.shrinks = self.shrinks + 1 if shrunk else 0

    def updated(self, x, f):
        """After a rejected trial: a new J at the current point, or None.

        Poor steps in a row mean the model is wrong where we stand, so the
        refresh happens here and now rather than at the next accepted point."""
        if self._at_noise_level and self.options["noise_restarts"]:
            self._at_noise_level = False
            if self.converged_status is None:
                # Converged as far as the noise lets the steps tell: xtol.
                from ..termination import Status
                self.converged_status = Status.XTOL
            self._begin_restart()
            self._refresh(x, f)
            self._refresh_notice = True
            self._restart_notice = True
            self._changed = False
            return self.J.copy()
        if self._policy_says_refresh() and self._fresh_at != np.asarray(x, float).tobytes():
            self._refresh(x, f)
            self._changed = False
            return self.J.copy()
        if self._changed:
            self._changed = False
            return self.J.copy()
        return None

    def refine(self, x, status):
        """Before convergence is reported: refresh unless J is fresh here.

        Fresh means evaluated by finite differences at this point, or at a
        point closer than 1e-6 (1 + ||x||) (in scaled variables, summed over the
        steps since): a refreshed Jacobian that still says "not converged"
        moves x by steps at the level of its own forward-difference error, and
        refreshing after each of them would chase that error, n + 1
        evaluations at a time."""
        x = np.asarray(x, dtype=float)
        if self._budget_room() == 0:
            return False            # no evaluation left for a refresh
        if self._noisy():
            # Noisy residuals: the tolerance tests see the noise, not the
            # optimum. Like DFO-LS with objfun_has_noise (Cartis, Fiala,
            # Marteau & Roberts 2019, section on soft restarts), use the
            # budget that remains: new finite differences (the same steps
            # give new noise) and a fresh radius from the best point so far.
            # Not again when the last restart brought no trial evaluation (the
            # budget is out, or the refresh failed) or its refresh failed.
            if self.restarts and (self.trials_since_restart == 0 or self.fd.frozen.size):
                return False
            if self.converged_status is None:
                self.converged_status = status
            self._begin_restart()
            self._refresh_due = True
            self._full_refresh_due = True
            self._fresh_at = None
            return True
        if self._fresh_at == x.tobytes():
            # Evaluated here, but the verdict came from a step the older model
            # proposed (the refresh happened on arrival), or secant updates
            # from rejected trials changed J since (a far, failed trial can
            # wreck it and with it the radius or lm's scaling): go on once per
            # point with the finite-difference J, which costs nothing.
            if self._restored_at != self._fresh_at and self._tried_fresh_at != self._fresh_at:
                self.J = self._J_fresh.copy()
                self._restored_at = self._fresh_at
                return True
            return False
        if (self._fresh_at is not None
                and self.distance_since_full <= 1e-6 * (1.0 + np.linalg.norm(x))):
            return False
        self._refresh_due = True
        self._full_refresh_due = True
        return True

    # -- multiple secant conditions -----------------------------------------
    def _secant_conditions(self, x, f, s, y, x_size, fd_steps=None):
        """The newest secant pair and earlier trial points, seen from x.

        Broyden's update makes J exact along the newest step only and spoils
        the earlier secant equations a little each time. Keeping the earlier
        trial points as conditions J (x_t - x) = f_t - f, as long as their
        steps are well spread (each with a part of at least `memory_angle`
        outside the span of those kept before it) and close (within
        `memory_distance` times the newest step), makes J a linear
        interpolation model of the residuals through these points: the
        model DFO-LS keeps (Cartis, Fiala, Marteau & Roberts, "Improving the
        flexibility and robustness of model-based derivative-free optimization
        solvers", ACM TOMS 45(3), 2019), or Broyden's method with the
        projected updates of Gay & Schnabel (1978)."""
        root_w = np.sqrt(self.weight)
        u_new = root_w * s
        cols_s, cols_y = [s], [y]
        basis = [u_new / np.linalg.norm(u_new)]
        limit = self.options["memory_distance"] * np.linalg.norm(u_new)
        keep = self.options["secant_memory"]
        for xt, ft in reversed(self.points):
            if len(cols_s) > keep:
                break
            st = xt - x
            ut = root_w * st
            size = np.linalg.norm(ut)
            if size > limit or (size <= 1e-7 * x_size if fd_steps is None
                                else np.all(np.abs(st) <= fd_steps)):
                continue
            B = np.array(basis).T
            outside = ut - B.dot(B.T.dot(ut))
            if np.linalg.norm(outside) < self.options["memory_angle"] * size:
                continue
            basis.append(outside / np.linalg.norm(outside))
            cols_s.append(st)
            cols_y.append(ft - f)
        return np.array(cols_s).T, np.array(cols_y).T

    def _secant_update(self, S, Y):
        """Least change to J (scaled Frobenius norm) with J S = Y."""
        W = self.weight[:, None] * S                 # W S
        G = S.T.dot(W)                               # S^T W S
        R = Y - self.J.dot(S)
        coef = np.linalg.solve(G, W.T)               # (S^T W S)^-1 S^T W
        self.J += R.dot(coef)

    def _budget_room(self):
        """Evaluations left in max_nfev (None: no limit known here)."""
        if self.max_evaluations is None:
            return None
        return max(self.max_evaluations - self.fd.problem.nfev, 0)

    def _begin_restart(self):
        fruitless = self.restarts and self.decreases_since_restart == 0
        self.fruitless_restarts = self.fruitless_restarts + 1 if fruitless else 0
        self.decreases_since_restart = 0
        self.restarts += 1
        self.trials_since_restart = 0
        self.restart_factor = restart_step_factor(self.restarts, self.stochastic_noise)
        self._full_refresh_due = True

    @property
    def interpolated_shrink(self):
        """Whether a trust-region strategy with SciPy's rules should use
        MINPACK's interpolated radius after a poor step (option
        ``interpolated_shrink``; None: with smooth residuals)."""
        choice = self.options["interpolated_shrink"]
        return (not self._noisy()) if choice is None else bool(choice)

    def _noisy(self):
        noise = getattr(self.fd, "noise", None)
        return noise is not None and noise > 1e-10

    @property
    def restarting(self):
        """Driver hook, read before `take_refresh_notice`: True right after a
        noisy restart at the noise level (updated()). A restart is a new start
        (DFO-LS's soft restart re-initializes its model and radius, Cartis et
        al. 2019), so a strategy with state learned from the earlier, noisy
        Jacobians (lm's scaling D, MINPACK's running maximum of the column
        norms, and its LM parameter) starts that state afresh too."""
        return self._restart_notice

    def take_refresh_notice(self):
        """Driver hook, once after a refresh: the fraction of the radius before
        its latest shrinks to return to (0: none; see driver._after_refresh)."""
        notice, self._refresh_notice = self._refresh_notice, False
        restart, self._restart_notice = self._restart_notice, False
        if restart:
            # Back to the radius the restart began with; after restarts in a
            # row that lowered the cost nowhere, RESTART_WIDENING times more
            # for each (the driver caps it at the initial radius): a radius
            # whose every trial fails at the noise level (Rosenbrock's wall
            # from x0 = (-12, 10): f ~ 1e5, steps of 0.09 while the valley is
            # 5 away) would otherwise be restored again and again.
            return RESTART_WIDENING ** min(self.fruitless_restarts, 20)
        return self.options["radius_restore"] if notice else 0.0

    # -- refresh policy ----------------------------------------------------
    def _policy_says_refresh(self):
        o = self.options
        return (self.poor >= o["poor_steps"] or self.updates >= o["max_updates"]
                or self.shrinks >= o["radius_shrinks"])

    def _unexplored_columns(self):
        """Columns whose coordinate direction the recent steps did not span."""
        if not self.recent_steps:
            return np.arange(self.n)
        S = np.array(self.recent_steps[-self.n:]).T
        Q, R = np.linalg.qr(S)
        keep = np.abs(np.diag(R)) > 1e-12 * max(1.0, np.abs(R).max())
        Q = Q[:, keep]
        # Component of each scaled coordinate vector outside span(Q).
        outside = np.sqrt(np.maximum(0.0, 1.0 - np.sum(Q ** 2, axis=1)))
        return np.flatnonzero(outside > self.options["explored_threshold"])

    def _refresh(self, x, f, all_columns=False):
        if self._noisy():
            self.fd.step_factor = self.restart_factor
        if self.J is not None:
            self.fd.previous = self.J      # failed FD columns keep these
        cols = None
        # A second refresh at the same point is a full one.
        partial = self.options["partial_refresh"]
        if partial is None:
            partial = self._noisy()
        if (not all_columns and not self._full_refresh_due and partial
                and self.fd.pattern is None
                and self._partial_at != np.asarray(x, dtype=float).tobytes()):
            unexplored = self._unexplored_columns()
            if 0 < unexplored.size < self.n:
                cols = unexplored
        room = None if self.J is None else self._budget_room()
        if room is not None and room < (self.n if cols is None else cols.size):
            # max_nfev counts every call: a refresh takes the columns the
            # budget can pay for, the least explored first, or none.
            first = self._unexplored_columns() if cols is None else cols
            rest = np.setdiff1d(np.arange(self.n), first)
            cols = np.concatenate((first, rest))[:room].astype(int)
            if not cols.size:
                self._refresh_due = self._full_refresh_due = False
                self._reset_counters()
                return
        if cols is None:
            J_new = np.asarray(self.fd.jacobian(x, f), dtype=float)
            here = np.asarray(x, dtype=float).tobytes()
            steps = self.fd.last_steps
            if (self._noisy() and self._full_at == here
                    and self._full_factor * self.fd.step_factor < 0 and not self.fd.frozen.size):
                # A restart at the point of the last full refresh, with the
                # step on the other side: forward differences over h1 and -h2
                # err by +h1 f''/2 and -h2 f''/2, so their mean weighted by
                # h2 and h1 is free of the O(h) term (for h1 = h2, the central
                # difference), and it averages the noise of two differences.
                # (Of the raw differences: the last J here may be such a mean.)
                # Their difference measures f'', which sets the next steps.
                # (A column the bounds kept on one side both times: the plain
                # mean; the extrapolation that cancels O(h) there would
                # amplify the noise.)
                h1, h2 = np.abs(self._h_raw), np.abs(steps)
                J_raw = J_new
                J_new = np.where(self._h_raw * steps < 0,
                                 (h2 * self._J_raw + h1 * J_new) / (h1 + h2),
                                 0.5 * (self._J_raw + J_new))
                self.fd.column_scale = noise_optimal_scale(
                    self._J_raw, self._h_raw, J_raw, steps, f, self.fd.noise,
                    self.fd.column_scale, self.fd.step_factor)
                self._J_raw = J_raw
            else:
                self._J_raw = J_new
            self._h_raw = steps
            self._full_at, self._full_factor = here, self.fd.step_factor
            self.J = J_new
            self.columns_refreshed += self.n
            self._fresh_at = np.asarray(x, dtype=float).tobytes()
            self._J_fresh = self.J.copy()
            self.updates_since_full = 0
            self.distance_since_full = 0.0
        else:
            self.J[:, cols] = self.fd.jacobian_columns(x, f, cols)
            self.columns_refreshed += cols.size
        self.refreshes += 1
        self.n_evaluations += 1
        here = np.asarray(x, dtype=float).tobytes()
        # Once per point: a second refresh here means the radius, not the
        # model, is the problem now.
        self._refresh_notice = self._noticed_at != here
        self._noticed_at = here
        self._partial_at = None if cols is None else here
        self._refresh_due = False
        self._full_refresh_due = False
        self._reset_counters()
