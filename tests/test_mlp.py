"""GDMLPClassifier as an estimator: targets, weights, partial_fit, early stopping,
fitted attributes, dtype, divergence guard and model selection."""

import itertools
import warnings

import numpy as np
import pytest
from sklearn.datasets import (
    load_digits,
    make_classification,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning, NotFittedError
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDMLPClassifier

KINDS = ["binary", "multiclass", "multilabel"]


def _data(kind, n=120, seed=0, n_features=5):
    if kind == "multilabel":
        X, Y = make_multilabel_classification(
            n_samples=n, n_features=n_features, n_classes=3, random_state=seed
        )
        return StandardScaler().fit_transform(X), Y  # word counts, rescaled
    return make_classification(
        n_samples=n,
        n_features=n_features,
        n_informative=3,
        n_redundant=0,
        n_classes=2 if kind == "binary" else 3,
        random_state=seed,
    )


def _fit_quietly(clf, X, y, **kwargs):
    """Fit when running out of epochs is intended (short runs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y, **kwargs)


def _params(clf):
    return [*clf.coefs_, *clf.intercepts_]


def _assert_same_params(a, b):
    for u, v in zip(_params(a), _params(b), strict=True):
        np.testing.assert_array_equal(u, v)


# ------------------------------------------------------------------ targets
@pytest.mark.parametrize(
    "labels",
    [[3, 7], ["no", "yes"], [-1, 0, 5], ["cat", "dog", "emu"]],
    ids=["int-binary", "str-binary", "int-multiclass", "str-multiclass"],
)
def test_predict_returns_the_original_labels_and_proba_has_a_column_per_class(
    labels,
):
    X, y_idx = _data("binary" if len(labels) == 2 else "multiclass")
    y = np.asarray(labels)[y_idx]
    clf = GDMLPClassifier((8,), learning_rate_init=0.03, max_iter=100, random_state=0)
    _fit_quietly(clf, X, y)

    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert clf.classes_.dtype == y.dtype
    pred = clf.predict(X)
    assert pred.shape == (len(X),)
    assert pred.dtype == y.dtype
    assert set(pred) <= set(labels)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(labels))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) > 0.8


def test_multilabel_targets_predict_an_indicator_matrix():
    X, Y = _data("multilabel")
    clf = GDMLPClassifier((8,), learning_rate_init=0.03, max_iter=100, random_state=0)
    _fit_quietly(clf, X, Y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    pred = clf.predict(X)
    proba = clf.predict_proba(X)
    assert pred.shape == proba.shape == Y.shape
    assert set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    # independent sigmoids: rows need not sum to one
    assert np.abs(proba.sum(axis=1) - 1).max() > 0.1
    assert clf.score(X, Y) > 0.5  # subset accuracy


@pytest.mark.parametrize("kind", KINDS)
def test_predict_log_proba_is_log_of_predict_proba(kind):
    X, y = _data(kind)
    clf = _fit_quietly(GDMLPClassifier((8,), max_iter=50, random_state=0), X, y)
    # stretch the (linear) output layer so that logits reach about 40: every
    # probability is still a normal float, so its log carries full precision
    for c in (1.0, 40.0 / np.abs(np.log(clf.predict_proba(X))).max()):
        clf.coefs_[-1] = clf.coefs_[-1] * c
        clf.intercepts_[-1] = clf.intercepts_[-1] * c
        proba = clf.predict_proba(X)
        log_proba = clf.predict_log_proba(X)
        assert log_proba.shape == proba.shape
        normal = proba >= np.finfo(proba.dtype).tiny
        assert normal.all()
        np.testing.assert_allclose(
            log_proba[normal], np.log(proba[normal]), rtol=0, atol=1e-10
        )


# ------------------------------------------------------------ class weights
def test_balanced_class_weight_raises_minority_recall():
    recalls = {None: [], "balanced": []}
    for seed in range(5):
        X, y = make_classification(
            n_samples=1000,
            n_features=8,
            n_informative=4,
            weights=[0.95, 0.05],
            flip_y=0,
            class_sep=0.5,
            random_state=seed,
        )
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.5, stratify=y, random_state=seed
        )
        for cw in recalls:
            clf = GDMLPClassifier(
                (8,),
                class_weight=cw,
                learning_rate_init=0.01,
                max_iter=100,
                random_state=seed,
            )
            _fit_quietly(clf, X_tr, y_tr)
            recalls[cw].append(recall_score(y_te, clf.predict(X_te)))
    none, balanced = np.array(recalls[None]), np.array(recalls["balanced"])
    assert np.all(balanced >= none), recalls
    assert balanced.mean() > none.mean() + 0.25, recalls


@pytest.mark.parametrize("with_sample_weight", [False, True])
def test_dict_class_weight_equals_the_equivalent_sample_weight(with_sample_weight):
    X, y = _data("multiclass")
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    per_row = np.array([class_weight[c] for c in y])
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    if not with_sample_weight:
        sw = np.ones(len(y))
    params = dict(solver="gd", learning_rate_init=0.1, max_iter=30, random_state=0)
    a = _fit_quietly(
        GDMLPClassifier((6,), class_weight=class_weight, **params),
        X,
        y,
        sample_weight=sw if with_sample_weight else None,
    )
    b = _fit_quietly(GDMLPClassifier((6,), **params), X, y, sample_weight=sw * per_row)
    _assert_same_params(a, b)
    assert a.loss_curve_ == b.loss_curve_


# ----------------------------------------------------------- sample weights
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_integer_sample_weight_equals_repeated_rows_with_full_batch(kind, seed):
    X, y = _data(kind, n=60, seed=seed)
    sw = np.random.RandomState(seed).randint(0, 4, len(y))
    sw[:3] = [0, 1, 3]  # at least one dropped and one tripled row
    rep = np.repeat(np.arange(len(y)), sw)
    params = dict(
        solver="gd", learning_rate_init=0.1, max_iter=40, tol=0, random_state=seed
    )
    weighted = _fit_quietly(GDMLPClassifier((6,), **params), X, y, sample_weight=sw)
    repeated = _fit_quietly(GDMLPClassifier((6,), **params), X[rep], y[rep])
    assert weighted.n_iter_ == repeated.n_iter_ == 40
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-7, atol=1e-7
    )
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-7)


# -------------------------------------------------------------------- dtype
@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_float32_input_trains_and_predicts_in_float32(solver):
    X, y = _data("multiclass")
    params = dict(solver=solver, learning_rate_init=0.01, max_iter=20, random_state=0)
    c32 = _fit_quietly(GDMLPClassifier((6,), **params), X.astype(np.float32), y)
    c64 = _fit_quietly(GDMLPClassifier((6,), **params), X, y)
    assert all(p.dtype == np.float32 for p in _params(c32))
    assert all(p.dtype == np.float64 for p in _params(c64))
    proba = c32.predict_proba(X.astype(np.float32))
    assert proba.dtype == np.float32
    assert c32.predict_log_proba(X.astype(np.float32)).dtype == np.float32
    assert np.all(np.isfinite(c32.loss_curve_))
    np.testing.assert_allclose(proba, c64.predict_proba(X), atol=1e-3)


# ------------------------------------------------------------ fitted state
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_fitted_attributes_have_the_documented_shapes(kind, early_stopping):
    n, hidden, batch = 150, (7, 4), 32
    X, y = _data(kind, n=n)
    clf = GDMLPClassifier(
        hidden,
        batch_size=batch,
        learning_rate_init=0.01,
        early_stopping=early_stopping,
        max_iter=60,
        random_state=0,
    )
    _fit_quietly(clf, X, y)
    n_out = {"binary": 1, "multiclass": 3, "multilabel": 3}[kind]
    sizes = [X.shape[1], *hidden, n_out]

    assert clf.n_features_in_ == X.shape[1]
    assert not hasattr(clf, "feature_names_in_")
    assert clf.n_layers_ == len(hidden) + 2
    assert clf.n_outputs_ == n_out
    assert clf.out_activation_ == ("softmax" if kind == "multiclass" else "logistic")
    np.testing.assert_array_equal(clf.classes_, np.arange(2 if kind == "binary" else 3))
    assert [W.shape for W in clf.coefs_] == list(itertools.pairwise(sizes))
    assert [b.shape for b in clf.intercepts_] == [(s,) for s in sizes[1:]]

    assert isinstance(clf.n_iter_, int) and 1 <= clf.n_iter_ <= 60
    assert len(clf.loss_curve_) == clf.n_iter_
    assert all(isinstance(v, float) for v in clf.loss_curve_)
    assert clf.best_loss_ == min(clf.loss_curve_)
    n_train = n - int(np.ceil(0.1 * n)) if early_stopping else n
    assert clf.t_ == clf.n_iter_ * int(np.ceil(n_train / batch))
    if early_stopping:
        assert len(clf.validation_scores_) == clf.n_iter_
        assert len(clf.validation_loss_curve_) == clf.n_iter_
        assert all(0 <= s <= 1 for s in clf.validation_scores_)
        # accuracy on 15 rows is a multiple of 1 / 15
        counts = np.asarray(clf.validation_scores_) * int(np.ceil(0.1 * n))
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
        assert all(v > 0 for v in clf.validation_loss_curve_)
        assert clf.best_validation_score_ == max(clf.validation_scores_)
    else:
        assert clf.validation_scores_ == []
        assert clf.validation_loss_curve_ == []
        assert clf.best_validation_score_ is None


def test_dataframe_input_records_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = _data("binary")
    names = [f"f{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=names)
    clf = _fit_quietly(GDMLPClassifier((5,), max_iter=5, random_state=0), df, y)
    np.testing.assert_array_equal(clf.feature_names_in_, names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matching names: no feature-name warning
        proba = clf.predict_proba(df)
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(proba, clf.predict_proba(X))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict_proba(df[names[::-1]])


# ------------------------------------------------------------- partial_fit
def test_partial_fit_requires_classes_on_the_first_call():
    X, y = _data("binary")
    clf = GDMLPClassifier((5,))
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "classes_")


def test_partial_fit_accepts_equal_classes_and_rejects_different_ones():
    X, y = _data("multiclass")
    clf = GDMLPClassifier((5,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y, classes=[2, 0, 1])  # the same set, in another order
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 3
    before = [p.copy() for p in _params(clf)]
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1])
    # a rejected call leaves the model as it was
    assert clf.n_iter_ == 3
    for u, v in zip(_params(clf), before, strict=True):
        np.testing.assert_array_equal(u, v)


def test_partial_fit_rejects_labels_outside_classes():
    X, y = _data("multiclass")
    with pytest.raises(ValueError, match="not in classes"):
        GDMLPClassifier((5,)).partial_fit(X, y, classes=[0, 1])
    clf = GDMLPClassifier((5,)).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, np.where(y == 2, 7, y))


def test_partial_fit_accumulates_epochs_and_steps():
    X, y = _data("binary", n=100)
    clf = GDMLPClassifier((5,), solver="sgd", batch_size=32, random_state=0)
    for k in range(1, 4):
        clf.partial_fit(X, y, classes=[0, 1])
        assert clf.n_iter_ == k
        assert clf.t_ == 4 * k  # ceil(100 / 32) mini-batches per call
        assert len(clf.loss_curve_) == k


@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_k_partial_fits_equal_fit_with_max_iter_k(solver):
    X, y = _data("multiclass")
    k = 6
    # (a named schedule: 'auto' decays the rate of 'sgd' per partial_fit call)
    params = dict(
        solver=solver, learning_rate_init=0.01, learning_rate="constant", random_state=3
    )
    with pytest.warns(ConvergenceWarning):
        full = GDMLPClassifier((7,), max_iter=k, tol=0, **params).fit(X, y)
    steps = GDMLPClassifier((7,), **params)
    for _ in range(k):
        steps.partial_fit(X, y, classes=np.unique(y))
    _assert_same_params(full, steps)
    assert full.loss_curve_ == steps.loss_curve_
    assert (full.n_iter_, full.t_) == (steps.n_iter_, steps.t_)


@pytest.mark.parametrize("load", [load_digits, make_classification])
def test_one_row_partial_fit_stream_with_sgd_defaults_learns(load):
    """'sgd' at its 'auto' rate (0.1, set for batches of 200, with momentum
    0.9) diverged within 300 one-row calls at a constant rate; in
    partial_fit 'auto' decays it per call, and the stream learns."""
    X, y = (
        load(return_X_y=True) if load is load_digits else load(2000, 20, random_state=0)
    )
    X = StandardScaler().fit_transform(X)
    clf = GDMLPClassifier(solver="sgd", random_state=0)
    clf.partial_fit(X[:200], y[:200], classes=np.unique(y))
    for i in range(200, 1400):
        clf.partial_fit(X[i : i + 1], y[i : i + 1])
    rates = clf.learning_rate_curve_
    assert rates[-1] == pytest.approx(rates[0] / len(rates) ** clf.power_t)
    assert clf.score(X[1400:], y[1400:]) > 0.8
    # the adaptive rules normalize their steps: their rate stays
    adam = GDMLPClassifier(random_state=0).partial_fit(X[:200], y[:200], np.unique(y))
    adam.partial_fit(X[200:201], y[200:201])
    assert adam.learning_rate_curve_ == [0.001, 0.001]


def test_partial_fit_over_chunks_passing_classes_every_call():
    """dask-ml's Incremental passes ``classes`` with every block."""
    X, y = _data("multiclass", n=300)
    X = StandardScaler().fit_transform(X)
    classes = np.unique(y)
    order = np.argsort(y, kind="stable")  # early chunks miss some classes
    clf = GDMLPClassifier((10,), learning_rate_init=0.01, random_state=0)
    for _ in range(20):
        for chunk in np.array_split(order, 6):
            clf.partial_fit(X[chunk], y[chunk], classes=classes)
    np.testing.assert_array_equal(clf.classes_, classes)
    assert clf.n_iter_ == 120
    assert clf.score(X, y) > 0.7


def test_partial_fit_rejects_balanced_class_weight():
    X, y = _data("binary")
    with pytest.raises(ValueError, match="balanced"):
        GDMLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


# ---------------------------------------------------------- early stopping
def _rare_class_problem():
    X, y = make_classification(
        n_samples=400,
        n_features=8,
        n_informative=5,
        n_classes=3,
        weights=[0.5, 0.3, 0.2],
        flip_y=0.1,
        random_state=0,
    )
    y = np.array(["ant", "bee", "cow"])[y]
    y[:5] = "yak"  # a planted rare class with 5 members
    return X, y


def test_early_stopping_holds_out_a_stratified_split():
    X, y = _rare_class_problem()
    frac, seed = 0.2, 7
    clf = GDMLPClassifier(
        (10,),
        early_stopping=True,
        validation_fraction=frac,
        learning_rate_init=0.01,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no fallback to a plain split
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["ant", "bee", "cow", "yak"])

    # the split the estimator makes: train_test_split stratified on the labels,
    # the first draw of the estimator's RandomState (before the initial weights)
    rng = np.random.RandomState(seed)
    _, val = train_test_split(
        np.arange(len(y)), test_size=frac, stratify=y, random_state=rng
    )
    # the reconstruction is exact: the restored weights score the logged
    # validation accuracy and log-loss of their epoch on these rows
    best = int(np.argmax(clf.validation_scores_))
    assert clf.score(X[val], y[val]) == clf.best_validation_score_
    log_p = clf.predict_log_proba(X[val])
    val_loss = -log_p[np.arange(len(val)), np.searchsorted(clf.classes_, y[val])]
    assert val_loss.mean() == pytest.approx(clf.validation_loss_curve_[best], 1e-12)
    # every class, the rare one too, is in both parts in proportion
    _, total = np.unique(y, return_counts=True)
    _, held = np.unique(y[val], return_counts=True)
    assert held.size == 4
    assert np.all(np.abs(held - frac * total) <= 1)
    assert np.all(total - held >= 1)


def test_early_stopping_falls_back_to_a_plain_split_naming_the_single_member_class():
    X, y = _rare_class_problem()
    y[1:5] = "ant"  # "yak" now has a single member
    clf = GDMLPClassifier((10,), early_stopping=True, max_iter=30, random_state=0)
    with pytest.warns(UserWarning, match="yak"):
        _fit_quietly(clf, X, y)
    assert "yak" in clf.classes_
    assert len(clf.validation_scores_) == clf.n_iter_ > 0


def test_early_stopping_restores_the_weights_of_the_best_epoch():
    X, y = _rare_class_problem()
    params = dict(
        early_stopping=True,
        validation_fraction=0.2,
        learning_rate_init=0.01,
        random_state=7,
    )
    clf = GDMLPClassifier((10,), max_iter=300, **params).fit(X, y)
    best = int(np.argmax(clf.validation_scores_))
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # planted case: training went on past the best epoch, and the weights moved
    assert best < clf.n_iter_ - 1
    assert clf.validation_loss_curve_[best] != clf.validation_loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)
    # the same run cut after the best epoch ends on the restored weights
    cut = _fit_quietly(GDMLPClassifier((10,), max_iter=best + 1, **params), X, y)
    assert cut.validation_scores_ == clf.validation_scores_[: best + 1]
    _assert_same_params(clf, cut)


