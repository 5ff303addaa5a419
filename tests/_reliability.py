"""Helpers shared by the reliability test modules."""

import warnings

import numpy as np
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

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
