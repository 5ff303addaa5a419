"""Optimizers against their published update rules, on quadratics and in GDRegressor.

The references below are written from the papers in plain numpy, in the form
each paper states them; skgd's classes are stepped beside them on a fixed
gradient sequence, calling ``lookahead`` and ``update`` the way the training
loop does (``skgd._base.BaseGD._run_epoch``).
"""

import copy
import pickle
import warnings
from functools import lru_cache

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LinearRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skgd import GDMLPClassifier, GDRegressor
from skgd._optimizers import (
    SOLVERS,
    Adadelta,
    Adagrad,
    Adam,
    Momentum,
    RMSprop,
    identity_prox,
    make_optimizer,
    without_subnormals,
)

ATOL = 1e-12
THETA0 = np.array([0.5, -1.5, 2.0, 0.0, 3.0])
# three gradients over five coordinates of very different magnitudes (one
# entry exactly zero); the second is -0.01 times the first, an overshoot that
# makes the adaptive restart of Momentum fire on step 2
_G1 = np.array([1.0, -20.0, 0.3, 0.0, 5e-3])
GRADS = np.array([_G1, -0.01 * _G1, [0.7, 4.0, -0.2, 1e-3, -2.0]])
# a unit rate and a rate that changes from step to step (the loop's schedules)
RATES = {"unit": [1.0, 1.0, 1.0], "varying": [0.1, 0.05, 0.2]}


# --------------------------------------------------------------- references
def ref_momentum(theta, grads, lrs, mu, nesterov, restart):
    """Sutskever et al. (2013), eqs. (1)-(4), on the iterate x.

    ``v = mu v - lr g; x = x + v`` with ``g`` taken at ``x + mu v`` (Nesterov)
    or ``x`` (heavy ball); with ``restart`` the velocity is zeroed when
    ``g . v > 0`` (O'Donoghue & Candes 2015, gradient scheme).
    Returns per step (x, v, point where g is taken).
    """
    x, v = theta.copy(), np.zeros_like(theta)
    out = []
    for g, lr in zip(grads, lrs, strict=True):
        point = x + mu * v if nesterov else x.copy()
        v = mu * v - lr * g
        x = x + v
        if restart and g @ v > 0:
            v = np.zeros_like(v)
        out.append((x, v, point))
    return out


def ref_nesterov_lookahead_form(theta, grads, lrs, mu):
    """Nesterov in the look-ahead variable phi = x + mu v (Bengio et al. 2013).

    This is scikit-learn's ``SGDOptimizer`` form ``v = mu v - lr g;
    phi += mu v - lr g``: it stores the point where the gradient is taken,
    where skgd stores x and the displacement v. Returns phi after each step.
    """
    phi, v = theta.copy(), np.zeros_like(theta)
    out = []
    for g, lr in zip(grads, lrs, strict=True):
        v = mu * v - lr * g
        phi = phi + mu * v - lr * g
        out.append(phi)
    return out


def ref_adam(theta, grads, lrs, b1, b2, eps, amsgrad=False, wd=0.0, k=0):
    """Kingma & Ba (2015) Algorithm 1; AMSGrad (Reddi et al. 2018) normalizes
    by max(v) bias-corrected; AdamW (Loshchilov & Hutter 2019, Algorithm 2)
    with eta_t * alpha = lr and the decay eta_t * lambda = lr * wd on the
    first k entries (the PyTorch / optax convention)."""
    m, v, v_max = (np.zeros_like(theta) for _ in range(3))
    out = []
    for t, (g, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1**t)
        v_hat = (v_max if amsgrad else v) / (1 - b2**t)
        decay = np.zeros_like(theta)
        decay[:k] = wd * theta[:k]
        theta = theta - lr * (m_hat / (np.sqrt(v_hat) + eps) + decay)
        state = {"m": m, "v": v, "t": t}
        if amsgrad:
            state["v_max"] = v_max
        out.append((theta, state))
    return out


def ref_rmsprop(theta, grads, lrs, rho, eps):
    """Hinton, Coursera lecture 6e: mean square, divide the gradient by its root."""
    ms = np.zeros_like(theta)
    out = []
    for g, lr in zip(grads, lrs, strict=True):
        ms = rho * ms + (1 - rho) * g**2
        theta = theta - lr * g / (np.sqrt(ms) + eps)
        out.append((theta, {"v": ms}))
    return out


