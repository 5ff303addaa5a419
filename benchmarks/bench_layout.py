"""Fits on a column-major X (pandas' layout) beside a row-major one.

A DataFrame reaches an estimator as a column-major (Fortran-ordered) array,
also when it was read from a CSV file. For each model the table prints the
fit time on a row-major X, on the column-major copy of the same X, and the
ratio of the two; scikit-learn's counterpart runs on the column-major X in
the same process. Issue 10's settings: 'sgd' and 'adam' at their defaults on
200,000 x 100 (regression), and the MLP on 50,000 x 100 (10 classes, 128
ReLU units, Adam, batches of 200) for 5 epochs.

Usage::

    python benchmarks/bench_layout.py            # the settings above
    python benchmarks/bench_layout.py --quick    # a tenth of the rows
"""

import time
import warnings

import numpy as np
from _common import blas_limit, describe_machine, print_table, target_parser
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDRegressor
from sklearn.neural_network import MLPClassifier

from skgd import GDMLPClassifier, GDRegressor


def _fit_time(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        est.fit(X, y)
    return time.perf_counter() - start


def main(argv=None):
    args = target_parser(__doc__).parse_args(argv)
    scale = 10 if args.quick else 1
    X_r, y_r = make_regression(200_000 // scale, 100, noise=1.0, random_state=0)
    X_c, y_c = make_classification(
        50_000 // scale, 100, n_informative=50, n_classes=10, random_state=0
    )
    mlp = {"hidden_layer_sizes": (128,), "batch_size": 200, "random_state": 0}
    cases = [
        ("GDRegressor sgd", GDRegressor(solver="sgd", random_state=0), X_r, y_r),
        ("GDRegressor adam", GDRegressor(solver="adam", random_state=0), X_r, y_r),
        ("SGDRegressor", SGDRegressor(random_state=0), X_r, y_r),
        ("GDMLPClassifier", GDMLPClassifier(max_iter=5, tol=None, **mlp), X_c, y_c),
        ("MLPClassifier", MLPClassifier(max_iter=5, **mlp), X_c, y_c),
    ]
    print(describe_machine())
    rows = []
    with blas_limit(args.blas_threads):
        for name, est, X, y in cases:
            X_f = np.asfortranarray(X)
            t_c = _fit_time(est, X, y)
            t_f = _fit_time(est, X_f, y)
            rows.append((name, f"{t_c:.3f}", f"{t_f:.3f}", f"{t_f / t_c:.2f}"))
    print_table(("model", "row-major s", "column-major s", "ratio"), rows)


if __name__ == "__main__":
    main()
