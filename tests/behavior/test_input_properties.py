"""Property tests of how ``lsqbox.least_squares`` handles its inputs.

Contract checked here, for x0 shapes/dtypes/values, residual shapes, bounds and
options:

* the call terminates (no hang; guarded by a SIGALRM timer),
* it either returns a *valid* result -- a ``scipy.optimize.OptimizeResult``
  with every documented field, a finite real ``x`` of shape ``(n,)`` inside
  the bounds, ``fun`` equal to the residuals at ``x``, a consistent
  ``cost``/``status``/``success``/``message``, ``nfev <= max_nfev`` -- or it
  raises ``ValueError``/``TypeError`` (subclasses included),
* never any other exception type and never a silently wrong answer.

``scipy.optimize.least_squares`` is the oracle for *which* inputs are errors:

* SciPy raises ``ValueError`` (or a subclass)  -> lsqbox must raise ``ValueError``;
* SciPy raises ``TypeError`` (or a subclass)   -> lsqbox must raise ``TypeError``;
* SciPy returns a valid result                  -> lsqbox must return a valid result.

Where SciPy itself misbehaves, lsqbox is allowed -- and required -- to be
stricter.  Those cases (probed against SciPy 1.17) are:

* NaN in ``x0`` (also ``None`` in an object array, or the string ``"nan"``):
  SciPy says "Initial guess is outside of provided bounds" even for infinite
  bounds; lsqbox must raise ``ValueError`` whose message mentions ``x0``.
* ``+-inf`` in ``x0``: SciPy fails late with LAPACK's "array must not contain
  infs or NaNs" / ``LinAlgError`` (both ``ValueError``) when ``fun`` happens to
  be finite there; lsqbox must raise ``ValueError`` (any wording).
* non-integral or NaN ``max_nfev`` (e.g. 1.5, 0.5, nan): SciPy loops forever;
  lsqbox must terminate (``ValueError``/``TypeError`` or a valid result with
  ``nfev <= max_nfev``).  Same for all tolerances NaN with ``max_nfev=inf``.
* complex residuals: SciPy silently returns complex ``x``/``cost`` (trf) or a
  complex ``cost`` (dogbox); lsqbox must raise ``ValueError``/``TypeError``
  when the imaginary part is non-zero, and must not return complex results.
* ``tr_options`` that is not a mapping: SciPy raises ``AttributeError``;
  lsqbox must raise ``ValueError``/``TypeError`` (or ignore it and return a
  valid result, as SciPy's dogbox does with ``tr_solver='exact'``).
* robust loss with ``f_scale=inf``: SciPy returns ``cost=nan``; lsqbox must
  raise or return a valid (finite-cost) result.
* non-finite ``diff_step``: SciPy raises ``ValueError`` except with
  ``max_nfev=1``, where it returns NaN ``jac``/``grad``/``optimality``; such a
  result counts as invalid here.
* any other non-ValueError/TypeError exception from SciPy (``IndexError`` for a
  bad ``loss`` callable, ...): lsqbox must raise ``ValueError``/``TypeError``
  or return a valid result.
* residuals that are NaN away from ``x0``: SciPy sometimes dies mid-iteration
  (LAPACK "array must not contain infs or NaNs", ``LinAlgError``); lsqbox may
  raise ``ValueError`` as well or return a valid result.
* SciPy's trf with ``tr_solver='lsmr'`` raises ``IndexError`` on some
  one-variable problems (``solve_trust_region_2d`` indexes ``B[0, 1]`` of a
  1x1 matrix); lsqbox must solve them.

When a random option set contains such a value, SciPy's outcome is not
binding (lsqbox may reject that value first, with either type, even where
SciPy reports another problem or ignores the value), but lsqbox must still
raise ``ValueError``/``TypeError`` or return a valid result.

Parity (not strictness) is also required for tiny and subnormal ``x0``
values: lsqbox must end no worse than SciPy does from the same start.

Hypothesis runs are bounded (tiny problems, ``max_examples`` <= 80,
``deadline=None``) so the module runs well under a minute.
"""
import contextlib
import math
import signal
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import scipy.optimize
from scipy.optimize import Bounds, OptimizeResult
from scipy.optimize._lsq.least_squares import TERMINATION_MESSAGES

from lsqbox import least_squares as lsqbox_least_squares

scipy_least_squares = scipy.optimize.least_squares

NAN, INF = np.nan, np.inf

#: A tiny problem runs in milliseconds; anything this slow is a hang.
LSQBOX_TIME_LIMIT = 5.0
#: How long we let the SciPy oracle run before classifying it as hanging.
SCIPY_TIME_LIMIT = 1.5

RESULT_FIELDS = ("x", "cost", "fun", "jac", "grad", "optimality",
                 "active_mask", "nfev", "njev", "status", "message", "success")

PROPERTY_SETTINGS = settings(
    max_examples=70,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)


# ---------------------------------------------------------------------------
# Running a solver with a time limit and classifying what happened.
# ---------------------------------------------------------------------------

class _TimeLimitExceeded(BaseException):
    """BaseException so that a solver's ``except Exception`` cannot eat it."""


