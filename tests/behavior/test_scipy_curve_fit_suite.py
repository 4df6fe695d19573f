"""SciPy's own ``TestCurveFit`` (from ``scipy/optimize/tests/test_minpack.py``)
against ``lsqbox.curve_fit``, with only the import of ``curve_fit`` swapped.

The rest of SciPy's file (leastsq, fixed_point, ...) tests SciPy itself and is
not collected. One test there, ``test_gh4555``, calls ``optimize.curve_fit``
through the module attribute and so still exercises SciPy: that is SciPy's
file as written, with only the import swapped.
"""
import pytest

import lsqbox
from scipy_suite_harness import load_patched_module, reexport

_suite = load_patched_module("test_minpack.py", "curve_fit",
                             "test_minpack_curve_fit_scipy_vs_lsqbox",
                             forbid_attribute=False)

pytestmark = [pytest.mark.filterwarnings("error::RuntimeWarning:lsqbox")]

_EXPORTED = reexport(_suite, globals(), only=("TestCurveFit",))


def test_harness_uses_lsqbox_curve_fit():
    assert _suite.curve_fit is lsqbox.curve_fit
    assert _EXPORTED == ["TestCurveFit"]
