"""The MLP's numerical core: gradients, losses, stable probabilities, initializers.

The network is assembled as the training loop assembles it: ``MLP`` for the
layout and back-propagation, ``LOSSES[out_activation]`` for the loss and
``make_penalty(...).add_grad`` for the smooth part of the penalty. Every
gradient is checked against a five-point finite-difference stencil of an
objective written out independently in this file.
"""

import warnings

import numpy as np
import pytest
from scipy.special import expit, log_softmax, softmax
from scipy.stats import kurtosis
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss as sk_log_loss

from skgd import GDMLPClassifier
from skgd._losses import LOSSES, binary_log_loss, log_loss, squared_error
from skgd._models import ACTIVATIONS, INITIALIZERS, MLP
from skgd._penalties import make_penalty

N_FEATURES = 4
STEP = 1e-4  # five-point stencil: truncation O(h^4), round-off O(eps / h)
GRAD_RTOL = 1e-6


def _five_point(f, x, h=STEP):
    """Central five-point finite-difference gradient of ``f`` at ``x``."""
    grad = np.empty_like(x)
    for i in range(x.size):
        vals = []
        for step in (-2 * h, -h, h, 2 * h):
            xs = x.copy()
            xs.flat[i] += step
            vals.append(f(xs))
        grad.flat[i] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
    return grad


def _assert_gradient_close(grad, fd):
    scale = np.abs(fd).max()
    assert scale > 1e-3, "degenerate check: the gradient is (nearly) zero"
    np.testing.assert_allclose(grad, fd, rtol=GRAD_RTOL, atol=GRAD_RTOL * scale)


def _targets(output, n, rng):
    """Encoded targets and output activation of each output type."""
    if output == "binary":
        return rng.randint(0, 2, (n, 1)).astype(float), "logistic"
    if output == "multiclass":
        return np.eye(3)[rng.randint(0, 3, n)], "softmax"
    return rng.randint(0, 2, (n, 3)).astype(float), "logistic"  # multilabel


def _pre_activations(model, theta, X):
    """Hidden-layer pre-activations, recomputed independently of ``MLP``."""
    coefs, intercepts = model.unpack(theta)
    act = ACTIVATIONS[model.activation][0]
    a, zs = X, []
    for W, b in zip(coefs[:-1], intercepts[:-1], strict=True):
        z = a @ W + b
        zs.append(z.copy())
        a = act(z)
    return zs


