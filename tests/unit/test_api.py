"""Unit tests for lsqbox.api: how least_squares wires the parts together."""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lsqbox import least_squares
from lsqbox.result import LeastSquaresResult


def rosen(x):
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def rosen_jac(x):
    return np.array([[-20 * x[0], 10.0], [-1.0, 0.0]])


def test_callable_jac_called_njev_times():
    calls = []

    def jac(x):
        calls.append(1)
        return rosen_jac(x)

    res = least_squares(rosen, [-1.2, 1.0], jac=jac)
    assert isinstance(res, LeastSquaresResult)
    assert res.success
    assert len(calls) == res.njev
    assert res.nfev_total == res.nfev
    assert_allclose(res.x, [1.0, 1.0], atol=1e-6)


def test_finite_differences_counted_in_nfev_total_only():
    res = least_squares(rosen, [-1.2, 1.0], jac="2-point")
    assert res.nfev_total == res.nfev + 2 * res.njev
    res = least_squares(rosen, [-1.2, 1.0], jac="3-point")
    assert res.nfev_total == res.nfev + 4 * res.njev


def test_trf_starts_strictly_inside():
    points = []

    def fun(x):
        points.append(x.copy())
        return rosen(x)

    least_squares(fun, [0.0, 0.0], bounds=([0.0, 0.0], [2.0, 2.0]), max_nfev=3)
    assert points[0][0] > 0 and points[0][1] > 0
    points.clear()
    least_squares(fun, [0.0, 0.0], bounds=([0.0, 0.0], [2.0, 2.0]), method="dogbox",
                  max_nfev=3)
    assert np.all(points[0] == 0.0)


def test_verbose_one_prints_summary(capsys):
    res = least_squares(rosen, [2.0, 2.0], verbose=1)
    out = capsys.readouterr().out
    assert res.message in out
    assert f"Function evaluations {res.nfev}" in out


def test_dogbox_regularize_warning():
    with pytest.warns(UserWarning, match="The keyword 'regularize' in `tr_options` is not "
                                         "relevant for 'dogbox' method."):
        least_squares(rosen, [2.0, 2.0], method="dogbox", tr_solver="lsmr",
                      tr_options={"regularize": True})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        least_squares(rosen, [2.0, 2.0], method="trf", tr_solver="lsmr",
                      tr_options={"regularize": True})


def test_callable_loss_wrong_shape_raises_before_solving():
    with pytest.raises(ValueError, match="The return value of `loss` callable has wrong shape."):
        least_squares(rosen, [2.0, 2.0], loss=lambda z: z)
