"""The targets of the classifiers: labels, class weights, stratified
validation and accuracy, shared by :class:`~skgd.GDClassifier` and
:class:`~skgd.GDMLPClassifier`.

The labels are encoded as :func:`~sklearn.preprocessing.label_binarize` does,
with numpy (a one-row ``partial_fit`` cannot afford its checks): one column
of 0/1 for two classes, one-hot columns for more, the indicator matrix
itself for multilabel targets. A column's raw output is a logit or a
margin, positive for the class (label) it stands for.
"""

import functools
from collections import Counter

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import (
    check_classification_targets,
    is_multilabel,
    type_of_target,
)
from sklearn.utils.validation import column_or_1d

from skgd._base import _warn, output_sum
from skgd._data import is_dask_collection, target_stats
from skgd._validation import rescale_weights


class _ClassTargets:
    """Hooks of :class:`~skgd._base.BaseGD` for class labels."""

    # whether multilabel indicator targets are accepted
    _accepts_multilabel = True

    def _check_partial_fit_classes(self, y, classes):
        """The ``classes`` of a ``partial_fit`` call, checked."""
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: the "
                "class frequencies of the whole data are unknown. Pass a dict."
            )
        if classes is None and not hasattr(self, "classes_"):
            if self._accepts_multilabel and type_of_target(y).startswith("multilabel"):
                return np.arange(np.shape(y)[1])
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return classes

    def _validate_targets(self, y, sw, dtype, *, reset, classes, warm=False):
        # a continuing call on plain labels (the stream of partial_fit) is
        # checked against classes_ alone: type_of_target and label_binarize
        # cost more than a one-row step
        codes = None
        if not (reset or warm or self._multilabel):
            codes = _known_codes(y, self.classes_)
        if codes is None:
            y, codes = self._checked_codes(y, reset=reset, classes=classes, warm=warm)
        else:
            self._check_same_classes(classes)
        if codes is None:
            # the indicator matrix is its own encoding (as label_binarize's)
            Y = (y.toarray() if sp.issparse(y) else np.asarray(y)).astype(dtype)
        else:
            Y = _encode(codes, self.classes_.size, dtype)
        if self.class_weight is not None:
            sw = self._class_weighted(y, codes, sw, dtype)
        return Y, sw

    def _checked_codes(self, y, *, reset, classes, warm):
        """``y`` checked in full, and the index of each label in ``classes_``
        (None for a multilabel indicator matrix)."""
        check_classification_targets(y)
        # is_multilabel is type_of_target's own test, without its unique()
        multilabel = is_multilabel(y)
        if multilabel and not self._accepts_multilabel:
            raise ValueError(
                f"{type(self).__name__} does not support multilabel targets; "
                "wrap it in sklearn.multioutput.MultiOutputClassifier."
            )
        if not multilabel:
            y = column_or_1d(y, warn=True)
        if reset:
            self._set_classes(y, classes, multilabel)
        else:
            self._check_same_classes(classes)
        if multilabel != self._multilabel:
            raise ValueError("y switched between multilabel and single-label targets.")
        if multilabel:
            if y.shape[1] != self.classes_.size:
                raise ValueError(
                    f"y has {y.shape[1]} labels but {type(self).__name__} was "
                    f"fitted with {self.classes_.size}."
                )
            return y, None
        if warm and not np.array_equal(np.unique(y), self.classes_):
            # MLPClassifier's rule: partial_fit takes subsets, a warm fit not
            raise ValueError(
                "warm_start can only be used where y has the same classes as "
                f"in the previous call to fit. Previously got {self.classes_!r}, "
                f"y has {np.unique(y)!r}."
            )
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels {unseen!r} not in classes_ {self.classes_!r}."
            )
        return y, np.searchsorted(self.classes_, y)

    def _check_same_classes(self, classes):
        if classes is not None and not np.array_equal(
            np.unique(classes), self.classes_
        ):
            raise ValueError(
                f"classes={np.unique(classes)!r} differs from the classes of the "
                f"first call to partial_fit, {self.classes_!r}."
            )

    def _class_weighted(self, y, codes, sw, dtype):
        """The sample weights times the class weights."""
        if codes is None:
            raise ValueError("class_weight is not supported for multilabel y.")
        # in float64, each factor brought near 1 first: extreme class
        # weights neither overflow nor underflow (only ratios matter)
        sw64 = rescale_weights(sw.astype(np.float64), np.float64)
        sw64 = sw64 * self._class_weight_vector(y, sw64)[codes]
        sw = rescale_weights(sw64, dtype).astype(dtype, copy=False)
        if not sw.sum() > 0:
            raise ValueError(
                "class_weight and sample_weight give every sample weight 0."
            )
        return sw

    def _class_weight_vector(self, y, sw64):
        """The weight of each of ``classes_`` (brought near 1), for the
        labels ``y`` of weights ``sw64``: the same from the distinct labels
        and their summed weights."""
        if isinstance(self.class_weight, dict):
            bad = {
                k: w
                for k, w in self.class_weight.items()
                if not (np.isfinite(w) and w >= 0)
            }
            if bad:
                raise ValueError(
                    f"class_weight must hold finite, non-negative weights; got {bad!r}."
                )
        # the weights of all of classes_, as SGDClassifier's: a chunk of
        # partial_fit lacking a class named in the dict is no error
        # (with sample weights, 'balanced' balances the weighted classes,
        # as LogisticRegression; fit only, where classes_ are y's classes)
        cw = compute_class_weight(
            self.class_weight,
            classes=self.classes_,
            y=y,
            sample_weight=sw64 if self.class_weight == "balanced" else None,
        )
        return rescale_weights(cw, np.float64)

    def _set_classes(self, y, classes, multilabel):
        lb = LabelBinarizer()
        lb.fit(y if classes is None or multilabel else classes)
        if not multilabel and lb.classes_.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; the "
                f"data contains only one class: {lb.classes_[0]!r}."
            )
        self._label_binarizer = lb
        self._multilabel = multilabel
        self.classes_ = lb.classes_

    @property
    def _one_hot(self) -> bool:
        """Whether the columns are the one-hot classes of one label."""
        return not self._multilabel and len(self.classes_) > 2

    def _labels_from_raw(self, raw):
        if self._multilabel:
            return (raw > 0).astype(int)
        if raw.shape[1] == 1:
            return self.classes_[(raw[:, 0] > 0).astype(int)]
        return self.classes_[np.argmax(raw, axis=1)]

    def _split_validation(self, Y, rng):
        if self._multilabel:
            return super()._split_validation(Y, rng)
        labels = np.argmax(Y, axis=1) if Y.shape[1] > 1 else Y[:, 0].astype(int)
        counts = np.bincount(labels, minlength=len(self.classes_))
        index = np.arange(Y.shape[0])
        rare = self.classes_[(counts > 0) & (counts < 2)].tolist()
        if not rare:
            try:
                tr, va = train_test_split(
                    index,
                    test_size=self.validation_fraction,
                    stratify=labels,
                    random_state=rng,
                )
                return tr, va
            except ValueError as exc:
                reason = str(exc)
        else:
            reason = f"class(es) {rare!r} have fewer than 2 members"
        _warn(
            f"Early stopping cannot stratify the validation split ({reason}); "
            "using a plain random split.",
            UserWarning,
        )
        return super()._split_validation(Y, rng)

    def score(self, X, y, sample_weight=None):
        """Return the mean accuracy of the predictions.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Test samples. On a dask array the counts are taken chunk by
            chunk where the chunks live (``y`` and ``sample_weight`` may be
            dask arrays too).
        y : {array-like, dask array} of shape (n_samples,) or (n_samples, n_outputs)
            True labels for ``X``.
        sample_weight : {array-like, dask array} of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            The weighted share of samples whose predicted label (for
            multilabel targets: whose whole label set) is right.
        """
        if is_dask_collection(X):
            from skgd._dask import score_blockwise

            return score_blockwise(self, X, y, sample_weight, "accuracy")
        return super().score(X, y, sample_weight=sample_weight)

    @property
    def _stratified(self):
        return not self._multilabel

    def _score_sums(self):
        return functools.partial(_correct_weight, one_hot=self._one_hot)

    def _score_value(self, sums, data):
        return float(sums / data.weight)

    def _null_score(self, data):
        # the best constant prediction is the most frequent row of Y: the
        # majority class, or the most frequent label set (weights included)
        if self._one_hot:
            top = float(np.max(target_stats(data).mean))
        elif not self._multilabel:
            p = float(target_stats(data).mean[0])
            top = max(p, 1.0 - p)
        else:
            counts = data.target_sum(_label_set_weights)
            top = max(counts.values()) / data.weight
        return top

    def _worse_than_constant(self, run, theta, data, raw):
        sums = output_sum(data, self._score_sums(), run.model, theta, raw=raw)
        score, null = self._score_value(sums, data), self._null_score(data)
        # the tolerance absorbs the summation order of two equal weighted sums
        if score >= null - 1e-9:
            return None
        what = "label set" if self._multilabel else "class"
        return (
            f"the training accuracy {score:.4g} is below the {null:.4g} of always "
            f"predicting the most frequent {what}"
        )


