"""The targets of the regressors: numeric ``y`` of one or several columns,
R² as the score and the check against the mean, shared by
:class:`~skgd.GDRegressor` and :class:`~skgd.GDMLPRegressor` (the
classifiers' counterpart is :mod:`skgd._classification`)."""

import numpy as np
from sklearn.metrics import r2_score

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

    def _score_raw(self, raw, Y, sw):
        return float(r2_score(Y, raw, sample_weight=sw))

    def _worse_than_constant(self, raw, Y, sw):
        # per target: a uniform average can hide one target far below 0
        r2 = np.atleast_1d(r2_score(Y, raw, sample_weight=sw, multioutput="raw_values"))
        bad = np.flatnonzero(r2 < -_R2_SLACK)
        if not bad.size:
            return None
        which, values = _targets_clause(bad, r2, Y.shape[1], "{:.4g}")
        return (
            f"the training R²{which} is {values}, below the 0 of always "
            "predicting the mean"
        )
