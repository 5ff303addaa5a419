"""Helpers shared by the reliability test modules."""

import numpy as np

from skgd import GDMLPClassifier, GDRegressor


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
