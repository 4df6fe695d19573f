"""The result of a solve: SciPy's OptimizeResult with a few more fields."""
import numpy as np
from scipy.optimize import OptimizeResult
from scipy.sparse import issparse

__all__ = ["LeastSquaresResult"]

FIELDS = ("x", "cost", "fun", "jac", "grad", "optimality", "active_mask", "nfev",
          "njev", "status", "message", "success", "nit", "nfev_total")


class LeastSquaresResult(OptimizeResult):
    """Result of `lsqbox.least_squares`.

    Everything SciPy returns (x, cost, fun, jac, grad, optimality, active_mask,
    nfev, njev, status, message, success) plus

    nit : int
        Number of iterations (accepted or not) of the trust-region loop.
    nfev_total : int
        Every call of ``fun``, finite-difference evaluations included (SciPy's
        ``nfev`` counts only the solver's own evaluations).
    """

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
        return result