@contextlib.contextmanager
def _time_limit(seconds):
    usable = (hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:  # pragma: no cover - e.g. Windows: run without a guard
        yield
        return

    def _alarm(signum, frame):
        raise _TimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    kind: str            # "result", "ValueError", "TypeError", "other", "hang"
    value: Any = None    # the result or the exception

    def describe(self):
        if self.kind == "result":
            r = self.value
            try:
                return (f"result(x={r.x!r}, cost={r.cost!r}, status={r.status!r}, "
                        f"nfev={r.nfev!r})")
            except Exception:
                return f"result {r!r}"
        if self.kind == "hang":
            return "no answer within the time limit (hang)"
        return f"{type(self.value).__name__}: {self.value}"


def _run(solver, call, time_limit):
    fun, x0, kwargs = call()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with _time_limit(time_limit):
                res = solver(fun, x0, **kwargs)
        except _TimeLimitExceeded:
            return Outcome("hang")
        except ValueError as exc:
            return Outcome("ValueError", exc)
        except TypeError as exc:
            return Outcome("TypeError", exc)
        except Exception as exc:  # noqa: BLE001 - classifying is the point
            return Outcome("other", exc)
    return Outcome("result", res)


# ---------------------------------------------------------------------------
# What a valid result looks like.
# ---------------------------------------------------------------------------

@dataclass
class Case:
    """One call of least_squares, rebuilt fresh for every solver."""
    build: Callable[[], tuple]          # -> (fun, x0, kwargs), fresh objects
    n: Optional[int] = None             # expected len(res.x) if inputs are valid
    lb: Any = None                      # effective bounds for checking res.x
    ub: Any = None
    reference_fun: Optional[Callable] = None   # deterministic residuals, or None
    loss: Any = "linear"
    max_nfev: Any = None
    # Stricter-than-SciPy requirements (see module docstring).
    must_raise: tuple = ()              # lsqbox must raise one of these
    must_mention: Optional[str] = None  # ... with this text in the message
    # fun is NaN in part of the domain, so finite differences at the answer
    # may legitimately produce non-finite jac/grad/optimality.
    fun_partly_undefined: bool = False
    # SciPy's exception, if any, may come from inside its iteration (e.g.
    # LAPACK choking on NaN) rather than from rejecting the input; then a
    # valid result from lsqbox is acceptable too.
    scipy_error_may_be_spurious: bool = False
    # The input also contains a value for which SciPy has no ValueError/
    # TypeError to copy (it hangs, returns garbage, or raises AttributeError/
    # IndexError -- or, for tr_options=5 with dogbox/'exact', ignores it);
    # lsqbox may reject that value, first and with either type.
    lsqbox_may_reject: bool = False
    scipy_hangs_unless_invalid: bool = False
    notes: list = field(default_factory=list)


def _result_defects(res, case):
    """List what is wrong with ``res`` as an answer to ``case`` (empty = valid)."""
    if not isinstance(res, OptimizeResult):
        return [f"returned {type(res).__name__}, not an OptimizeResult"]
    missing = [k for k in RESULT_FIELDS if k not in res]
    if missing:
        return [f"result lacks fields {missing}"]
    d = []
    x = res.x
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        d.append(f"x is not a real floating ndarray: {x!r}")
        return d
    if case.n is not None and x.shape != (case.n,):
        d.append(f"x has shape {x.shape}, expected {(case.n,)}")
        return d
    if not np.all(np.isfinite(x)):
        d.append(f"x is not finite: {x!r}")
        return d
    if case.lb is not None and case.ub is not None:
        lb = np.broadcast_to(np.asarray(case.lb, dtype=float), x.shape)
        ub = np.broadcast_to(np.asarray(case.ub, dtype=float), x.shape)
        if np.any(x < lb) or np.any(x > ub):
            d.append(f"x={x!r} violates bounds lb={lb!r}, ub={ub!r}")

    f = np.asarray(res.fun)
    if f.dtype.kind not in "fiu" or f.ndim != 1:
        # (integer residuals are passed through as returned, like SciPy does)
        d.append(f"fun is not a real 1-D numeric array: {res.fun!r}")
    elif not np.all(np.isfinite(f)):
        d.append(f"fun is not finite: {f!r}")
    else:
        if case.reference_fun is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = np.atleast_1d(np.asarray(case.reference_fun(x.copy()),
                                                    dtype=float))
            if expected.shape != f.shape or not np.allclose(
                    f, expected, rtol=1e-5, atol=1e-6):
                d.append(f"fun={f!r} is not the residual vector at x "
                         f"({expected!r})")
        cost = res.cost
        if isinstance(cost, (complex, np.complexfloating)) or not np.isrealobj(cost):
            d.append(f"cost is complex: {cost!r}")
        elif not np.isfinite(cost):
            d.append(f"cost is not finite: {cost!r}")
        elif isinstance(case.loss, str) and case.loss == "linear":
            expected_cost = 0.5 * float(np.dot(f.astype(float), f.astype(float)))
            if not np.isclose(float(cost), expected_cost, rtol=1e-5, atol=1e-12):
                d.append(f"cost={cost!r} but 0.5*||fun||^2={expected_cost!r}")
        J = res.jac
        if isinstance(J, np.ndarray):
            if J.shape != (f.size, x.size):
                d.append(f"jac has shape {J.shape}, expected {(f.size, x.size)}")
            elif J.dtype.kind != "f" or not (case.fun_partly_undefined
                                             or np.all(np.isfinite(J))):
                d.append(f"jac is not real and finite: {J!r}")
        g = np.asarray(res.grad)
        if g.shape != x.shape or g.dtype.kind != "f" or not (
                case.fun_partly_undefined or np.all(np.isfinite(g))):
            d.append(f"grad is not a finite real array of shape {x.shape}: {g!r}")
        opt = res.optimality
        if not np.isrealobj(opt) or opt < 0 or not (
                case.fun_partly_undefined or np.isfinite(opt)):
            d.append(f"optimality is not a finite non-negative number: {opt!r}")

    status = res.status
    if status == -3:
        # lsqbox's one status beyond SciPy's: evaluations of `fun` kept failing
        # (too many in a row, or x stopped at the edge of a region where fun
        # is NaN -- where SciPy reports a step-tolerance "success"). Only where
        # fun really failed somewhere, and never as a success.
        if not res.failures or res.success:
            d.append(f"status -3 without failures ({len(res.failures)}) or with "
                     f"success={res.success!r}")
    elif status not in (0, 1, 2, 3, 4):
        d.append(f"status={status!r} is not one of -3, 0..4")
    else:
        if bool(res.success) != (status > 0):
            d.append(f"success={res.success!r} inconsistent with status={status}")
        if res.message != TERMINATION_MESSAGES[status]:
            d.append(f"message {res.message!r} != SciPy's "
                     f"{TERMINATION_MESSAGES[status]!r} for status {status}")
    nfev = res.nfev
    if not isinstance(nfev, (int, np.integer)) or nfev < 1:
        d.append(f"nfev={nfev!r} is not a positive integer")
    elif (case.max_nfev is not None and not isinstance(case.max_nfev, bool)
          and isinstance(case.max_nfev, (int, float, np.integer, np.floating))
          and not math.isnan(case.max_nfev) and nfev > case.max_nfev):
        d.append(f"nfev={nfev} exceeds max_nfev={case.max_nfev!r}")
    am = np.asarray(res.active_mask)
    if am.shape != x.shape or not np.all(np.isin(am, (-1, 0, 1))):
        d.append(f"active_mask={res.active_mask!r} is not in {{-1,0,1}}^n")
    return d


def _kind_of(exc_kind):
    return {"ValueError": ValueError, "TypeError": TypeError}.get(exc_kind)


def check_case(case):
    """Run SciPy (oracle) and lsqbox on ``case`` and enforce the contract."""
    if case.scipy_hangs_unless_invalid:
        # SciPy validates everything before it starts looping; probe it with
        # max_nfev=None to learn whether the other inputs are invalid.
        def probe_call():
            fun, x0, kwargs = case.build()
            kwargs = dict(kwargs, max_nfev=None)
            return fun, x0, kwargs
        ref = _run(scipy_least_squares, probe_call, SCIPY_TIME_LIMIT)
        if ref.kind == "result":
            ref = Outcome("hang")
    else:
        ref = _run(scipy_least_squares, case.build, SCIPY_TIME_LIMIT)
    got = _run(lsqbox_least_squares, case.build, LSQBOX_TIME_LIMIT)

    ref_defects = _result_defects(ref.value, case) if ref.kind == "result" else None
    note(f"SciPy : {ref.describe()}"
         + (f"  defects={ref_defects}" if ref_defects else ""))
    note(f"lsqbox: {got.describe()}")
    for n_ in case.notes:
        note(n_)

    assert got.kind != "hang", (
        f"lsqbox did not return within {LSQBOX_TIME_LIMIT}s "
        f"(SciPy: {ref.describe()})")
    assert got.kind != "other", (
        f"lsqbox raised {type(got.value).__name__}: {got.value!r}; only "
        f"ValueError/TypeError are allowed (SciPy: {ref.describe()})")

    if case.must_raise:
        assert got.kind in ("ValueError", "TypeError") and isinstance(
            got.value, case.must_raise), (
            f"lsqbox must raise {[t.__name__ for t in case.must_raise]} here, "
            f"got {got.describe()} (SciPy: {ref.describe()})")
        if case.must_mention is not None:
            assert case.must_mention in str(got.value), (
                f"error message {str(got.value)!r} should mention "
                f"{case.must_mention!r}")

    if ref.kind in ("ValueError", "TypeError") and not (
            case.scipy_error_may_be_spurious and got.kind == "result"):
        expected = (ValueError, TypeError) if case.lsqbox_may_reject else \
            _kind_of(ref.kind)
        assert isinstance(got.value, BaseException) and isinstance(
            got.value, expected), (
            f"SciPy raises {type(ref.value).__name__}({ref.value}); lsqbox must "
            f"raise {ref.kind} too, got {got.describe()}")
    elif ref.kind == "result" and not ref_defects:
        allowed = ("result", "ValueError", "TypeError") if case.lsqbox_may_reject \
            else ("result",)
        assert got.kind in allowed, (
            f"SciPy returns a valid result ({ref.describe()}); lsqbox must not "
            f"reject the input, got {got.describe()}")

    if got.kind == "result":
        defects = _result_defects(got.value, case)
        assert not defects, (f"lsqbox returned an invalid result: {defects} "
                             f"(SciPy: {ref.describe()})")
    return ref, got


# ---------------------------------------------------------------------------
# Property: x0 shapes, dtypes and values.
# ---------------------------------------------------------------------------

_FINITE = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=32)
_SPECIAL = st.sampled_from([NAN, INF, -INF])
_X0_SHAPES = [(), (0,), (1,), (2,), (3,), (0, 0), (1, 1), (2, 1), (1, 3)]
_X0_KINDS = ["float64", "float32", "int64", "uint8", "bool", "complex",
             "complex_zero_imag", "object_float", "object_none", "object_str",
             "str_numeric", "str_alpha", "list", "tuple", "python_scalar"]