def _correct_weight(raw, Y, sw, *, one_hot: bool) -> float:
    """The weight of the rows whose labels the raw outputs get right."""
    if one_hot:
        correct = np.argmax(raw, axis=1) == np.argmax(Y, axis=1)
    else:
        correct = np.all((raw > 0) == (Y > 0.5), axis=1)
    return float(np.dot(correct, np.asarray(sw, dtype=np.float64)))


def _label_set_weights(Y, sw) -> Counter:
    """The summed weight of each distinct row of labels."""
    rows, inverse = np.unique(Y > 0.5, axis=0, return_inverse=True)
    weights = np.bincount(inverse.ravel(), weights=np.asarray(sw, np.float64))
    return Counter(
        {r.tobytes(): w for r, w in zip(rows, weights, strict=True) if w > 0}
    )


def _known_codes(y, classes):
    """The index of each label of ``y`` in the sorted ``classes``, or None
    unless ``y`` is a plain 1-D array of labels all in ``classes`` and too
    short for check_classification_targets's warning of more than half
    unique labels.

    ``classes`` passed type_of_target when they were set (LabelBinarizer's
    fit): a 1-D ``y`` of them is 'binary' or 'multiclass' too.
    """
    if not isinstance(y, np.ndarray) or y.ndim != 1 or y.size == 0:
        return None
    numeric = "biuf"
    if y.dtype.kind in numeric:
        if classes.dtype.kind not in numeric:
            return None
    elif y.dtype.kind in "USO" and classes.dtype.kind in "USO":
        # an object y must hold strings, as type_of_target requires
        if y.dtype.kind == "O" and not all(isinstance(v, str) for v in y):
            return None
    else:
        return None
    try:
        codes = np.searchsorted(classes, y)
    except TypeError:
        return None
    np.minimum(codes, classes.size - 1, out=codes)
    if not np.all(classes[codes] == y):
        return None
    if y.size > 20 and np.unique(codes).size > round(0.5 * y.size):
        return None
    return codes


def _encode(codes, n_classes: int, dtype) -> np.ndarray:
    """label_binarize's 0/1 columns from class indices: the second class's
    column for two classes, one-hot columns for more."""
    if n_classes == 2:
        return (codes == 1).astype(dtype)[:, None]
    Y = np.zeros((codes.size, n_classes), dtype=dtype)
    Y[np.arange(codes.size), codes] = 1
    return Y