def ref_adagrad(theta, grads, lrs, eps):
    """Duchi, Hazan & Singer (2011), diagonal: G = sum of g**2."""
    G = np.zeros_like(theta)
    out = []
    for g, lr in zip(grads, lrs, strict=True):
        G = G + g**2
        theta = theta - lr * g / (np.sqrt(G) + eps)
        out.append((theta, {"G": G}))
    return out


def ref_adadelta(theta, grads, lrs, rho, eps):
    """Zeiler (2012) Algorithm 1, its update Delta x applied times lr.

    Algorithm 1 accumulates its own update Delta x; the rate multiplies the
    step applied (as PyTorch, Keras and optax do), so lr = 1 is the paper.
    """
    Eg, Edx = np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for g, lr in zip(grads, lrs, strict=True):
        Eg = rho * Eg + (1 - rho) * g**2
        dx = -np.sqrt(Edx + eps) / np.sqrt(Eg + eps) * g
        Edx = rho * Edx + (1 - rho) * dx**2
        theta = theta + lr * dx
        out.append((theta, {"v": Eg, "u": Edx}))
    return out


def run_skgd(opt, theta, grads, lrs):
    """Step ``opt`` as the training loop does; return per step (theta, state, point)."""
    state = opt.init(theta)
    out = []
    for g, lr in zip(grads, lrs, strict=True):
        point = opt.lookahead(theta, state)
        theta, state = opt.update(theta, g, state, lr, identity_prox)
        out.append((theta, state, point))
    return out


def _assert_state(state, expected):
    assert set(state) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(state[key], value, rtol=0, atol=ATOL, err_msg=key)


def _assert_trajectory(got, ref):
    """skgd's (theta, state) after every step equals the reference's."""
    for (theta, state, _), (ref_theta, ref_state) in zip(got, ref, strict=True):
        np.testing.assert_allclose(theta, ref_theta, rtol=0, atol=ATOL)
        _assert_state(state, ref_state)


# ------------------------------------------------------- one and three steps
MOMENTUM_CASES = [
    pytest.param(mu, nesterov, restart, id=f"mu{mu}-{name}-restart{restart}")
    for mu in (0.9, 0.0)
    for nesterov, name in ((True, "nesterov"), (False, "heavyball"))
    for restart in (False, True)
]


@pytest.mark.parametrize("rates", RATES)
@pytest.mark.parametrize("n_steps", [1, 3])
@pytest.mark.parametrize(("mu", "nesterov", "restart"), MOMENTUM_CASES)
def test_momentum_steps_match_sutskever_form(mu, nesterov, restart, n_steps, rates):
    lrs = RATES[rates][:n_steps]
    opt = Momentum(mu, nesterov, restart)
    got = run_skgd(opt, THETA0, GRADS[:n_steps], lrs)
    ref = ref_momentum(THETA0, GRADS[:n_steps], lrs, mu, nesterov, restart)
    for (theta, state, point), (x, v, ref_point) in zip(got, ref, strict=True):
        np.testing.assert_allclose(theta, x, rtol=0, atol=ATOL)
        np.testing.assert_allclose(point, ref_point, rtol=0, atol=ATOL)
        _assert_state(state, {"velocity": v} if mu else {})


@pytest.mark.parametrize("rates", RATES)
def test_nesterov_lookahead_is_sklearn_form_iterate(rates):
    """skgd keeps x and v; its look-ahead x + mu v is the phi of the
    ``phi += mu v - lr g`` form (scikit-learn's SGDOptimizer)."""
    mu, lrs = 0.9, RATES[rates]
    opt = Momentum(mu, nesterov=True, restart=False)
    phis = ref_nesterov_lookahead_form(THETA0, GRADS, lrs, mu)
    state = opt.init(THETA0)
    theta = THETA0
    np.testing.assert_array_equal(opt.lookahead(theta, state), THETA0)
    for g, lr, phi in zip(GRADS, lrs, phis, strict=True):
        theta, state = opt.update(theta, g, state, lr, identity_prox)
        np.testing.assert_allclose(opt.lookahead(theta, state), phi, atol=ATOL)