# --------------------------------------------------------- divergence guard
def test_divergence_raises_and_leaves_the_estimator_unfitted():
    X, y = load_digits(return_X_y=True)  # unscaled: pixel values up to 16
    clf = GDMLPClassifier(
        solver="sgd", learning_rate_init=10.0, momentum=0.9, random_state=0
    )
    with pytest.raises(ValueError, match="diverged") as info:
        clf.fit(X[:500], y[:500])
    assert "epoch" in str(info.value)
    assert "learning_rate_init" in str(info.value)
    with pytest.raises(NotFittedError):
        clf.predict(X[:5])
    assert not hasattr(clf, "coefs_")


def test_divergence_on_refit_keeps_the_previous_fit():
    X, y = load_digits(return_X_y=True)
    clf = _fit_quietly(
        GDMLPClassifier((16,), solver="sgd", max_iter=5, random_state=0),
        X[:500] / 16,
        y[:500],
    )
    before = [p.copy() for p in _params(clf)]
    proba = clf.predict_proba(X[:20] / 16)
    history = (clf.n_iter_, clf.t_, list(clf.loss_curve_))
    clf.set_params(learning_rate_init=10.0)
    # the failed refit sees fewer features and fewer classes than the first fit
    with pytest.raises(ValueError, match="diverged"):
        clf.fit(X[:500, :40], np.minimum(y[:500], 4))
    assert clf.n_features_in_ == 64
    assert len(clf.classes_) == 10
    assert (clf.n_iter_, clf.t_, clf.loss_curve_) == history
    for u, v in zip(_params(clf), before, strict=True):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(clf.predict_proba(X[:20] / 16), proba)


