"""GDMLPClassifier against scikit-learn's MLPClassifier on the digits data."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skgd import GDMLPClassifier

SEEDS = range(5)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def _test_accuracies(make, digits):
    X_tr, X_te, y_tr, y_te = digits
    # small matrices: one BLAS thread per test process is fastest, and two
    # xdist workers with two spinning OpenBLAS threads each thrash two cores
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        # 'sgd' uses all 200 epochs in both libraries
        warnings.simplefilter("ignore", ConvergenceWarning)
        return np.array(
            [make(seed).fit(X_tr, y_tr).score(X_te, y_te) for seed in SEEDS]
        )


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_digits_accuracy_is_within_one_point_of_mlpclassifier(solver, digits):
    # at MLPClassifier's rate (skgd's 'auto' rate of 'sgd' is 0.1)
    ours = _test_accuracies(
        lambda s: GDMLPClassifier(
            (64,), solver=solver, learning_rate_init=0.001, random_state=s
        ),
        digits,
    )
    theirs = _test_accuracies(
        lambda s: MLPClassifier((64,), solver=solver, random_state=s), digits
    )
    report = f"skgd {ours.round(4)} vs scikit-learn {theirs.round(4)}"
    assert abs(ours.mean() - theirs.mean()) <= 0.01, report
    assert ours.min() > 0.9, report
