"""The elastic-net penalty: value, smooth gradient, proximal step, mapping."""

import numpy as np
import pytest

from skgd._penalties import ElasticNet, make_penalty

N_PEN = 5  # theta = [5 weights, 2 intercepts]


def _theta(seed=0):
    rng = np.random.RandomState(seed)
    theta = rng.randn(N_PEN + 2) * 2
    w = theta[:N_PEN]
    w[np.abs(w) < 0.1] = 0.5  # keep the weights away from the kink of |w|
    return theta


WEIGHTS = np.array([1.0, 0.5, 2.0, 3.0, 0.1])
CASES = {
    "l2": (0.0, 0.7, None),
    "l1": (0.3, 0.0, None),
    "elasticnet": (0.3, 0.7, None),
    "weighted-l2": (0.0, 0.7, WEIGHTS),
    "weighted-elasticnet": (0.3, 0.7, WEIGHTS),
    "none": (0.0, 0.0, None),
}


def _by_hand(theta, l1, l2, c):
    w = theta[:N_PEN] * (1.0 if c is None else c)
    return l1 * np.abs(w).sum() + 0.5 * l2 * (w @ w)


def _five_point(f, theta, h=1e-4):
    grad = np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        grad[i] = (-f(theta + 2 * e) + 8 * f(theta + e) - 8 * f(theta - e)) / (12 * h)
        grad[i] += f(theta - 2 * e) / (12 * h)
    return grad


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("case", CASES)
def test_value_is_the_documented_formula(case, seed):
    l1, l2, c = CASES[case]
    theta = _theta(seed)
    pen = ElasticNet(l1, l2, N_PEN, c)
    assert pen.value(theta) == pytest.approx(_by_hand(theta, l1, l2, c), rel=1e-14)
    assert isinstance(pen.value(theta), float)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("case", CASES)
def test_add_grad_against_finite_differences(case, seed):
    """add_grad adds the smooth part; the L1 part's derivative away from 0 is
    l1 * c * sign(w). Together they are the derivative of value."""
    l1, l2, c = CASES[case]
    theta = _theta(seed)
    pen = ElasticNet(l1, l2, N_PEN, c)
    start = np.arange(theta.size, dtype=float)  # add_grad adds, never assigns
    grad = start.copy()
    pen.add_grad(theta, grad)
    smooth = grad - start
    l1_part = np.zeros_like(theta)
    l1_part[:N_PEN] = l1 * (1.0 if c is None else c) * np.sign(theta[:N_PEN])
    fd = _five_point(pen.value, theta)
    np.testing.assert_allclose(smooth + l1_part, fd, rtol=1e-9, atol=1e-9)
    # and the smooth part alone is the gradient of 0.5 l2 ||c w||^2
    smooth_fd = _five_point(ElasticNet(0.0, l2, N_PEN, c).value, theta)
    np.testing.assert_allclose(smooth, smooth_fd, rtol=1e-9, atol=1e-9)


def _soft(z, t):
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


@pytest.mark.parametrize("c", [None, WEIGHTS], ids=["plain", "weighted"])
def test_prox_is_soft_thresholding_with_scalar_step(c):
    z = np.array([1.0, -0.3, 0.05, -2.0, 0.2, 7.0, -7.0])
    pen = ElasticNet(0.5, 0.9, N_PEN, c)  # l2 has no part in the prox
    out = pen.prox(z.copy(), 0.4)
    t = 0.5 * 0.4 * (1.0 if c is None else WEIGHTS)
    np.testing.assert_allclose(out[:N_PEN], _soft(z[:N_PEN], t), rtol=0, atol=1e-15)
    assert out[N_PEN:].tolist() == [7.0, -7.0]


def test_prox_values_by_hand():
    """Threshold 0.5 * 0.4 = 0.2: 1 -> 0.8, -0.3 -> -0.1, |0.05| < 0.2 -> 0."""
    z = np.array([1.0, -0.3, 0.05, -2.0, 0.2, 7.0, -7.0])
    out = ElasticNet(0.5, 0.0, N_PEN).prox(z, 0.4)
    np.testing.assert_allclose(out, [0.8, -0.1, 0.0, -1.8, 0.0, 7.0, -7.0], atol=1e-15)
    assert out is z  # in place, as the optimizers expect


