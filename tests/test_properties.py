"""Property-based tests: a fit either fails loudly or is no worse than the null model.

Over random shapes, per-column feature scales (10**k, k in -3..4), dtypes,
solvers, learning rates and penalties, every call to ``fit`` must either

- raise the documented error, a ``ValueError`` whose message contains
  "diverged", or
- return a model with finite parameters that is not worse on its own
  training data than the trivial model.

Regressor: the trivial model predicts the weighted mean of ``y``, i.e. a
training R² of 0. ``GDRegressor`` *starts* at exactly that model (coef 0,
intercept the weighted mean), and every objective it minimizes (least squares
plus a non-negative penalty that vanishes at coef 0) is at most the starting
value at its minimizer, so the exact solution has R² >= 0 for every penalty.
A fresh fit whose final objective exceeds its start by more than
``1e-4 * start`` plus ``4 eps sqrt(ref * start)`` (the rounding of residuals
of targets far from 0, with ``ref = mean(y**2) / 2``, about twice the rounding
estimate) falls back to its lowest-loss epoch or raises, so a returned model
has ``R² >= -1e-4 - 4 eps sqrt(mean(y**2) / var(y))``: with the data
term ``D``, the penalty ``P >= 0``, ``P(start) = 0`` and ``D(start) = var(y) /
2``, ``R² = 1 - D(end) / D(start) >= -(objective(end) / objective(start) -
1)``. Measured over 2000 random fits, the worst R² was -7.8e-5 (float32) and
-3.7e-7 (float64) with full batches. ``R2_TOL = 2e-4`` (plus the same
rounding term) sits above that and far below the
failures this test is about (R² of -0.002 to -200, silently returned). The
check is on the full training objective at the returned weights, so it holds
for mini-batches too (batch sizes 1, 3, 8 and the full data are drawn).

Classifier: the trivial model predicts the (weighted) majority class.
``GDMLPClassifier`` starts from a random initialization, so its starting model
can be far worse than that (unscaled features give logits of 1e4), and with a
rate of 1e-4 it barely moves in 40 epochs: a legitimate, loss-decreasing fit
can end below the majority fraction (seen: accuracy 0.43 against 0.545). Such a
fit is not silent: ``fit`` warns (``ConvergenceWarning``, "worse than a
constant") whenever the training accuracy is below the majority fraction. So
the property asserted is the issue's, with the warning as the third outcome:
raise, warn, or score at least the majority fraction. A second property holds
on the objective it minimizes: the final training objective (weighted mean
log-loss plus penalty) does not exceed the larger of the starting objective and
the log-loss of the null model that predicts the weighted class frequencies.
A fit that ends above both made its model worse than where it started and
worse than knowing nothing: that is a divergence and must be reported. The
final-objective check allows the same relative ``1e-4`` as for the regressor,
so ``LOSS_RTOL = 2e-4``.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skgd import GDMLPClassifier, GDRegressor
from skgd._optimizers import SOLVERS

# see the module docstring for where these come from
R2_TOL = 2e-4
LOSS_RTOL = 2e-4

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

penalties = st.sampled_from([None, "l2", "l1", "elasticnet"])
alphas = st.floats(-5.0, 0.0).map(lambda k: float(10.0**k))
log_uniform_rates = st.floats(-4.0, 2.0).map(lambda k: float(10.0**k))
# 'auto' is the full data here (n <= 60): the others make the solvers stochastic
batch_sizes = st.sampled_from([1, 3, 8, "auto"])


@st.composite
def designs(draw):
    """A design recipe: shape, dtype, log10 column scales, offset, seed, weights.

    A recipe rather than arrays so that hypothesis prints short counterexamples;
    :func:`_make_design` turns it into ``(X, Z, sample_weight, rng)``.
    """
    n = draw(st.integers(5, 60))
    d = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    exps = draw(st.lists(st.integers(-3, 4), min_size=d, max_size=d))
    seed = draw(st.integers(0, 2**16))
    weighted = draw(st.booleans())
    # columns centered at 0 or offset by 100 standard deviations (un-centered
    # features are what sklearn's own checks feed estimators)
    offset = draw(st.sampled_from([0.0, 100.0]))
    return n, dtype, tuple(exps), offset, seed, weighted


def _make_design(recipe):
    n, dtype, exps, offset, seed, weighted = recipe
    rng = np.random.RandomState(seed)
    Z = rng.standard_normal((n, len(exps)))
    X = ((Z + offset) * 10.0 ** np.asarray(exps, dtype=float)).astype(dtype)
    sw = rng.uniform(0.5, 2.0, n) if weighted else None
    return X, Z, sw, rng


def _fit_or_diverge(est, X, y, sw):
    """Fit; return None if it raised the documented divergence error, else
    the messages of the ConvergenceWarnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            est.fit(X, y, sample_weight=sw)
        except ValueError as exc:
            assert "diverged" in str(exc), f"undocumented error: {exc}"
            return None
    return [
        str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)
    ]


