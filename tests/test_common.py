"""Every public estimator, with every solver, through scikit-learn's checks."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgd import GDMLPClassifier, GDRegressor
from skgd._optimizers import SOLVERS


def _instances():
    for solver in SOLVERS:
        yield GDRegressor(solver=solver)
        yield GDMLPClassifier(solver=solver)


@parametrize_with_checks(list(_instances()))
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_every_solver_is_checked():
    """The parametrization above must cover each solver of each estimator."""
    solvers = {(type(e).__name__, e.solver) for e in _instances()}
    assert len(solvers) == 2 * len(SOLVERS)
    assert pytest.importorskip("sklearn").__version__ >= "1.6"
