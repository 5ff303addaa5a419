"""scikit-learn's callback API (``sklearn.callback``, scikit-learn >= 1.9):
the fit is a task, each epoch a sub-task, for every estimator."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDMLPClassifier, GDMLPRegressor, GDRegressor

callback = pytest.importorskip("sklearn.callback")


class _Recorder:
    """A callback that records its hooks, the fitted copies' predictions, and
    asks to stop after ``stop_after`` epochs."""

    def __init__(self, X=None, stop_after=None):
        self.X = X
        self.stop_after = stop_after
        self.events = []
        self.predictions = []

    def setup(self, estimator, context):
        self.events.append("setup")

    def teardown(self, estimator, context):
        self.events.append("teardown")

    def on_fit_task_begin(self, estimator, context):
        self.events.append(f"begin {context.task_name}")

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.events.append(f"end {context.task_name}")
        if context.task_name == "epoch" and self.X is not None:
            self.predictions.append(fitted_estimator.predict(self.X))
        epochs = self.events.count("end epoch")
        return self.stop_after is not None and epochs >= self.stop_after


def _estimators():
    yield GDRegressor(solver="sgd", tol=None, max_iter=4, random_state=0), "reg"
    yield GDClassifier(solver="adam", tol=None, max_iter=4, random_state=0), "clf"
    yield GDMLPRegressor((5,), tol=None, max_iter=4, random_state=0), "reg"
    yield GDMLPClassifier((5,), tol=None, max_iter=4, random_state=0), "clf"


def _data(kind):
    if kind == "reg":
        return make_regression(n_samples=60, n_features=3, random_state=0)[:2]
    return load_iris(return_X_y=True)


@pytest.mark.parametrize(
    "est, kind", list(_estimators()), ids=lambda e: getattr(e, "solver", "")
)
def test_each_epoch_is_a_task_whose_fitted_copy_predicts_as_that_epoch(est, kind):
    X, y = _data(kind)
    recorder = _Recorder(X)
    est.set_callbacks(recorder).fit(X, y)
    assert recorder.events == [
        "setup",
        "begin fit",
        *["begin epoch", "end epoch"] * 4,
        "end fit",
        "teardown",
    ]
    # the copy of the last epoch predicts as the fitted estimator, the copies
    # of earlier epochs as the fit stopped there (max_iter epochs)
    np.testing.assert_array_equal(recorder.predictions[-1], est.predict(X))
    early = est.__class__(**{**est.get_params(), "max_iter": 2}).fit(X, y)
    np.testing.assert_array_equal(recorder.predictions[1], early.predict(X))
    # the fitted estimator keeps no callback context; it pickles
    assert not [k for k in vars(est) if "callback_fit_ctx" in k or "teardown" in k]
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))


def test_a_callback_can_stop_the_fit():
    X, y = load_iris(return_X_y=True)
    clf = GDClassifier(solver="sgd", tol=None, max_iter=50, random_state=0)
    clf.set_callbacks(_Recorder(stop_after=3)).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert clf.stop_reason_ == "a callback asked to stop"


def test_scoring_monitor_scores_every_epoch():
    X, y = load_iris(return_X_y=True)
    monitor = callback.ScoringMonitor(scoring="accuracy")
    clf = GDClassifier(solver="adam", tol=None, max_iter=5, random_state=0)
    clf.set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [r for r in rows if r["task_name"] == "epoch"]
    assert len(epochs) == clf.n_iter_ == 5
    final = next(r for r in rows if r["task_name"] == "fit")
    assert final["accuracy"] == pytest.approx(accuracy_score(y, clf.predict(X)))
    assert epochs[-1]["accuracy"] == final["accuracy"]


def test_a_failed_fit_tears_its_callbacks_down_and_leaves_the_estimator():
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    reg = GDRegressor(solver="sgd", max_iter=5, random_state=0).fit(X, y)
    coef = reg.coef_.copy()
    recorder = _Recorder()
    reg.set_params(learning_rate_init=1e6, warm_start=True).set_callbacks(recorder)
    with pytest.raises(ValueError, match="diverged"):
        reg.fit(X, y)
    assert recorder.events[0] == "setup" and recorder.events[-1] == "teardown"
    np.testing.assert_array_equal(reg.coef_, coef)
    assert not hasattr(reg, "_callback_fit_ctx")


def test_progress_bar_runs_inside_grid_search_and_the_models_pickle():
    pytest.importorskip("rich")
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), GDClassifier(solver="sgd", random_state=0)),
        {"gdclassifier__alpha": [1e-4, 1e-2]},
        cv=2,
    ).set_callbacks(callback.ProgressBar(max_propagation_depth=None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    plain = GridSearchCV(
        make_pipeline(StandardScaler(), GDClassifier(solver="sgd", random_state=0)),
        {"gdclassifier__alpha": [1e-4, 1e-2]},
        cv=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain.fit(X, y)
    assert search.best_params_ == plain.best_params_
    best = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_array_equal(best.predict(X), plain.predict(X))