def test_restart_fires_on_the_overshooting_step():
    """The gradient sequence is built so that step 2 goes uphill (g . v > 0)."""
    opt = Momentum(0.9, nesterov=True, restart=True)
    steps = run_skgd(opt, THETA0, GRADS, RATES["varying"])
    assert np.any(steps[0][1]["velocity"] != 0)
    np.testing.assert_array_equal(steps[1][1]["velocity"], 0.0)
    assert np.any(steps[2][1]["velocity"] != 0)
    # without restart the velocity survives step 2
    plain = run_skgd(Momentum(0.9, True, False), THETA0, GRADS, RATES["varying"])
    assert np.all(plain[1][1]["velocity"][[0, 1, 2, 4]] != 0)


ADAM_CASES = {
    "adam": ({}, {}),
    "amsgrad": ({"amsgrad": True}, {"amsgrad": True}),
    "adamw": (
        {"weight_decay": 0.3, "n_decayed": 3},
        {"wd": 0.3, "k": 3},
    ),
    "adamw-amsgrad": (
        {"weight_decay": 0.3, "n_decayed": 3, "amsgrad": True},
        {"wd": 0.3, "k": 3, "amsgrad": True},
    ),
}


@pytest.mark.parametrize("rates", RATES)
@pytest.mark.parametrize("n_steps", [1, 3])
@pytest.mark.parametrize("case", ADAM_CASES)
def test_adam_steps_match_kingma_ba(case, n_steps, rates):
    kwargs, ref_kwargs = ADAM_CASES[case]
    lrs = RATES[rates][:n_steps]
    # a small beta_2 makes the second moment (and AMSGrad's max) move fast
    b1, b2, eps = 0.8, 0.5, 1e-3
    opt = Adam(b1, b2, eps, **kwargs)
    got = run_skgd(opt, THETA0, GRADS[:n_steps], lrs)
    ref = ref_adam(THETA0, GRADS[:n_steps], lrs, b1, b2, eps, **ref_kwargs)
    _assert_trajectory(got, ref)
    # and AMSGrad really differs from Adam on this sequence
    if n_steps == 3 and case == "amsgrad":
        plain = ref_adam(THETA0, GRADS, lrs, b1, b2, eps)[-1][0]
        assert np.max(np.abs(plain - got[-1][0])) > 1e-3


def test_adamw_decay_is_lr_times_weight_decay_on_the_weights_only():
    """With a zero gradient Adam does not move: AdamW shrinks the first
    n_decayed entries by the factor (1 - lr * weight_decay), nothing else."""
    opt = Adam(weight_decay=0.5, n_decayed=2)
    theta, _ = opt.update(THETA0, np.zeros(5), opt.init(THETA0), 0.1, identity_prox)
    np.testing.assert_allclose(theta[:2], 0.95 * THETA0[:2], rtol=0, atol=ATOL)
    np.testing.assert_array_equal(theta[2:], THETA0[2:])


@pytest.mark.parametrize("rates", RATES)
@pytest.mark.parametrize("n_steps", [1, 3])
def test_rmsprop_steps_match_hinton(n_steps, rates):
    lrs = RATES[rates][:n_steps]
    opt = RMSprop(rho=0.7, epsilon=1e-3)
    got = run_skgd(opt, THETA0, GRADS[:n_steps], lrs)
    ref = ref_rmsprop(THETA0, GRADS[:n_steps], lrs, 0.7, 1e-3)
    _assert_trajectory(got, ref)


@pytest.mark.parametrize("rates", RATES)
@pytest.mark.parametrize("n_steps", [1, 3])
def test_adagrad_steps_match_duchi(n_steps, rates):
    lrs = RATES[rates][:n_steps]
    opt = Adagrad(epsilon=1e-3)
    got = run_skgd(opt, THETA0, GRADS[:n_steps], lrs)
    ref = ref_adagrad(THETA0, GRADS[:n_steps], lrs, 1e-3)
    _assert_trajectory(got, ref)


@pytest.mark.parametrize("rates", RATES)
@pytest.mark.parametrize("n_steps", [1, 3])
def test_adadelta_steps_match_zeiler_times_lr(n_steps, rates):
    lrs = RATES[rates][:n_steps]
    opt = Adadelta(rho=0.7, epsilon=1e-2)
    got = run_skgd(opt, THETA0, GRADS[:n_steps], lrs)
    ref = ref_adadelta(THETA0, GRADS[:n_steps], lrs, 0.7, 1e-2)
    _assert_trajectory(got, ref)


