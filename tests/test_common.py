"""Every public estimator, with every solver, through scikit-learn's checks."""

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import skgd
from skgd import GDClassifier, GDMLPClassifier, GDMLPRegressor, GDRegressor
from skgd._optimizers import SOLVERS

ESTIMATORS = (GDRegressor, GDClassifier, GDMLPClassifier, GDMLPRegressor)


def _instances():
    for solver in SOLVERS:
        yield GDRegressor(solver=solver)
        yield GDClassifier(solver=solver)
        # Adadelta's step is the rate times Zeiler's rule: its documented rate is 1
        rate = {"adadelta": 1.0}.get(solver, 0.001)
        yield GDMLPClassifier(solver=solver, learning_rate_init=rate)
        yield GDMLPRegressor(solver=solver)
    # the other losses, with a full-batch and a mini-batch solver (the
    # squared hinge's objective is flat where every margin exceeds 1: Adam's
    # stopping point there moves with rounding, beyond the 1e-7 that the
    # sample-weight check asks of two fits)
    for solver in ("gd", "adam"):
        yield GDRegressor(loss="huber", solver=solver)
    for solver in ("gd", "sgd"):
        yield GDClassifier(loss="squared_hinge", solver=solver)


@parametrize_with_checks(list(_instances()))
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_every_estimator_and_solver_is_checked():
    """The parametrization above must cover each solver of each public
    estimator."""
    public = {
        name
        for name in skgd.__all__
        if isinstance(getattr(skgd, name), type)
        and issubclass(getattr(skgd, name), BaseEstimator)
    }
    assert public == {cls.__name__ for cls in ESTIMATORS}
    solvers = {(type(e).__name__, e.solver) for e in _instances()}
    assert len(solvers) == len(ESTIMATORS) * len(SOLVERS)
    assert pytest.importorskip("sklearn").__version__ >= "1.6"
