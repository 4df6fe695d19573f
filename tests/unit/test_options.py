"""Unit tests for lsqbox.options: validation errors, defaults, warnings."""
import dataclasses
import re
import warnings

import numpy as np
import pytest
import scipy.optimize
from numpy.testing import assert_array_equal
from scipy.optimize import Bounds
from scipy.sparse import csr_array
from scipy.sparse.linalg import aslinearoperator

from lsqbox.options import (EPS, Options, check_initial_point, check_jac_sparsity,
                            check_jacobian, validate)

X0 = [0.5, 0.5]


def fun(x):
    return np.asarray(x) - 1.0


DEFAULTS = dict(fun=fun, x0=X0, jac="2-point", bounds=(-np.inf, np.inf), method="trf",
                ftol=1e-8, xtol=1e-8, gtol=1e-8, x_scale=None, loss="linear",
                f_scale=1.0, diff_step=None, tr_solver=None, tr_options=None,
                jac_sparsity=None, max_nfev=None, verbose=0, args=(), kwargs=None)


def v(**overrides):
    kw = dict(DEFAULTS)
    kw.update(overrides)
    return validate(**kw)


def scipy_error(**overrides):
    """The exception SciPy's least_squares raises for the same arguments."""
    kw = dict(fun=fun, x0=X0)
    kw.update(overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scipy.optimize.least_squares(**kw)
        except Exception as exc:  # noqa: BLE001 - we want whatever SciPy raises
            return exc
    return None


# Arguments SciPy rejects before calling fun, with the same type and wording.
SCIPY_CASES = [
    dict(method="foo"),
    dict(method="LM"),
    dict(jac="4-point"),
    dict(tr_solver="cholesky"),
    dict(method="lm", loss="huber"),
    dict(verbose=3),
    dict(max_nfev=0),
    dict(max_nfev=-5),
    dict(x0=[1 + 1j, 2.0]),
    dict(x0=[[1.0, 2.0]]),
    dict(bounds=(0, 1, 2)),
    dict(method="lm", bounds=(0, 1)),
    dict(bounds=([0, 0], [1, 1, 1])),
    dict(bounds=(1, 0)),
    dict(bounds=([0, 0.5], [1, 0.5])),
    dict(bounds=(2, 3)),
    dict(bounds=Bounds([0.6, 0.0], [1.0, 1.0])),
    dict(x_scale=-1.0),
    dict(x_scale=[1.0, 0.0]),
    dict(x_scale=[1.0, np.inf]),
    dict(x_scale="foo"),
    dict(x_scale=[1.0, 2.0, 3.0]),
    dict(ftol=None, xtol=None, gtol=None),
    dict(ftol=1e-20, xtol=0.0, gtol=1e-17),
    dict(method="lm", ftol=1e-20),
    dict(method="lm", gtol=None),
    dict(method="lm", jac_sparsity=np.eye(2)),
    dict(tr_solver="exact", jac_sparsity=np.eye(2)),
]


def _id(case):
    return ",".join(f"{k}={v!r}" for k, v in case.items())[:60]


@pytest.mark.parametrize("case", SCIPY_CASES, ids=[_id(c) for c in SCIPY_CASES])
def test_errors_match_scipy_type_and_message(case):
    expected = scipy_error(**case)
    assert expected is not None, "SciPy accepts this; the case list is wrong"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(type(expected)) as info:
            v(**case)
    assert str(info.value) == str(expected)


def test_loss_error_message_is_scipys():
    """SciPy: "`loss` must be one of dict_keys(['linear', 'huber', 'soft_l1',
    'cauchy', 'arctan']) or a callable."

    BUG (src/lsqbox/options.py: _check_choice, via losses.LOSSES' key order):
    lsqbox lists the keys as ['linear', 'soft_l1', 'huber', ...], so the message
    differs from SciPy's, which options.py promises to reproduce.
    """
    expected = ("`loss` must be one of dict_keys(['linear', 'huber', 'soft_l1', "
                "'cauchy', 'arctan']) or a callable.")
    assert str(scipy_error(loss="l2")) == expected
    with pytest.raises(ValueError, match=re.escape(expected)):
        v(loss="l2")


@pytest.mark.parametrize("case, exc, message", [
    (dict(fun=3), TypeError, "`fun` must be callable."),
    (dict(x0=[np.nan, 1.0]), ValueError, "`x0` must contain only finite values; got [nan]."),
    (dict(bounds=([np.nan, 0], [1, 1])), ValueError, "`bounds` must not contain NaN"),
    # SciPy's types for what it cannot even compare or convert:
    (dict(x0=[{}, 1.0]), TypeError, None),
    (dict(bounds=5), TypeError, None),
    (dict(bounds=([1j, 0], [1, 1])), TypeError, None),
    (dict(ftol="small"), TypeError, "`ftol` must be a float or None."),
    (dict(xtol="1e-8"), TypeError, "`xtol` must be a float or None."),
    (dict(diff_step="x"), TypeError, None),
    (dict(args=5), TypeError, None),
    # f_scale matters only for robust losses (SciPy ignores it for 'linear').
    (dict(f_scale=0.0, loss="huber"), ValueError, "`f_scale` must be a positive finite number."),
    (dict(f_scale=-2.0, loss="huber"), ValueError, "`f_scale` must be a positive finite number."),
    (dict(f_scale=np.inf, loss="huber"), ValueError, "`f_scale` must be a positive finite number."),
    (dict(f_scale="big", loss="huber"), TypeError, "`f_scale` must be a positive number."),
    (dict(diff_step=np.inf), ValueError, "`diff_step` must be finite."),
    (dict(tr_options=[("damp", 1.0)]), TypeError, "`tr_options` must be a dict or None."),
    # SciPy would loop forever on these budgets.
    (dict(max_nfev=0.5), ValueError, "`max_nfev` must be None or positive integer."),
    (dict(max_nfev=np.nan), ValueError, "`max_nfev` must be None or positive integer."),
    (dict(max_nfev="10"), (TypeError, ValueError), None),
    (dict(method=None), ValueError, "`method` must be 'trf', 'dogbox' or 'lm'."),
    (dict(x_scale=[1 + 1j, 1.0]), ValueError, "`x_scale` must be 'jac' or array_like"),
])
def test_lsqbox_specific_errors(case, exc, message):
    with pytest.raises(exc) as info:
        v(**case)
    if message is not None:
        assert str(info.value).startswith(message)


def test_defaults_normalized():
    o = v()
    assert isinstance(o, Options)
    assert o.method == "trf"
    assert_array_equal(o.x0, X0)
    assert o.x0.dtype == float
    assert_array_equal(o.lb, [-np.inf, -np.inf])
    assert_array_equal(o.ub, [np.inf, np.inf])
    assert o.max_nfev == 100 * 2
    assert isinstance(o.x_scale, np.ndarray)
    assert_array_equal(o.x_scale, [1.0, 1.0])
    assert (o.ftol, o.xtol, o.gtol) == (1e-8, 1e-8, 1e-8)
    assert o.tr_options == {} and o.kwargs == {} and o.args == ()
    assert o.f_scale == 1.0 and isinstance(o.f_scale, float)
    assert o.tr_solver is None and o.diff_step is None
    assert o.verbose == 0


@pytest.mark.parametrize("method, expected", [("trf", 1.0), ("dogbox", 1.0), ("lm", "jac")])
def test_default_x_scale_per_method(method, expected):
    o = v(method=method)
    if expected == "jac":
        assert o.x_scale == "jac"
    else:
        assert_array_equal(o.x_scale, np.full(2, expected))


def test_max_nfev_default_scales_with_n():
    assert v(x0=np.zeros(7)).max_nfev == 700
    assert v(x0=3.0).max_nfev == 100
    assert v(max_nfev=17).max_nfev == 17
    assert v(max_nfev=np.int64(5)).max_nfev == 5
    assert isinstance(v(max_nfev=np.int64(5)).max_nfev, int)


def test_scalar_x0_bounds_and_x_scale_broadcast():
    o = v(x0=2, bounds=(0, 5), x_scale=3)
    assert_array_equal(o.x0, [2.0])
    assert_array_equal(o.lb, [0.0]) and o.lb.dtype == float
    assert_array_equal(o.ub, [5.0])
    assert_array_equal(o.x_scale, [3.0])
    o = v(bounds=(0, [1, 2]))
    assert_array_equal(o.lb, [0.0, 0.0])
    assert_array_equal(o.ub, [1.0, 2.0])


def test_bounds_object_and_inclusive_x0():
    o = v(bounds=Bounds([0.5, 0.0], [1.0, 0.5]))
    assert_array_equal(o.lb, [0.5, 0.0])
    assert_array_equal(o.ub, [1.0, 0.5])


def test_x_scale_jac_and_array():
    assert v(x_scale="jac").x_scale == "jac"
    assert_array_equal(v(x_scale=[1.0, 2.0]).x_scale, [1.0, 2.0])


def test_tolerance_none_means_zero():
    o = v(ftol=None, xtol=None)
    assert (o.ftol, o.xtol, o.gtol) == (0.0, 0.0, 1e-8)


@pytest.mark.parametrize("name", ["ftol", "xtol", "gtol"])
def test_tolerance_below_eps_warns_like_scipy(name):
    expected = (f"Setting `{name}` below the machine epsilon ({EPS:.2e}) effectively "
                "disables the corresponding termination condition.")
    with pytest.warns(UserWarning) as record:
        o = v(**{name: 1e-20})
    assert [str(w.message) for w in record] == [expected]
    assert getattr(o, name) == 1e-20
    with pytest.warns(UserWarning) as scipy_record:
        scipy.optimize.least_squares(fun, X0, **{name: 1e-20})
    assert str(scipy_record[0].message) == expected


def test_no_warning_at_eps_and_zero_tolerances_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v(ftol=EPS, xtol=1e-8, gtol=1e-8)
    with pytest.warns(UserWarning, match="`xtol` below the machine epsilon"):
        v(xtol=0.0)


def test_args_kwargs_diff_step_normalized():
    o = v(args=[1, 2], kwargs={"a": 3}, diff_step=1e-3, tr_options={"damp": 0.5})
    assert o.args == (1, 2)
    assert o.kwargs == {"a": 3}
    assert isinstance(o.diff_step, np.ndarray) and o.diff_step == 1e-3
    assert o.tr_options == {"damp": 0.5}
    assert v(args=(5,)).args == (5,)
    # SciPy's leniencies: bools are integers, NaN tolerances are switched off,
    # f_scale is unused with the linear loss, an infinite budget is no budget.
    assert v(verbose=True).verbose == 1
    assert v(max_nfev=True).max_nfev == 1
    assert v(max_nfev=np.inf).max_nfev == np.inf
    assert v(xtol=np.nan).xtol == 0.0
    assert v(f_scale=0.0).f_scale == 1.0


def test_options_are_frozen_and_own_their_dicts():
    tr = {"atol": 1e-6}
    kw = {"a": 1}
    o = v(tr_options=tr, kwargs=kw)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.method = "dogbox"
    tr["atol"] = 0.0
    kw["a"] = 2
    assert o.tr_options == {"atol": 1e-6}
    assert o.kwargs == {"a": 1}


def test_x0_input_not_modified():
    x0 = np.array([0.5, 0.5])
    o = v(x0=x0)
    o.x0[0] = 7.0
    assert x0[0] == 0.5


# ---- checks at x0 ----------------------------------------------------------------
def test_check_initial_point():
    f0 = check_initial_point(np.array([1, 2, 3]), 2, "trf")
    assert f0.dtype == float
    assert_array_equal(f0, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=re.escape(
            "`fun` must return at most 1-d array_like. f0.shape: (2, 2)")):
        check_initial_point(np.ones((2, 2)), 2, "trf")
    with pytest.raises(ValueError, match="Residuals are not finite in the initial point."):
        check_initial_point(np.array([1.0, np.inf]), 2, "trf")
    with pytest.raises(ValueError, match="Residuals are not finite in the initial point."):
        check_initial_point(np.array([np.nan]), 1, "trf")
    with pytest.raises(ValueError, match="must return real residuals"):
        check_initial_point(np.array([1j, 2.0]), 2, "trf")
    with pytest.raises(TypeError, match="must return real numbers"):
        check_initial_point(np.array([None, 1.0]), 2, "trf")
    # an empty residual vector is allowed (SciPy returns at once with gtol)
    assert check_initial_point(np.array([]), 2, "trf").size == 0
    with pytest.raises(ValueError, match="Method 'lm' doesn't work when the number of "
                                         "residuals is less than the number of variables."):
        check_initial_point(np.array([1.0]), 2, "lm")
    # m < n is fine for trf and dogbox
    check_initial_point(np.array([1.0]), 2, "dogbox")


def test_check_jac_sparsity():
    S = check_jac_sparsity([[1, 0], [0, 1], [1, 1]], 3, 2)
    assert S.shape == (3, 2)
    S = check_jac_sparsity(csr_array(np.ones((3, 2))), 3, 2)
    assert S.shape == (3, 2)
    assert check_jac_sparsity([1, 1], 1, 2).shape == (1, 2)
    with pytest.raises(ValueError, match="`jac_sparsity` has wrong shape."):
        check_jac_sparsity(np.ones((2, 3)), 3, 2)


def test_check_jacobian():
    o_trf = v()
    assert check_jacobian(np.ones((3, 2)), 3, 2, o_trf) == "exact"
    assert check_jacobian(csr_array(np.ones((3, 2))), 3, 2, o_trf) == "lsmr"
    assert check_jacobian(aslinearoperator(np.ones((3, 2))), 3, 2, o_trf) == "lsmr"
    assert check_jacobian(np.ones((3, 2)), 3, 2, v(tr_solver="lsmr")) == "lsmr"
    with pytest.raises(ValueError, match=re.escape(
            "The return value of `jac` has wrong shape: expected (3, 2), actual (2, 3).")):
        check_jacobian(np.ones((2, 3)), 3, 2, o_trf)
    with pytest.raises(ValueError, match="tr_solver='exact' works only with dense "
                                         "Jacobian matrices."):
        check_jacobian(csr_array(np.ones((3, 2))), 3, 2, v(tr_solver="exact"))
    with pytest.raises(ValueError, match="method='lm' works only with dense Jacobian matrices."):
        check_jacobian(csr_array(np.ones((3, 2))), 3, 2, v(method="lm"))
    with pytest.raises(ValueError, match="x_scale='jac' can't be used when `jac` returns "
                                         "LinearOperator."):
        check_jacobian(aslinearoperator(np.ones((3, 2))), 3, 2, v(x_scale="jac"))
    with pytest.raises(ValueError, match="The Jacobian at the initial point is not finite."):
        check_jacobian(np.array([[1.0, np.nan]]), 1, 2, o_trf)


def test_diff_step_is_ignored_with_a_callable_jac_as_scipy_does():
    """SciPy passes diff_step to its finite differences only; with a callable
    jac any value (found by hypothesis: 'x') is ignored, not refused."""
    import numpy as np
    from lsqbox import least_squares

    res = least_squares(lambda x: x - 1.0, [0.0, 0.0], jac=lambda x: np.eye(2),
                        diff_step="x")
    np.testing.assert_allclose(res.x, [1.0, 1.0])
    with pytest.raises(TypeError):
        least_squares(lambda x: x - 1.0, [0.0, 0.0], diff_step="x")