def _all_optimizers():
    return {
        "heavyball": Momentum(0.9, nesterov=False),
        "nesterov": Momentum(0.9, nesterov=True),
        "nesterov-restart": Momentum(0.9, nesterov=True, restart=True),
        "plain-gd": Momentum(0.0),
        "adam": Adam(0.8, 0.5, 1e-3),
        "amsgrad": Adam(0.8, 0.5, 1e-3, amsgrad=True),
        "adamw": Adam(0.8, 0.5, 1e-3, weight_decay=0.3, n_decayed=3),
        "rmsprop": RMSprop(0.7, 1e-3),
        "adagrad": Adagrad(1e-3),
        "adadelta": Adadelta(0.7, 1e-2),
    }


OPTIMIZERS = list(_all_optimizers())
# AdamW's decay compounds theta itself, (1 - lr wd) per step: not linear in lr
LINEAR_IN_RATE = [name for name in OPTIMIZERS if name != "adamw"]


@pytest.mark.parametrize("name", LINEAR_IN_RATE)
def test_rate_scales_the_displacement(name):
    """On a given gradient sequence every rule is linear in the rate: lr = c
    moves theta c times as far as lr = 1 (the rate is a scale, not a gain)."""
    opt = _all_optimizers()[name]
    unit = run_skgd(opt, THETA0, GRADS, [1.0] * 3)
    for c in (0.5, 2.0):
        scaled = run_skgd(opt, THETA0, GRADS, [c] * 3)
        for (a, *_), (b, *_) in zip(unit, scaled, strict=True):
            np.testing.assert_allclose(b - THETA0, c * (a - THETA0), atol=ATOL)


# --------------------------------------------------- purity, pickle, state
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_init_and_update_never_mutate_their_inputs(name):
    opt = _all_optimizers()[name]
    theta = THETA0.copy()
    state = opt.init(theta)
    np.testing.assert_array_equal(theta, THETA0)
    for value in state.values():
        assert not np.shares_memory(value, theta)
    for g, lr in zip(GRADS, RATES["varying"], strict=True):
        grad = g.copy()
        theta_before, state_before = theta.copy(), copy.deepcopy(state)
        opt.lookahead(theta, state)
        new_theta, new_state = opt.update(theta, grad, state, lr, identity_prox)
        np.testing.assert_array_equal(theta, theta_before)
        np.testing.assert_array_equal(grad, g)
        assert set(state) == set(state_before)
        for key, value in state.items():
            np.testing.assert_array_equal(value, state_before[key])
        # the loop keeps the previous theta and state (best epoch, interrupt)
        assert not np.shares_memory(new_theta, theta)
        assert not np.shares_memory(new_theta, grad)
        for key, value in new_state.items():
            if key in state:
                assert not np.shares_memory(value, state[key]), key
        theta, state = new_theta, new_state


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_pickles_and_state_is_plain_arrays(name):
    opt = _all_optimizers()[name]
    clone = pickle.loads(pickle.dumps(opt))
    assert type(clone) is type(opt) and vars(clone) == vars(opt)
    ours = run_skgd(opt, THETA0, GRADS, [0.1] * 3)
    theirs = run_skgd(clone, THETA0, GRADS, [0.1] * 3)
    np.testing.assert_array_equal(ours[-1][0], theirs[-1][0])
    state = ours[-1][1]
    assert type(state) is dict
    for key, value in state.items():
        assert type(key) is str and type(value) is np.ndarray, key
    restored = pickle.loads(pickle.dumps(state))
    for key, value in state.items():
        np.testing.assert_array_equal(restored[key], value)