def test_losses_are_keyed_by_output_activation():
    assert LOSSES["logistic"] is binary_log_loss
    assert LOSSES["softmax"] is log_loss
    assert LOSSES["identity"] is squared_error


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("penalty", [None, "l2", "elasticnet"])
@pytest.mark.parametrize("hidden", [(5,), (5, 4)], ids=["1hidden", "2hidden"])
@pytest.mark.parametrize("output", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_network_gradient_matches_five_point_stencil(
    activation, output, hidden, penalty, weighted
):
    rng = np.random.RandomState(0)
    n = 9
    X = rng.normal(size=(n, N_FEATURES))
    Y, out_activation = _targets(output, n, rng)
    sw = rng.uniform(0.2, 3.0, n) if weighted else np.ones(n)
    alpha, l1_ratio = 0.3, 0.25

    model = MLP([N_FEATURES, *hidden, Y.shape[1]], activation, "glorot_uniform")
    loss = LOSSES[out_activation]
    pen = make_penalty(
        penalty, alpha, l1_ratio, model.n_penalized, model.penalty_weights
    )
    theta = model.init(rng, np.float64)
    k = model.n_penalized
    theta[k:] = rng.normal(scale=0.5, size=theta.size - k)  # non-zero intercepts

    # the smooth part of the documented penalty, written out here
    l2 = {None: 0.0, "l2": alpha, "elasticnet": alpha * (1 - l1_ratio)}[penalty]

    def objective(t):
        raw = model.forward(t, X)[0]
        return loss(raw, Y, sw)[0] + 0.5 * l2 * np.dot(t[:k], t[:k])

    raw, cache = model.forward(theta, X)
    _, draw = loss(raw, Y, sw)
    grad = np.full_like(theta, np.nan)  # every entry must be written
    model.backward(theta, X, draw, cache, grad)
    pen.add_grad(theta, grad)

    fd = _five_point(objective, theta)

    if activation == "relu":
        # the stencil must not cross a kink: no pre-activation changes sign
        signs = [np.sign(z) for z in _pre_activations(model, theta, X)]
        assert all(np.all(s != 0) for s in signs)
        for i in range(theta.size):
            for step in (-2 * STEP, 2 * STEP):
                t = theta.copy()
                t[i] += step
                moved = _pre_activations(model, t, X)
                assert all(
                    np.array_equal(np.sign(z), s)
                    for z, s in zip(moved, signs, strict=True)
                ), "the stencil crosses a relu kink; choose another seed"

    _assert_gradient_close(grad, fd)


def _loss_case(name, rng, n=7, k=3):
    raw = rng.normal(scale=2.0, size=(n, k))
    if name == "identity":
        Y = rng.normal(size=(n, k))
    elif name == "logistic":
        Y = rng.randint(0, 2, (n, k)).astype(float)
    else:
        Y = np.eye(k)[rng.randint(0, k, n)]
    sw = rng.uniform(0.1, 2.0, n)
    return raw, Y, sw


def _reference_loss(name, raw, Y, sw):
    """The weighted mean loss written naively, for moderate logits."""
    if name == "identity":
        per_sample = 0.5 * ((raw - Y) ** 2).sum(axis=1)
    elif name == "logistic":
        p = expit(raw)
        per_sample = -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(axis=1)
    else:
        return sk_log_loss(Y.argmax(axis=1), softmax(raw, axis=1), sample_weight=sw)
    return np.sum(sw * per_sample) / np.sum(sw)


@pytest.mark.parametrize("name", ["identity", "logistic", "softmax"])
def test_loss_value_matches_formula_and_gradient_matches_stencil(name):
    rng = np.random.RandomState(1)
    raw, Y, sw = _loss_case(name, rng)
    raw0, Y0, sw0 = raw.copy(), Y.copy(), sw.copy()
    value, grad = LOSSES[name](raw, Y, sw)

    assert np.array_equal(raw, raw0)  # inputs are left untouched
    assert np.array_equal(Y, Y0)
    assert np.array_equal(sw, sw0)
    assert grad.shape == raw.shape
    np.testing.assert_allclose(value, _reference_loss(name, raw, Y, sw), rtol=1e-12)
    fd = _five_point(lambda r: LOSSES[name](r, Y, sw)[0], raw)
    _assert_gradient_close(grad, fd)


@pytest.mark.parametrize("name", ["logistic", "softmax"])
def test_loss_is_a_weighted_mean_so_weight_two_equals_a_repeated_row(name):
    rng = np.random.RandomState(2)
    raw, Y, _ = _loss_case(name, rng, n=5)
    sw = np.array([1.0, 2.0, 1.0, 3.0, 1.0])
    rep = np.repeat(np.arange(5), sw.astype(int))
    v_w, g_w = LOSSES[name](raw, Y, sw)
    v_r, g_r = LOSSES[name](raw[rep], Y[rep], np.ones(rep.size))
    np.testing.assert_allclose(v_w, v_r, rtol=1e-13)
    # the gradient of a repeated row is spread over its copies
    summed = np.zeros_like(g_w)
    np.add.at(summed, rep, g_r)
    np.testing.assert_allclose(g_w, summed, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["logistic", "softmax"])
def test_log_losses_stay_finite_and_exact_for_logits_of_1e4(name):
    raw = np.array([[1e4, -1e4], [-1e4, 1e4], [1e4, -1e4]])
    Y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # right, wrong, wrong
    sw = np.ones(3)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, grad = LOSSES[name](raw, Y, sw)
    # a wrong prediction by margin m costs m (softmax: 2e4; per sigmoid: 1e4 each)
    assert value == pytest.approx((0 + 2e4 + 2e4) / 3, rel=1e-12)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(
        grad, (np.array([[0.0, 0.0], [-1, 1], [1, -1]])) / 3, atol=1e-15
    )


def _fitted(kind):
    if kind == "multilabel":
        X, y = make_multilabel_classification(
            n_samples=80, n_features=5, n_classes=3, random_state=0
        )
    else:
        n_classes = 2 if kind == "binary" else 3
        X, y = make_classification(
            n_samples=80,
            n_features=5,
            n_informative=3,
            n_classes=n_classes,
            random_state=0,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = GDMLPClassifier((6,), max_iter=20, random_state=0).fit(X, y)
    return clf, X


def _logits(clf, X):
    """The raw network output, recomputed from the fitted attributes."""
    sizes = [X.shape[1], *clf.hidden_layer_sizes, clf.n_outputs_]
    model = MLP(sizes, clf.activation, clf.initialization)
    return model.forward(model.pack(clf.coefs_, clf.intercepts_, np.float64), X)[0]


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_probabilities_stay_finite_and_normalized_for_logits_of_1e4(kind):
    clf, X = _fitted(kind)
    scale = 1e4 / np.abs(_logits(clf, X)).max()
    clf.coefs_[-1] = clf.coefs_[-1] * scale
    clf.intercepts_[-1] = clf.intercepts_[-1] * scale
    raw = _logits(clf, X)  # the output layer is linear: logits scale with it
    assert np.abs(raw).max() == pytest.approx(1e4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # underflow to a probability of exactly 0 is the right answer
        with np.errstate(all="raise", under="ignore"):
            proba = clf.predict_proba(X)
            log_proba = clf.predict_log_proba(X)
            pred = clf.predict(X)
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    assert np.all(np.isfinite(log_proba))
    assert np.all(log_proba <= 0)
    assert log_proba.min() < -1e3  # some logits really are extreme
    # log-probabilities in closed form: log sigmoid(z) = -log(1 + exp(-z))
    if kind == "binary":
        expected = -np.logaddexp(0, np.hstack([raw, -raw]))
    elif kind == "multiclass":
        expected = log_softmax(raw, axis=1)
    else:
        expected = -np.logaddexp(0, -raw)
    np.testing.assert_allclose(log_proba, expected, rtol=1e-12, atol=1e-12)
    if kind == "multilabel":
        np.testing.assert_array_equal(pred, (log_proba > np.log(0.5)).astype(int))
    else:
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(np.exp(log_proba).sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])


# ------------------------------------------------------------ initialization
FAN_IN, FAN_OUT = 300, 500
_STD = {
    "glorot_uniform": np.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "glorot_normal": np.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "he_uniform": np.sqrt(2.0 / FAN_IN),
    "he_normal": np.sqrt(2.0 / FAN_IN),
}


def test_every_initializer_is_covered():
    assert set(INITIALIZERS) == set(_STD)


@pytest.mark.parametrize("name", sorted(_STD))
def test_initializer_draws_weights_with_the_documented_std_and_shape(name):
    model = MLP([FAN_IN, FAN_OUT, 3], "relu", name)
    theta = model.init(np.random.RandomState(0), np.float64)
    coefs, intercepts = model.unpack(theta)
    W = coefs[0]
    assert W.shape == (FAN_IN, FAN_OUT)
    assert W.std() == pytest.approx(_STD[name], rel=0.02)
    assert abs(W.mean()) < 0.02 * _STD[name]
    if name.endswith("uniform"):
        bound = np.sqrt(3.0) * _STD[name]  # std of U(-b, b) is b / sqrt(3)
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.999 * bound
        assert kurtosis(W, axis=None) == pytest.approx(-1.2, abs=0.05)
    else:
        assert kurtosis(W, axis=None) == pytest.approx(0.0, abs=0.05)
    # hidden intercepts from the layer's distribution, the output's at zero
    hidden = intercepts[0]
    assert hidden.shape == (FAN_OUT,)
    assert hidden.std() == pytest.approx(_STD[name], rel=0.2)
    if name.endswith("uniform"):
        assert np.abs(hidden).max() <= np.sqrt(3.0) * _STD[name]
    assert np.array_equal(intercepts[-1], np.zeros(3))
    assert model.init(np.random.RandomState(0), np.float32).dtype == np.float32


@pytest.mark.parametrize("name", sorted(_STD))
def test_estimator_starts_from_the_chosen_initializer(name):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, FAN_IN))
    y = np.arange(20) % 2
    clf = GDMLPClassifier(
        (FAN_OUT,),
        initialization=name,
        solver="gd",
        learning_rate_init=1e-12,
        max_iter=1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    # one step of size 1e-12 leaves the initial weights in place
    start = MLP([FAN_IN, FAN_OUT, 1], "relu", name).init(
        np.random.RandomState(0), np.float64
    )
    coefs, _ = MLP([FAN_IN, FAN_OUT, 1], "relu", name).unpack(start)
    np.testing.assert_allclose(clf.coefs_[0], coefs[0], rtol=0, atol=1e-9)
    assert clf.coefs_[0].std() == pytest.approx(_STD[name], rel=0.02)