@pytest.mark.parametrize("c", [None, WEIGHTS], ids=["plain", "weighted"])
def test_prox_with_per_coordinate_step(c):
    """Adaptive optimizers pass one step per parameter (intercepts included)."""
    z = np.array([1.0, -0.3, 0.05, -2.0, 0.2, 7.0, -7.0])
    step = np.array([0.1, 1.0, 0.01, 3.0, 0.5, 100.0, 100.0])
    out = ElasticNet(0.5, 0.0, N_PEN, c).prox(z.copy(), step)
    t = 0.5 * step[:N_PEN] * (1.0 if c is None else WEIGHTS)
    np.testing.assert_allclose(out[:N_PEN], _soft(z[:N_PEN], t), rtol=0, atol=1e-15)
    assert out[N_PEN:].tolist() == [7.0, -7.0]


def test_prox_without_l1_is_the_identity():
    z = np.array([1.0, -0.3, 0.05, -2.0, 0.2, 7.0, -7.0])
    out = ElasticNet(0.0, 5.0, N_PEN, WEIGHTS).prox(z.copy(), 10.0)
    assert out.tolist() == z.tolist()


@pytest.mark.parametrize("case", CASES)
def test_intercepts_are_never_touched(case):
    l1, l2, c = CASES[case]
    pen = ElasticNet(l1, l2, N_PEN, c)
    theta = _theta(0)
    moved = theta.copy()
    moved[N_PEN:] = [1e6, -1e6]
    assert pen.value(moved) == pen.value(theta)
    grad = np.full(theta.size, 3.0)
    pen.add_grad(moved, grad)
    assert grad[N_PEN:].tolist() == [3.0, 3.0]
    z = moved.copy()
    pen.prox(z, np.full(theta.size, 1e3))
    assert z[N_PEN:].tolist() == [1e6, -1e6]


def test_all_penalized_without_intercepts():
    pen = ElasticNet(1.0, 2.0, 3)
    theta = np.array([1.0, -2.0, 0.5])
    assert pen.value(theta) == 3.5 + 0.5 * 2.0 * 5.25
    grad = np.zeros(3)
    pen.add_grad(theta, grad)
    assert grad.tolist() == [2.0, -4.0, 1.0]
    assert pen.prox(theta.copy(), 0.25).tolist() == [0.75, -1.75, 0.25]


@pytest.mark.parametrize(
    ("penalty", "l1", "l2"),
    [
        (None, 0.0, 0.0),
        ("l2", 0.0, 0.8),
        ("l1", 0.8, 0.0),
        ("elasticnet", 0.8 * 0.25, 0.8 * 0.75),
    ],
)
def test_make_penalty_maps_the_estimator_parameters(penalty, l1, l2):
    pen = make_penalty(penalty, 0.8, 0.25, 4, WEIGHTS[:4])
    assert (pen.l1, pen.l2, pen.n_penalized) == pytest.approx((l1, l2, 4), abs=1e-16)
    if penalty is None:
        assert pen.weights is None
        assert pen.value(np.ones(6)) == 0.0
    else:
        assert pen.weights is WEIGHTS[:4] or np.array_equal(pen.weights, WEIGHTS[:4])


def test_make_penalty_l1_ratio_only_for_elasticnet():
    for penalty in ("l1", "l2"):
        a = make_penalty(penalty, 1.0, 0.1, 2)
        b = make_penalty(penalty, 1.0, 0.9, 2)
        assert (a.l1, a.l2) == (b.l1, b.l2)


@pytest.mark.parametrize(
    ("l2", "c", "expected"),
    [
        (0.7, None, 0.7),
        (0.7, WEIGHTS, 0.7 * 9.0),
        (0.0, WEIGHTS, 0.0),
        (2.0, np.array([0.5, 0.25]), 0.5),
        (2.0, np.array([]), 0.0),
    ],
)
def test_curvature_is_the_largest_hessian_eigenvalue(l2, c, expected):
    n = 5 if c is None else len(c)
    pen = ElasticNet(0.3, l2, n, c)
    assert pen.curvature == pytest.approx(expected, rel=1e-15)
    if n:
        # the Hessian of the smooth part is diag(l2 c^2)
        theta = np.zeros(n)
        H = np.empty((n, n))
        for i in range(n):
            e = np.zeros(n)
            e[i] = 1.0
            g = np.zeros(n)
            pen.add_grad(theta + e, g)
            H[:, i] = g
        assert np.linalg.eigvalsh(H).max() == pytest.approx(expected, rel=1e-14)
