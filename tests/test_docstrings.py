"""Public docstrings pass numpydoc validation and document every fitted attribute."""

import inspect
import warnings

import numpy as np
import pytest
from numpydoc.docscrape import NumpyDocString
from sklearn.datasets import make_classification, make_regression

import skgd
from skgd._docstrings import SHARED_DOCS
from skgd._optimizers import SOLVERS

validate = pytest.importorskip("numpydoc.validate").validate

ESTIMATORS = [
    skgd.GDRegressor,
    skgd.GDClassifier,
    skgd.GDMLPRegressor,
    skgd.GDMLPClassifier,
]
# the loss is what tells the estimators apart: each documents its own options
OWN = {"loss"}

# Codes ignored everywhere, as scikit-learn's own docstring test does:
#   RT02: the first line of Returns holds only the type. scikit-learn names its
#         returns (``self : object``, ``y_pred : ndarray``) and so do we.
IGNORED = {"RT02"}
# Codes ignored for methods only; a class docstring must have all three:
#   ES01 (extended summary), SA01 (See Also), EX01 (Examples). The class
#   docstring carries the See Also and the doctest for all its methods.
IGNORED_FOR_METHODS = {"ES01", "SA01", "EX01"}


def _own_methods(cls):
    """Public methods and properties that skgd defines (not inherited from sklearn)."""
    names = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("skgd"):
            continue
        for name, member in vars(klass).items():
            if not name.startswith("_") and (
                inspect.isfunction(member) or isinstance(member, property)
            ):
                names.add(name)
    return sorted(names)


def _objects():
    for cls in [*ESTIMATORS, skgd.LossCurveDisplay]:
        yield f"skgd.{cls.__name__}"
        for name in _own_methods(cls):
            yield f"skgd.{cls.__name__}.{name}"


def test_own_methods_are_found():
    """The discovery above sees the methods the estimators define."""
    assert {"fit", "partial_fit", "predict"} <= set(_own_methods(skgd.GDRegressor))
    assert {"fit", "partial_fit", "predict", "predict_proba"} <= set(
        _own_methods(skgd.GDMLPClassifier)
    )
    # score is ours (it sums over a dask array's chunks where they live)
    assert "score" in _own_methods(skgd.GDRegressor)
    assert "score" in _own_methods(skgd.GDMLPClassifier)
    # inherited from scikit-learn, so not ours to validate
    assert "get_params" not in _own_methods(skgd.GDMLPClassifier)


@pytest.mark.parametrize("qualname", list(_objects()))
def test_docstring_passes_numpydoc_validation(qualname):
    ignored = IGNORED | (IGNORED_FOR_METHODS if qualname.count(".") > 1 else set())
    result = validate(qualname)
    errors = [(code, msg) for code, msg in result["errors"] if code not in ignored]
    assert not errors, "\n".join(f"{qualname}: {code} {msg}" for code, msg in errors)


# ------------------------------------------------- fitted attributes documented
def _documented_attributes(cls):
    return {p.name for p in NumpyDocString(inspect.getdoc(cls))["Attributes"]}


def _fitted_attributes(est):
    return {
        name
        for name in vars(est)
        if name.endswith("_") and not name.startswith("_") and not name.endswith("__")
    }


def _regressor_fits(cls, extra):
    def fits(pd):
        X, y = make_regression(n_samples=60, n_features=4, random_state=0)
        X_df = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)])
        Y = np.column_stack([y, -y])
        for solver in SOLVERS:
            make = dict(solver=solver, max_iter=5, **extra)
            yield cls(**make), (X, y), {}
            yield cls(**make), (X_df, Y), {}
            yield cls(early_stopping=True, **make), (X, y), {}
        yield cls(**extra), (X, y), {"partial": True}

    return fits