def test_grid_search_scores_a_diverging_rate_nan_and_never_picks_it():
    X, y = load_digits(return_X_y=True)
    X, y = X[:450], y[:450]
    rates = [1e-2, 10.0]
    search = GridSearchCV(
        GDMLPClassifier((16,), solver="sgd", momentum=0.9, max_iter=30, random_state=0),
        {"learning_rate_init": rates},
        cv=3,
        error_score=np.nan,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # non-finite test scores
        with pytest.warns(FitFailedWarning, match="diverged"):
            search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[1])
    # unscaled pixels, 16 units, 30 noisy epochs: well above chance (0.1), the
    # level varies with the seed (0.36 to 0.73 over seeds and rates)
    assert scores[0] > 0.3
    assert search.best_params_ == {"learning_rate_init": 1e-2}
    assert search.best_estimator_.score(X, y) > 0.3


# ----------------------------------------------------------- model selection
def test_pipeline_in_grid_search_picks_a_sensible_learning_rate():
    X, y = make_classification(
        n_samples=300, n_features=10, n_informative=5, random_state=0
    )
    X = 50 * X + 20  # the scaler is needed
    rates = [1e-5, 1e-3, 1e-1, 10.0]
    search = GridSearchCV(
        make_pipeline(
            StandardScaler(), GDMLPClassifier((16,), max_iter=30, random_state=0)
        ),
        {"gdmlpclassifier__learning_rate_init": rates},
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    best = search.best_params_["gdmlpclassifier__learning_rate_init"]
    assert best not in (rates[0], rates[-1])  # neither too slow nor too large
    assert search.best_score_ > 0.8
    assert scores[0] < search.best_score_ - 0.1
    assert search.best_estimator_.score(X, y) > 0.8


# --------------------------------------------------------------- bad targets
def test_single_class_is_rejected():
    X, _ = _data("binary")
    with pytest.raises(ValueError, match="class"):
        GDMLPClassifier().fit(X, np.ones(len(X), dtype=int))
    with pytest.raises(ValueError, match="class"):
        GDMLPClassifier().partial_fit(X, np.zeros(len(X)), classes=[0])


def test_continuous_target_is_rejected():
    X, _ = _data("binary")
    y = np.random.RandomState(0).normal(size=len(X))
    with pytest.raises(ValueError, match="continuous"):
        GDMLPClassifier().fit(X, y)
