"""GDRegressor against scikit-learn's linear regressors, side by side.

Two questions on one synthetic least-squares problem (standard normal
features, ``y = X @ w + noise`` with unit noise, fixed seed):

(a) How long does full-batch ``GDRegressor(solver="gd")`` take to reach the
    closed-form solution (relative coefficient error <= 1e-6 against
    ``LinearRegression``), and how long does ``LinearRegression`` take?
(b) How long do the mini-batch solvers ("sgd", "adam") take to reach a
    training MSE within 1% of the optimum (LinearRegression's training MSE),
    against ``SGDRegressor(penalty=None)`` reaching the same target? Every
    estimator is stepped one epoch at a time with ``partial_fit``; only the
    ``partial_fit`` calls are timed, and a run stops at the first epoch that
    meets the target. Each is run with its default rate and with the best
    constant rate of a small grid (chosen by epochs to target, untimed).

Each timing is repeated (``--repeats``, default 3) and the median reported:
the benchmark machines are small and shared. Ratios are
``sklearn_time / skgd_time`` (above 1 means skgd is faster).

Usage::

    python benchmarks/bench_regressor.py            # n=200,000, d=100
    python benchmarks/bench_regressor.py --quick    # n=20,000 smoke test
    python benchmarks/bench_regressor.py --blas-threads 1
"""

import argparse
import statistics
import time
import warnings

import numpy as np
from _common import (
    add_common_arguments,
    blas_limit,
    describe_machine,
    median_time,
    print_table,
)
from sklearn.linear_model import LinearRegression, SGDRegressor

from skgd import GDRegressor

COEF_TARGET = 1e-6  # part (a): relative coefficient error
MSE_SLACK = 0.01  # part (b): training MSE <= (1 + MSE_SLACK) * optimum
SGD_ETA0_GRID = (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5)
# skgd's grid multiplies the solver's own 'auto' rate
SKGD_LR_FACTORS = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003)


def make_data(n_samples, n_features, seed):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, n_features))
    w = rng.standard_normal(n_features)
    y = X @ w + rng.standard_normal(n_samples)
    return X, y


def rel_error(coef, ref):
    return float(np.linalg.norm(coef - ref) / np.linalg.norm(ref))


# ---------------------------------------------------------------- part (a)
def bench_closed_form(X, y, repeats):
    """LinearRegression against GDRegressor(solver='gd') to COEF_TARGET."""
    t_ref, ref = median_time(lambda: LinearRegression().fit(X, y), repeats)
    # the largest tol that meets the target, searched untimed, then timed
    for tol in 10.0 ** -np.arange(3, 13):
        est = _fit_quietly(GDRegressor(solver="gd", tol=tol, max_iter=10_000), X, y)
        if rel_error(est.coef_, ref.coef_) <= COEF_TARGET:
            break
    gd = GDRegressor(solver="gd", tol=tol, max_iter=10_000)
    t_gd, est = median_time(lambda: _fit_quietly(gd, X, y), repeats)
    err = rel_error(est.coef_, ref.coef_)
    print(f"\n(a) time to relative coefficient error <= {COEF_TARGET:g}")
    print_table(
        ("estimator", "epochs", "coef err", "time [s]", "LR / skgd"),
        [
            ("LinearRegression()", "-", "-", f"{t_ref:.3f}", "-"),
            (
                f"GDRegressor(solver='gd', tol={tol:g})",
                est.n_iter_,
                f"{err:.1e}",
                f"{t_gd:.3f}",
                f"{t_ref / t_gd:.2f}",
            ),
        ],
    )
    return ref