def _classifier_fits(cls, extra, multilabel):
    def fits(pd):
        X, y = make_classification(
            n_samples=60,
            n_features=4,
            n_classes=3,
            n_informative=3,
            n_redundant=0,
            random_state=0,
        )
        X_df = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)])
        Y = np.column_stack([y == 0, y == 1]).astype(int)
        for solver in SOLVERS:
            make = dict(solver=solver, max_iter=5, **extra)
            yield cls(**make), (X, y), {}
            yield cls(**make), (X_df, y % 2), {}
            if multilabel:
                yield cls(**make), (X, Y), {}
            yield cls(early_stopping=True, **make), (X, y), {}
        yield cls(**extra), (X, y), {"partial": True, "classes": [0, 1, 2]}

    return fits


@pytest.mark.parametrize(
    ("cls", "fits"),
    [
        (skgd.GDRegressor, _regressor_fits(skgd.GDRegressor, {})),
        (skgd.GDClassifier, _classifier_fits(skgd.GDClassifier, {}, False)),
        (
            skgd.GDMLPRegressor,
            _regressor_fits(skgd.GDMLPRegressor, {"hidden_layer_sizes": (3,)}),
        ),
        (
            skgd.GDMLPClassifier,
            _classifier_fits(skgd.GDMLPClassifier, {"hidden_layer_sizes": (3,)}, True),
        ),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_fitted_attributes_are_documented(cls, fits):
    """Every ``name_`` attribute set by fit or partial_fit is in Attributes, and
    every documented attribute is set by at least one of these fits."""
    pd = pytest.importorskip("pandas")  # for feature_names_in_
    documented = _documented_attributes(cls)
    seen = set()
    for est, (X, y), how in fits(pd):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if how.pop("partial", False):
                est.partial_fit(X, y, **how)
            else:
                est.fit(X, y)
        undocumented = _fitted_attributes(est) - documented
        assert not undocumented, f"{est!r} sets undocumented {sorted(undocumented)}"
        seen |= _fitted_attributes(est)
    assert documented <= seen, f"documented but never set: {sorted(documented - seen)}"


# ------------------------------------------------------ shared descriptions
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_shared_descriptions_are_filled_in(cls):
    """Every ``%(name)s`` line became its entry; every constructor parameter is
    documented once, under its own name and in the constructor's order."""
    doc = NumpyDocString(inspect.getdoc(cls))
    assert "%(" not in cls.__doc__
    documented = [p.name for p in doc["Parameters"]]
    assert documented == list(inspect.signature(cls).parameters)
    entries = {p.name: p for p in doc["Parameters"] + doc["Attributes"]}
    defaults = {
        name: p.default for name, p in inspect.signature(cls).parameters.items()
    }
    for name, text in SHARED_DOCS.items():
        if name not in entries:
            continue  # a parameter of other estimators
        shared = NumpyDocString(f"Parameters\n----------\n{text}\n")["Parameters"]
        expected = shared[0].type.replace(
            "default=?", f"default={defaults.get(name)!r}"
        )
        assert entries[name].type == expected
        assert entries[name].desc == shared[0].desc


def test_every_common_parameter_has_one_shared_description():
    """A parameter of two or more estimators is described once, in
    _docstrings.py, and every estimator that has it places that description."""
    counts = {}
    for cls in ESTIMATORS:
        for name in inspect.signature(cls).parameters:
            counts[name] = counts.get(name, 0) + 1
    common = {name for name, count in counts.items() if count > 1} - OWN
    assert not common - set(SHARED_DOCS), sorted(common - set(SHARED_DOCS))
    for cls in ESTIMATORS:
        source = inspect.getsource(cls)
        params = set(inspect.signature(cls).parameters)
        local = [
            n for n in sorted(params & set(SHARED_DOCS)) if f"%({n})s" not in source
        ]
        assert not local, f"{cls.__name__} describes {local} itself"
    # and every shared entry serves at least one estimator
    attributes = {n for n in SHARED_DOCS if n.endswith("_")}
    assert set(SHARED_DOCS) - attributes <= set(counts)
