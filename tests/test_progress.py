"""What a fit says about its end: ``stop_reason_``, ``best_epoch_`` and the
last line of ``verbose``."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning

from skgd import GDClassifier, GDMLPClassifier, GDRegressor


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def test_gd_names_its_gradient_rule_and_keeps_the_last_epoch(diabetes):
    reg = _fit(GDRegressor(), *diabetes)
    assert reg.stop_reason_.startswith("the largest entry of the proximal gradient")
    assert reg.best_epoch_ == reg.n_iter_ == len(reg.loss_curve_)


@pytest.mark.parametrize("tol, suffix", [(1e-4, ""), (None, " (tol=None)")])
def test_max_iter_is_named(diabetes, tol, suffix):
    reg = _fit(
        GDRegressor(solver="sgd", max_iter=3, tol=tol, random_state=0), *diabetes
    )
    assert reg.stop_reason_ == "max_iter=3 epochs" + suffix
    assert reg.best_epoch_ == 3


def test_a_plateau_names_the_quantity_and_the_last_rate(diabetes):
    reg = _fit(GDRegressor(solver="adam", average=False, random_state=0), *diabetes)
    assert reg.stop_reason_.startswith(
        "the training objective did not improve by tol for 10 consecutive epochs "
        "at the smallest 'adaptive' rate"
    )
    assert reg.best_epoch_ == reg.n_iter_


def test_early_stopping_keeps_the_epoch_of_the_best_validation_score():
    X, y = load_iris(return_X_y=True)
    make = dict(hidden_layer_sizes=(8,), early_stopping=True, random_state=0)
    clf = _fit(GDMLPClassifier(**make), X, y)
    scores = clf.validation_scores_
    assert clf.stop_reason_.startswith("the validation score did not improve")
    assert clf.best_epoch_ == int(np.argmax(scores)) + 1 < clf.n_iter_
    # the weights held are those the fit had after that epoch
    short = _fit(GDMLPClassifier(**make, max_iter=clf.best_epoch_), X, y)
    for a, b in zip(clf.coefs_, short.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_warm_starts_count_epochs_over_calls(diabetes):
    reg = GDRegressor(solver="sgd", max_iter=2, warm_start=True, random_state=0)
    _fit(reg, *diabetes)
    _fit(reg, *diabetes)
    assert reg.n_iter_ == reg.best_epoch_ == 4


def test_verbose_ends_with_the_reason_and_the_kept_epoch(diabetes, capsys):
    X, y = load_iris(return_X_y=True)
    clf = _fit(GDClassifier(verbose=1), X, y)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == (
        f"Stopped after epoch {clf.n_iter_}: {clf.stop_reason_}. "
        f"Kept the weights of epoch {clf.best_epoch_}."
    )


def test_a_failed_call_leaves_the_shared_curves_as_they_were(diabetes):
    # calls share the append-only curves (no copy per call); a failed call
    # truncates what it appended
    X, y = diabetes
    reg = _fit(GDRegressor(solver="sgd", max_iter=4, random_state=0), X, y)
    before = {k: list(v) for k, v in reg._progress.curves.items()}
    reg.set_params(learning_rate_init=1e8, warm_start=True)
    with pytest.raises(ValueError, match="diverged"):
        reg.fit(X, y)
    assert reg._progress.curves == before
    assert reg.loss_curve_ == before["loss_curve_"]
    reg.set_params(learning_rate_init="auto", max_iter=2)
    _fit(reg, X, y)
    assert reg.n_iter_ == 6 and len(reg.loss_curve_) == 6
    assert reg.loss_curve_[:4] == before["loss_curve_"]
