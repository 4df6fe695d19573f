"""Jacobian sources: a user callable, finite differences (dense or grouped)."""
from .broyden import BroydenJacobian
from .callable import CallableJacobian
from .finite_difference import FiniteDifferenceJacobian

__all__ = ["BroydenJacobian", "CallableJacobian", "FiniteDifferenceJacobian"]
