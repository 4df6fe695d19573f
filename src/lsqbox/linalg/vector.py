"""Norms and the angle test of small vectors, without numpy.linalg.norm's
generality (it costs microseconds per call, and the trust-region loop calls
it dozens of times per iteration on vectors of a few elements)."""
from math import sqrt

import numpy as np

__all__ = ["norm2", "norm_inf", "nearly_parallel"]

_float64 = np.float64


def norm2(v):
    """Euclidean norm of a 1-d float array, as a numpy float64 (so that a
    division by a zero norm gives inf with a warning, as with numpy's norm,
    rather than Python's ZeroDivisionError)."""
    return _float64(sqrt(v.dot(v)))


def norm_inf(v):
    """Infinity norm of a 1-d float array (0 for an empty one)."""
    return float(abs(v).max()) if v.size else 0.0


def nearly_parallel(a, b, cos_min):
    """Whether a and b point (up to sign) within the angle whose cosine is
    cos_min: |a.b| >= cos_min |a| |b| (False if either is zero)."""
    denom = sqrt(a.dot(a) * b.dot(b))
    return denom > 0 and abs(a.dot(b)) >= cos_min * denom
