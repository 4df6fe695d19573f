"""Step strategies plugged into the one trust-region loop (driver.py).

A strategy owns what differs between methods: the optimality measure, the
factorization done once per accepted point (`prepare`), the cheap step for a
given radius (`propose`), and how an accepted point is adjusted (`accept`).
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Linearization:
    """The model at an accepted point, after the loss has been applied.

    x : point; f : robustified residuals; J : robustified Jacobian;
    g : gradient J^T f; scale, scale_inv : variable scaling (x_scale).
    """

    x: np.ndarray
    f: np.ndarray
    J: object
    g: np.ndarray
    scale: np.ndarray
    scale_inv: np.ndarray


@dataclass
class Trial:
    """A proposed step: where to evaluate and what the model predicts."""

    x_new: np.ndarray
    step: np.ndarray
    step_h_norm: float
    predicted_reduction: float
    tr_hit: bool
    on_bound: np.ndarray = None
    # The step minimizes the strategy's quadratic model without any trust-region
    # or bound restriction (the full Gauss-Newton step), and the model's
    # reduction of the cost for it: along the step the model predicts
    # gn_reduction * (2t - t^2) for t * step (damping.py).
    gauss_newton: bool = False
    gn_reduction: float = None
    slope: float = None       # g^T step, the model's slope along the step (trf)
