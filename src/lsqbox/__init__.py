"""lsqbox: nonlinear least squares, a drop-in for scipy.optimize.least_squares."""
__version__ = "0.1.0"
