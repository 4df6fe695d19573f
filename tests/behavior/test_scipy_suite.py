"""Run SciPy's own ``least_squares`` test-suite against ``lsqbox.least_squares``.

The spec for lsqbox is the *installed* SciPy, so nothing is copied into this
repository.  At collection time this module

1. locates ``scipy/optimize/tests/test_least_squares.py`` via ``scipy.__file__``;
2. rewrites exactly one thing in it: the import of ``least_squares`` is taken
   from ``lsqbox`` instead of ``scipy.optimize`` (``Bounds``, ``minimize``,
   ``scipy.optimize._lsq.common`` helpers, ... all stay SciPy's).  The rewrite
   stays on the same source line, so line numbers in tracebacks are those of
   the installed SciPy file;
3. writes the patched source to a fresh temporary directory, puts that
   directory on ``sys.path`` and imports it as a real module (so that its
   functions pickle by reference and ``Pool(2)`` / ``workers=2`` in
   ``test_workers`` work with fork, spawn and forkserver start methods);
4. re-exports SciPy's test classes and test functions into this module's
   namespace, so pytest collects them as ordinary items, e.g.
   ``tests/behavior/test_scipy_suite.py::TestTRF::test_basic``.

SciPy runs this file with ``filterwarnings = error`` (see SciPy's pytest.ini);
we do the same for the re-exported SciPy tests, so a drop-in replacement must
not emit warnings where SciPy does not.

All of SciPy's tests run, ``method='lm'`` included. The harness itself is in
``scipy_suite_harness.py``; ``test_scipy_curve_fit_suite.py`` uses it for the
``TestCurveFit`` class of SciPy's ``test_minpack.py``.
"""
import importlib
import pickle

import pytest
import scipy.optimize

from scipy_suite_harness import _TARGET, load_patched_module, reexport

_PATCHED_MODNAME = "test_least_squares_scipy_vs_lsqbox"
_scipy_suite = load_patched_module("test_least_squares.py", "least_squares",
                                   _PATCHED_MODNAME)

_marks = [pytest.mark.filterwarnings("error")]
_scipy_marks = getattr(_scipy_suite, "pytestmark", [])
if not isinstance(_scipy_marks, list):
    _scipy_marks = [_scipy_marks]
# pytestmark applies to every item in this module, including the two harness
# tests below, which are warning-free as well.
pytestmark = _marks + _scipy_marks

_EXPORTED = reexport(_scipy_suite, globals())


# --------------------------------------------------------------------------
# Checks of the harness itself (prefixed so they cannot clash with SciPy's).
# --------------------------------------------------------------------------

def test_harness_uses_lsqbox_least_squares():
    target = importlib.import_module(_TARGET)
    assert _scipy_suite.least_squares is target.least_squares
    if _TARGET != "scipy.optimize":
        assert _scipy_suite.least_squares is not scipy.optimize.least_squares
    # Everything else still comes from SciPy.
    assert _scipy_suite.Bounds is scipy.optimize.Bounds
    assert _scipy_suite.minimize is scipy.optimize.minimize
    assert {"TestTRF", "TestDogbox", "test_basic"} <= set(_EXPORTED)


def test_harness_patched_functions_pickle_in_spawned_process():
    import multiprocessing
    fun = _scipy_suite.fun_trivial
    assert fun.__module__ == _PATCHED_MODNAME
    assert pickle.loads(pickle.dumps(fun)) is fun
    # A spawned child starts from scratch and must import the patched
    # module from the temporary directory to unpickle ``fun_trivial``.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.map(fun, [1.0, 2.0]) == [6.0, 9.0]
