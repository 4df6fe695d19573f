"""Unit tests for lsqbox.losses: rho and its derivatives, f_scale, robustify."""
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.sparse import csr_array, csr_matrix, issparse
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from lsqbox.losses import EPS, LOSSES, make_loss, scale_rows

ROBUST = ["soft_l1", "huber", "cauchy", "arctan"]
ALL = ["linear"] + ROBUST


def _huber(z):
    r0 = np.where(z <= 1, z, 2 * np.sqrt(z) - 1)
    r1 = np.where(z <= 1, 1.0, 1 / np.sqrt(z))
    r2 = np.where(z <= 1, 0.0, -0.5 / z ** 1.5)
    return np.array([r0, r1, r2])


def analytic(name, z):
    """rho, rho', rho'' written out independently of the module."""
    z = np.asarray(z, dtype=float)
    if name == "linear":
        return np.array([z, np.ones_like(z), np.zeros_like(z)])
    if name == "soft_l1":
        return np.array([2 * (np.sqrt(1 + z) - 1), 1 / np.sqrt(1 + z),
                         -0.5 / (1 + z) ** 1.5])
    if name == "huber":
        with np.errstate(divide="ignore"):
            return _huber(z)
    if name == "cauchy":
        return np.array([np.log1p(z), 1 / (1 + z), -1 / (1 + z) ** 2])
    if name == "arctan":
        return np.array([np.arctan(z), 1 / (1 + z ** 2), -2 * z / (1 + z ** 2) ** 2])
    raise KeyError(name)


# z values away from huber's kink at z = 1
Z = np.array([0.0, 1e-3, 0.3, 0.7, 0.95, 1.05, 1.7, 4.0, 25.0, 400.0])


def rho_of(name):
    loss = make_loss(name, 1.0)
    return lambda z: loss.rho(np.sqrt(z))


def test_registry():
    assert set(LOSSES) == set(ALL)
    assert LOSSES["linear"] is None
    assert make_loss("linear", 1.0).is_linear
    for name in ROBUST:
        assert not make_loss(name, 1.0).is_linear
        assert make_loss(name, 1.0).rho_of_z is LOSSES[name]


@pytest.mark.parametrize("name", ALL)
def test_rho_matches_analytic_formulas(name):
    rho = rho_of(name)(Z)
    assert rho.shape == (3, Z.size)
    assert_allclose(rho, analytic(name, Z), rtol=1e-14, atol=1e-300)
    # every loss is z near zero: rho(0) = 0, rho'(0) = 1
    assert rho[0, 0] == 0.0
    assert rho[1, 0] == 1.0


@pytest.mark.parametrize("name", ALL)
def test_derivatives_match_finite_differences(name):
    rho = rho_of(name)
    z = Z[1:]  # central differences need z - h >= 0
    h = 1e-6 * np.maximum(z, 1e-2)
    d1 = (rho(z + h)[0] - rho(z - h)[0]) / (2 * h)
    d2 = (rho(z + h)[1] - rho(z - h)[1]) / (2 * h)
    r = rho(z)
    assert_allclose(r[1], d1, rtol=1e-7, atol=1e-12)
    assert_allclose(r[2], d2, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("C", [0.1, 1.0, 3.0])
def test_f_scale_folding(name, C):
    """rho_C(w) = C^2 rho(w / C^2) of w = f^2: rho_C' = rho'(w / C^2),
    rho_C'' = rho''(w / C^2) / C^2."""
    loss = make_loss(name, C)
    f = np.array([-7.0, -0.4, 0.05, 0.3, 0.9, 2.5, 11.0]) * C
    z = (f / C) ** 2
    ref = analytic(name, z)
    rho = loss.rho(f)
    assert_allclose(rho[0], C ** 2 * ref[0], rtol=1e-14)
    assert_allclose(rho[1], ref[1], rtol=1e-14)
    assert_allclose(rho[2], ref[2] / C ** 2, rtol=1e-14)
    # and the same by differentiating the scaled loss in w = f^2
    w = f ** 2
    h = 1e-6 * w
    R = lambda w_: loss.rho(np.sqrt(w_))
    assert_allclose(rho[1], (R(w + h)[0] - R(w - h)[0]) / (2 * h), rtol=1e-6)
    assert_allclose(rho[2], (R(w + h)[1] - R(w - h)[1]) / (2 * h), rtol=1e-5, atol=1e-12)
    # cost is 0.5 * sum(C^2 rho(z))
    assert loss.cost(f) == pytest.approx(0.5 * C ** 2 * np.sum(ref[0]), rel=1e-14)


def test_linear_cost_is_half_squared_norm():
    f = np.array([1.0, -2.0, 3.0])
    for C in (0.5, 1.0, 7.0):
        assert make_loss("linear", C).cost(f) == 7.0


@pytest.mark.parametrize("name", ALL)
def test_cost_matches_scipy_loss_function(name):
    from scipy.optimize._lsq.least_squares import construct_loss_function
    f = np.linspace(-5, 5, 11)
    for C in (0.5, 2.0):
        scipy_loss = construct_loss_function(f.size, name, C)
        ours = make_loss(name, C)
        if scipy_loss is None:
            assert ours.cost(f) == pytest.approx(0.5 * f @ f)
        else:
            assert ours.cost(f) == pytest.approx(scipy_loss(f, cost_only=True), rel=1e-14)
            assert_allclose(ours.rho(f), scipy_loss(f.copy()), rtol=1e-14)


def _linear_model(seed, m=7, n=3, spread=3.0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, n))
    b = rng.normal(size=m) * spread
    return A, b


