"""Full-batch 'gd' from sufficient statistics (``precompute``, issue 10).

The Gram-matrix path must give the fit the rows give: the same loss curve,
epochs and coefficients up to rounding, with sample weights, several targets,
no intercept, penalties (L1 on the diagonal preconditioner), float32; and it
must not pass over the rows in its epochs.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression

from skgd import GDRegressor
from skgd._data import ArrayRows, LeastSquaresStats
from skgd._losses import squared_error
from skgd._models import LinearModel


def _data(seed=0, n=300, d=6, k=1):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * rng.uniform(0.1, 10, d) + rng.uniform(-5, 5, d)
    W = rng.randn(d, k)
    Y = X @ W + rng.randn(n, k) + 3.0
    sw = rng.randint(0, 4, n).astype(float)
    return X, (Y[:, 0] if k == 1 else Y), sw


CASES = {
    "whitened": {},
    "two targets": {"k": 2},
    "no intercept": {"fit_intercept": False},
    "ridge": {"penalty": "l2", "alpha": 0.3},
    "lasso (diagonal)": {"penalty": "l1", "alpha": 0.05},
    "elastic net (diagonal)": {"penalty": "elasticnet", "alpha": 0.05},
    "diagonal": {"precondition": "diagonal"},
}


@pytest.mark.parametrize("case", CASES)
def test_the_gram_path_gives_the_fit_of_the_rows(case):
    params = dict(CASES[case])
    X, y, sw = _data(k=params.pop("k", 1))
    fits = {
        pre: GDRegressor(tol=1e-10, max_iter=3000, precompute=pre, **params).fit(
            X, y, sample_weight=sw
        )
        for pre in (True, False)
    }
    gram, rows = fits[True], fits[False]
    assert gram.n_iter_ == rows.n_iter_
    np.testing.assert_allclose(gram.loss_curve_, rows.loss_curve_, rtol=1e-9)
    scale = np.max(np.abs(rows.coef_))
    np.testing.assert_allclose(gram.coef_, rows.coef_, rtol=1e-9, atol=1e-11 * scale)
    np.testing.assert_allclose(gram.intercept_, rows.intercept_, rtol=1e-9)


def test_gram_path_reaches_lasso_and_elastic_net():
    X, y, _ = _data(1)
    for ours, ref in (
        (GDRegressor(penalty="l1", alpha=0.1), Lasso(alpha=0.1, tol=1e-12)),
        (
            GDRegressor(penalty="elasticnet", alpha=0.1, l1_ratio=0.5),
            ElasticNet(alpha=0.1, l1_ratio=0.5, tol=1e-12),
        ),
    ):
        ours.set_params(tol=1e-10, max_iter=5000, precompute=True).fit(X, y)
        ref.set_params(max_iter=100_000).fit(X, y)
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-9)


def _count_gradient_calls(monkeypatch):
    """Count the gradients taken from the rows and from the statistics."""
    calls = {"backward": 0, "stats": 0}
    for owner, name, key in (
        (LinearModel, "backward", "backward"),
        (LeastSquaresStats, "value_and_grad", "stats"),
    ):
        original = getattr(owner, name)

        def counting(*args, _original=original, _key=key):
            calls[_key] += 1
            return _original(*args)

        monkeypatch.setattr(owner, name, counting)
    return calls


@pytest.mark.parametrize("precompute", ["auto", True])
def test_gram_epochs_never_pass_over_the_rows(monkeypatch, precompute):
    calls = _count_gradient_calls(monkeypatch)
    X, y, _ = _data(2)
    est = GDRegressor(precompute=precompute).fit(X, y)
    assert calls == {"backward": 0, "stats": est.n_iter_}


def test_float32_gram_path_stays_float32_and_close():
    X, y, _ = _data(3)
    est32 = GDRegressor(tol=1e-6).fit(X.astype(np.float32), y)
    est64 = GDRegressor(tol=1e-6).fit(X, y)
    assert est32.coef_.dtype == np.float32
    np.testing.assert_allclose(est32.coef_, est64.coef_, rtol=1e-4)


def test_precompute_false_uses_the_rows(monkeypatch):
    X, y, _ = _data(4)
    monkeypatch.setattr(
        LeastSquaresStats,
        "value_and_grad",
        lambda *a: pytest.fail("statistics used"),
    )
    GDRegressor(precompute=False, precondition="diagonal").fit(X, y)


def test_mini_batches_take_gradients_from_rows_and_only_stop_on_statistics(
    monkeypatch,
):
    """'sgd' steps on the rows; the statistics serve only its stopping
    certificate, once per epoch at most."""
    calls = _count_gradient_calls(monkeypatch)
    X, y, _ = _data(4)
    est = GDRegressor(solver="sgd", batch_size=32, random_state=0).fit(X, y)
    assert calls["backward"] >= est.t_
    assert 1 <= calls["stats"] <= est.n_iter_


@pytest.mark.parametrize("case", ["whitened", "two targets", "no intercept"])
def test_statistics_give_the_rows_value_and_gradient(case):
    """value_and_grad from the Gram matrix equals forward + loss + backward
    on the rows, at any parameters (not only the fit's)."""
    params = dict(CASES[case])
    X, y, sw = _data(5, k=params.pop("k", 1))
    est = GDRegressor(max_iter=1, tol=None, **params).fit(X, y, sample_weight=sw)
    Y = y.reshape(len(y), -1)
    model = est._make_model(ArrayRows(X, Y, sw), reset=False)
    stats = est._exact_stats(model)
    theta = np.random.RandomState(0).randn(model.size)
    if model.fit_intercept:  # fixed at the closed form
        theta[model.n_penalized :] = np.average(Y, 0, sw) / model.out_scale
    grad = np.empty_like(theta)
    value = stats.value_and_grad(theta, grad)
    raw = model.forward(theta, X)[0]
    ref_value, draw = squared_error(raw, Y, sw)
    ref_grad = model.backward(theta, X, draw, None, np.empty_like(theta))
    assert value == pytest.approx(ref_value, rel=1e-10)
    assert stats.value(theta) == pytest.approx(ref_value, rel=1e-10)
    errors = np.average((raw - Y) ** 2, axis=0, weights=sw)
    np.testing.assert_allclose(stats.squared_errors(theta), errors, rtol=1e-10)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12 * value)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_mini_batch_objective_values_come_from_the_moments(monkeypatch, solver):
    """Where the moments were computed (whitened least squares), the
    mini-batch solvers' objective at the start, at the end, for averaging and
    the end checks cost no pass over the rows, and the model is the one the
    passes give (precompute=False)."""
    import skgd._base as base

    passes = {"forward": 0}
    forward = base.forward_rows

    def counted(X, *args):
        passes["forward"] += X.shape[0] == n
        return forward(X, *args)

    monkeypatch.setattr(base, "forward_rows", counted)
    on_output = base._on_output

    def counted_output(X, *args):
        passes["forward"] += X.shape[0] == n
        return on_output(X, *args)

    monkeypatch.setattr(base, "_on_output", counted_output)
    X, y, sw = _data(7, n=2000)
    n = X.shape[0]
    fits = {}
    for pre in ("auto", False):
        passes["forward"] = 0
        est = GDRegressor(solver=solver, max_iter=3, random_state=0, precompute=pre)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits[pre] = (est.fit(X, y, sample_weight=sw), passes["forward"])
    assert fits["auto"][1] == 0
    assert fits[False][1] >= 2  # the start and the end
    np.testing.assert_allclose(fits["auto"][0].coef_, fits[False][0].coef_, rtol=1e-9)


