"""The targets of the regressors: numeric ``y`` of one or several columns,
R² as the score and the check against the mean, shared by
:class:`~skgd.GDRegressor` and :class:`~skgd.GDMLPRegressor` (the
classifiers' counterpart is :mod:`skgd._classification`)."""

import numpy as np

from skgd._base import output_sum
from skgd._data import is_dask_collection, target_stats
from skgd._linear_base import _R2_SLACK, _targets_clause


class _RegressionTargets:
    """Hooks of :class:`~skgd._base.BaseGD` for numeric targets."""

    def _validate_targets(self, y, sw, dtype, *, reset, classes, warm=False):
        try:
            Y = np.asarray(y, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"y contains non-numeric values: {exc}. {type(self).__name__} "
                "needs numeric targets."
            ) from exc
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        if reset:
            self._y_ndim = np.ndim(y)
            self._n_targets = Y.shape[1]
            self.out_activation_ = "identity"
        elif Y.shape[1] != self._n_targets:
            raise ValueError(
                f"y has {Y.shape[1]} targets but {type(self).__name__} was fitted "
                f"with {self._n_targets}."
            )
        return Y, sw

    def score(self, X, y, sample_weight=None):
        """Return the coefficient of determination R² of the predictions.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Test samples. On a dask array the sums behind R² are taken chunk
            by chunk where the chunks live (``y`` and ``sample_weight`` may
            be dask arrays too).
        y : {array-like, dask array} of shape (n_samples,) or (n_samples, n_outputs)
            True values for ``X``.
        sample_weight : {array-like, dask array} of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            R² of ``self.predict(X)`` against ``y``, averaged uniformly over
            the targets (as :func:`~sklearn.metrics.r2_score`).
        """
        if is_dask_collection(X):
            from skgd._dask import score_blockwise

            return score_blockwise(self, X, y, sample_weight, "r2")
        return super().score(X, y, sample_weight=sample_weight)

    def _score_sums(self):
        return _squared_errors

    def _score_value(self, sums, data):
        return float(np.mean(_r2(sums, data)))

    def _worse_than_constant(self, run, theta, data, raw):
        # per target: a uniform average can hide one target far below 0
        if raw is None and run.stats is not None:
            # least squares: from the moments, without a pass over the rows
            errors = run.stats.squared_errors(theta) * target_stats(data).total
        else:
            errors = output_sum(data, _squared_errors, run.model, theta, raw=raw)
        r2 = _r2(errors, data)
        bad = np.flatnonzero(r2 < -_R2_SLACK)
        if not bad.size:
            return None
        which, values = _targets_clause(bad, r2, data.n_targets, "{:.4g}")
        return (
            f"the training R²{which} is {values}, below the 0 of always "
            "predicting the mean"
        )


def _squared_errors(raw, Y, sw):
    """Each target's weighted sum of squared errors."""
    w = np.asarray(sw, dtype=np.float64)[:, None]
    return (np.square(np.asarray(raw, dtype=np.float64) - Y) * w).sum(axis=0)


def _r2(errors, data):
    """Each target's R² from its weighted sum of squared errors over the
    rows ``data``."""
    stats = target_stats(data)
    return r2_from_sums(errors, stats.var * stats.total)


def r2_from_sums(errors, spread):
    """Each target's R² from its weighted sums of squared errors and of
    squared deviations from its mean (as r2_score: 1 for a constant target
    predicted exactly, else 0)."""
    errors, spread = np.asarray(errors), np.asarray(spread)
    ok = spread > 0
    r2 = np.where(errors == 0, 1.0, 0.0)
    r2[ok] = 1.0 - errors[ok] / spread[ok]
    return r2