@pytest.mark.parametrize("name", ROBUST)
@pytest.mark.parametrize("C", [0.5, 1.0, 2.0])
def test_robustify_gives_true_gradient(name, C):
    A, b = _linear_model(1)
    x = np.array([0.3, -0.2, 0.1])
    loss = make_loss(name, C)
    f = A @ x + b
    J_s, f_s = loss.robustify(A.copy(), f.copy())
    rho = loss.rho(f)
    g_true = A.T @ (rho[1] * f)
    assert_allclose(J_s.T @ f_s, g_true, rtol=1e-12, atol=1e-14)
    # ... which is the gradient of the cost F(x) = loss.cost(A x + b)
    h = 1e-6
    g_fd = np.array([(loss.cost(A @ (x + h * e) + b) - loss.cost(A @ (x - h * e) + b)) / (2 * h)
                     for e in np.eye(3)])
    assert_allclose(g_true, g_fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ROBUST)
def test_robustify_gauss_newton_hessian(name):
    """J_s^T J_s = J^T diag(max(rho' + 2 rho'' f^2, EPS)) J."""
    A, b = _linear_model(2)
    f = A @ np.array([0.1, 0.2, 0.3]) + b
    loss = make_loss(name, 1.0)
    J_s, f_s = loss.robustify(A, f)
    rho = loss.rho(f)
    w = np.maximum(rho[1] + 2 * rho[2] * f ** 2, EPS)
    assert_allclose(J_s, np.sqrt(w)[:, None] * A, rtol=1e-14)
    assert_allclose(J_s.T @ J_s, A.T @ (w[:, None] * A), rtol=1e-12)
    assert_allclose(f_s, rho[1] * f / np.sqrt(w), rtol=1e-14)


def test_robustify_linear_is_identity():
    A, b = _linear_model(3)
    J, f = make_loss("linear", 2.0).robustify(A, b)
    assert J is A and f is b


def test_huber_outlier_is_clipped_at_eps():
    """For |f| > C huber's rho' + 2 rho'' f^2 is exactly 0: clipped at EPS."""
    loss = make_loss("huber", 1.0)
    f = np.array([0.5, 10.0, -20.0])
    J = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    J_s, f_s = loss.robustify(J, f)
    assert_allclose(J_s[0], J[0])            # inlier: untouched
    assert f_s[0] == 0.5
    assert_allclose(J_s[1:], np.sqrt(EPS) * J[1:], rtol=1e-15)
    assert_allclose(f_s[1:], np.sign(f[1:]) / np.sqrt(EPS), rtol=1e-12)
    assert_allclose(J_s.T @ f_s, J.T @ (loss.rho(f)[1] * f), rtol=1e-12)


def test_cauchy_negative_curvature_is_clipped_at_eps():
    """cauchy: rho' + 2 rho'' f^2 = (1 - z) / (1 + z)^2 < 0 for z > 1."""
    loss = make_loss("cauchy", 1.0)
    f = np.array([3.0])
    J_s, f_s = loss.robustify(np.array([[2.0]]), f)
    assert J_s[0, 0] == pytest.approx(2.0 * np.sqrt(EPS), rel=1e-15)
    assert f_s[0] == pytest.approx((1 / 10) * 3.0 / np.sqrt(EPS), rel=1e-12)


def test_robustify_does_not_modify_inputs():
    A, b = _linear_model(4)
    A0, b0 = A.copy(), b.copy()
    make_loss("soft_l1", 1.0).robustify(A, b)
    assert np.array_equal(A, A0) and np.array_equal(b, b0)


