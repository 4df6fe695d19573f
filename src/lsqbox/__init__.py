"""lsqbox: nonlinear least squares, a drop-in for scipy.optimize.least_squares."""
from .api import least_squares
from .fit.curve_fit import curve_fit
from .losses import LOSSES
from .result import LeastSquaresResult
from .termination import Status

__all__ = ["least_squares", "curve_fit", "LeastSquaresResult", "Status", "LOSSES"]
__version__ = "0.1.0"
