"""Unit tests for lsqbox.linalg.vector: the small-vector norms."""
import numpy as np
import pytest

from lsqbox.linalg.vector import norm2, norm_inf


@pytest.mark.parametrize("v", [[3.0, 4.0], [1e-300, 1e-300], [-2.0], [0.0, 0.0, 0.0]])
def test_norm2_matches_numpy(v):
    v = np.array(v)
    assert norm2(v) == np.linalg.norm(v)
    assert isinstance(norm2(v), np.float64)


def test_norm2_of_zero_divides_like_numpy():
    with np.errstate(divide="ignore"):
        assert 1.0 / norm2(np.zeros(3)) == np.inf      # numpy scalar: no ZeroDivisionError


def test_norm_inf():
    assert norm_inf(np.array([1.0, -5.0, 2.0])) == 5.0
    assert norm_inf(np.zeros(0)) == 0.0
    assert np.isnan(norm_inf(np.array([1.0, np.nan])))
