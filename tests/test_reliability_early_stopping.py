"""Early stopping: a stratified, held-out validation split that is never
trained on, a warning naming the class when it cannot stratify, a clear error
when it is too small, and restored weights that score best_validation_score_.
"""

import warnings

import numpy as np
import pytest
from _reliability import ESTIMATORS, fit_quietly, make_data, make_estimator, split_rows
from sklearn.utils import check_random_state

import skgd._linear_base
from skgd._models import MLP, LinearModel
from skgd._optimizers import SOLVERS


# --------------------------------------------------------- early stopping
def _record_rows(monkeypatch, cls):
    """Record every row that reaches ``backward`` (a gradient step), or, for
    the linear model, the Gram matrix from which 'gd' takes its gradients."""
    rows = set()
    original = cls.backward

    def backward(model, theta, X_, draw, cache, grad):
        rows.update(r.tobytes() for r in np.asarray(X_))
        return original(model, theta, X_, draw, cache, grad)

    monkeypatch.setattr(cls, "backward", backward)
    if cls is LinearModel:
        original_moments = skgd._linear_base.moments

        def moments(data, *args, **kwargs):
            rows.update(r.tobytes() for r in np.asarray(data.X))
            return original_moments(data, *args, **kwargs)

        monkeypatch.setattr(skgd._linear_base, "moments", moments)
    return rows


def _fit_early_stopping(name, solver, X, y, fraction, seed):
    est = make_estimator(
        name,
        solver,
        early_stopping=True,
        validation_fraction=fraction,
        max_iter=30,
        n_iter_no_change=5,
        random_state=seed,
    )
    return fit_quietly(est, X, y)


def _assert_held_out_and_restored(est, rows, X, y, tr, va):
    # the validation rows never reach a gradient step; all training rows do
    assert rows == {r.tobytes() for r in X[tr]}
    assert not rows & {r.tobytes() for r in X[va]}
    # the restored weights score best_validation_score_ on those rows, exactly
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.score(X[va], y[va]) == est.best_validation_score_


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_validation_split_is_stratified_and_held_out(
    monkeypatch, n_classes, solver
):
    X, y = make_data("GDMLPClassifier", n=200, n_classes=n_classes)
    y = np.where(np.arange(200) < 150, y, 0)  # unbalanced classes
    rows = _record_rows(monkeypatch, MLP)
    est = _fit_early_stopping("GDMLPClassifier", solver, X, y, 0.2, seed=3)
    tr, va = split_rows("GDMLPClassifier", y, 0.2, seed=3)
    # stratified: each class has its share of the validation rows, to one row
    for c in np.unique(y):
        assert abs(np.sum(y[va] == c) - 0.2 * np.sum(y == c)) <= 1
    _assert_held_out_and_restored(est, rows, X, y, tr, va)


@pytest.mark.parametrize("solver", SOLVERS)
def test_regressor_validation_split_is_a_permutation_prefix(monkeypatch, solver):
    X, y = make_data("GDRegressor", n=200)
    rows = _record_rows(monkeypatch, LinearModel)
    est = _fit_early_stopping("GDRegressor", solver, X, y, 0.15, seed=5)
    tr, va = split_rows("GDRegressor", y, 0.15, seed=5)
    _assert_held_out_and_restored(est, rows, X, y, tr, va)


def test_singleton_class_falls_back_to_plain_split(monkeypatch):
    X, y = make_data("GDMLPClassifier", n=120, n_classes=2)
    y = np.where(y == 0, "left", "right").astype(object)
    y[7] = "rare"
    rows = _record_rows(monkeypatch, MLP)
    est = make_estimator(
        "GDMLPClassifier",
        "adam",
        early_stopping=True,
        validation_fraction=0.2,
        max_iter=5,
        random_state=1,
    )
    with pytest.warns(UserWarning, match=r"stratify .*\(class\(es\) \['rare'\] have"):
        fit_quietly(est, X, y)
    perm = check_random_state(1).permutation(120)
    va, tr = perm[:24], perm[24:]
    assert rows == {r.tobytes() for r in X[tr]}
    assert est.score(X[va], y[va]) == est.best_validation_score_


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_too_small_validation_split_is_a_value_error(name, solver):
    X, y = make_data(name, n=12, n_classes=2)
    est = make_estimator(name, solver, early_stopping=True, validation_fraction=0.05)
    with warnings.catch_warnings():
        # the classifier first warns that it cannot stratify one row
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(
            ValueError,
            match=r"validation_fraction=0.05 on 12 samples leaves 1 validation and "
            r"11 training samples with positive weight; at least 2 validation",
        ):
            est.fit(X, y)
    assert not hasattr(est, "n_iter_")
    assert not hasattr(est, "_progress")


@pytest.mark.parametrize("n_positive", [0, 1])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_validation_rows_of_weight_zero_do_not_count(name, n_positive):
    """Regression: the check counted validation rows, not rows of positive
    weight: with one weighted validation row the split was accepted, the
    validation R² stayed 0 and early stopping restored epoch 1, silently."""
    X, y = make_data(name, n=100, n_classes=2)
    _, va = split_rows(name, y, 0.2, seed=0)
    assert len(va) == 20
    sw = np.ones(len(y))
    sw[va[n_positive:]] = 0.0
    est = make_estimator(name, "sgd", early_stopping=True, validation_fraction=0.2)
    with pytest.raises(
        ValueError,
        match=f"leaves {n_positive} validation and 80 training samples with positive",
    ):
        est.fit(X, y, sample_weight=sw)
    assert not hasattr(est, "n_iter_")
    sw[va[:2]] = 1.0  # two weighted validation rows are enough to score
    fit_quietly(est.set_params(max_iter=5), X, y, sample_weight=sw)
    assert len(est.validation_scores_) == est.n_iter_ == 5


@pytest.mark.parametrize("name", ESTIMATORS)
def test_constant_check_scores_every_row_passed_to_fit(name, monkeypatch):
    """With early stopping the model is compared with a constant on all the
    rows passed to fit, held-out ones included, as ``score(X, y)`` would."""
    X, y = make_data(name)
    seen = []
    cls = type(make_estimator(name, "sgd"))
    original = cls._worse_than_constant

    def spy(self, run, theta, data, raw):
        seen.append((data.shape[0], data.Y.shape[0], data.sw.shape[0]))
        return original(self, run, theta, data, raw)

    monkeypatch.setattr(cls, "_worse_than_constant", spy)
    fit_quietly(make_estimator(name, "sgd", early_stopping=True, max_iter=5), X, y)
    assert seen == [(len(y), len(y), len(y))]