@pytest.mark.parametrize("solver", SOLVERS)
def test_make_optimizer_reads_the_estimator_parameters(solver):
    params = GDRegressor(
        momentum=0.7,
        nesterovs_momentum=False,
        beta_1=0.8,
        beta_2=0.9,
        epsilon=1e-5,
        amsgrad=True,
        weight_decay=0.2,
        rho=0.6,
    ).get_params()
    opt = make_optimizer(solver, params, 4)
    expected = {
        "gd": (Momentum, {"momentum": 0.7, "nesterov": False, "restart": True}),
        "sgd": (Momentum, {"momentum": 0.7, "nesterov": False, "restart": False}),
        "adam": (Adam, {"beta_1": 0.8, "amsgrad": True, "weight_decay": 0.0}),
        "adamw": (Adam, {"beta_2": 0.9, "weight_decay": 0.2, "n_decayed": 4}),
        "rmsprop": (RMSprop, {"rho": 0.6, "epsilon": 1e-5}),
        "adagrad": (Adagrad, {"epsilon": 1e-5}),
        "adadelta": (Adadelta, {"rho": 0.6, "epsilon": 1e-5}),
    }[solver]
    assert type(opt) is expected[0]
    for attr, value in expected[1].items():
        assert getattr(opt, attr) == value, attr


# ------------------------------------------------------ quadratic descent
def _quadratic():
    """f(x) = x'Ax/2 - b'x with A SPD, eigenvalues 1..10 (condition number 10)."""
    rng = np.random.RandomState(0)
    Q, _ = np.linalg.qr(rng.randn(5, 5))
    A = Q @ np.diag(np.linspace(1.0, 10.0, 5)) @ Q.T
    b = rng.randn(5)
    return A, b, np.linalg.solve(A, b)


# optimizer, rate of step t, number of steps. The momentum methods and
# Adagrad (whose accumulated G already shrinks the step) run at a constant
# rate. The sign-like rules (Adam, RMSprop) hover about lr away from the
# minimum at a constant rate, and Adadelta's unit-rate step does not shrink by
# itself: they get an exponentially decaying rate.
QUADRATIC_RUNS = {
    "heavyball": (Momentum(0.9, nesterov=False), lambda t: 0.05, 1000),
    "nesterov": (Momentum(0.9, nesterov=True), lambda t: 0.05, 1000),
    "nesterov-restart": (Momentum(0.95, True, restart=True), lambda t: 0.1, 1000),
    "plain-gd": (Momentum(0.0), lambda t: 0.15, 1000),
    "adam": (Adam(), lambda t: 0.1 * 0.995**t, 3000),
    "amsgrad": (Adam(amsgrad=True), lambda t: 0.1 * 0.995**t, 3000),
    "adamw-no-decay": (
        Adam(weight_decay=0.0, n_decayed=5),
        lambda t: 0.1 * 0.995**t,
        3000,
    ),
    "rmsprop": (RMSprop(0.9), lambda t: 0.05 * 0.995**t, 3000),
    "adagrad": (Adagrad(), lambda t: 1.0, 3000),
    "adadelta": (Adadelta(0.95, 1e-6), lambda t: 0.999**t, 10000),
}


@pytest.mark.parametrize("name", QUADRATIC_RUNS)
def test_optimizer_minimizes_a_quadratic(name):
    A, b, x_star = _quadratic()
    opt, rate, n_steps = QUADRATIC_RUNS[name]
    theta = np.zeros(5)
    state = opt.init(theta)
    for t in range(n_steps):
        point = opt.lookahead(theta, state)
        theta, state = opt.update(theta, A @ point - b, state, rate(t), identity_prox)
    assert np.max(np.abs(theta - x_star)) < 1e-4


