"""Tests of lsqbox.calibration.parameters: named parameters <-> the solver's vector."""
import math
import pickle

import numpy as np
import pytest

from lsqbox.calibration.parameters import Parameter, ParameterError, ParameterSet

LN10 = math.log(10.0)


def make_set():
    return ParameterSet([
        Parameter("k1", 0.5, min=0.01, max=10.0, log=True),
        Parameter("T0", 300.0, fixed=True),
        Parameter("a", -2.0, min=-5.0, max=5.0),
        Parameter("k2", 2e-3, min=0.0, max=1.0, log=True),     # min 0: no lower bound in log
        Parameter("scale", 1.5, fixed=True, log=True),
        Parameter("c", 0.25),                                   # unbounded
    ])


# -- one parameter ---------------------------------------------------------------------
def test_defaults():
    p = Parameter("x", 1.25)
    assert (p.min, p.max, p.log, p.fixed) == (-np.inf, np.inf, False, False)
    assert p.to_solver(1.25) == 1.25 and p.from_solver(1.25) == 1.25
    assert p.solver_bounds() == (-np.inf, np.inf)


def test_log_transform_and_bounds():
    p = Parameter("k", 0.5, min=0.01, max=10.0, log=True)
    assert p.to_solver(100.0) == pytest.approx(2.0, abs=1e-15)
    assert p.to_solver(0.5) == pytest.approx(math.log10(0.5), abs=1e-16)
    assert p.from_solver(-2.0) == pytest.approx(0.01, rel=1e-15)
    assert p.from_solver(math.log10(0.5)) == pytest.approx(0.5, rel=1e-15)
    lo, hi = p.solver_bounds()
    assert lo == pytest.approx(-2.0, abs=1e-15) and hi == pytest.approx(1.0, abs=1e-15)
    # min = 0 maps to no lower bound; max = inf stays inf
    p0 = Parameter("k", 3.0, min=0.0, log=True)
    assert p0.solver_bounds() == (-np.inf, np.inf)
    assert Parameter("k", 3.0, min=0.0, max=1000.0, log=True).solver_bounds()[1] == \
        pytest.approx(3.0, abs=1e-15)
    # round trips over decades (relative error ~ eps * ln(10) * |log10 v|)
    for v in (1e-12, 3.7e-5, 0.3, 1.0, 42.0, 6.02e23):
        tol = 4e-16 * max(1.0, LN10 * abs(math.log10(v)))
        assert p.from_solver(p.to_solver(v)) == pytest.approx(v, rel=tol)


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="1k", value=1.0), "not an identifier"),
    (dict(name="my-k", value=1.0), "not an identifier"),
    (dict(name="k", value=float("nan")), "value is NaN"),
    (dict(name="k", value=1.0, min=float("nan")), "min is NaN"),
    (dict(name="k", value=1.0, max=float("nan")), "max is NaN"),
    (dict(name="k", value=float("inf")), "value must be finite"),
    (dict(name="k", value=1.0, min=2.0, max=1.0), "min (2.0) must be below max (1.0)"),
    (dict(name="k", value=1.0, min=1.0, max=1.0), "must be below max"),
    (dict(name="k", value=5.0, min=0.0, max=1.0), "value 5.0 is outside [0.0, 1.0]"),
    (dict(name="k", value=-1.0, min=0.0, max=1.0), "is outside"),
    (dict(name="k", value=1.0, min=-1.0, max=2.0, log=True), "log = true needs a positive"),
    (dict(name="k", value=1.0, log=True), "min >= 0"),           # min defaults to -inf
    (dict(name="k", value=0.0, min=0.0, max=2.0, log=True), "positive value"),
])
def test_invalid_parameter(kwargs, message):
    with pytest.raises(ParameterError) as info:
        Parameter(**kwargs)
    assert message in str(info.value)
    assert repr(kwargs["name"]) in str(info.value)          # the message names it


def test_fixed_parameter_skips_bound_checks_but_not_finiteness():
    p = Parameter("T0", 300.0, min=0.0, max=1.0, fixed=True)   # outside: irrelevant
    assert p.value == 300.0
    Parameter("s", -1.0, fixed=True, log=True)                  # log ignored when fixed
    with pytest.raises(ParameterError, match="finite"):
        Parameter("T0", float("inf"), fixed=True)


