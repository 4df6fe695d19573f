"""The method table: which strategy a method uses and what it can handle."""
from dataclasses import dataclass

__all__ = ["METHODS", "MethodInfo"]


@dataclass(frozen=True)
class MethodInfo:
    """Capabilities of a method, used by options.py to refuse what it cannot do."""

    name: str
    bounds: bool
    sparse: bool
    robust_loss: bool
    underdetermined: bool      # m < n allowed
    default_x_scale: object    # used when x_scale is None
    fd_njev: bool = True       # report njev for finite-difference Jacobians
                               # (SciPy's lm reports None)


METHODS = {
    "trf": MethodInfo("trf", bounds=True, sparse=True, robust_loss=True,
                      underdetermined=True, default_x_scale=1.0),
    "dogbox": MethodInfo("dogbox", bounds=True, sparse=True, robust_loss=True,
                         underdetermined=True, default_x_scale=1.0),
    "lm": MethodInfo("lm", bounds=False, sparse=False, robust_loss=False,
                     underdetermined=False, default_x_scale="jac", fd_njev=False),
}