@PROPERTY_SETTINGS
@given(
    data=designs(),
    solver=st.sampled_from(SOLVERS),
    rate=st.one_of(st.just("auto"), log_uniform_rates),
    penalty=penalties,
    alpha=alphas,
    noise=st.sampled_from([0.0, 0.5, 5.0]),
    offset=st.sampled_from([0.0, 100.0]),
    batch_size=batch_sizes,
)
# found by this test: the final-objective check allowed a slack relative to the
# objective of an all-zero output, which for features and targets offset by 100
# is 1e4 times the start; Adadelta's first uphill steps then gave R² -0.0022
@example(
    data=(5, "float32", (0,), 100.0, 0, False),
    solver="adadelta",
    rate="auto",
    penalty=None,
    alpha=1.0,
    noise=0.0,
    offset=0.0,
    batch_size="auto",
)
# found with mini-batches: float32 targets offset by 100 ended at R² -3.05e-4,
# the rounding of the objective (1.2e-4 of R² here) being part of the bound
@example(
    data=(5, "float32", (0,), 100.0, 2003, False),
    solver="adam",
    rate="auto",
    penalty=None,
    alpha=1.0,
    noise=0.0,
    offset=100.0,
    batch_size=3,
)
def test_regressor_never_worse_than_mean(
    data, solver, rate, penalty, alpha, noise, offset, batch_size
):
    X, Z, sw, rng = _make_design(data)
    n, d = Z.shape
    # signal through the standardized features, optional noise and offset;
    # at least a little noise keeps y from being constant
    y = Z @ rng.standard_normal(d) + (noise + 1e-2) * rng.standard_normal(n)
    y = (y + offset).astype(X.dtype)
    reg = GDRegressor(
        solver=solver,
        learning_rate_init=rate,
        penalty=penalty,
        alpha=alpha,
        batch_size=batch_size,
        max_iter=200,
        random_state=0,
    )
    if _fit_or_diverge(reg, X, y, sw) is None:
        return
    assert np.all(np.isfinite(reg.coef_)) and np.all(np.isfinite(reg.intercept_))
    r2 = reg.score(X, y, sample_weight=sw)
    # plus the rounding of the objective in the dtype of y (see the docstring)
    y64 = y.astype(np.float64)
    spread = np.average(y64**2, weights=sw) / np.average(
        (y64 - np.average(y64, weights=sw)) ** 2, weights=sw
    )
    tol = R2_TOL + 4 * np.finfo(X.dtype).eps * np.sqrt(max(spread, 1.0))
    assert r2 >= -tol, (
        f"silent bad fit: training R² {r2:.4g} < -{tol:.3g} (the fit started at "
        f"R² 0); objective {reg.loss_curve_[0]:.4g} -> {reg.loss_curve_[-1]:.4g} "
        f"in {reg.n_iter_} epochs at rate {reg.learning_rate_init_:.3g}"
    )


