"""lsqbox demo: the reference examples of SciPy's least_squares documentation,
solved by lsqbox side by side with SciPy, then a curve fit with its report.

Run with `make demo`.
"""
import time

import numpy as np
from scipy.optimize import least_squares as scipy_least_squares

from lsqbox import curve_fit, least_squares


def rosenbrock(x):
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def rosenbrock_jac(x):
    return np.array([[-20 * x[0], 10], [-1, 0]])


def broyden_tridiagonal(x):
    f = (3 - x) * x + 1
    f[1:] -= x[:-1]
    f[:-1] -= 2 * x[1:]
    return f


def tridiagonal_sparsity(n):
    from scipy.sparse import diags_array
    return diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1])


def generate_data(t, a, b, c, noise=0.0, n_outliers=0, seed=0):
    rng = np.random.default_rng(seed)
    y = a + b * np.exp(t * c)
    error = noise * rng.standard_normal(t.size)
    outliers = rng.integers(0, t.size, n_outliers)
    error[outliers] *= 10
    return y + error


def side_by_side(title, *args, **kwargs):
    t0 = time.perf_counter()
    ours = least_squares(*args, **kwargs)
    t1 = time.perf_counter()
    theirs = scipy_least_squares(*args, **kwargs)
    t2 = time.perf_counter()
    print(f"\n== {title}")
    with np.printoptions(precision=8, threshold=6, edgeitems=3):
        print(f"   lsqbox: x = {ours.x}  cost = {ours.cost:.6g}  nfev = {ours.nfev} "
              f"(total {ours.nfev_total})  status = {ours.status}  "
              f"{(t1 - t0) * 1e3:.1f} ms")
        print(f"   scipy : x = {theirs.x}  cost = {theirs.cost:.6g}  nfev = {theirs.nfev}"
              f"  status = {theirs.status}  {(t2 - t1) * 1e3:.1f} ms")
    return ours


def main():
    print("lsqbox demo: SciPy's least_squares examples, solved by both")
    side_by_side("Rosenbrock from (2, 2)", rosenbrock, [2, 2])
    res = side_by_side("Rosenbrock, x[1] >= 1.5, analytic Jacobian", rosenbrock, [2, 2],
                       jac=rosenbrock_jac, bounds=([-np.inf, 1.5], np.inf))
    print(f"   active_mask = {res.active_mask}")
    n = 100_000
    side_by_side(f"Broyden tridiagonal, n = {n}, jac_sparsity", broyden_tridiagonal,
                 -np.ones(n), jac_sparsity=tridiagonal_sparsity(n))

    t_train = np.linspace(0, 10, 15)
    y_train = generate_data(t_train, 0.5, 2.0, -1.0, noise=0.1, n_outliers=3)

    def residuals(x, t, y):
        return x[0] + x[1] * np.exp(x[2] * t) - y

    for loss in ["linear", "soft_l1", "huber", "cauchy", "arctan"]:
        side_by_side(f"robust fit of y = a + b exp(c t) with outliers, loss={loss}",
                     residuals, np.ones(3), loss=loss, f_scale=0.1,
                     args=(t_train, y_train))

    print("\n== curve_fit of y = a exp(-b x) + c, with the fit report")
    rng = np.random.default_rng(42)
    xdata = np.linspace(0, 4, 50)
    ydata = 2.5 * np.exp(-1.3 * xdata) + 0.5 + 0.2 * rng.normal(size=xdata.size)
    popt, pcov = curve_fit(lambda x, a, b, c: a * np.exp(-b * x) + c, xdata, ydata)
    print(f"   popt = {popt}, standard errors = {np.sqrt(np.diag(pcov))}")
    res = least_squares(lambda p: p[0] * np.exp(-p[1] * xdata) + p[2] - ydata,
                        [1.0, 1.0, 1.0], method="lm")
    print(res.fit_report(names=["a", "b", "c"]))


if __name__ == "__main__":
    main()
