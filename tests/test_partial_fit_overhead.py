"""The short paths of a continuing ``partial_fit`` call: labels checked
against ``classes_`` and encoded with numpy, and plain numpy ``X, y`` and
``sample_weight=None`` passed over scikit-learn's validation, give what the
full checks give. Speed is measured by a script, never asserted here."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.preprocessing import label_binarize
from sklearn.utils.multiclass import type_of_target

from skgd import GDClassifier, GDMLPClassifier, GDRegressor
from skgd._classification import _encode, _known_codes

CLASSIFIERS = [
    lambda **kw: GDClassifier(solver="sgd", random_state=0, **kw),
    lambda **kw: GDMLPClassifier(
        solver="sgd", hidden_layer_sizes=(5,), random_state=0, **kw
    ),
]
IDS = ["GDClassifier", "GDMLPClassifier"]


def _data(n_classes, n=60, seed=0):
    return make_classification(
        n_samples=n,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        random_state=seed,
    )


def _stream(est, X, y, first=20, **kw):
    """A first chunk with every class, then one row per call."""
    est.partial_fit(X[:first], y[:first], classes=np.unique(y), **kw)
    for i in range(first, len(y)):
        est.partial_fit(X[i : i + 1], y[i : i + 1])
    return est


def _params(est):
    if hasattr(est, "coefs_"):
        return [np.copy(a) for a in est.coefs_ + est.intercepts_]
    return [np.copy(est.coef_), np.copy(est.intercept_)]


@pytest.mark.parametrize("make", CLASSIFIERS, ids=IDS)
@pytest.mark.parametrize("label", [7, "zz"])
def test_an_unseen_label_in_a_one_row_call_is_refused_by_name(make, label):
    X, y = _data(3)
    if isinstance(label, str):
        y = np.array(["ant", "bee", "cat"])[y]
    est = _stream(make(), X, y)
    before = _params(est)
    with pytest.raises(ValueError, match=rf"labels array\(\[.?{label}.?\]"):
        est.partial_fit(X[:1], np.array([label]))
    # and among known labels in a longer chunk
    with pytest.raises(ValueError, match=rf"labels array\(\[.?{label}.?\]"):
        est.partial_fit(X[:3], np.array([y[0], label, y[1]], dtype=y.dtype))
    for a, b in zip(before, _params(est), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", CLASSIFIERS, ids=IDS)
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("dtype", [str, object])
def test_string_labels_train_as_their_integer_codes(make, n_classes, dtype):
    X, y = _data(n_classes)
    # sorted names: code i is the i-th class either way
    names = np.array(["ant", "bee", "cat"][:n_classes], dtype=dtype)
    as_codes = _stream(make(), X, y)
    as_names = _stream(make(), X, names[y])
    np.testing.assert_array_equal(as_names.classes_, names)
    for a, b in zip(_params(as_codes), _params(as_names), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(names[as_codes.predict(X)], as_names.predict(X))


@pytest.mark.parametrize("make", CLASSIFIERS, ids=IDS)
def test_float_and_int_labels_train_alike(make):
    X, y = _data(3)
    ints = _stream(make(), X, y)
    floats = _stream(make(), X, y.astype(float))
    for a, b in zip(_params(ints), _params(floats), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_classes", [2, 3, 7])
@pytest.mark.parametrize("seed", range(3))
def test_the_encoding_is_label_binarize(n_classes, seed):
    rng = np.random.RandomState(seed)
    classes = np.sort(rng.choice(50, n_classes, replace=False))
    # labels drawn from a subset too: one class, or not all of them
    for k in (1, max(n_classes - 1, 1), n_classes):
        y = rng.choice(classes[:k], size=rng.randint(1, 30))
        codes = _known_codes(y, classes)
        assert codes is not None
        np.testing.assert_array_equal(
            _encode(codes, n_classes, np.float32),
            label_binarize(y, classes=classes).astype(np.float32),
        )


@pytest.mark.parametrize(
    "y",
    [
        np.array([1, 2]),
        np.array([2.0]),
        np.array([True]),
        np.array([2.5]),
        np.array([9]),
        np.array(["b"]),
        np.array([b"b"]),
        np.array(["b"], dtype=object),
        np.array(["b", 1], dtype=object),
        np.array([[1], [2]]),
        np.arange(30) % 3,
        np.arange(30) % 25,  # check_classification_targets warns of these
    ],
)
@pytest.mark.parametrize(
    "classes",
    [np.array([0, 1, 2]), np.array([0.0, 0.5, 1.0, 2.0]), np.array(["a", "b"])],
)
def test_the_short_check_only_accepts_what_the_full_checks_accept(y, classes):
    codes = _known_codes(y, classes)
    if codes is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert type_of_target(y) in ("binary", "multiclass")
        from sklearn.utils.multiclass import check_classification_targets

        check_classification_targets(y)
    assert np.isin(y, classes).all()
    np.testing.assert_array_equal(classes[codes], y)


def test_a_continuous_label_in_a_continuing_call_is_still_refused():
    X, y = _data(2)
    clf = GDClassifier(solver="sgd", random_state=0)
    clf.partial_fit(X, y.astype(float), classes=[0.0, 1.0])
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        clf.partial_fit(X[:1], np.array([0.5]))


def test_a_continuing_call_of_many_distinct_labels_still_warns():
    X, _ = _data(2, n=60)
    y = np.arange(60) % 30
    clf = GDClassifier(solver="sgd", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.partial_fit(X, y, classes=np.arange(30))
    with pytest.warns(UserWarning, match="could represent a regression"):
        clf.partial_fit(X[:30], y[:30])


@pytest.mark.parametrize("make", CLASSIFIERS, ids=IDS)
def test_a_one_row_call_lacking_a_weighted_class_is_no_error(make):
    """Regression: the class weights were computed from each chunk's own
    classes, so class_weight={0: 3.0} refused every chunk without a 0 ("The
    classes, [1], are not in class_weight"); they now come from classes_, as
    SGDClassifier's, and a dict naming a class not in classes_ still fails."""
    X, y = _data(3)
    est = _stream(make(class_weight={0: 3.0}), X, y)
    assert np.all(np.isfinite(_params(est)[0]))
    with pytest.raises(ValueError, match=r"The classes, \[0, 1, 2\], are not in"):
        make(class_weight={7: 3.0}).partial_fit(X, y, classes=[0, 1, 2])


def test_class_weights_on_one_row_calls_are_per_class():
    X, y = _data(3, n=40)
    est = GDClassifier(solver="sgd", class_weight={0: 3.0, 2: 0.5})
    est.partial_fit(X, y, classes=[0, 1, 2])
    for label, weight in ((0, 3.0), (1, 1.0), (2, 0.5)):
        _, sw = est._validate_targets(
            np.array([label]), np.ones(1), np.float64, reset=False, classes=None
        )
        np.testing.assert_allclose(sw, [weight])


def test_multilabel_continuing_calls_check_the_number_of_labels():
    rng = np.random.RandomState(0)
    X, Y = rng.randn(30, 4), rng.randint(0, 2, (30, 3))
    mlp = GDMLPClassifier(solver="sgd", hidden_layer_sizes=(4,), random_state=0)
    mlp.partial_fit(X, Y)
    mlp.partial_fit(X[:1], Y[:1])
    Yv, _ = mlp._validate_targets(
        Y[:5], np.ones(5), np.float32, reset=False, classes=None
    )
    assert Yv.dtype == np.float32
    np.testing.assert_array_equal(Yv, Y[:5])
    with pytest.raises(ValueError, match="y has 2 labels but GDMLPClassifier"):
        mlp.partial_fit(X[:2], Y[:2, :2])
    with pytest.raises(ValueError, match="switched between multilabel"):
        mlp.partial_fit(X[:2], Y[:2, 0])


@pytest.mark.parametrize(
    "make", [*CLASSIFIERS, lambda: GDRegressor(solver="sgd")], ids=[*IDS, "GDRegr"]
)
def test_continuing_calls_keep_scikit_learns_input_checks(make):
    X, y = _data(2)
    est = make()
    est.partial_fit(
        X, y, **({} if isinstance(est, GDRegressor) else {"classes": [0, 1]})
    )
    bad = X[:2].copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.partial_fit(bad, y[:2])
    with pytest.raises(ValueError, match="X has 4 features, but"):
        est.partial_fit(X[:2, :4], y[:2])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.partial_fit(X[:2], y[:3])
    # fitted on named features, a call without names warns as scikit-learn's
    named = make()
    named.partial_fit(
        pd.DataFrame(X, columns=list("abcde")),
        y,
        **({} if isinstance(est, GDRegressor) else {"classes": [0, 1]}),
    )
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        named.partial_fit(X[:1], y[:1])


@pytest.mark.parametrize("small", [True, False])
def test_a_fit_on_small_data_runs_on_one_blas_thread_throughout(monkeypatch, small):
    """Statistics, checks and steps of a fit on a small X run on one BLAS
    thread (several spin on products of a few rows; skgd compare's times
    varied by 40 %); above the threshold the set-up keeps BLAS's threads."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import skgd._base as base
    import skgd._models as models

    if not small:
        monkeypatch.setattr(base, "_SMALL_INPUT", 1)
    seen = []
    moments = models.moments

    def watched(*args, **kwargs):
        seen.extend(
            p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"
        )
        return moments(*args, **kwargs)

    monkeypatch.setattr("skgd._linear_base.moments", watched)
    X, y = make_regression(200, 5, random_state=0)
    with threadpool_limits(limits=2, user_api="blas"):
        # what BLAS runs on outside skgd's choice (1 on a one-core machine)
        many = min(
            p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"
        )
        GDRegressor(max_iter=2, tol=None).fit(X, y)
    assert seen and all(n == (1 if small else many) for n in seen)