def test_averaged_sgd_stops_once_provably_near_the_optimum():
    """Averaging plus the exact certificate: on a tall problem 'sgd' and
    'adam' stop after a few epochs with R² within tol / 10 of the optimum,
    where the plain last iterate (average=False) needs many more epochs."""
    rng = np.random.RandomState(0)
    X = rng.randn(20_000, 20)
    y = X @ rng.randn(20) + rng.randn(20_000)
    best = LinearRegression().fit(X, y).score(X, y)
    for solver in ("sgd", "adam"):
        avg = GDRegressor(solver=solver, random_state=0).fit(X, y)
        plain = GDRegressor(solver=solver, random_state=0, average=False).fit(X, y)
        assert best - avg.score(X, y) <= 1e-5
        assert avg.n_iter_ <= 5 < plain.n_iter_


def test_verbose_shows_the_set_up_time_before_the_first_epoch(capsys):
    X, y, _ = _data(6)
    GDRegressor(verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Set-up: ") and lines[0].endswith(" s")
    assert lines[1].startswith("Epoch 1, ") and ", time = " in lines[1]


def test_the_check_against_the_mean_with_early_stopping_reads_every_row(monkeypatch):
    """With early stopping the moments describe the training rows only; the
    end check against the mean is over every row passed to fit, so its
    squared errors are those of the predictions on all of them."""
    import skgd._regression as regression

    seen = []
    r2 = regression._r2

    def spy(errors, data):
        seen.append((np.array(errors), data.shape[0]))
        return r2(errors, data)

    monkeypatch.setattr(regression, "_r2", spy)
    X, y, _ = _data(8, n=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = GDRegressor(solver="sgd", early_stopping=True, random_state=0).fit(X, y)
    errors = [e for e, rows in seen if rows == X.shape[0]]
    assert errors
    expected = np.sum((est.predict(X) - y) ** 2)
    np.testing.assert_allclose(errors[-1], [expected], rtol=1e-9)