@st.composite
def x0_inputs(draw):
    shape = draw(st.sampled_from(_X0_SHAPES))
    size = int(np.prod(shape, dtype=int))
    with_special = draw(st.booleans()) and draw(st.booleans())  # ~25 %
    elem = st.one_of(_FINITE, _FINITE, _SPECIAL) if with_special else _FINITE
    vals = np.array(draw(st.lists(elem, min_size=size, max_size=size)),
                    dtype=float).reshape(shape)
    kind = draw(st.sampled_from(_X0_KINDS))
    finite_vals = np.where(np.isfinite(vals), vals, 0.0)
    if kind == "float64":
        x0 = vals.astype(np.float64)
    elif kind == "float32":
        x0 = vals.astype(np.float32)
    elif kind == "int64":
        x0 = np.round(finite_vals).astype(np.int64)
    elif kind == "uint8":
        x0 = np.round(np.abs(finite_vals)).astype(np.uint8)
    elif kind == "bool":
        x0 = finite_vals > 0
    elif kind == "complex":
        imag = draw(st.floats(0.5, 2.0))
        x0 = vals + 1j * imag
    elif kind == "complex_zero_imag":
        x0 = vals.astype(complex)
    elif kind == "object_float":
        x0 = vals.astype(object)
    elif kind == "object_none":
        x0 = vals.astype(object)
        x0[~np.isfinite(vals)] = None
    elif kind == "object_str":
        x0 = np.vectorize(repr, otypes=[object])(vals) if size else vals.astype(object)
    elif kind == "str_numeric":
        x0 = np.array(vals.astype(str))
    elif kind == "str_alpha":
        x0 = np.full(shape, "abc")
    elif kind == "list":
        x0 = vals.tolist()
    elif kind == "tuple":
        x0 = tuple(vals.tolist()) if vals.ndim == 1 else vals.tolist()
    else:  # python_scalar
        x0 = float(vals) if vals.ndim == 0 else vals.tolist()
    return kind, x0


def _as_float_x0(x0):
    """SciPy's own conversion; None if it fails or x0 is complex."""
    try:
        if np.iscomplexobj(x0):
            return None
        return np.atleast_1d(x0).astype(float)
    except (TypeError, ValueError):
        return None


_X0_FUNS = {
    "shift": lambda x: x - 0.25,
    # finite at +-inf, so an infinite x0 is not caught by the residual check
    "tanh": lambda x: np.tanh(x) - 0.25,
}


@PROPERTY_SETTINGS
@given(x0_spec=x0_inputs(),
       fun_name=st.sampled_from(sorted(_X0_FUNS)),
       method=st.sampled_from(["trf", "dogbox"]),
       bounds=st.sampled_from([None, (-5.0, 5.0), (-INF, INF)]))
