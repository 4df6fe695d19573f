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
"""
import numpy as np

__all__ = ["BroydenJacobian", "DEFAULT_OPTIONS"]

DEFAULT_OPTIONS = {
    "max_updates": None,          # default max(n, 10)
    "poor_ratio": 0.1,
    "poor_steps": 2,
    "radius_shrinks": 3,
    "partial_refresh": True,
    "explored_threshold": 0.5,    # |e_j - proj(e_j)| below this: column explored
}


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
    """

    def __init__(self, fd, n, x_scale, options=None):
        unknown = set(options or {}) - set(DEFAULT_OPTIONS)
        if unknown:
            raise ValueError(f"Unknown `jac_options` for jac='broyden': {sorted(unknown)}")
        self.options = {**DEFAULT_OPTIONS, **(options or {})}
        if self.options["max_updates"] is None:
            self.options["max_updates"] = max(n, 10)
        self.fd = fd
        self.n = n
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
        s = x_to - x_from
        ws = self.weight * s
        denom = float(np.dot(s, ws))
        # A step shorter than a good forward-difference step carries rounding,
        # not slope: (y - J s) / |s| would inject noise into J.
        x_size = 1.0 + float(np.sqrt(np.dot(x_from, self.weight * x_from)))
        if denom > 0 and np.sqrt(denom) > 1e-7 * x_size and self.J is not None:
            residual = (f_to - f_from) - self.J.dot(s)
            self.J += np.outer(residual, ws / denom)
            self.updates += 1
            self.updates_since_full += 1
            self.distance_since_full += float(np.sqrt(denom))
            self.recent_steps.append(s * np.sqrt(self.weight))
            self._changed = True
        if ratio is not None:
            self.poor = self.poor + 1 if ratio < self.options["poor_ratio"] else 0
            self.shrinks = self.shrinks + 1 if shrunk else 0

    def updated(self, x, f):
        """After a rejected trial: a new J at the current point, or None.

        Poor steps in a row mean the model is wrong where we stand, so the
        refresh happens here and now rather than at the next accepted point."""
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
        if self._fresh_at == x.tobytes():
            return False
        if (self._fresh_at is not None
                and self.distance_since_full <= 1e-6 * (1.0 + np.linalg.norm(x))):
            return False
        self._refresh_due = True
        self._full_refresh_due = True
        return True

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
        if self.J is not None:
            self.fd.previous = self.J      # failed FD columns keep these
        cols = None
        if (not all_columns and not self._full_refresh_due and self.options["partial_refresh"]
                and self.fd.pattern is None):
            unexplored = self._unexplored_columns()
            if 0 < unexplored.size < self.n:
                cols = unexplored
        if cols is None:
            self.J = np.asarray(self.fd.jacobian(x, f), dtype=float)
            self.columns_refreshed += self.n
            self._fresh_at = np.asarray(x, dtype=float).tobytes()
            self.updates_since_full = 0
            self.distance_since_full = 0.0
        else:
            self.J[:, cols] = self.fd.jacobian_columns(x, f, cols)
            self.columns_refreshed += cols.size
        self.refreshes += 1
        self.n_evaluations += 1
        self._refresh_due = False
        self._full_refresh_due = False
        self._reset_counters()
