"""The passes over dense X behind the linear models' statistics: the moments
(one symmetric product per block) and the largest whitened row norm (bounds
first, exact norms for the candidates), checked against direct float64
arithmetic."""

import numpy as np
import pytest

from skgd._data import ArrayRows
from skgd._models import (
    _max_row_norm,
    _moment_sums,
    _row_norm_bounds,
    _useful_shift,
    moments,
    whitening,
)


def _direct_sums(X, Y, sw, scale, shift, k, y_shift):
    x = np.asarray(X, dtype=np.float64)
    U = np.hstack(
        [
            (x if scale is None else x * scale) - shift,
            np.ones((len(x), 1)),
            np.asarray(Y, dtype=np.float64)[:, :k] - y_shift,
        ]
    )
    return (U * sw[:, None]).T @ U


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("k", [0, 2])
def test_moment_sums_are_the_weighted_products(
    dtype, weighted, scaled, shifted, order, k
):
    rng = np.random.RandomState(0)
    d = 7
    n = 3 * (1 << 16) // d + 11  # three blocks and a short fourth
    X = np.asarray(rng.standard_normal((n, d)) * 3 + 1, dtype=dtype, order=order)
    Y = rng.standard_normal((n, 3))
    sw = rng.uniform(0, 2, n) if weighted else np.ones(n)
    scale = rng.uniform(0.5, 2, d) if scaled else None
    shift = rng.standard_normal(d) if shifted else np.zeros(d)
    y_shift = rng.standard_normal(k)
    got = _moment_sums(X, Y, sw, scale, shift, k, y_shift)
    want = _direct_sums(X, Y, sw, scale, shift, k, y_shift)
    assert got.shape == (d + 1 + k,) * 2
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9 * np.abs(want).max())
    # symmetric to the last bit: the lower triangle mirrors syrk's upper one
    np.testing.assert_array_equal(got, got.T)


def test_useful_shift_keeps_only_means_beyond_the_spread():
    rng = np.random.RandomState(0)
    first = rng.standard_normal((500, 4)) + np.array([0.1, 50.0, -50.0, 0.0])
    first[:, 3] = 7.0  # constant: any nonzero mean is beyond its spread
    shift = _useful_shift(first)
    assert shift[0] == 0.0
    np.testing.assert_allclose(shift[1:], first[:, 1:].mean(axis=0))


@pytest.mark.parametrize("offset", [0.0, 0.3, 1e4, 1e8])
def test_moments_lose_no_digits_to_offset_columns(offset):
    rng = np.random.RandomState(1)
    n = 20_000
    noise = rng.standard_normal((n, 3))
    X = noise + np.array([offset, 0.0, -offset])
    y = noise @ [1.0, -2.0, 0.5] + rng.standard_normal(n) + offset
    data = ArrayRows(X, y[:, None], np.ones(n))
    _, scale, _, G = moments(data, center=True)
    # the reference centers with the exact means of the noise (two passes)
    Xc = X - X.mean(axis=0)
    Xc -= Xc.mean(axis=0)
    yc = y - y.mean()
    yc -= yc.mean()
    np.testing.assert_allclose(scale, Xc.std(axis=0), rtol=1e-12)
    Z = Xc / Xc.std(axis=0)
    np.testing.assert_allclose(G[:3, :3], Z.T @ Z / n, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(G[:3, 4], Z.T @ yc / n, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(G[4, 4], yc @ yc / n, rtol=1e-10)


def _whitened(X, ridge=0.0):
    x = X.astype(np.float64)
    mean, sd = x.mean(axis=0), x.std(axis=0)
    Z = (x - mean) / sd
    P = whitening(Z.T @ Z / len(x), np.full(x.shape[1], ridge))
    return mean / sd, 1.0 / sd, P


def _exact_norms(X, m, s, P):
    Z = (X.astype(np.float64) * s - m) @ P
    return np.einsum("ij,ij->i", Z, Z)


def _spectra(n, d, seed=0):
    """Rows whose whitening matrices need 0, 1 and many exact directions."""
    rng = np.random.RandomState(seed)
    iso = rng.standard_normal((n, d))
    one = iso.copy()
    one[:, 1] = one[:, 0] + 0.2 * one[:, 1]  # one direction of small variance
    mixed = iso * np.geomspace(1, 50, d) @ rng.standard_normal((d, d))
    return {"isotropic": iso, "one small direction": one, "correlated": mixed}


@pytest.mark.parametrize("name", ["isotropic", "one small direction", "correlated"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_norm_bounds_bound_within_a_quarter(name, dtype):
    X = _spectra(20_000, 12)[name].astype(dtype) + 5.0
    m, s, P = _whitened(X)
    exact = _exact_norms(X, m, s, P)
    bounds = _row_norm_bounds(X, m, s, P)
    if name == "correlated":
        assert bounds is None  # most directions would be exact: no saving
        return
    assert np.all(bounds >= exact * (1 - 1e-4))
    assert np.all(bounds <= 1.25 * exact * (1 + 1e-4) + 1e-4)


@pytest.mark.parametrize("name", ["isotropic", "one small direction", "correlated"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_row_norm_is_the_exact_maximum(name, dtype):
    X = _spectra(20_000, 12)[name].astype(dtype)
    m, s, P = _whitened(X, ridge=0.1)
    exact = _exact_norms(X, m, s, P)
    sw = np.ones(len(X))
    got = _max_row_norm(X, None, sw, m, s, P)
    np.testing.assert_allclose(got, exact.max(), rtol=1e-5)
    # the row of the largest norm (and its bound) weighs nothing: the next
    sw[np.argmax(exact)] = 0.0
    got = _max_row_norm(X, None, sw, m, s, P)
    np.testing.assert_allclose(got, exact[sw > 0].max(), rtol=1e-5)
    assert _max_row_norm(X, None, np.zeros(len(X)), m, s, P) == -np.inf


def test_max_row_norm_with_many_candidates_takes_every_row():
    # rows on a sphere: every bound is within 1 % of the maximum
    rng = np.random.RandomState(3)
    X = rng.standard_normal((5_000, 8))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    m, s, P = _whitened(X)
    exact = _exact_norms(X, m, s, P)
    got = _max_row_norm(X, None, np.ones(len(X)), m, s, P)
    np.testing.assert_allclose(got, exact.max(), rtol=1e-5)


@pytest.mark.parametrize("seed", range(40))
def test_max_row_norm_is_exact_on_random_spectra_and_weights(seed):
    # shapes, spectra (from isotropic to strongly correlated), offsets, ridge,
    # zero weights and dtype drawn at random: the bounds may only choose which
    # rows get an exact norm, never change the maximum
    rng = np.random.RandomState(seed)
    n, d = int(rng.randint(64, 20_000)), int(rng.randint(1, 16))
    strength = rng.choice([0.0, 0.0, 0.05, 1.0])  # bounds used on the first two
    mix = np.eye(d) + strength * rng.standard_normal((d, d)) / np.sqrt(d)
    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 10, d) @ mix
    X += rng.uniform(-100, 100, d) * (rng.rand() < 0.5)
    X = X.astype(np.float32 if rng.rand() < 0.5 else np.float64)
    m, s, P = _whitened(X, ridge=rng.choice([0.0, 0.01, 1.0]))
    if P is None:
        pytest.skip("not positive definite in floating point")
    sw = rng.uniform(0, 2, n) * (rng.rand(n) < 0.8)
    exact = _exact_norms(X, m, s, P)[sw > 0]
    got = _max_row_norm(X, None, sw, m, s, P)
    np.testing.assert_allclose(got, exact.max(initial=-np.inf), rtol=1e-4)
