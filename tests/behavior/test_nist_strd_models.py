"""Checks of the NIST StRD loader and the hand-written model functions.

These do not use the solver: at the certified parameter values each model
must reproduce NIST's certified residual sum of squares, residual standard
deviation and parameter standard deviations.
"""

import math
from pathlib import Path

import numpy as np
import pytest

import nist_strd
from nist_strd import ALL_NAMES, LRE_CAP, load, lre, min_lre

# Lanczos1 is generated from its model with no noise: the certified RSS
# (1.4e-25) is far below the change caused by rounding the certified
# parameters to the 11 printed digits (RSS ~4e-21 at the printed values).
# For it the checks are made after one Gauss-Newton step from the printed
# certified values, which can recover only ~3 digits of an RSS that small
# in double precision.
ROUNDING_LIMITED = {"Lanczos1"}


def _reference_point(ds):
    b = np.array(ds.certified, dtype=float)
    if ds.name in ROUNDING_LIMITED:
        step, *_ = np.linalg.lstsq(ds.jac(b), -ds.residuals(b), rcond=None)
        b = b + step
    return b


def test_names_match_data_files():
    files = sorted(p.stem for p in nist_strd.DATA_DIR.glob("*.dat"))
    assert len(ALL_NAMES) == 27
    assert sorted(ALL_NAMES) == files
    assert set(nist_strd.MODELS) == set(ALL_NAMES)


def test_data_dir_is_inside_repo():
    repo = Path(__file__).resolve().parents[2]
    assert nist_strd.DATA_DIR.resolve().is_relative_to(repo)


def test_difficulty_counts():
    levels = [load(n).difficulty for n in ALL_NAMES]
    assert levels.count("lower") == 8
    assert levels.count("average") == 11
    assert levels.count("higher") == 8


def test_load_is_case_insensitive_and_rejects_unknown():
    assert load("misra1a") is load("Misra1a")
    with pytest.raises(KeyError):
        load("NoSuchSet")


@pytest.mark.parametrize("name", ALL_NAMES)
def test_shapes_and_counts(name):
    ds = load(name)
    p = ds.n_params
    assert ds.start1.shape == ds.start2.shape == (p,)
    assert ds.certified.shape == ds.certified_std.shape == (p,)
    assert ds.y.shape == (ds.n_obs,)
    if name == "Nelson":
        assert ds.x.shape == (ds.n_obs, 2)
    else:
        assert ds.x.shape == (ds.n_obs,)
    assert ds.dof == ds.n_obs - p
    assert np.all(np.isfinite(ds.residuals(ds.start1)))
    assert np.all(np.isfinite(ds.residuals(ds.start2)))
    assert not np.array_equal(ds.start1, ds.start2)
    assert ds.residuals(ds.certified).shape == (ds.n_obs,)
    # start() hands out a writable copy
    s = ds.start(1)
    s[0] += 1.0
    assert ds.start1[0] != s[0]


def test_known_values_spot_checks():
    ds = load("Misra1a")
    assert ds.n_obs == 14 and ds.dof == 12
    assert ds.start1.tolist() == [500.0, 0.0001]
    assert ds.start2.tolist() == [250.0, 0.0005]
    assert ds.certified[0] == 2.3894212918e02
    assert ds.certified_rss == 1.2455138894e-01
    assert (ds.y[0], ds.x[0]) == (10.07, 77.6)
    assert (ds.y[-1], ds.x[-1]) == (81.78, 760.0)

    enso = load("ENSO")
    assert enso.n_params == 9 and enso.n_obs == 168

    # NIST prints 9 degrees of freedom for Rat43 but 15 - 4 = 11 is right
    # (and is what its printed residual standard deviation uses).
    rat43 = load("Rat43")
    assert rat43.dof_printed == 9 and rat43.dof == 11


def test_nelson_response_is_log_y():
    ds = load("Nelson")
    assert ds.y_raw[0] == 15.0
    np.testing.assert_allclose(ds.y, np.log(ds.y_raw), rtol=0, atol=0)
    for name in ALL_NAMES:
        if name != "Nelson":
            assert np.array_equal(load(name).y, load(name).y_raw)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_rss_at_certified_values(name):
    ds = load(name)
    b = _reference_point(ds)
    rss = ds.rss(b)
    got = ds.rss_lre(rss)
    if name in ROUNDING_LIMITED:
        assert ds.rss(ds.certified) < 1e-19
        assert got >= 2.0, (rss, ds.certified_rss)
        assert ds.min_lre(b) >= 9.0
    else:
        assert got >= 6.0, (rss, ds.certified_rss)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_residual_sd_and_parameter_sds_at_certified_values(name):
    ds = load(name)
    b = _reference_point(ds)
    rss = ds.rss(b)
    rsd = math.sqrt(rss / ds.dof)
    J = ds.jac(b)
    sd = np.sqrt(np.diag(np.linalg.inv(J.T @ J)) * rss / ds.dof)
    need = 1.0 if name in ROUNDING_LIMITED else 6.0
    assert min_lre([rsd], [ds.certified_rsd]) >= need, (rsd, ds.certified_rsd)
    assert min_lre(sd, ds.certified_std) >= need, (sd, ds.certified_std)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_complex_step_jacobian_matches_central_differences(name):
    ds = load(name)
    b = np.array(ds.certified)
    J = ds.jac(b)
    assert J.shape == (ds.n_obs, ds.n_params)
    for k in range(ds.n_params):
        h = 1e-6 * abs(b[k])
        bp, bm = b.copy(), b.copy()
        bp[k] += h
        bm[k] -= h
        col = (ds.residuals(bp) - ds.residuals(bm)) / (2 * h)
        scale = np.max(np.abs(J[:, k]))
        assert np.max(np.abs(col - J[:, k])) <= 1e-6 * scale


def test_lre_helper():
    c = np.array([2.0, -3.0, 1e-7])
    assert np.all(lre(c, c) == LRE_CAP)
    np.testing.assert_allclose(lre(c * (1 + 1e-4), c), 4.0, rtol=1e-9)
    np.testing.assert_allclose(lre(c * (1 - 1e-6), c), 6.0, rtol=1e-9)
    assert lre([np.nan], [1.0])[0] == 0.0
    assert lre([np.inf], [1.0])[0] == 0.0
    assert lre([-1.0], [1.0])[0] == 0.0            # off by 200 %: clipped
    assert lre([1.0 + 1e-14], [1.0])[0] == LRE_CAP  # capped
    assert lre([1e-9], [0.0])[0] == pytest.approx(9.0)  # absolute if c == 0
    assert min_lre([2.0, -3.0003], [2.0, -3.0]) == pytest.approx(4.0)
    assert load("DanWood").min_lre(load("DanWood").certified) == LRE_CAP
