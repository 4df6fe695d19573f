"""Statistics of a fit: covariance, standard errors, correlations, report; curve_fit."""
from .covariance import Covariance, covariance_from_jacobian
from .report import fit_report

__all__ = ["Covariance", "covariance_from_jacobian", "fit_report"]
