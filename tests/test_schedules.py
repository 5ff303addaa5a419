"""Learning-rate schedules: hand-computed tables, restarts, warm-up, the
estimators' learning_rate_curve_ and the 'adaptive' plateau rule."""

import pickle
from math import sqrt

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skgd import GDMLPClassifier, GDRegressor
from skgd._schedules import SCHEDULES, make_schedule

PARAMS = {
    "power_t": 0.5,
    "lr_step_size": 4,
    "lr_gamma": 0.5,
    "max_iter": 12,
    "lr_restart_period": 2,
    "lr_restart_mult": 2,
    "lr_warmup": 0,
}

# cosines of multiples of pi/12 and pi/8, by the half-angle formulas
C12 = (sqrt(6) + sqrt(2)) / 4  # cos(pi/12)
S12 = (sqrt(6) - sqrt(2)) / 4  # cos(5 pi/12)
R2, R3 = sqrt(2) / 2, sqrt(3) / 2  # cos(pi/4), cos(pi/6)
C8, S8 = sqrt(2 + sqrt(2)) / 2, sqrt(2 - sqrt(2)) / 2  # cos(pi/8), cos(3 pi/8)

# epochs 0..11 at lr = 1 with PARAMS
TABLES = {
    "constant": [1.0] * 12,
    # the plateau division lives in the training loop, not in the schedule
    "adaptive": [1.0] * 12,
    "invscaling": [
        1.0,
        1 / sqrt(2),
        1 / sqrt(3),
        0.5,
        1 / sqrt(5),
        1 / sqrt(6),
        1 / sqrt(7),
        1 / sqrt(8),
        1 / 3,
        1 / sqrt(10),
        1 / sqrt(11),
        1 / sqrt(12),
    ],
    "step": [1.0] * 4 + [0.5] * 4 + [0.25] * 4,
    "exponential": [2.0**-k for k in range(12)],
    # half a cosine over max_iter = 12 epochs: 0.5 (1 + cos(pi k / 12))
    "cosine": [
        1.0,
        (1 + C12) / 2,
        (1 + R3) / 2,
        (1 + R2) / 2,
        0.75,
        (1 + S12) / 2,
        0.5,
        (1 - S12) / 2,
        0.25,
        (1 - R2) / 2,
        (1 - R3) / 2,
        (1 - C12) / 2,
    ],
    # cycles [0, 2), [2, 6), [6, 14): lengths 2, 4, 8
    "warm_restarts": [
        1.0,
        0.5,
        1.0,
        (1 + R2) / 2,
        0.5,
        (1 - R2) / 2,
        1.0,
        (1 + C8) / 2,
        (1 + R2) / 2,
        (1 + S8) / 2,
        0.5,
        (1 - S8) / 2,
    ],
}


def _values(schedule, epochs):
    return np.array([schedule(k) for k in epochs])


def test_every_schedule_has_a_table():
    assert set(TABLES) == set(SCHEDULES)


@pytest.mark.parametrize("lr", [1.0, 0.03])
@pytest.mark.parametrize("name", TABLES)
def test_schedule_first_values(name, lr):
    schedule = make_schedule(name, lr, PARAMS)
    got = _values(schedule, range(12))
    np.testing.assert_allclose(got, lr * np.array(TABLES[name]), rtol=1e-14, atol=0)
    assert schedule(0) == lr


def test_invscaling_with_power_one_is_harmonic():
    schedule = make_schedule("invscaling", 1.0, {**PARAMS, "power_t": 1.0})
    assert _values(schedule, range(6)).tolist() == [
        1,
        1 / 2,
        1 / 3,
        1 / 4,
        1 / 5,
        1 / 6,
    ]


def test_cosine_is_zero_at_max_iter_and_beyond():
    schedule = make_schedule("cosine", 0.1, PARAMS)
    assert _values(schedule, [12, 13, 20, 1000]).tolist() == [0.0] * 4
    assert schedule(11) > 0


@pytest.mark.parametrize(
    ("period", "mult", "restarts", "halfways"),
    [
        (2, 2, [0, 2, 6, 14, 30, 62], [1, 4, 10, 22, 46]),
        (3, 1, list(range(0, 31, 3)), []),
        (5, 3, [0, 5, 20, 65, 200], []),
        (4, 2, [0, 4, 12, 28], [2, 8, 20, 44]),
    ],
)
def test_warm_restarts_restart_at_lr(period, mult, restarts, halfways):
    """SGDR: exactly lr at 0, T0, T0 + T0 mult, ...; lr / 2 halfway through."""
    params = {**PARAMS, "lr_restart_period": period, "lr_restart_mult": mult}
    schedule = make_schedule("warm_restarts", 0.2, params)
    assert _values(schedule, restarts).tolist() == [0.2] * len(restarts)
    np.testing.assert_allclose(_values(schedule, halfways), 0.1, rtol=1e-14)
    # just before each restart the rate is near 0, and only there does it rise
    for r in restarts[1:]:
        assert schedule(r - 1) < schedule(r - 2) <= 0.2
        assert schedule(r - 1) < 0.2 * (1 - np.cos(np.pi / period)) / 2 + 1e-15
    values = _values(schedule, range(restarts[-1] + 1))
    rises = np.flatnonzero(np.diff(values) > 0) + 1
    assert set(rises) == {r for r in restarts if r > 0 and r <= restarts[-1]}


def test_warm_restarts_with_period_mult_one_third_values():
    """Period 3, mult 1: 1, 0.75, 0.25 repeating (cos 0, cos pi/3, cos 2pi/3)."""
    params = {**PARAMS, "lr_restart_period": 3, "lr_restart_mult": 1}
    schedule = make_schedule("warm_restarts", 1.0, params)
    np.testing.assert_allclose(
        _values(schedule, range(9)), [1, 0.75, 0.25] * 3, rtol=1e-14
    )


