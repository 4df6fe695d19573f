"""Unit tests for lsqbox.methods: the capability table."""
import dataclasses

import pytest

from lsqbox.methods import METHODS, MethodInfo


def test_method_table():
    assert set(METHODS) == {"trf", "dogbox", "lm"}
    for name, info in METHODS.items():
        assert isinstance(info, MethodInfo) and info.name == name
    for name in ("trf", "dogbox"):
        info = METHODS[name]
        assert info.bounds and info.sparse and info.robust_loss and info.underdetermined
        assert info.default_x_scale == 1.0
    lm = METHODS["lm"]
    assert not (lm.bounds or lm.sparse or lm.robust_loss or lm.underdetermined)
    assert lm.default_x_scale == "jac"


def test_method_info_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        METHODS["trf"].bounds = False
