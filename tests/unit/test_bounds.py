"""Unit tests for lsqbox.bounds."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from lsqbox.bounds import (ball_crossings, cl_scaling_vector, find_active_constraints, has_bounds,
                           in_bounds, intersect_trust_region, make_strictly_feasible,
                           step_size_to_bound)

inf = np.inf


def test_has_bounds_and_in_bounds():
    assert not has_bounds(np.full(3, -inf), np.full(3, inf))
    assert has_bounds(np.array([-inf, 0.0]), np.array([inf, inf]))
    assert has_bounds(np.array([-inf, -inf]), np.array([inf, 5.0]))
    lb, ub = np.array([0.0, -1.0]), np.array([1.0, 1.0])
    assert in_bounds(np.array([0.0, 1.0]), lb, ub)          # closed box
    assert not in_bounds(np.array([np.nextafter(0.0, -1), 0.0]), lb, ub)
    assert not in_bounds(np.array([0.5, 1.0 + 1e-16 * 4]), lb, ub)
    assert not in_bounds(np.array([np.nan, 0.0]), lb, ub)


# ---- step_size_to_bound -------------------------------------------------------
def test_step_size_to_bound_example():
    t, hits = step_size_to_bound(np.zeros(3), np.array([1.0, -2.0, 0.0]),
                                 np.array([-1.0, -1.0, -1.0]), np.array([1.0, 1.0, 1.0]))
    assert t == 0.5
    assert_array_equal(hits, [0, -1, 0])


def test_step_size_to_bound_ties_and_infinite():
    t, hits = step_size_to_bound(np.zeros(2), np.array([1.0, -1.0]),
                                 np.array([-2.0, -2.0]), np.array([2.0, 2.0]))
    assert t == 2.0
    assert_array_equal(hits, [1, -1])
    # unbounded direction, or zero step: never leaves the box
    t, hits = step_size_to_bound(np.zeros(2), np.array([1.0, 0.0]),
                                 np.array([-1.0, -1.0]), np.array([inf, 1.0]))
    assert t == inf
    # (hits for an infinite t mark every moving component, as SciPy's helper
    # does; callers only use hits when t is finite.)
    t, hits = step_size_to_bound(np.zeros(2), np.zeros(2), -np.ones(2), np.ones(2))
    assert t == inf
    assert_array_equal(hits, [0, 0])


def test_step_size_to_bound_random():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = rng.integers(1, 6)
        lb = rng.uniform(-3, -0.1, n)
        ub = rng.uniform(0.1, 3, n)
        lb[rng.random(n) < 0.2] = -inf
        ub[rng.random(n) < 0.2] = inf
        x = rng.uniform(-0.1, 0.1, n)
        s = rng.normal(size=n)
        s[rng.random(n) < 0.2] = 0.0
        t, hits = step_size_to_bound(x, s, lb, ub)
        # brute force: per-component largest feasible t
        per = np.full(n, inf)
        for i in range(n):
            if s[i] > 0:
                per[i] = (ub[i] - x[i]) / s[i]
            elif s[i] < 0:
                per[i] = (lb[i] - x[i]) / s[i]
        assert t == pytest.approx(per.min(), rel=1e-15)
        if np.isfinite(t):
            y = x + t * s
            assert np.all(y >= lb - 1e-12) and np.all(y <= ub + 1e-12)
            i = np.argmin(per)
            assert hits[i] == np.sign(s[i])
            assert y[i] == pytest.approx(ub[i] if s[i] > 0 else lb[i], abs=1e-12)
            assert np.all(hits[per > t] == 0)
            # a bit further leaves the box
            z = x + 1.001 * t * s
            assert not in_bounds(z, lb, ub)


# ---- find_active_constraints ----------------------------------------------------
def test_find_active_constraints_exact():
    lb = np.array([0.0, 0.0, -inf, 0.0])
    ub = np.array([1.0, 1.0, 1.0, inf])
    x = np.array([0.0, 1.0, 0.5, 1e-300])
    assert_array_equal(find_active_constraints(x, lb, ub, rtol=0), [-1, 1, 0, 0])


def test_find_active_constraints_tolerance():
    lb = np.array([0.0, 0.0, -100.0, -inf, 0.0])
    ub = np.array([1.0, 1.0, 100.0, inf, 1.0])
    # within 1e-10 * max(1, |bound|) of the bound
    x = np.array([0.9e-10, 1 - 1.1e-10, 100 - 0.9e-8, 5.0, 0.5])
    assert_array_equal(find_active_constraints(x, lb, ub, rtol=1e-10), [-1, 0, 1, 0, 0])
    assert_array_equal(find_active_constraints(x, lb, ub, rtol=1e-9), [-1, 1, 1, 0, 0])


def test_find_active_constraints_narrow_box_picks_closer_bound():
    lb = np.array([0.0, 0.0])
    ub = np.array([1e-12, 1e-12])
    x = np.array([0.2e-12, 0.8e-12])
    assert_array_equal(find_active_constraints(x, lb, ub, rtol=1e-10), [-1, 1])


def test_find_active_constraints_matches_scipy():
    from scipy.optimize._lsq.common import find_active_constraints as ref
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = 6
        lb = rng.uniform(-5, 0, n)
        ub = lb + 10.0 ** rng.uniform(-12, 1, n)
        lb[rng.random(n) < 0.2] = -inf
        x = np.where(np.isfinite(lb), lb, ub - 1) + rng.uniform(0, 1, n) * 1e-9
        x = np.minimum(x, ub)
        for rtol in (0.0, 1e-10, 1e-6):
            assert_array_equal(find_active_constraints(x, lb, ub, rtol), ref(x, lb, ub, rtol))


# ---- make_strictly_feasible -------------------------------------------------------
def test_make_strictly_feasible_relative_step():
    lb = np.array([0.0, -10.0, -inf, 2.0])
    ub = np.array([1.0, 10.0, 5.0, 3.0])
    x = np.array([0.0, 10.0, 5.0, 2.5])
    x0 = x.copy()
    y = make_strictly_feasible(x, lb, ub, rstep=1e-10)
    assert_array_equal(x, x0)                      # input untouched
    assert y[0] == 1e-10                           # lb + rstep * max(1, |lb|)
    assert y[1] == 10.0 - 1e-10 * 10.0             # ub - rstep * max(1, |ub|)
    assert y[2] == 5.0 - 5e-10
    assert y[3] == 2.5                             # interior: unchanged
    assert np.all((y > lb) & (y < ub))


def test_make_strictly_feasible_rstep_zero_uses_nextafter():
    lb = np.array([0.0, -1.0, 1e10])
    ub = np.array([1.0, 3.0, 2e10])
    x = np.array([0.0, 3.0, 1e10])
    y = make_strictly_feasible(x, lb, ub, rstep=0)
    assert y[0] == np.nextafter(0.0, 1.0)
    assert y[1] == np.nextafter(3.0, -1.0)
    assert y[2] == np.nextafter(1e10, 2e10)
    assert np.all((y > lb) & (y < ub))
    # with rstep=0 only exact hits move
    x = np.array([1e-300, 3.0 - 4.5e-16, 1.5e10])
    assert_array_equal(make_strictly_feasible(x, lb, ub, rstep=0), x)


def test_make_strictly_feasible_narrow_box_goes_to_middle():
    lb = np.array([1.0])
    ub = np.array([1.0 + 1e-12])
    y = make_strictly_feasible(np.array([1.0]), lb, ub, rstep=1e-10)
    assert y[0] == 0.5 * (lb[0] + ub[0])


def test_make_strictly_feasible_matches_scipy():
    from scipy.optimize._lsq.common import make_strictly_feasible as ref
    rng = np.random.default_rng(2)
    for _ in range(200):
        n = 5
        lb = rng.uniform(-5, 0, n)
        ub = lb + 10.0 ** rng.uniform(-13, 1, n)
        pick = rng.integers(0, 3, n)
        x = np.where(pick == 0, lb, np.where(pick == 1, ub, 0.5 * (lb + ub)))
        for rstep in (0.0, 1e-10):
            assert_array_equal(make_strictly_feasible(x, lb, ub, rstep),
                               ref(x, lb, ub, rstep))


# ---- Coleman-Li scaling -------------------------------------------------------------
def test_cl_scaling_vector_cases():
    x = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    lb = np.array([0.0, 0.0, -inf, 0.0, -inf, 0.0, 0.0])
    ub = np.array([2.0, 2.0, 2.0, inf, inf, 2.0, inf])
    g = np.array([-1.0, 1.0, 1.0, -1.0, 3.0, 0.0, 2.0])
    v, dv = cl_scaling_vector(x, g, lb, ub)
    # g < 0 with finite ub: ub - x; g > 0 with finite lb: x - lb; else 1
    assert_allclose(v, [1.5, 0.5, 1.0, 1.0, 1.0, 1.0, 0.5])
    assert_array_equal(dv, [-1, 1, 0, 0, 0, 0, 1])
    assert v.dtype == float and dv.dtype == float


def test_cl_scaling_vector_unbounded_is_ones():
    rng = np.random.default_rng(3)
    x, g = rng.normal(size=5), rng.normal(size=5)
    v, dv = cl_scaling_vector(x, g, np.full(5, -inf), np.full(5, inf))
    assert_array_equal(v, 1.0)
    assert_array_equal(dv, 0.0)


def test_cl_scaling_vector_matches_scipy():
    from scipy.optimize._lsq.common import CL_scaling_vector as ref
    rng = np.random.default_rng(4)
    for _ in range(100):
        lb = rng.uniform(-3, -1, 6)
        ub = rng.uniform(1, 3, 6)
        lb[rng.random(6) < 0.3] = -inf
        ub[rng.random(6) < 0.3] = inf
        x = rng.uniform(-1, 1, 6)
        g = rng.normal(size=6)
        g[rng.random(6) < 0.2] = 0
        v, dv = cl_scaling_vector(x, g, lb, ub)
        v_ref, dv_ref = ref(x, g, lb, ub)
        assert_array_equal(v, v_ref)
        assert_array_equal(dv, dv_ref)


# ---- intersect_trust_region -------------------------------------------------------
def test_intersect_trust_region_roots():
    rng = np.random.default_rng(5)
    for _ in range(300):
        n = rng.integers(1, 6)
        Delta = 10.0 ** rng.uniform(-3, 3)
        x = rng.normal(size=n)
        x *= Delta * rng.uniform(0, 1) / np.linalg.norm(x)
        s = rng.normal(size=n) * 10.0 ** rng.uniform(-3, 3)
        t_neg, t_pos = intersect_trust_region(x, s, Delta)
        assert t_neg <= 0 <= t_pos
        assert np.linalg.norm(x + t_neg * s) == pytest.approx(Delta, rel=1e-10)
        assert np.linalg.norm(x + t_pos * s) == pytest.approx(Delta, rel=1e-10)


def test_intersect_trust_region_simple():
    t_neg, t_pos = intersect_trust_region(np.zeros(2), np.array([3.0, 4.0]), 10.0)
    assert (t_neg, t_pos) == (-2.0, 2.0)
    t_neg, t_pos = intersect_trust_region(np.array([1.0, 0.0]), np.array([1.0, 0.0]), 2.0)
    assert (t_neg, t_pos) == (-3.0, 1.0)
    # x on the sphere: one root is 0
    t_neg, t_pos = intersect_trust_region(np.array([2.0, 0.0]), np.array([-1.0, 1.0]), 2.0)
    assert t_neg == 0.0 and t_pos == pytest.approx(2.0)


def test_ball_crossings_from_products_agree_with_the_vectors():
    rng = np.random.default_rng(6)
    for _ in range(100):
        x, s = rng.normal(size=3), rng.normal(size=3)
        Delta = 1.5 * np.linalg.norm(x)
        assert ball_crossings(s @ s, x @ s, x @ x, Delta) == intersect_trust_region(x, s, Delta)


def test_intersect_trust_region_errors():
    with pytest.raises(ValueError, match="`s` is zero."):
        intersect_trust_region(np.zeros(2), np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="`x` is not within the trust region."):
        intersect_trust_region(np.array([2.0, 0.0]), np.array([1.0, 0.0]), 1.0)


def test_step_size_to_bound_without_hits():
    x = np.array([0.0, 0.0])
    s = np.array([1.0, -2.0])
    lb, ub = np.array([-1.0, -1.0]), np.array([4.0, 1.0])
    t, hits = step_size_to_bound(x, s, lb, ub, hits=False)
    assert t == 0.5 and hits is None
    assert step_size_to_bound(x, s, lb, ub)[0] == t


def test_make_strictly_feasible_leaves_interior_points_and_copies():
    x = np.array([0.5, 2.0])
    lb, ub = np.array([0.0, -np.inf]), np.array([1.0, np.inf])
    out = make_strictly_feasible(x, lb, ub, rstep=0)
    assert_array_equal(out, x)
    assert out is not x