def test_x0_shapes_dtypes_and_values(x0_spec, fun_name, method, bounds):
    kind, x0 = x0_spec
    fun = _X0_FUNS[fun_name]
    def build():
        kwargs = {"method": method}
        if bounds is not None:
            kwargs["bounds"] = bounds
        x0_copy = x0.copy() if isinstance(x0, np.ndarray) else x0
        return fun, x0_copy, kwargs

    xf = _as_float_x0(x0)
    case = Case(build=build, reference_fun=fun,
                notes=[f"x0 kind={kind} value={x0!r}"])
    if xf is not None and xf.ndim <= 1:
        case.n = xf.size
        if bounds is not None:
            case.lb, case.ub = bounds
        if np.isnan(xf).any():
            case.must_raise = (ValueError,)
            case.must_mention = "x0"
        elif np.isinf(xf).any():
            case.must_raise = (ValueError,)

    # lsqbox must not write into the caller's x0.
    if isinstance(x0, np.ndarray):
        snapshot = (x0.dtype, x0.shape, repr(x0.tolist()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with _time_limit(LSQBOX_TIME_LIMIT):
                    lsqbox_least_squares(fun, x0, **build()[2])
            except (ValueError, TypeError):
                pass
            except _TimeLimitExceeded:
                pytest.fail("lsqbox hung")
        assert (x0.dtype, x0.shape, repr(x0.tolist())) == snapshot, \
            "lsqbox modified the caller's x0 in place"

    check_case(case)


# ---------------------------------------------------------------------------
# Property: what the residual function returns.
# ---------------------------------------------------------------------------

_FUN_KINDS = ["ok", "list", "tuple", "float32", "scalar_float", "scalar_0d",
              "python_int", "col_2d", "row_2d", "3d", "empty", "len_by_call",
              "len_by_x", "complex", "complex_zero_imag", "int_dtype",
              "object", "str", "none", "nan_at_x0", "inf_at_x0", "nan_away"]
_NONDETERMINISTIC = {"len_by_call"}


def _make_residual(kind, A, b, x0):
    x0 = np.asarray(x0, dtype=float)
    base = lambda x: A @ x - b  # noqa: E731
    calls = [0]

    def fun(x):
        calls[0] += 1
        r = base(x)
        if kind == "ok":
            return r
        if kind == "list":
            return r.tolist()
        if kind == "tuple":
            return tuple(r.tolist())
        if kind == "float32":
            return r.astype(np.float32)
        if kind == "scalar_float":
            return float(r[0])
        if kind == "scalar_0d":
            return np.asarray(r[0])
        if kind == "python_int":
            return 3
        if kind == "col_2d":
            return r[:, None]
        if kind == "row_2d":
            return r[None, :]
        if kind == "3d":
            return r[None, None, :]
        if kind == "empty":
            return np.empty(0)
        if kind == "len_by_call":
            return r if calls[0] == 1 else np.append(r, 1.0)
        if kind == "len_by_x":
            return r if np.array_equal(x, x0) else np.append(r, 1.0)
        if kind == "complex":
            return r + 1j
        if kind == "complex_zero_imag":
            return r.astype(complex)
        if kind == "int_dtype":
            return np.round(r).astype(np.int64)
        if kind == "object":
            return r.astype(object)
        if kind == "str":
            return r.astype(str)
        if kind == "none":
            return None
        if kind == "nan_at_x0":
            return np.where(np.arange(r.size) == 0, NAN, r)
        if kind == "inf_at_x0":
            return np.where(np.arange(r.size) == 0, INF, r)
        if kind == "nan_away":
            return r if np.max(np.abs(x - x0)) < 0.5 else np.full_like(r, NAN)
        raise AssertionError(kind)

    return fun


@st.composite
def residual_cases(draw):
    n = draw(st.integers(1, 3))
    m = draw(st.integers(1, 4))
    A = np.array(draw(st.lists(st.integers(-3, 3), min_size=m * n,
                               max_size=m * n)), dtype=float).reshape(m, n)
    b = np.array(draw(st.lists(_FINITE, min_size=m, max_size=m)), dtype=float)
    x0 = np.array(draw(st.lists(st.floats(-2, 2), min_size=n, max_size=n)))
    kind = draw(st.sampled_from(_FUN_KINDS))
    jac = draw(st.sampled_from(["2-point", "3-point", "callable", "callable_wrong"]))
    method = draw(st.sampled_from(["trf", "dogbox"]))
    return n, m, A, b, x0, kind, jac, method


@PROPERTY_SETTINGS
@given(spec=residual_cases())
def test_residual_shapes_and_dtypes(spec):
    n, m, A, b, x0, kind, jac, method = spec

    def build():
        fun = _make_residual(kind, A, b, x0)
        kwargs = {"method": method}
        if jac == "callable":
            kwargs["jac"] = lambda x: A.copy()
        elif jac == "callable_wrong":
            kwargs["jac"] = lambda x: np.vstack([A, np.ones((1, n))])
        else:
            kwargs["jac"] = jac
        return fun, x0.copy(), kwargs

    case = Case(build=build, n=n,
                reference_fun=(None if kind in _NONDETERMINISTIC
                               else _make_residual(kind, A, b, x0)),
                notes=[f"kind={kind} jac={jac} A={A.tolist()} b={b.tolist()} "
                       f"x0={x0.tolist()}"])
    if kind == "complex":
        # SciPy silently returns complex x/cost here (module docstring).
        case.must_raise = (ValueError, TypeError)
    # fun is NaN away from x0: SciPy sometimes dies mid-iteration with
    # LAPACK's "array must not contain infs or NaNs"/LinAlgError.
    case.fun_partly_undefined = kind == "nan_away"
    case.scipy_error_may_be_spurious = kind == "nan_away"
    if kind in ("len_by_call", "len_by_x"):
        # Residuals whose length changes between calls: lsqbox always raises
        # a ValueError naming the point; SciPy sometimes raises and sometimes
        # broadcasts the arrays and returns a meaningless result.
        case.lsqbox_may_reject = True
    check_case(case)


# ---------------------------------------------------------------------------
# Property: bounds.
# ---------------------------------------------------------------------------

_BOUND_SCALAR = st.one_of(st.floats(-3, 3, width=32), st.floats(-3, 3, width=32),
                          st.sampled_from([NAN, INF, -INF]))


@st.composite
def bound_part(draw, n):
    form = draw(st.sampled_from(["scalar", "vector", "vector", "short", "long",
                                 "row_2d", "none", "string", "complex"]))
    if form == "scalar":
        return draw(_BOUND_SCALAR)
    if form == "vector":
        return draw(st.lists(_BOUND_SCALAR, min_size=n, max_size=n))
    if form == "short":
        return draw(st.lists(_BOUND_SCALAR, min_size=n - 1, max_size=n - 1))
    if form == "long":
        return draw(st.lists(_BOUND_SCALAR, min_size=n + 1, max_size=n + 1))
    if form == "row_2d":
        return np.array([draw(st.lists(_BOUND_SCALAR, min_size=n, max_size=n))])
    if form == "none":
        return None
    if form == "string":
        return "a"
    return 1j


def _non_numeric(p):
    return p is None or isinstance(p, str) or np.iscomplexobj(p)


@st.composite
def bounds_cases(draw):
    n = draw(st.integers(1, 3))
    x0 = np.array(draw(st.lists(st.floats(-2, 2, width=32), min_size=n,
                                max_size=n)), dtype=float)
    c = np.array(draw(st.lists(_FINITE, min_size=n, max_size=n)), dtype=float)
    form = draw(st.sampled_from(["pair", "pair", "pair", "Bounds", "Bounds",
                                 "single", "triple", "none", "scalar",
                                 "around_x0"]))
    lb = draw(bound_part(n))
    ub = draw(bound_part(n))
    if form == "pair":
        bounds = (lb, ub)
    elif form == "Bounds":
        assume(not _non_numeric(lb) and not _non_numeric(ub))
        keep = draw(st.booleans())
        try:
            bounds = Bounds(lb, ub, keep_feasible=keep)
        except Exception:  # Bounds' own validation is not under test
            assume(False)
    elif form == "single":
        bounds = (lb,)
    elif form == "triple":
        bounds = (lb, ub, 0.0)
    elif form == "none":
        bounds = None
    elif form == "scalar":
        bounds = 5.0
    else:  # "around_x0": x0 inside, on, or just outside finite box bounds
        lo = draw(st.sampled_from([-1.0, 0.0, 1e-9, 0.5]))
        hi = draw(st.sampled_from([-1e-9, 0.0, 0.5, 1.0]))
        bounds = (x0 - lo, x0 + hi)
    method = draw(st.sampled_from(["trf", "dogbox"]))
    return n, x0, c, form, bounds, method


def _effective_bounds(bounds, n):
    """lb, ub broadcast to (n,) the way SciPy reads them, or (None, None)."""
    try:
        if isinstance(bounds, Bounds):
            lb, ub = bounds.lb, bounds.ub
        else:
            lb, ub = bounds
        return (np.broadcast_to(np.asarray(lb, dtype=float), (n,)),
                np.broadcast_to(np.asarray(ub, dtype=float), (n,)))
    except Exception:
        return None, None


@PROPERTY_SETTINGS
@given(spec=bounds_cases())
def test_bounds(spec):
    n, x0, c, form, bounds, method = spec
    fun = lambda x: x - c  # noqa: E731

    def build():
        return fun, x0.copy(), {"bounds": bounds, "method": method}

    lb, ub = _effective_bounds(bounds, n)
    case = Case(build=build, n=n, lb=lb, ub=ub, reference_fun=fun,
                notes=[f"form={form} bounds={bounds!r} x0={x0!r} c={c!r}"])
    ref, got = check_case(case)
    if got.kind == "result" and lb is not None:
        # Convex separable problem: the answer is clip(c, lb, ub).  Demand
        # at least SciPy's accuracy (SciPy's trf can stop short of the
        # optimum when x0 sits on a bound).
        best = np.clip(c, lb, ub)
        opt_cost = 0.5 * float(np.sum((best - c) ** 2))
        ref_cost = (float(ref.value.cost) if ref.kind == "result"
                    and np.isrealobj(ref.value.cost) else opt_cost)
        allowed = max(opt_cost, ref_cost) + 1e-6 * (1.0 + opt_cost)
        assert got.value.cost <= allowed, (
            f"lsqbox cost {got.value.cost} at x={got.value.x} is worse than the "
            f"optimum {opt_cost} at {best} (SciPy cost {ref_cost})")


# ---------------------------------------------------------------------------
# Property: options.
# ---------------------------------------------------------------------------

def _rosen(x):
    return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def _rosen_jac(x):
    return np.array([[-20.0 * x[0], 10.0], [-1.0, 0.0]])


def _cubic_loss(z):
    rho = np.empty((3, z.size))
    t = 1 + z
    rho[0] = 3 * (t ** (1 / 3) - 1)
    rho[1] = t ** (-2 / 3)
    rho[2] = -2 / 3 * t ** (-5 / 3)
    return rho


_TOL_VALUES = [1e-8, 1e-8, None, 0.0, -1.0, 1e-20, NAN, INF, 1.0, "x", "1e-8"]
_OPTION_VALUES = {
    "method": ["trf", "dogbox", "TRF", "foo", None, 1, ("trf",)],
    "jac": ["2-point", "3-point", "cs", "callable", "callable_bad_shape",
            "4-point", None, 1, "CS"],
    "loss": ["linear", "huber", "soft_l1", "cauchy", "arctan", "callable",
             "callable_bad_shape", "callable_bad_rows", "l2", None, 1, "Huber",
             ("linear",)],
    "tr_solver": [None, "exact", "lsmr", "best", "LSMR", 1],
    "verbose": [0, 1, 2, 3, -1, "x", 1.5, True, None],
    "max_nfev": [None, 1, 2, 5, 100, np.int64(3), 0, -1, "x", 1.5, 0.5, NAN,
                 INF, True],
    "x_scale": [None, 1.0, "jac", [1.0, 0.5], "auto", "JAC", -1.0, 0.0, 1 + 2j,
                NAN, INF, [1.0], [1.0, 1.0, 1.0], [1.0, -1.0], "x"],
    "ftol": _TOL_VALUES,
    "xtol": _TOL_VALUES,
    "gtol": _TOL_VALUES,
    "f_scale": [1.0, 0.1, 10.0, 0.0, -1.0, NAN, INF, "x", None],
    "diff_step": [None, 1e-3, [1e-3, 1e-3], 0.0, -1.0, NAN, INF, "x",
                  [1e-3, 1e-3, 1e-3]],
    "tr_options": [None, {}, {"regularize": False}, {"btol": 1e-10},
                   {"damp": 0.1}, {"foo": 1}, {"atol": "x"}, 5, "abc"],
    "bounds": ["default", ([-2.0, -2.0], [2.0, 2.0]), (0.0, 1.0),
               (-INF, INF), "Bounds", (NAN, 1.0), (1.0, 0.0), (0.6, 1.0)],
}


def _materialize(name, value):
    """Turn placeholder option values into fresh objects."""
    if name == "jac" and value == "callable":
        return _rosen_jac
    if name == "jac" and value == "callable_bad_shape":
        return lambda x: np.ones((3, 2))
    if name == "loss" and value == "callable":
        return _cubic_loss
    if name == "loss" and value == "callable_bad_shape":
        return lambda z: np.ones((3, z.size + 1))
    if name == "loss" and value == "callable_bad_rows":
        return lambda z: np.ones((2, z.size))
    if name == "bounds" and value == "Bounds":
        return Bounds([-2.0, -2.0], [2.0, 2.0])
    if isinstance(value, (list, dict)):
        return type(value)(value)
    return value


def _scipy_loops_forever(max_nfev):
    return (isinstance(max_nfev, (float, np.floating))
            and not isinstance(max_nfev, bool)
            and (math.isnan(max_nfev)
                 or (math.isfinite(max_nfev) and max_nfev > 0
                     and max_nfev != int(max_nfev))))


def _no_scipy_error_type(options):
    """Option values for which SciPy has no ValueError/TypeError to copy."""
    loss = options.get("loss", "linear")
    diff_step = options.get("diff_step")
    return (_scipy_loops_forever(options.get("max_nfev"))
            or isinstance(options.get("tr_options"), (int, str))
            or loss == "callable_bad_rows"
            or (isinstance(diff_step, float) and not math.isfinite(diff_step))
            or (options.get("f_scale") == INF and loss != "linear"))


@PROPERTY_SETTINGS
@given(options=st.fixed_dictionaries(
    {}, optional={k: st.sampled_from(v) for k, v in _OPTION_VALUES.items()}))
def test_options(options):
    x0 = np.array([0.5, 0.5])

    def build():
        kwargs = {k: _materialize(k, v) for k, v in options.items()}
        if kwargs.get("bounds", None) == "default":
            del kwargs["bounds"]
        return _rosen, x0.copy(), kwargs

    bounds = options.get("bounds", "default")
    if bounds == "default":
        lb, ub = -INF, INF
    else:
        lb, ub = _effective_bounds(_materialize("bounds", bounds), 2)
    loss = options.get("loss", "linear")
    case = Case(build=build, n=2, lb=lb, ub=ub, reference_fun=_rosen,
                loss=loss if isinstance(loss, str) else None,
                max_nfev=options.get("max_nfev"),
                scipy_hangs_unless_invalid=_scipy_loops_forever(
                    options.get("max_nfev")),
                lsqbox_may_reject=_no_scipy_error_type(options),
                notes=[f"options={options!r}"])
    check_case(case)


# ---------------------------------------------------------------------------
# Property: well-posed bounded linear problems are solved (no silent garbage).
# ---------------------------------------------------------------------------

@st.composite
def linear_problems(draw):
    n = draw(st.integers(1, 3))
    m = n + draw(st.integers(0, 3))
    A = np.array(draw(st.lists(st.floats(-2, 2, width=32), min_size=m * n,
                               max_size=m * n))).reshape(m, n)
    # Well posed also for the default gtol = 1e-8, an absolute test of the
    # gradient A^T r: with a smallest singular value sigma the cost left at a
    # gradient below gtol is at most gtol^2 / (2 sigma^2), far below the 1e-6
    # allowed below; a tiny A (e.g. [[1.2e-7]]) meets gtol far from the
    # optimum for SciPy as well.
    sigma = np.linalg.svd(A, compute_uv=False)
    assume(sigma[-1] > 1e-3 and sigma[0] < 1e4 * sigma[-1])
    b = np.array(draw(st.lists(st.floats(-3, 3, width=32), min_size=m,
                               max_size=m)))
    lb, ub, x0 = [], [], []
    for _ in range(n):
        kind = draw(st.sampled_from(["free", "lower", "upper", "box"]))
        a = draw(st.floats(-2, 1))
        w = draw(st.floats(0.1, 3))
        frac = draw(st.floats(0.1, 0.9))   # keeps x0 strictly inside
        if kind == "free":
            lb.append(-INF), ub.append(INF), x0.append(4 * frac - 2)
        elif kind == "lower":
            lb.append(a), ub.append(INF), x0.append(a + 4 * frac)
        elif kind == "upper":
            lb.append(-INF), ub.append(a), x0.append(a - 4 * frac)
        else:
            lb.append(a), ub.append(a + w), x0.append(a + frac * w)
    lb, ub, x0 = np.array(lb), np.array(ub), np.array(x0)
    method = draw(st.sampled_from(["trf", "dogbox"]))
    jac = draw(st.sampled_from(["2-point", "3-point", "callable"]))
    tr_solver = draw(st.sampled_from([None, "exact", "lsmr"]))
    x_scale = draw(st.sampled_from([None, 1.0, "jac"]))
    bounded = draw(st.booleans())
    return A, b, lb, ub, x0, method, jac, tr_solver, x_scale, bounded


@PROPERTY_SETTINGS
@given(spec=linear_problems())
def test_well_posed_linear_problems_are_solved(spec):
    A, b, lb, ub, x0, method, jac, tr_solver, x_scale, bounded = spec
    n = A.shape[1]
    if not bounded:
        lb, ub = np.full(n, -INF), np.full(n, INF)
    fun = lambda x: A @ x - b  # noqa: E731

    def build():
        kwargs = {"method": method, "bounds": (lb, ub), "tr_solver": tr_solver,
                  "x_scale": x_scale,
                  "jac": (lambda x: A.copy()) if jac == "callable" else jac}
        return fun, x0.copy(), kwargs

    case = Case(build=build, n=n, lb=lb, ub=ub, reference_fun=fun)
    ref, got = check_case(case)
    assert got.kind == "result"
    exact = scipy.optimize.lsq_linear(A, b, bounds=(lb, ub), method="bvls",
                                      tol=1e-14)
    opt_cost = 0.5 * float(np.sum((A @ np.clip(exact.x, lb, ub) - b) ** 2))
    ref_cost = float(ref.value.cost) if ref.kind == "result" else opt_cost
    allowed = max(opt_cost, ref_cost) + 1e-6 * (1.0 + opt_cost)
    assert got.value.cost <= allowed, (
        f"lsqbox cost {got.value.cost} (x={got.value.x}) vs optimum {opt_cost} "
        f"(x={exact.x}) and SciPy {ref_cost}")


# ---------------------------------------------------------------------------
# Concrete bad inputs: same exception type as SciPy, same wording where it
# matters.
# ---------------------------------------------------------------------------

def _fun_trivial(x, a=0.0):
    return (x - a) ** 2 + 5.0


def _fun_lin(x):
    return x - 1.0


def _fun_2(x):
    return np.array([x[0] - 1.0, x[1] + 2.0, x[0] + x[1]])


def _varying_length():
    calls = [0]

    def fun(x):
        calls[0] += 1
        return np.ones(calls[0]) * x[0]
    return fun


# (id, fun factory, x0, kwargs, compare_message)
# compare_message: True -> str(exc) must equal SciPy's message exactly.
_BAD_INPUTS = [
    ("x0-2d", _fun_trivial, np.ones((2, 2)), {}, True),
    ("x0-2d-column", _fun_trivial, np.ones((2, 1)), {}, True),
    ("x0-complex-scalar", _fun_trivial, 2.0 + 0.0j, {}, True),
    ("x0-complex-array", _fun_trivial, [1.0, 2.0 + 0.0j], {}, True),
    ("x0-string", _fun_trivial, "abc", {}, False),
    ("x0-string-list", _fun_trivial, ["a", "b"], {}, False),
    ("x0-dict", _fun_trivial, {"a": 1.0}, {}, False),
    ("x0-set", _fun_trivial, {1.0}, {}, False),
    ("x0-ragged", _fun_trivial, [[1.0], [1.0, 2.0]], {}, False),
    ("x0-None", _fun_trivial, None, {}, False),
    ("x0-outside-bounds", _fun_trivial, 2.0, {"bounds": (3.0, 4.0)}, True),
    ("x0-outside-upper", _fun_2, [0.0, 5.0], {"bounds": (-1.0, [1.0, 1.0])}, True),
    ("x0-outside-Bounds", _fun_trivial, 2.0, {"bounds": Bounds(3.0, 4.0)}, True),
    ("bounds-lb-gt-ub", _fun_trivial, 2.0, {"bounds": (10.0, 0.0)}, True),
    ("bounds-lb-eq-ub", _fun_trivial, 2.0, {"bounds": (2.0, 2.0)}, True),
    ("bounds-lb-ge-ub-vector", _fun_2, [0.5, 0.5], {"bounds": ([0, 1], [1, 1])}, True),
    ("bounds-inf-inf", _fun_trivial, 2.0, {"bounds": (INF, INF)}, True),
    ("bounds-Bounds-lb-gt-ub", _fun_trivial, 2.0, {"bounds": Bounds(3.0, 1.0)}, True),
    ("bounds-nan-lower", _fun_trivial, 2.0, {"bounds": (NAN, 4.0)}, False),
    ("bounds-nan-upper", _fun_trivial, 2.0, {"bounds": (0.0, NAN)}, False),
    ("bounds-1-element", _fun_trivial, 2.0, {"bounds": (1.0,)}, True),
    ("bounds-3-elements", _fun_trivial, 2.0, {"bounds": (1.0, 2, 3)}, True),
    ("bounds-None", _fun_trivial, 2.0, {"bounds": None}, False),
    ("bounds-int", _fun_trivial, 2.0, {"bounds": 5}, False),
    ("bounds-string", _fun_trivial, 2.0, {"bounds": "ab"}, False),
    ("bounds-complex", _fun_trivial, 2.0, {"bounds": (1j, 2.0)}, False),
    ("bounds-wrong-length", _fun_trivial, 2.0, {"bounds": (1.0, [2.0, 3.0])}, True),
    ("bounds-no-broadcast-1d", _fun_2, [1.0, 2.0], {"bounds": ([0.0], [3.0, 4.0])}, True),
    ("bounds-2d", _fun_2, [0.5, 0.5], {"bounds": ([[0.0, 0.0]], 1.0)}, True),
    ("bounds-Bounds-wrong-length", _fun_2, [0.5, 0.5], {"bounds": Bounds([0, 0, 0], 1)}, True),
    ("bounds-Bounds-scalar-for-n2", _fun_2, [0.5, 0.5], {"bounds": Bounds(0.0, 1.0)}, True),
    ("fun-2d", lambda x: np.ones((2, 2)) * x[0], [2.0], {}, False),
    ("fun-3d", lambda x: np.ones((1, 1, 2)) * x[0], [2.0], {}, False),
    ("fun-wrong-dimensions", lambda x: np.array([x, x ** 2, x ** 3]), 2.0, {}, False),
    ("fun-nan-at-x0", lambda x: x * NAN, [2.0], {}, True),
    ("fun-inf-at-x0", lambda x: x * INF, [2.0], {}, True),
    ("fun-nan-one-entry", lambda x: np.array([x[0], NAN]), [2.0], {}, True),
    ("fun-returns-None", lambda x: None, [2.0], {}, False),
    ("fun-returns-string", lambda x: "a", [2.0], {}, False),
    ("fun-returns-object", lambda x: np.array([x[0]], dtype=object), [2.0], {}, False),
    ("fun-varying-length", "varying", [2.0], {}, False),
    ("jac-wrong-shape", _fun_lin, [2.0], {"jac": lambda x: np.ones((2, 1))}, True),
    ("jac-3d", _fun_trivial, 2.0, {"jac": lambda x: np.ones((1, 1, 1))}, False),
    ("jac-inconsistent-with-fun", _fun_2, [1.0, 2.0],
     {"jac": lambda x: np.ones((2, 2))}, True),
    ("method-bad", _fun_trivial, 2.0, {"method": "foo"}, True),
    ("method-case", _fun_trivial, 2.0, {"method": "TRF"}, True),
    ("method-None", _fun_trivial, 2.0, {"method": None}, True),
    ("jac-bad-string", _fun_trivial, 2.0, {"jac": "oops"}, True),
    ("jac-None", _fun_trivial, 2.0, {"jac": None}, True),
    ("jac-number", _fun_trivial, 2.0, {"jac": 1}, True),
    ("loss-bad", _fun_trivial, 2.0, {"loss": "hinge"}, False),
    ("loss-None", _fun_trivial, 2.0, {"loss": None}, False),
    ("loss-unhashable", _fun_trivial, 2.0, {"loss": ["linear"]}, False),
    ("loss-callable-wrong-shape", _fun_trivial, 2.0,
     {"loss": lambda z: np.ones((3, z.size + 1))}, True),
    ("tr_solver-bad", _fun_trivial, 2.0, {"tr_solver": "best"}, True),
    ("tr_solver-number", _fun_trivial, 2.0, {"tr_solver": 1}, True),
    ("verbose-3", _fun_trivial, 2.0, {"verbose": 3}, True),
    ("verbose-negative", _fun_trivial, 2.0, {"verbose": -1}, True),
    ("verbose-string", _fun_trivial, 2.0, {"verbose": "x"}, True),
    ("verbose-None", _fun_trivial, 2.0, {"verbose": None}, True),
    ("verbose-float", _fun_trivial, 2.0, {"verbose": 1.5}, True),
    ("max_nfev-0", _fun_trivial, 2.0, {"max_nfev": 0}, True),
    ("max_nfev-negative", _fun_trivial, 2.0, {"max_nfev": -1}, True),
    ("max_nfev-string", _fun_trivial, 2.0, {"max_nfev": "x"}, False),
    ("x_scale-auto", _fun_trivial, 2.0, {"x_scale": "auto"}, True),
    ("x_scale-negative", _fun_trivial, 2.0, {"x_scale": -1.0}, True),
    ("x_scale-zero", _fun_trivial, 2.0, {"x_scale": 0.0}, True),
    ("x_scale-complex", _fun_trivial, 2.0, {"x_scale": 1.0 + 2.0j}, True),
    ("x_scale-nan", _fun_trivial, 2.0, {"x_scale": NAN}, True),
    ("x_scale-inf", _fun_trivial, 2.0, {"x_scale": INF}, True),
    ("x_scale-string", _fun_trivial, 2.0, {"x_scale": "x"}, True),
    ("x_scale-wrong-length", _fun_2, [0.5, 0.5], {"x_scale": [1.0, 1.0, 1.0]}, True),
    ("x_scale-one-negative", _fun_2, [0.5, 0.5], {"x_scale": [1.0, -1.0]}, True),
    ("tolerances-all-None", _fun_trivial, 2.0,
     {"ftol": None, "xtol": None, "gtol": None}, True),
    ("tolerances-all-zero", _fun_trivial, 2.0,
     {"ftol": 0.0, "xtol": 0.0, "gtol": 0.0}, True),
    ("tolerances-all-negative", _fun_trivial, 2.0,
     {"ftol": -1.0, "xtol": -1.0, "gtol": -1.0}, True),
    ("ftol-string", _fun_trivial, 2.0, {"ftol": "x"}, False),
    ("xtol-string", _fun_trivial, 2.0, {"xtol": "1e-8"}, False),
    ("gtol-string", _fun_trivial, 2.0, {"gtol": "x"}, False),
    ("tr_options-unknown-key-lsmr", _fun_trivial, 2.0,
     {"tr_solver": "lsmr", "tr_options": {"foo": 1}}, False),
    ("tr_options-lsmr-tol", _fun_trivial, 2.0,
     {"tr_solver": "lsmr", "tr_options": {"tol": 1e-10}}, False),
    ("tr_options-bad-value-lsmr", _fun_trivial, 2.0,
     {"tr_solver": "lsmr", "tr_options": {"atol": "x"}}, False),
    ("f_scale-None-huber", _fun_trivial, 2.0, {"loss": "huber", "f_scale": None}, False),
    ("f_scale-string-huber", _fun_trivial, 2.0, {"loss": "huber", "f_scale": "x"}, False),
    ("f_scale-zero-huber", _fun_trivial, 2.0, {"loss": "huber", "f_scale": 0.0}, False),
    ("f_scale-nan-soft_l1", _fun_trivial, 2.0, {"loss": "soft_l1", "f_scale": NAN}, False),
    ("diff_step-string", _fun_trivial, 2.0, {"diff_step": "x"}, False),
    ("diff_step-nan", _fun_trivial, 2.0, {"diff_step": NAN}, False),
    ("diff_step-wrong-length", _fun_2, [0.5, 0.5], {"diff_step": [1e-3] * 3}, False),
    ("args-too-many", _fun_trivial, 2.0, {"args": (3, 4)}, False),
    ("kwargs-unknown", _fun_trivial, 2.0, {"kwargs": {"kaboom": 3}}, False),
    ("args-not-iterable", _fun_trivial, 2.0, {"args": 5}, False),
    ("kwargs-not-mapping", _fun_trivial, 2.0, {"kwargs": 5}, False),
    ("callback-not-callable", _fun_trivial, 2.0, {"callback": 5}, False),
    ("jac_sparsity-wrong-shape", _fun_2, [0.5, 0.5], {"jac_sparsity": [1]}, True),
    ("unknown-keyword", _fun_trivial, 2.0, {"no_such_option": 1}, False),
]

#: SciPy's wording for the main errors, pinned literally.
_PINNED_MESSAGES = {
    "x0-outside-bounds": "Initial guess is outside of provided bounds",
    "bounds-lb-gt-ub": ("Each lower bound must be strictly less than each "
                        "upper bound."),
    "x0-2d": "`x0` must have at most 1 dimension.",
    "fun-nan-at-x0": "Residuals are not finite in the initial point.",
    "x0-complex-scalar": "`x0` must be real.",
    "method-bad": "`method` must be 'trf', 'dogbox' or 'lm'.",
    "jac-bad-string": "`jac` must be '2-point', '3-point', 'cs' or callable.",
    "tr_solver-bad": "`tr_solver` must be None, 'exact' or 'lsmr'.",
    "verbose-3": "`verbose` must be in [0, 1, 2].",
    "max_nfev-0": "`max_nfev` must be None or positive integer.",
    "bounds-3-elements": "`bounds` must contain 2 elements.",
    "bounds-wrong-length": "Inconsistent shapes between bounds and `x0`.",
    "x_scale-auto": ("`x_scale` must be 'jac' or array_like with positive "
                     "numbers."),
    "x_scale-wrong-length": "Inconsistent shapes between `x_scale` and `x0`.",
    "jac-wrong-shape": ("The return value of `jac` has wrong shape: expected "
                        "(1, 1), actual (2, 1)."),
}


def _bad_input_params():
    for ident, fun, x0, kwargs, compare in _BAD_INPUTS:
        methods = [None] if "method" in kwargs else ["trf", "dogbox"]
        for method in methods:
            kw = dict(kwargs)
            if method is not None:
                kw["method"] = method
            yield pytest.param(fun, x0, kw, compare, ident,
                               id=ident if method is None else f"{ident}-{method}")


def _call(solver, fun, x0, kwargs):
    if fun == "varying":
        fun = _varying_length()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _time_limit(LSQBOX_TIME_LIMIT):
            return solver(fun, x0, **kwargs)


@pytest.mark.parametrize("fun, x0, kwargs, compare_message, ident",
                         list(_bad_input_params()))
def test_bad_input_raises_same_exception_type_as_scipy(fun, x0, kwargs,
                                                       compare_message, ident):
    with pytest.raises((ValueError, TypeError)) as scipy_info:
        _call(scipy_least_squares, fun, x0, kwargs)
    expected = ValueError if isinstance(scipy_info.value, ValueError) else TypeError
    try:
        res = _call(lsqbox_least_squares, fun, x0, kwargs)
    except _TimeLimitExceeded:
        pytest.fail("lsqbox hung")
    except (ValueError, TypeError) as exc:
        got = exc
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"lsqbox raised {type(exc).__name__}: {exc!r}; SciPy raises "
                    f"{type(scipy_info.value).__name__}: {scipy_info.value}")
    else:
        pytest.fail(f"lsqbox returned {res!r}; SciPy raises "
                    f"{type(scipy_info.value).__name__}: {scipy_info.value}")
    assert isinstance(got, expected), (
        f"lsqbox raised {type(got).__name__}: {got}; SciPy raises "
        f"{type(scipy_info.value).__name__}: {scipy_info.value}")
    if compare_message:
        assert str(got) == str(scipy_info.value)
    if ident in _PINNED_MESSAGES:
        assert str(scipy_info.value) == _PINNED_MESSAGES[ident]
        assert str(got) == _PINNED_MESSAGES[ident]
    if ident == "loss-bad":
        msg = str(got)
        assert msg.startswith("`loss` must be one of")
        for name in ("linear", "huber", "soft_l1", "cauchy", "arctan"):
            assert name in msg


# ---------------------------------------------------------------------------
# Where lsqbox must be stricter than SciPy (see module docstring).
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("x0, bounds", [
    ([NAN], None),
    (NAN, None),
    ([1.0, NAN], None),
    (np.array([NAN], dtype=np.float32), None),
    (["nan"], None),
    (np.array([None], dtype=object), None),
    ([NAN], (-1.0, 1.0)),
    ([NAN, INF], (-INF, INF)),
], ids=["list", "scalar", "second", "float32", "string", "object-None",
        "finite-bounds", "nan-and-inf"])
def test_nan_in_x0_is_a_clear_value_error(x0, bounds, method):
    kwargs = {"method": method}
    if bounds is not None:
        kwargs["bounds"] = bounds
    # SciPy: "Initial guess is outside of provided bounds" even for
    # unbounded problems -- true only in the sense that NaN compares false.
    with pytest.raises(ValueError) as info:
        _call(lsqbox_least_squares, np.tanh, x0, kwargs)
    assert "x0" in str(info.value), (
        f"message should mention x0: {str(info.value)!r}")


@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("fun", [np.tanh, lambda x: np.exp(-x), _fun_lin],
                         ids=["tanh", "exp-neg", "shift"])
@pytest.mark.parametrize("x0", [[INF], [-INF], [0.0, INF]], ids=["inf", "-inf", "mixed"])
def test_infinite_x0_is_a_value_error(x0, fun, method):
    # SciPy raises ValueError too, but only from deep inside LAPACK
    # ("array must not contain infs or NaNs", LinAlgError) or from the
    # residual check; a finite answer is impossible from an infinite start.
    with pytest.raises(ValueError):
        _call(lsqbox_least_squares, fun, x0, {"method": method})


def _terminates_validly(kwargs, fun=_rosen, x0=(0.5, 0.5), loss="linear"):
    x0 = np.array(x0, dtype=float)
    case = Case(build=lambda: (fun, x0.copy(), dict(kwargs)), n=x0.size,
                lb=-INF, ub=INF, reference_fun=fun, loss=loss,
                max_nfev=kwargs.get("max_nfev"))
    got = _run(lsqbox_least_squares, case.build, LSQBOX_TIME_LIMIT)
    assert got.kind != "hang", f"lsqbox hangs for {kwargs!r} (as SciPy does)"
    assert got.kind in ("result", "ValueError", "TypeError"), got.describe()
    if got.kind == "result":
        defects = _result_defects(got.value, case)
        assert not defects, defects
    return got


@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("kwargs", [
    {"max_nfev": 1.5},
    {"max_nfev": 0.5},
    {"max_nfev": NAN},
    {"ftol": NAN, "xtol": NAN, "gtol": NAN, "max_nfev": INF},
], ids=["max_nfev-1.5", "max_nfev-0.5", "max_nfev-nan", "nan-tolerances-inf-nfev"])
def test_inputs_that_hang_scipy_terminate(kwargs, method):
    _terminates_validly(dict(kwargs, method=method))


@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("jac", ["2-point", "cs"])
def test_complex_residuals_are_rejected(method, jac):
    # SciPy returns complex x and/or a complex cost (a silent wrong answer).
    def fun(x):
        return np.array([x[0] - 1.0, x[1] + 2.0, x[0] + x[1]]) + 1j

    with pytest.raises((ValueError, TypeError)):
        _call(lsqbox_least_squares, fun, [0.5, 0.5], {"method": method,
                                                      "jac": jac})


@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("tr_solver", ["exact", "lsmr"])
@pytest.mark.parametrize("tr_options", [5, "abc", [("a", 1)]],
                         ids=["int", "str", "list"])
def test_non_mapping_tr_options(tr_options, tr_solver, method):
    # SciPy: AttributeError ('int' object has no attribute 'copy') for trf.
    _terminates_validly({"method": method, "tr_solver": tr_solver,
                         "tr_options": tr_options})


@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("loss", ["huber", "soft_l1", "cauchy", "arctan"])
def test_infinite_f_scale_gives_no_nan_cost(loss, method):
    # SciPy returns x0 with cost=nan after max_nfev evaluations.
    _terminates_validly({"method": method, "loss": loss, "f_scale": INF},
                        loss=loss)


@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_loss_callable_returning_wrong_rows(method):
    # SciPy: IndexError from inside the loss wrapper.
    got = _terminates_validly({"method": method,
                               "loss": lambda z: np.ones((2, z.size))},
                              loss=None)
    assert got.kind in ("ValueError", "TypeError")


@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("x0", [0.3, 5.0, -1.5625, 2.0])
def test_one_variable_lsmr_problem_is_solved(x0, method):
    # SciPy 1.17, method='trf': IndexError in solve_trust_region_2d for
    # x0=0.3 and x0=5.0.
    A = np.array([[0.0], [0.53809267]])

    def fun(x):
        return A @ x

    res = _call(lsqbox_least_squares, fun, [x0],
                {"method": method, "tr_solver": "lsmr"})
    case = Case(build=None, n=1, lb=-INF, ub=INF, reference_fun=fun)
    assert not _result_defects(res, case)
    assert res.success
    np.testing.assert_allclose(res.x, 0.0, atol=1e-6)


@pytest.mark.parametrize("jac", ["2-point", "3-point", "cs"])
@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("x0", [1e-20, 1e-200, 1e-300, 1e-308, 5e-324, -5e-324],
                         ids=["1e-20", "1e-200", "1e-300", "1e-308",
                              "subnormal", "-subnormal"])
def test_tiny_x0_is_no_worse_than_scipy(x0, method, jac):
    # x0 values, not just shapes: finite-difference steps must not vanish or
    # blow up for tiny/subnormal starting points.
    def fun(x):
        return x - 1.0

    kwargs = {"method": method, "jac": jac}
    ref = _call(scipy_least_squares, fun, [x0], kwargs)
    got = _run(lsqbox_least_squares, lambda: (fun, [x0], kwargs),
               LSQBOX_TIME_LIMIT)
    assert got.kind == "result", (
        f"lsqbox: {got.describe()}; SciPy reaches x={ref.x} (cost {ref.cost})")
    res = got.value
    case = Case(build=None, n=1, lb=-INF, ub=INF, reference_fun=fun)
    assert not _result_defects(res, case)
    assert res.cost <= ref.cost + 1e-8, (
        f"lsqbox stops at x={res.x} (cost {res.cost}, status {res.status}, "
        f"nfev {res.nfev}); SciPy reaches x={ref.x} (cost {ref.cost})")