@pytest.mark.parametrize("kind", [csr_array, csr_matrix])
def test_robustify_sparse_rows_scaled(kind):
    A, b = _linear_model(5, m=6, n=4)
    A[np.abs(A) < 0.6] = 0.0
    loss = make_loss("soft_l1", 1.5)
    J_dense, f_dense = loss.robustify(A, b)
    J_sp, f_sp = loss.robustify(kind(A), b)
    assert issparse(J_sp)
    assert J_sp.shape == A.shape
    assert_allclose(J_sp.toarray(), J_dense, rtol=1e-14)
    assert_allclose(f_sp, f_dense, rtol=1e-14)
    # the pattern is not filled in
    assert J_sp.nnz <= np.count_nonzero(A)


def test_robustify_linear_operator_matvec_rmatvec():
    A, b = _linear_model(6, m=6, n=4)
    loss = make_loss("cauchy", 0.7)
    J_dense, f_dense = loss.robustify(A, b)
    J_op, f_op = loss.robustify(aslinearoperator(A), b)
    assert isinstance(J_op, LinearOperator)
    assert J_op.shape == A.shape
    assert_allclose(f_op, f_dense)
    rng = np.random.default_rng(0)
    v, u = rng.normal(size=4), rng.normal(size=6)
    assert_allclose(J_op.matvec(v), J_dense @ v, rtol=1e-13)
    assert_allclose(J_op.rmatvec(u), J_dense.T @ u, rtol=1e-13)
    assert_allclose(J_op.T.dot(f_op), J_dense.T @ f_dense, rtol=1e-13)


def test_robustify_linear_operator_matmat_rmatmat():
    """The robustified operator (returned to users as ``result.jac``) must accept
    2-D operands like any LinearOperator (SciPy's left_multiplied_operator does).

    BUG (src/lsqbox/losses.py: scale_rows): matvec is ``w * J.matvec(v)``; for a
    column v of shape (n, 1) (what LinearOperator's default matmat passes) this
    broadcasts to (m, m) and ``J_s @ X`` raises ValueError; rmatvec likewise
    (``J.rmatvec(w * u)`` with u of shape (m, 1)).
    """
    A, b = _linear_model(7, m=6, n=4)
    w = np.linspace(0.5, 2.0, 6)
    J_op = scale_rows(aslinearoperator(A), w)
    X = np.arange(8.0).reshape(4, 2)
    Y = np.arange(12.0).reshape(6, 2)
    assert_allclose(J_op @ X, w[:, None] * A @ X, rtol=1e-13)
    assert_allclose(J_op.T @ Y, (w[:, None] * A).T @ Y, rtol=1e-13)


def test_scale_rows_dense_and_sparse():
    A = np.arange(12.0).reshape(4, 3)
    w = np.array([1.0, 2.0, 0.5, -1.0])
    assert_allclose(scale_rows(A, w), np.diag(w) @ A)
    assert_allclose(scale_rows(csr_array(A), w).toarray(), np.diag(w) @ A)


def test_callable_loss_receives_scaled_z_and_is_folded():
    seen = {}

    def my_loss(z):
        seen["z"] = z.copy()
        return np.vstack((2 * z, 2 * np.ones_like(z), np.zeros_like(z)))

    loss = make_loss(my_loss, 2.0)
    assert loss.user
    f = np.array([1.0, -4.0])
    rho = loss.rho(f)
    assert_allclose(seen["z"], (f / 2.0) ** 2)
    assert_allclose(rho[0], 4.0 * 2 * (f / 2.0) ** 2)
    assert_allclose(rho[1], [2.0, 2.0])
    assert loss.cost(f) == pytest.approx(0.5 * np.sum(rho[0]))


def test_callable_loss_may_return_list_and_is_not_mutated():
    cache = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    loss = make_loss(lambda z: cache, 2.0)
    rho = loss.rho(np.array([1.0, 2.0]))
    assert_allclose(rho, [[4.0, 8.0], [3.0, 4.0], [1.25, 1.5]])
    assert_allclose(cache, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    loss2 = make_loss(lambda z: [list(z), [1.0] * z.size, [0.0] * z.size], 1.0)
    assert_allclose(loss2.rho(np.array([2.0, 3.0])), [[4, 9], [1, 1], [0, 0]])


@pytest.mark.parametrize("bad", [
    lambda z: z,                                         # (m,)
    lambda z: np.vstack((z, z)),                         # (2, m)
    lambda z: np.zeros((3, z.size + 1)),                 # (3, m + 1)
    lambda z: np.zeros((3, z.size, 1)),                  # 3-d
])
def test_callable_loss_wrong_shape_raises(bad):
    loss = make_loss(bad, 1.0)
    with pytest.raises(ValueError, match="The return value of `loss` callable has wrong shape."):
        loss.rho(np.array([1.0, 2.0, 3.0]))
