"""Every public estimator, with every solver, through scikit-learn's checks."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgd import GDMLPClassifier, GDRegressor
from skgd._optimizers import SOLVERS


def _instances():
    for solver in SOLVERS:
        yield GDRegressor(solver=solver)
        # Adadelta's step is the rate times Zeiler's rule: its documented rate is 1
        rate = {"adadelta": 1.0}.get(solver, 0.001)
        yield GDMLPClassifier(solver=solver, learning_rate_init=rate)


@parametrize_with_checks(list(_instances()))
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_every_solver_is_checked():
    """The parametrization above must cover each solver of each estimator."""
    solvers = {(type(e).__name__, e.solver) for e in _instances()}
    assert len(solvers) == 2 * len(SOLVERS)
    assert pytest.importorskip("sklearn").__version__ >= "1.6"