def _penalty_value(clf, penalty, alpha, l1_ratio=0.15):
    if penalty is None:
        return 0.0
    rho = {"l2": 0.0, "l1": 1.0}.get(penalty, l1_ratio)
    w = np.concatenate([W.ravel() for W in clf.coefs_]).astype(np.float64)
    return alpha * (rho * np.abs(w).sum() + 0.5 * (1.0 - rho) * np.dot(w, w))


def _objective(clf, X, y, w, penalty, alpha):
    """Weighted mean log-loss plus penalty, in float64."""
    log_proba = clf.predict_log_proba(X).astype(np.float64)
    loss = -np.average(log_proba[np.arange(len(y)), y], weights=w)
    return loss + _penalty_value(clf, penalty, alpha)


@PROPERTY_SETTINGS
@given(
    data=designs(),
    n_classes=st.integers(2, 3),
    solver=st.sampled_from(SOLVERS),
    rate=log_uniform_rates,
    penalty=penalties,
    alpha=alphas,
    hidden=st.integers(1, 6),
    batch_size=batch_sizes,
)
def test_classifier_not_worse_than_majority_unless_it_warns(
    data, n_classes, solver, rate, penalty, alpha, hidden, batch_size
):
    X, Z, sw, rng = _make_design(data)
    n = Z.shape[0]
    logits = Z[:, :1] * rng.standard_normal(n_classes) + rng.standard_normal(
        (n, n_classes)
    )
    y = np.argmax(logits, axis=1)
    y[:n_classes] = np.arange(n_classes)  # every class present
    clf = GDMLPClassifier(
        hidden_layer_sizes=(hidden,),
        solver=solver,
        learning_rate_init=rate,
        penalty=penalty,
        alpha=alpha,
        batch_size=batch_size,
        max_iter=40,
        random_state=0,
    )
    messages = _fit_or_diverge(clf, X, y, sw)
    if messages is None:
        return
    params = clf.coefs_ + clf.intercepts_
    assert all(np.all(np.isfinite(p)) for p in params)

    w = np.ones(n) if sw is None else sw
    prior = np.bincount(y, weights=w, minlength=n_classes) / w.sum()
    accuracy = clf.score(X, y, sample_weight=sw)
    warned = any("worse than a constant" in m for m in messages)
    # equal weighted sums taken in another order differ in the last bits
    below = accuracy < prior.max() - 1e-9
    assert warned == below, (
        f"accuracy {accuracy:.4f} vs majority {prior.max():.4f}, but the "
        f"'worse than a constant' warning was {'' if warned else 'not '}emitted"
    )

    final = _objective(clf, X, y, w, penalty, alpha)
    null = -np.sum(prior * np.log(prior))
    # the initial weights are the first draws of random_state=0: a clone that
    # takes one epoch of steps of 1e-300 keeps them
    at_start = clone(clf).set_params(learning_rate_init=1e-300, max_iter=1)
    _fit_or_diverge(at_start, X, y, sw)
    start = _objective(at_start, X, y, w, penalty, alpha)
    ref = max(start, null)
    assert final <= ref * (1 + LOSS_RTOL), (
        f"silent bad fit: training objective {final:.4g} exceeds both its start "
        f"{start:.4g} and the null log-loss {null:.4g}; accuracy "
        f"{clf.score(X, y, sample_weight=sw):.3f} vs majority {prior.max():.3f}, "
        f"{clf.n_iter_} epochs"
    )


def test_documented_error_message():
    # the tests above accept only this message: make sure it is the real one
    X = np.array([[0.0], [1.0], [2.0], [3.0]]) * 1e4
    y = np.array([0.0, 1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="diverged"):
        GDRegressor(solver="sgd", learning_rate_init=1e2, precondition=False).fit(X, y)
