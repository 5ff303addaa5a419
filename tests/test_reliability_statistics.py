"""Statistical truths of the stochastic solvers, checked over seeds.

Where full-batch descent satisfies an equality exactly (sample weight 2 =
a repeated row, partial_fit over chunks = fit), the mini-batch solvers satisfy
it in expectation: the mean difference over seeds is within a few standard
errors of the spread observed over the same seeds.
"""

import numpy as np
import pytest
from _reliability import ESTIMATORS, classes_kw, fit_quietly, flat_params
from sklearn.datasets import make_classification, make_regression

from skgd import GDMLPClassifier, GDRegressor

# ------------------------------------------------- statistical truths
N_SEEDS = 20


def _assert_mean_zero(diffs, k=4.0):
    """|mean| <= k standard errors, per coordinate (spread observed over seeds)."""
    diffs = np.asarray(diffs)
    mean = diffs.mean(axis=0)
    se = diffs.std(axis=0, ddof=1) / np.sqrt(len(diffs))
    assert np.any(se > 0), "no spread across seeds: the solver is not stochastic"
    # a coordinate without spread (e.g. an absent intercept) must agree exactly
    assert np.all(np.abs(mean) <= k * se), (mean, se)


def _stat_data(name):
    if name == "GDRegressor":
        X, y = make_regression(n_samples=60, n_features=4, noise=5.0, random_state=2)
        return X, (y - y.mean()) / y.std()
    return make_classification(
        n_samples=60, n_features=4, n_informative=3, n_redundant=0, random_state=2
    )


def _stat_make(name, solver, seed, **params):
    params = {
        "solver": solver,
        "random_state": seed,
        "batch_size": 10,
        "learning_rate_init": 0.01,
        **params,
    }
    if name == "GDRegressor":
        return GDRegressor(**params)
    return GDMLPClassifier(hidden_layer_sizes=(3,), **params)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_weight_two_matches_repeated_rows_on_average(name, solver):
    """A weight of 2 and a repeated row give the same objective; over seeds
    the final coefficients agree within the observed noise.

    30 of 60 rows get weight 2; the repeated data has 90 rows. Batches of 10
    weighted rows and of 15 repeated rows carry the same expected weight, so
    both take 6 steps per epoch. Observed: with equal batch counts but not
    equal batch weights (10 vs 10 rows) the weighted fit simply lags behind;
    and Adam's early epochs differ systematically (its second moments see
    the different per-batch gradient variance of weighted and repeated rows;
    t about 6 after 20-40 epochs on the regressor), so the regressor is run
    near convergence (100 epochs), where it agrees."""
    X, y = _stat_data(name)
    sw = np.ones(len(y))
    sw[:30] = 2.0
    X_rep, y_rep = np.vstack([X, X[:30]]), np.concatenate([y, y[:30]])
    kw = {
        "max_iter": 100 if name == "GDRegressor" else 40,
        "tol": 0.0,
        "n_iter_no_change": 1000,
    }
    diffs = []
    for seed in range(N_SEEDS):
        a = _stat_make(name, solver, seed, batch_size=10, **kw)
        b = _stat_make(name, solver, seed, batch_size=15, **kw)
        fit_quietly(a, X, y, sample_weight=sw)
        fit_quietly(b, X_rep, y_rep)
        assert a.t_ == b.t_
        diffs.append(flat_params(a) - flat_params(b))
    _assert_mean_zero(diffs)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_partial_fit_over_random_chunks_matches_one_epoch_of_fit(name, solver):
    """Chunks of random rows, each a multiple of the batch size and shuffled
    within, make one pass distributed exactly like one shuffled epoch of fit.
    (The regressor without intercept nor preconditioning: its first
    partial_fit would take those statistics from the first chunk only.)"""
    X, y = _stat_data(name)
    extra = {"fit_intercept": False, "precondition": False}
    extra = extra if name == "GDRegressor" else {}
    diffs = []
    for seed in range(N_SEEDS):
        full = fit_quietly(_stat_make(name, solver, seed, max_iter=1, **extra), X, y)
        inc = _stat_make(name, solver, seed, **extra)
        order = np.random.RandomState(1000 + seed).permutation(len(y))
        for i, chunk in enumerate(np.split(order, 3)):
            inc.partial_fit(
                X[chunk], y[chunk], **(classes_kw(name, y) if i == 0 else {})
            )
        assert inc.t_ == full.t_ == 6
        diffs.append(flat_params(inc) - flat_params(full))
    _assert_mean_zero(diffs)
