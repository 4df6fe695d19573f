"""The result of a solve: SciPy's OptimizeResult with a few more fields."""
import numpy as np
from scipy.optimize import OptimizeResult
from scipy.sparse import issparse

__all__ = ["LeastSquaresResult"]

FIELDS = ("x", "cost", "fun", "jac", "grad", "optimality", "active_mask", "nfev",
          "njev", "status", "message", "success", "nit", "nfev_total", "nrounds")



class LeastSquaresResult(OptimizeResult):
    """Result of `lsqbox.least_squares`.

    Everything SciPy returns (x, cost, fun, jac, grad, optimality, active_mask,
    nfev, njev, status, message, success) plus

    nit : int
        Number of iterations (accepted or not) of the trust-region loop.
    nfev_total : int
        Every call of ``fun``, finite-difference evaluations included (SciPy's
        ``nfev`` counts only the solver's own evaluations).
    nrounds : int
        Batches of evaluations: the initial point, each finite-difference
        Jacobian, each trial (or round of speculative trials). With parallel
        `workers` a round costs the wall time of its slowest evaluation.
    failures : list of dict
        Every failed evaluation: ``x``, ``purpose`` ('trial' or 'jacobian') and
        ``reason`` (the exception, "non-finite residuals", a timeout). Failed
        trial points are treated as very poor steps and the solve goes on.
    """

    def covariance(self, absolute_sigma=False, hold_active=True):
        """Covariance of the parameters from the Jacobian at the solution.

        Parameters
        ----------
        absolute_sigma : bool
            False (default): scale by the reduced chi-square 2 cost / (m - n).
            True: the residuals are already divided by known standard deviations.
        hold_active : bool
            Treat parameters at a bound (``active_mask != 0``) as fixed (their
            rows and columns are NaN).

        Returns
        -------
        lsqbox.fit.Covariance
            ``matrix``, ``stderr``, ``correlation``, ``rank``, ``rank_deficient``,
            ``unidentifiable``, ``dof``.
        """
        from .fit.covariance import covariance_from_jacobian
        active = self.get("active_mask") if hold_active else None
        return covariance_from_jacobian(self.jac, self.cost, absolute_sigma, active)

    @property
    def cov(self):
        """Covariance matrix (reduced chi-square scaling; see `covariance`)."""
        return self.covariance().matrix

    @property
    def stderr(self):
        """Standard errors of the parameters (see `covariance`)."""
        return self.covariance().stderr

    @property
    def correlation(self):
        """Correlation matrix of the parameters (see `covariance`)."""
        return self.covariance().correlation

    def fit_report(self, names=None, absolute_sigma=False, min_correlation=0.5):
        """Text report: statistics, parameters with errors, correlations."""
        from .fit.report import fit_report
        return fit_report(self, names, absolute_sigma, min_correlation)

    def to_dict(self):
        """Plain-Python copy (lists and floats) for JSON; a sparse or operator
        Jacobian is stored as None."""
        out = {}
        for key in FIELDS:
            value = self.get(key)
            if key == "jac" and (issparse(value) or not isinstance(value, np.ndarray)):
                value = None
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, np.generic):
                value = value.item()
            out[key] = value
        out["failures"] = [{"x": np.asarray(item["x"]).tolist(), "purpose": item["purpose"],
                            "reason": item["reason"]} for item in self.get("failures", [])]
        return out

    @classmethod
    def from_dict(cls, data):
        """Inverse of `to_dict` (arrays come back as float/int ndarrays)."""
        result = cls(**data)
        for key in ("x", "fun", "grad"):
            if result.get(key) is not None:
                result[key] = np.asarray(result[key], dtype=float)
        if result.get("jac") is not None:
            result["jac"] = np.asarray(result["jac"], dtype=float)
        if result.get("active_mask") is not None:
            result["active_mask"] = np.asarray(result["active_mask"], dtype=int)
        result["failures"] = [dict(item, x=np.asarray(item["x"], dtype=float))
                              for item in result.get("failures", [])]
        return result