# -- a set of parameters ------------------------------------------------------------------
def test_names_and_start_vector():
    ps = make_set()
    assert ps.names == ["k1", "T0", "a", "k2", "scale", "c"]
    assert ps.free_names == ["k1", "a", "k2", "c"]
    np.testing.assert_allclose(ps.x0(), [math.log10(0.5), -2.0, math.log10(2e-3), 0.25],
                               rtol=0, atol=1e-15)
    assert ps.x0().dtype == np.float64


def test_bounds_in_solver_space():
    lb, ub = make_set().bounds()
    np.testing.assert_allclose(lb, [-2.0, -5.0, -np.inf, -np.inf], rtol=0, atol=1e-15)
    np.testing.assert_allclose(ub, [1.0, 5.0, 0.0, np.inf], rtol=0, atol=1e-15)
    assert lb.shape == ub.shape == (4,)


def test_values_from_solver_vector_include_fixed_in_order():
    ps = make_set()
    x = np.array([1.0, 3.5, -4.0, -0.125])
    values = ps.values(x)
    assert list(values) == ps.names
    assert values == pytest.approx({"k1": 10.0, "T0": 300.0, "a": 3.5, "k2": 1e-4,
                                    "scale": 1.5, "c": -0.125}, rel=1e-15)
    assert values["T0"] == 300.0 and values["scale"] == 1.5     # fixed: exactly
    assert all(type(v) is float for v in values.values())
    np.testing.assert_allclose(ps.free_values(x), [10.0, 3.5, 1e-4, -0.125], rtol=1e-15)
    # start values back from x0
    start = ps.values(ps.x0())
    assert start == pytest.approx({"k1": 0.5, "T0": 300.0, "a": -2.0, "k2": 2e-3,
                                   "scale": 1.5, "c": 0.25}, rel=1e-15)


def test_value_jacobian_matches_finite_differences():
    ps = make_set()
    x = np.array([0.3, 1.7, -2.5, 4.0])
    d = ps.value_jacobian(x)
    np.testing.assert_allclose(d, [LN10 * 10 ** 0.3, 1.0, LN10 * 10 ** -2.5, 1.0], rtol=1e-14)
    h = 1e-6
    numeric = [(ps.free_values(x + h * e) - ps.free_values(x - h * e))[i] / (2 * h)
               for i, e in enumerate(np.eye(4))]
    np.testing.assert_allclose(d, numeric, rtol=1e-8)


def test_value_jacobian_maps_a_covariance_to_values():
    # stderr of k = 10**u from stderr of u: ln(10) * k * sd(u) (first order)
    ps = ParameterSet([Parameter("k", 2.0, min=0.0, log=True), Parameter("a", 1.0)])
    x = ps.x0()
    cov_solver = np.array([[1e-4, 2e-5], [2e-5, 4e-2]])
    scale = ps.value_jacobian(x)
    cov_values = cov_solver * np.outer(scale, scale)
    assert math.sqrt(cov_values[0, 0]) == pytest.approx(LN10 * 2.0 * 1e-2, rel=1e-14)
    assert math.sqrt(cov_values[1, 1]) == pytest.approx(0.2, rel=1e-14)
    # a Monte Carlo check of the same first-order rule
    rng = np.random.default_rng(1)
    u = rng.normal(x[0], 1e-2, 200_000)
    assert np.std(10 ** u) == pytest.approx(LN10 * 2.0 * 1e-2, rel=0.01)


def test_duplicate_and_all_fixed_are_errors():
    with pytest.raises(ParameterError, match=r"duplicate parameter names: \['k'\]"):
        ParameterSet([Parameter("k", 1.0), Parameter("a", 1.0), Parameter("k", 2.0)])
    with pytest.raises(ParameterError, match="every parameter is fixed"):
        ParameterSet([Parameter("k", 1.0, fixed=True), Parameter("a", 1.0, fixed=True)])
    with pytest.raises(ParameterError, match="every parameter is fixed"):
        ParameterSet([])


def test_parameter_set_pickles():
    ps = make_set()
    copy = pickle.loads(pickle.dumps(ps))
    x = np.array([0.1, 0.2, -1.0, 3.0])
    assert copy.values(x) == ps.values(x)
    assert copy.names == ps.names
