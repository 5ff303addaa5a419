"""Helpers shared by the reliability test modules."""

import dataclasses
import warnings

import numpy as np
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skgd import GDMLPClassifier, GDRegressor

ESTIMATORS = ("GDRegressor", "GDMLPClassifier")


def make_data(name, n=160, n_classes=3, seed=0):
    """A small regression or classification problem for estimator ``name``."""
    if name == "GDRegressor":
        return make_regression(n_samples=n, n_features=5, noise=1.0, random_state=seed)
    return make_classification(
        n_samples=n,
        n_features=6,
        n_informative=4,
        n_classes=n_classes,
        random_state=seed,
    )


def fit_quietly(est, X, y, **kw):
    """``est.fit`` with ConvergenceWarnings silenced (short test fits)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


def classes_kw(name, y):
    """The ``classes`` argument that partial_fit needs for a classifier."""
    return {"classes": np.unique(y)} if name == "GDMLPClassifier" else {}


def make_estimator(name, solver, **params):
    """A small, seeded estimator of either kind with a rate that suits solver."""
    params = {"solver": solver, "random_state": 0, "batch_size": 16, **params}
    if name == "GDRegressor":
        return GDRegressor(**params)
    rate = 1.0 if solver == "adadelta" else 0.01
    params = {"hidden_layer_sizes": (8,), "learning_rate_init": rate, **params}
    return GDMLPClassifier(**params)


def flat_params(est):
    """Every fitted parameter, as one vector."""
    if isinstance(est, GDRegressor):
        return np.concatenate([np.ravel(est.coef_), np.ravel(est.intercept_)])
    return np.concatenate([a.ravel() for a in (*est.coefs_, *est.intercepts_)])


def assert_same_state(a, b, path="vars(est)"):
    """Deep equality of two estimator states (arrays compared by value)."""
    if isinstance(a, np.random.RandomState):
        sa, sb = a.get_state(), b.get_state()
        assert all(np.array_equal(x, y) for x, y in zip(sa, sb, strict=True)), path
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), path
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            assert_same_state(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{path}[{i}]")
    elif dataclasses.is_dataclass(a) or hasattr(a, "__dict__"):
        assert type(a) is type(b), path
        assert_same_state(vars(a), vars(b), f"{path}.vars")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def split_rows(name, y, fraction, seed):
    """``(train, validation)`` rows of early stopping with ``random_state=seed``:
    the split is the estimator's first use of its generator (stratified for the
    classifier, a permutation's prefix held out for the regressor)."""
    rng = np.random.RandomState(seed)
    if name == "GDMLPClassifier":
        index = np.arange(len(y))
        return train_test_split(index, test_size=fraction, stratify=y, random_state=rng)
    perm = rng.permutation(len(y))
    n_val = int(np.ceil(fraction * len(y)))
    return perm[n_val:], perm[:n_val]