# ---------------------------------------------- through GDRegressor
@lru_cache
def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def _rel_err(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# run every epoch: the stochastic solvers stop on the loss otherwise
_ALL_EPOCHS = {"tol": 0.0, "n_iter_no_change": 10**6}
_FULL = {"batch_size": 442, **_ALL_EPOCHS}
# solver settings and the bound on the relative coef error against
# LinearRegression; achieved (numpy 2.4, scikit-learn 1.9) in the comment
SOLVER_RUNS = {
    # 2.5e-12
    "gd": ({"solver": "gd", "tol": 1e-12, "max_iter": 5000}, 1e-6),
    # 7.2e-4: mini-batches of 50, cosine annealing to 0
    "sgd": (
        {
            "solver": "sgd",
            "learning_rate": "cosine",
            "max_iter": 1000,
            "batch_size": 50,
            "random_state": 0,
            **_ALL_EPOCHS,
        },
        1e-2,
    ),
    # 1.2e-7
    "adam": (
        {
            "solver": "adam",
            "learning_rate": "cosine",
            "learning_rate_init": 10.0,
            "max_iter": 1000,
            **_FULL,
        },
        1e-5,
    ),
    # 1.2e-7: weight_decay=0 is Adam
    "adamw": (
        {
            "solver": "adamw",
            "weight_decay": 0.0,
            "learning_rate": "cosine",
            "learning_rate_init": 10.0,
            "max_iter": 1000,
            **_FULL,
        },
        1e-5,
    ),
    # 2.4e-6
    "adam-amsgrad": (
        {
            "solver": "adam",
            "amsgrad": True,
            "learning_rate": "cosine",
            "learning_rate_init": 10.0,
            "max_iter": 1000,
            **_FULL,
        },
        1e-4,
    ),
    # 4.9e-6
    "rmsprop": (
        {
            "solver": "rmsprop",
            "rho": 0.9,
            "learning_rate": "cosine",
            "learning_rate_init": 1.0,
            "max_iter": 3000,
            **_FULL,
        },
        1e-4,
    ),
    # 6.0e-4: Adagrad's own 1/sqrt(G) decay, constant rate
    "adagrad": (
        {
            "solver": "adagrad",
            "learning_rate": "constant",
            "learning_rate_init": 30.0,
            "max_iter": 3000,
            **_FULL,
        },
        3e-3,
    ),
    # 1.5e-4: Zeiler's unit step is set by epsilon; epsilon=1 suits weights of
    # order 10 (with 1e-8 the step starts at 1e-4 and grows like sqrt(t))
    "adadelta": (
        {
            "solver": "adadelta",
            "epsilon": 1.0,
            "learning_rate": "cosine",
            "learning_rate_init": 1.0,
            "max_iter": 3000,
            **_FULL,
        },
        1e-3,
    ),
}


@pytest.mark.parametrize("case", SOLVER_RUNS)
def test_every_solver_reaches_least_squares(case):
    params, bound = SOLVER_RUNS[case]
    X, y = _diabetes()
    ref = LinearRegression().fit(X, y)
    with warnings.catch_warnings():
        # the runs above deliberately use every epoch
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = GDRegressor(**params).fit(X, y)
    assert _rel_err(reg.coef_, ref.coef_) <= bound
    assert abs(reg.intercept_ - ref.intercept_) <= bound * abs(ref.intercept_)


def test_solver_table_covers_every_solver():
    assert {p["solver"] for p, _ in SOLVER_RUNS.values()} == set(SOLVERS)


L1_SOLVERS = {
    "adam": {"learning_rate_init": 10.0, "max_iter": 1000},
    "adam-amsgrad": {"amsgrad": True, "learning_rate_init": 10.0, "max_iter": 1000},
    "adamw": {"weight_decay": 0.0, "learning_rate_init": 10.0, "max_iter": 1000},
    "rmsprop": {"learning_rate_init": 1.0, "max_iter": 3000},
    "adagrad": {
        "learning_rate": "constant",
        "learning_rate_init": 30.0,
        "max_iter": 3000,
    },
    "adadelta": {"epsilon": 1.0, "learning_rate_init": 1.0, "max_iter": 3000},
}


@pytest.mark.parametrize("case", L1_SOLVERS)
def test_adaptive_l1_prox_gives_lasso_zeros_and_coefs(case):
    """Per-coordinate thresholding (step lr / d) keeps the Lasso fixed points:
    the zeros are exact and the rest matches Lasso (achieved 1.4e-13)."""
    X, y = _diabetes()
    lasso = Lasso(alpha=1.0, tol=1e-12, max_iter=100_000).fit(X, y)
    solver = case.split("-")[0]
    params = {"learning_rate": "cosine", **_FULL, **L1_SOLVERS[case]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = GDRegressor(solver=solver, penalty="l1", alpha=1.0, **params).fit(X, y)
    zeros = np.flatnonzero(lasso.coef_ == 0)
    assert zeros.tolist() == [0, 5, 7]  # the data set's Lasso path at alpha=1
    np.testing.assert_array_equal(np.flatnonzero(reg.coef_ == 0), zeros)
    assert _rel_err(reg.coef_, lasso.coef_) <= 1e-8


# ------------------------------------- parameters shared by both estimators
NEW_PARAMS = {
    "amsgrad": False,
    "weight_decay": 0.01,
    "rho": 0.95,
    "lr_step_size": 10,
    "lr_gamma": 0.9,
    "lr_restart_period": 10,
    "lr_restart_mult": 2,
    "lr_warmup": 0,
    "clip_norm": None,
    "clip_value": None,
}
# a non-default valid value of each, used all at once
NON_DEFAULT = {
    "amsgrad": True,
    "weight_decay": 0.1,
    "rho": 0.0,
    "lr_step_size": 2,
    "lr_gamma": 1.0,
    "lr_restart_period": 1,
    "lr_restart_mult": 1.5,
    "lr_warmup": 2,
    "clip_norm": 5.0,
    "clip_value": 1.0,
}
INVALID = [
    ("solver", "lbfgs"),
    ("solver", None),
    ("learning_rate", "linear"),
    ("amsgrad", "yes"),
    ("amsgrad", 1),
    ("weight_decay", -0.1),
    ("weight_decay", "0.1"),
    ("rho", 1.0),
    ("rho", -0.01),
    ("lr_step_size", 0),
    ("lr_step_size", 2.5),
    ("lr_gamma", 0.0),
    ("lr_gamma", 1.5),
    ("lr_restart_period", 0),
    ("lr_restart_period", 1.5),
    ("lr_restart_mult", 0.5),
    ("lr_warmup", -1),
    ("lr_warmup", 1.5),
    ("clip_norm", 0.0),
    ("clip_norm", -1.0),
    ("clip_norm", "inf"),
    ("clip_value", 0.0),
    ("clip_value", -2.0),
]
ESTIMATORS = {
    "GDRegressor": lambda **kw: GDRegressor(**kw),
    "GDMLPClassifier": lambda **kw: GDMLPClassifier(hidden_layer_sizes=(3,), **kw),
}


def _tiny(estimator):
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    if estimator == "GDRegressor":
        return X, X @ [1.0, -1.0, 0.5] + 0.1 * rng.randn(30)
    return X, (X[:, 0] > 0).astype(int)


def test_both_estimators_share_the_new_parameters():
    for estimator, make in ESTIMATORS.items():
        params = make().get_params()
        for name, default in NEW_PARAMS.items():
            if (estimator, name) == ("GDRegressor", "weight_decay"):
                # the regressor's objective has no decoupled decay (issue 9)
                default = 0.0
            assert params[name] == default, name
    assert set(GDRegressor._parameter_constraints["solver"][0].options) == set(SOLVERS)
    assert (
        GDMLPClassifier._parameter_constraints["solver"][0].options
        == GDRegressor._parameter_constraints["solver"][0].options
    )


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_solver_accepts_every_new_parameter(estimator, solver):
    X, y = _tiny(estimator)
    rate = 1.0 if solver == "adadelta" else 0.01
    est = ESTIMATORS[estimator](
        solver=solver,
        learning_rate="warm_restarts",
        learning_rate_init=rate,
        max_iter=6,
        batch_size=10,
        random_state=0,
        **NON_DEFAULT,
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.n_iter_ == 6
    # warm-up 1/3, 2/3; then cycles [0, 1), [1, 2.5), [2.5, 4.75): epoch 2 of
    # the schedule is 2/3 into its cycle, epoch 3 is 0.5/2.25 into the next
    cos = np.cos(np.pi * np.array([0.0, 0.0, 2 / 3, 2 / 9]))
    expected = rate * np.array([1 / 3, 2 / 3, *(0.5 * (1 + cos))])
    np.testing.assert_allclose(est.learning_rate_curve_, expected, rtol=1e-14)
    assert np.all(np.isfinite(est.predict(X).astype(float)))


@pytest.mark.parametrize(("name", "value"), INVALID)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_invalid_values_raise_invalid_parameter_error(estimator, name, value):
    X, y = _tiny(estimator)
    est = ESTIMATORS[estimator](**{name: value})
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        est.fit(X, y)


@pytest.mark.parametrize("lr", [1e-300, 1e-46])
def test_adadelta_with_a_rate_below_float32_range_stays_finite(lr):
    """Regression: 1e-300 is 0 in float32, and the unit-rate update
    (new - theta) / lr was 0 / 0: u became NaN and a float32 fit at that rate
    'diverged'. The update made is nil; u still averages -ratio * g."""
    theta = np.ones(3, dtype=np.float32)
    grad = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    opt = Adadelta(rho=0.9, epsilon=1e-6)
    new, state = opt.update(theta, grad, opt.init(theta), lr, identity_prox)
    np.testing.assert_array_equal(new, theta)
    g = grad.astype(np.float64)
    unit = np.sqrt(1e-6) / np.sqrt(0.1 * g * g + 1e-6) * g
    np.testing.assert_allclose(state["u"], 0.1 * unit**2, rtol=1e-6)
    X = np.random.RandomState(0).randn(20, 2).astype(np.float32)
    clf = GDMLPClassifier((2,), solver="adadelta", learning_rate_init=lr, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, (X[:, 0] > 0).astype(int))
    assert all(np.all(np.isfinite(W)) for W in clf.coefs_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_without_subnormals_zeroes_exactly_the_subnormal_entries(dtype):
    tiny = np.finfo(dtype).tiny
    smallest = np.nextafter(dtype(0), dtype(1))
    m = np.array(
        [1.0, -tiny, tiny, tiny / 2, -tiny / 4, smallest, -smallest, 0.0, -0.0, 3e-7],
        dtype=dtype,
    )
    v = np.array([2.0, tiny, 0.0, 5.0], dtype=dtype)
    t = np.asarray(7, dtype=np.int64)
    state = {"m": m, "v": v, "t": t}
    before = {k: a.copy() for k, a in state.items()}
    out = without_subnormals(state)
    expected = m.copy()
    expected[3:7] = 0
    assert out["m"].dtype == dtype
    # bit for bit: normal numbers and signed zeros are kept as they are
    np.testing.assert_array_equal(out["m"].view(np.uint8), expected.view(np.uint8))
    # nothing to change: the same array, no copy
    assert out["v"] is v and out["t"] is t
    for k, a in state.items():  # the state passed in is not modified
        assert a.tobytes() == before[k].tobytes()


def _feature_seen_once(n=900):
    """float32 rows whose first feature is non-zero in the first row only:
    one step gives its weights a moment, which then decays for n - 1 steps
    of batches of one row (0.9 ** 899: into float32's subnormal range)."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    X[1:, 0] = 0
    return X, (X[:, 1] > 0).astype(int)


def _subnormals(state):
    return {
        k: int(np.count_nonzero((np.abs(a) < np.finfo(a.dtype).tiny) & (a != 0)))
        for k, a in state.items()
        if a.ndim
    }


def test_training_loop_sweeps_subnormal_moments_away(monkeypatch):
    """A weight whose gradient stays exactly zero (here: a feature that is
    zero in every later batch) keeps a decaying Adam moment; the loop zeroes
    it once it is subnormal (x86 computes on subnormals about 100 times
    slower: a dying ReLU network's Adam step took 5x its time without the
    sweep). The fitted weights are bit for bit those of a fit without it."""
    import skgd._base as base

    X, y = _feature_seen_once()
    params = dict(
        hidden_layer_sizes=(5,),
        solver="adam",
        alpha=0.0,
        batch_size=1,
        shuffle=False,
        max_iter=2,
        tol=None,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        swept = GDMLPClassifier(**params).fit(X, y)
        monkeypatch.setattr(base, "without_subnormals", dict)
        kept = GDMLPClassifier(**params).fit(X, y)
    # the set-up does produce subnormal moments, and the sweep removes them
    assert _subnormals(kept._progress.opt_state)["m"] > 0
    assert _subnormals(swept._progress.opt_state) == {"m": 0, "v": 0}
    m_swept = swept._progress.opt_state["m"]
    m_kept = kept._progress.opt_state["m"]
    normal = np.abs(m_kept) >= np.finfo(np.float32).tiny
    np.testing.assert_array_equal(m_swept[normal], m_kept[normal])
    assert not np.any(m_swept[~normal])
    for W_swept, W_kept in zip(swept.coefs_, kept.coefs_, strict=True):
        np.testing.assert_array_equal(W_swept, W_kept)