def _fit_quietly(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


# ---------------------------------------------------------------- part (b)
def epochs_to_target(make, X, y, target, max_epochs):
    """Step ``make()`` by ``partial_fit`` until its training MSE meets ``target``.

    Returns ``(epochs or None, seconds in partial_fit, last MSE, estimator)``.
    """
    est, spent, mse = make(), 0.0, np.inf
    for epoch in range(1, max_epochs + 1):
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.partial_fit(X, y)
        except ValueError:  # divergence: skgd's guard or SGDRegressor's overflow check
            return None, spent, np.inf, est
        spent += time.perf_counter() - start
        with np.errstate(all="ignore"):
            mse = float(np.mean((y - est.predict(X)) ** 2))
        if not np.isfinite(mse):
            return None, spent, np.inf, est
        if mse <= target:
            return epoch, spent, mse, est
    return None, spent, mse, est


def timed_run(make, X, y, target, max_epochs, repeats):
    """Median time to target over ``repeats`` identical (seeded) runs."""
    runs = [epochs_to_target(make, X, y, target, max_epochs)]
    if runs[0][0] is not None:  # a run that misses the target is not repeated
        runs += [
            epochs_to_target(make, X, y, target, max_epochs) for _ in range(repeats - 1)
        ]
    epochs, _, mse, est = runs[-1]
    return epochs, statistics.median(r[1] for r in runs), mse, est


def tune(grid, X, y, target, max_epochs):
    """The ``(label, make)`` of ``grid`` needing the fewest epochs, or None.

    One untimed run each; ties go to the faster run.
    """
    best = None
    for label, make in grid:
        epochs, spent, _, _ = epochs_to_target(make, X, y, target, max_epochs)
        if epochs is not None and (best is None or (epochs, spent) < best[0]):
            best = ((epochs, spent), label, make)
    return None if best is None else best[1:]


def sgd_regressor(seed, **params):
    return lambda: SGDRegressor(penalty=None, random_state=seed, **params)


def gd_regressor(solver, seed, **params):
    return lambda: GDRegressor(solver=solver, random_state=seed, **params)


def bench_time_to_target(X, y, mse_opt, max_epochs, repeats, seed):
    target = (1 + MSE_SLACK) * mse_opt
    rows = []

    def run(name, setting, make):
        epochs, spent, mse, est = timed_run(make, X, y, target, max_epochs, repeats)
        if setting == "default":
            setting += f" (lr={_rate(est)})"
        rows.append((name, setting, epochs, spent, mse / mse_opt - 1))
        return est

    def run_tuned(name, grid):
        found = tune(grid, X, y, target, max_epochs)
        if found is None:
            rows.append((name, "tuned: no rate of the grid", None, np.nan, np.nan))
        else:
            run(name, *found)

    run("SGDRegressor", "default", sgd_regressor(seed))
    run_tuned(
        "SGDRegressor",
        [
            (
                f"tuned constant eta0={eta0:g}",
                sgd_regressor(seed, learning_rate="constant", eta0=eta0),
            )
            for eta0 in SGD_ETA0_GRID
        ],
    )
    for solver in ("sgd", "adam"):
        name = f"GDRegressor({solver!r})"
        auto = run(name, "default", gd_regressor(solver, seed)).learning_rate_init_
        grid = []
        for lr in (auto * f for f in SKGD_LR_FACTORS):
            make = gd_regressor(solver, seed, learning_rate_init=lr)
            grid.append((f"tuned constant lr={lr:.3g}", make))
        run_tuned(name, grid)
    run("GDRegressor('gd')", "default", gd_regressor("gd", seed))
    print_time_to_target(rows, mse_opt, max_epochs)


def _rate(est):
    if isinstance(est, SGDRegressor):
        return f"{est.learning_rate} eta0={est.eta0:g}"
    return f"auto={est.learning_rate_init_:.3g}"


def print_time_to_target(rows, mse_opt, max_epochs):
    print(
        f"\n(b) time to training MSE <= {1 + MSE_SLACK:g} x optimum "
        f"(optimum {mse_opt:.6f}), partial_fit one epoch at a time"
    )
    table = []
    for name, setting, epochs, spent, excess in rows:
        reached = epochs is not None
        table.append(
            (
                name,
                setting,
                epochs if reached else f">{max_epochs}",
                f"{spent:.3f}" if reached else f"({spent:.3f})",
                f"{100 * excess:.2f}%" if np.isfinite(excess) else "-",
            )
        )
    print_table(("estimator", "setting", "epochs", "time [s]", "excess MSE"), table)
    print(f"(time in parentheses: {max_epochs} epochs without reaching the target)")

    def reference(prefix):
        # (time, reached) of the SGDRegressor row whose setting starts so
        for name, setting, epochs, spent, _ in rows:
            if name == "SGDRegressor" and setting.startswith(prefix):
                return spent, epochs is not None
        return np.nan, False

    refs = [reference("default"), reference("tuned")]
    ratios = []
    for name, setting, epochs, spent, _ in rows:
        if name != "SGDRegressor":
            ratios.append(
                (f"{name} {setting}", *(_ratio(ref, epochs, spent) for ref in refs))
            )
    print("\nratios sklearn_time / skgd_time (> 1: skgd faster)")
    print_table(("skgd", "vs SGDRegressor default", "vs SGDRegressor tuned"), ratios)


def _ratio(ref, epochs, spent):
    """``ref_time / spent``; a lower bound ('>') when the reference missed."""
    ref_time, ref_reached = ref
    if epochs is None or not np.isfinite(ref_time) or spent <= 0:
        return "-"
    return f"{'' if ref_reached else '>'}{ref_time / spent:.2f}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: n_samples=20,000"
    )
    parser.add_argument("--max-epochs", type=int, default=30)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples = 20_000
    return args


def main(argv=None):
    args = parse_args(argv)
    with blas_limit(args.blas_threads):
        X, y = make_data(args.n_samples, args.n_features, args.seed)
        print(
            f"data: n_samples={args.n_samples}, n_features={args.n_features}, "
            f"seed={args.seed}; median of {args.repeats} runs"
        )
        print(describe_machine())
        ref = bench_closed_form(X, y, args.repeats)
        mse_opt = float(np.mean((y - ref.predict(X)) ** 2))
        bench_time_to_target(X, y, mse_opt, args.max_epochs, args.repeats, args.seed)


if __name__ == "__main__":
    main()