@pytest.mark.parametrize("name", TABLES)
@pytest.mark.parametrize("warmup", [1, 3])
def test_warmup_ramps_then_starts_the_schedule(name, warmup):
    lr = 0.4
    schedule = make_schedule(name, lr, {**PARAMS, "lr_warmup": warmup})
    ramp = [lr * (k + 1) / (warmup + 1) for k in range(warmup)]
    expected = ramp + [lr * v for v in TABLES[name]]
    got = _values(schedule, range(warmup + 12))
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)


def test_warmup_table_by_hand():
    schedule = make_schedule("step", 1.0, {**PARAMS, "lr_warmup": 3})
    assert _values(schedule, range(9)).tolist() == [
        0.25,
        0.5,
        0.75,
        1.0,
        1.0,
        1.0,
        1.0,
        0.5,
        0.5,
    ]
    # a missing lr_warmup means none
    params = {k: v for k, v in PARAMS.items() if k != "lr_warmup"}
    assert make_schedule("constant", 0.5, params)(0) == 0.5


@pytest.mark.parametrize("warmup", [0, 2])
@pytest.mark.parametrize("name", TABLES)
def test_schedule_pickles(name, warmup):
    schedule = make_schedule(name, 0.3, {**PARAMS, "lr_warmup": warmup})
    clone = pickle.loads(pickle.dumps(schedule))
    epochs = range(30)
    assert _values(clone, epochs).tolist() == _values(schedule, epochs).tolist()


# ------------------------------------------------------------ estimators
def _regression():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X[:120]), y[:120]


def _classification():
    return make_classification(
        n_samples=60, n_features=5, n_informative=3, random_state=0
    )


ESTIMATORS = {
    "GDRegressor": (GDRegressor, _regression),
    "GDMLPClassifier": (GDMLPClassifier, _classification),
}


@pytest.mark.parametrize("warmup", [0, 3])
@pytest.mark.parametrize("name", TABLES)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_learning_rate_curve_is_the_schedule(estimator, name, warmup):
    cls, data = ESTIMATORS[estimator]
    X, y = data()
    lr = 0.01
    kwargs = {"hidden_layer_sizes": (4,)} if cls is GDMLPClassifier else {}
    est = cls(
        solver="sgd",
        learning_rate=name,
        learning_rate_init=lr,
        tol=0.0,
        n_iter_no_change=100,
        random_state=0,
        **PARAMS,
        **kwargs,
    ).set_params(lr_warmup=warmup)
    with pytest.warns(ConvergenceWarning, match="max_iter=12"):
        est.fit(X, y)
    ramp = [lr * (k + 1) / (warmup + 1) for k in range(warmup)]
    expected = (ramp + [lr * v for v in TABLES[name]])[:12]
    assert est.n_iter_ == 12
    np.testing.assert_allclose(est.learning_rate_curve_, expected, rtol=1e-14)
    assert est.learning_rate_init_ == lr


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_adaptive_divides_by_five_after_n_iter_no_change(estimator):
    """With tol far above any decrease of the loss, only epoch 1 improves:
    every n_iter_no_change = 3 epochs the rate is divided by 5 until it would
    fall below 1e-6, then training stops (no ConvergenceWarning)."""
    cls, data = ESTIMATORS[estimator]
    X, y = data()
    kwargs = {"hidden_layer_sizes": (4,)} if cls is GDMLPClassifier else {}
    est = cls(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.01,
        tol=1e9,
        n_iter_no_change=3,
        max_iter=100,
        random_state=0,
        **kwargs,
    ).fit(X, y)
    expected = (
        [0.01] * 4 + [2e-3] * 3 + [4e-4] * 3 + [8e-5] * 3 + [1.6e-5] * 3 + [3.2e-6] * 3
    )
    assert est.n_iter_ == 19
    np.testing.assert_allclose(est.learning_rate_curve_, expected, rtol=1e-13)


def _replay_adaptive(losses, lr, tol, patience):
    """The documented plateau rule, replayed on a loss curve."""
    rates, scale, best, count = [], 1.0, -np.inf, 0
    for loss in losses:
        rates.append(lr * scale)
        if -loss > best + tol:
            count = 0
        else:
            count += 1
        best = max(best, -loss)
        if count >= patience:
            if lr * scale / 5 <= 1e-6:
                break
            scale, count = scale / 5, 0
    return rates


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_adaptive_curve_follows_the_loss_plateaus(estimator):
    """A real run: the /5 drops happen where the loss stalled for
    n_iter_no_change epochs by tol, as replayed from loss_curve_."""
    cls, data = ESTIMATORS[estimator]
    X, y = data()
    kwargs = {"hidden_layer_sizes": (4,)} if cls is GDMLPClassifier else {}
    tol = {"GDRegressor": 1e-3, "GDMLPClassifier": 1e-3}[estimator]
    est = cls(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.05,
        tol=tol,
        n_iter_no_change=4,
        max_iter=300,
        batch_size=20,
        random_state=0,
        **kwargs,
    ).fit(X, y)
    curve = np.array(est.learning_rate_curve_)
    # the regressor's tol is relative to its starting objective, var(y) / 2
    unit = np.var(y) / 2 if cls is GDRegressor else 1.0
    expected = _replay_adaptive(est.loss_curve_, 0.05, tol * unit, 4)
    np.testing.assert_allclose(curve, expected, rtol=1e-13)
    drops = curve[1:] / curve[:-1]
    assert np.sum(np.isclose(drops, 0.2)) >= 2
    assert np.all(np.isclose(drops, 0.2) | (drops == 1.0))
