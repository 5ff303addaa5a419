"""Training rows and predictions on dask arrays (the ``skgd[dask]`` extra).

:class:`DaskRows` is the second implementation of the data interface the
training loop uses (see :class:`skgd._data.ArrayRows`). Every chunk of rows
is a block ``(X_c, (Y_c, sw_c, keep_c))`` that stays on the workers:

- ``y`` and ``sample_weight`` are checked by reductions (their distinct
  labels, finiteness, extremes and sums come back, not the arrays) and
  encoded chunk by chunk where they live, into the targets ``Y_c`` of the
  loss and the weights ``sw_c``, kept on the workers for the fit;
- a full-batch sum is mapped over the chunks and reduced there, so only
  parameter-sized results reach the client;
- mini-batches stream, one chunk computed ahead while the client trains on
  the current one;
- early stopping holds out rows of every chunk: the training blocks keep
  the whole chunk of ``X`` with the held-out rows at weight 0 (``keep_c``
  lists the training rows, which the batches take), and the validation
  rows are copied once, on their worker.

Nothing here is imported unless a dask collection is passed.
"""

import functools
import operator
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, column_or_1d
from sklearn.utils.validation import validate_data as check_features

from skgd._data import ArrayRows, combine, is_dask_collection
from skgd._validation import _check_magnitude_peak, rescale_shift

Array = np.ndarray


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ImportError(
            'skgd needs dask to fit or predict on dask arrays: pip install "skgd[dask]"'
        ) from exc
    return dask, da


def _client():
    """The distributed client dask would use, or None (local scheduler)."""
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


# ----------------------------------------------------------------- checking
def _check_X(estimator, X, reset: bool):
    """``X`` as a float dask array in one column chunk with known row
    chunks; its values are checked later, in the one compute."""
    if not hasattr(X, "chunks") or X.ndim != 2:
        raise ValueError(
            f"A dask X must be a 2-D dask array, got {type(X).__name__} "
            f"with {getattr(X, 'ndim', '?')} dimension(s)."
        )
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "X has chunks of unknown size (e.g. after boolean indexing); call "
            "X.compute_chunk_sizes() before fitting."
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric; the dask array has dtype {X.dtype}.")
    # the features' count and names only: the values are checked below
    check_features(estimator, X, skip_check_array=True, reset=reset)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X.rechunk({1: -1})


def _aligned(name: str, a, X, ndim: tuple[int, ...]):
    """``a`` (dask or in memory) as a dask array whose row chunks are
    those of ``X``."""
    _, da = _import_dask()
    if not is_dask_collection(a):
        a = np.asarray(a)
        if a.ndim not in ndim or a.shape[0] != X.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} samples but {name} has shape {a.shape}: "
                f"{name} must be {' or '.join(f'{k}-D' for k in ndim)} with one "
                "entry per sample."
            )
        chunks = (X.chunks[0],) + ((-1,) if a.ndim == 2 else ())
        a = da.from_array(a, chunks=chunks)
    elif a.ndim not in ndim:
        raise ValueError(
            f"{name} must be {' or '.join(f'{k}-D' for k in ndim)}, got "
            f"{a.ndim} dimensions."
        )
    if any(np.isnan(c) for c in a.chunks[0]):
        raise ValueError(
            f"{name} has chunks of unknown size; call {name}.compute_chunk_sizes()."
        )
    if a.shape[0] != X.shape[0]:
        raise ValueError(
            f"X has {X.shape[0]} samples but {name} has {a.shape[0]}: they must match."
        )
    if a.ndim == 2:
        return a.rechunk({0: X.chunks[0], 1: -1})
    return a.rechunk({0: X.chunks[0]})


def _label_weights(y: Array, sw: Array | None) -> tuple[Array, Array]:
    """A chunk's distinct labels and the summed weight of each."""
    labels, codes = np.unique(np.ravel(y), return_inverse=True)
    w = None if sw is None else np.asarray(sw, dtype=np.float64)
    return labels, np.bincount(codes.ravel(), weights=w, minlength=labels.size)


def _merge_labels(parts: list[tuple[Array, Array]]) -> tuple[Array, Array]:
    labels, codes = np.unique(
        np.concatenate([p[0] for p in parts]), return_inverse=True
    )
    weights = np.bincount(codes.ravel(), weights=np.concatenate([p[1] for p in parts]))
    return labels, weights


def _is_indicator(y: Array) -> bool:
    return bool(np.isin(y, (0, 1)).all())


@dataclass(frozen=True)
class _Encoding:
    """How a chunk of ``y`` and ``sample_weight`` becomes the targets and
    weights of the loss (the encoding :meth:`_validate_targets` applies in
    memory): ``kind`` 'numeric', 'labels' (codes into ``classes``) or
    'indicator'; the weights times ``class_weight`` of the codes, and the
    powers of two that keep them in range."""

    kind: str
    dtype: Any
    classes: Array | None = None
    class_weight: Array | None = None
    constant: float = 1.0  # every row's weight when no array is given
    sw_shift: int = 0
    final_shift: int = 0


def _encode_chunk(y: Array, sw: Array | None, enc: _Encoding) -> tuple:
    """A chunk's ``(Y, sw, keep)``: the loss's targets and weights, on the
    worker that holds the chunk (``keep`` None: every row trains)."""
    n = y.shape[0]
    if sw is None:
        w = np.full(n, enc.constant)
    else:
        w = np.ldexp(np.asarray(sw, dtype=np.float64), enc.sw_shift)
    if enc.kind == "numeric":
        Y = np.asarray(y, dtype=enc.dtype).reshape(n, -1)
    elif enc.kind == "labels":
        from skgd._classification import _encode

        codes = np.searchsorted(enc.classes, np.ravel(y))
        Y = _encode(codes, enc.classes.size, enc.dtype)
        if enc.class_weight is not None:
            w = w * enc.class_weight[codes]
    else:
        Y = np.asarray(y, dtype=enc.dtype)
    if enc.final_shift:
        w = np.ldexp(w, enc.final_shift)
    return Y, w.astype(enc.dtype), None


def dask_rows(
    estimator, X, y, sample_weight, *, reset: bool, classes, warm: bool
) -> "DaskRows":
    """The training rows of dask ``X``, ``y`` and ``sample_weight``, checked
    and encoded where they live (one compute brings back their checks and
    summaries); the estimator's target attributes (``classes_``, the
    number of targets) are set as :meth:`_validate_targets` sets them."""
    dask, da = _import_dask()
    X = _check_X(estimator, X, reset)
    dtype = X.dtype
    numeric = estimator._y_numeric
    y = _aligned("y", y, X, (1, 2))
    if y.ndim == 2 and y.shape[1] == 1 and not numeric:
        # column_or_1d's warning, as for arrays
        column_or_1d(np.zeros((1, 1)), warn=True)
        y = y[:, 0]
    scalar = sample_weight is not None and np.isscalar(sample_weight)
    sw = None
    n_targets = y.shape[1] if y.ndim == 2 else 1
    if sample_weight is not None and not scalar:
        sw = _aligned("sample_weight", sample_weight, X, (1,))
        if sw.dtype.kind not in "biuf":
            raise ValueError(
                f"sample_weight must be numeric, got an array of dtype {sw.dtype}."
            )
    multilabel = not numeric and y.ndim == 2
    if numeric and y.dtype.kind not in "biuf":
        raise ValueError(
            f"y contains non-numeric values (dtype {y.dtype}). "
            f"{type(estimator).__name__} needs numeric targets."
        )

    y_blocks = y.to_delayed().ravel()
    sw_blocks = [None] * len(y_blocks) if sw is None else sw.to_delayed().ravel()
    todo: dict[str, Any] = {"finite": da.isfinite(X).all(), "peak": abs(X).max()}
    if numeric:
        todo["y_finite"] = da.isfinite(y).all()
        todo["y_peak"] = abs(y).max()
    elif multilabel:
        todo["indicator"] = [dask.delayed(_is_indicator)(b) for b in y_blocks]
    else:
        todo["labels"] = [
            dask.delayed(_label_weights)(b, w)
            for b, w in zip(y_blocks, sw_blocks, strict=True)
        ]
    if sw is not None:
        todo["sw"] = (
            da.isfinite(sw).all(),
            sw.min(),
            abs(sw).max(),
            sw.sum(dtype=np.float64),
        )
    # one compute: a y derived from X (or an X not persisted) costs one pass
    got = _compute_all(todo)

    if not got["finite"]:
        raise ValueError("X contains NaN or infinity.")
    _check_magnitude_peak(float(got["peak"]), X.shape[0], "X", dtype)
    constant, shift, peak = _weights(
        sample_weight if scalar else None, got.get("sw"), sw, dtype
    )
    weights = {"constant": constant, "sw_shift": shift}
    if numeric:
        if not got["y_finite"]:
            raise ValueError("y contains NaN or infinity.")
        if y.dtype.kind == "f":
            _check_magnitude_peak(float(got["y_peak"]), X.shape[0], "y", dtype)
        # a row of zeros of y's shape sets what a first call sets
        probe = np.zeros((1, *y.shape[1:]), dtype=y.dtype)
        estimator._validate_targets(
            probe, np.ones(1), dtype, reset=reset, classes=classes, warm=warm
        )
        enc = _Encoding("numeric", dtype, **weights)
    elif multilabel:
        if not all(got["indicator"]):
            raise ValueError(
                f"A 2-D y of {y.shape[1]} columns must be a label indicator matrix "
                f"(0/1) for {type(estimator).__name__}."
            )
        if estimator.class_weight is not None:
            raise ValueError("class_weight is not supported for multilabel y.")
        estimator._checked_codes(
            np.eye(y.shape[1], dtype=int), reset=reset, classes=classes, warm=warm
        )
        enc = _Encoding("indicator", dtype, **weights)
    else:
        labels, summed = _merge_labels(got["labels"])
        enc = _labels_encoding(
            estimator,
            labels,
            summed,
            dtype,
            peak,
            weights,
            reset=reset,
            classes=classes,
            warm=warm,
        )
        n_targets = 1 if enc.classes.size == 2 else enc.classes.size
    return DaskRows.encoded(X, y_blocks, sw_blocks, enc, n_targets)


def _compute_all(todo: dict[str, Any]) -> dict[str, Any]:
    """``dask.compute`` of a dict of collections and lists or tuples of
    them, all as delayed objects: dask 2026.8 returned the results of
    delayed calls and of array reductions computed together out of order."""
    dask, _ = _import_dask()
    from dask.delayed import Delayed

    def delayed(value):
        return value if isinstance(value, Delayed) else dask.delayed(np.asarray)(value)

    flat: list[Any] = []
    where: dict[str, tuple] = {}
    for name, value in todo.items():
        many = isinstance(value, list | tuple)
        items = list(value) if many else [value]
        where[name] = (len(flat), len(items), type(value) if many else None)
        flat.extend(delayed(v) for v in items)
    done = dask.compute(*flat)
    out = {}
    for name, (start, count, kind) in where.items():
        part = done[start : start + count]
        out[name] = part[0] if kind is None else kind(part)
    return out


def _weights(scalar, summary, sw, dtype) -> tuple[float, int, float]:
    """The weights' checks (as :func:`skgd._validation.check_sample_weight`):
    the weight of every row when no array is given, the power of two that
    keeps an array's weights in range, and their largest magnitude after
    it."""
    if scalar is not None:
        value = float(scalar)
        if not np.isfinite(value) or value < 0:
            raise ValueError(
                f"sample_weight must be finite and non-negative, got {scalar}."
            )
        if value == 0:
            raise ValueError("sample_weight must not be all zero: nothing to fit.")
        return value, 0, value
    if summary is None:
        return 1.0, 0, 1.0
    finite, low, peak, total = summary
    if not finite:
        raise ValueError("sample_weight contains NaN or infinity.")
    if low < 0:
        raise ValueError("Negative values in data passed to sample_weight")
    if not total > 0:
        raise ValueError("sample_weight must not be all zero: nothing to fit.")
    shift = rescale_shift(float(peak), dtype) if sw.dtype.kind == "f" else 0
    return 1.0, shift, float(np.ldexp(float(peak), shift))


def _labels_encoding(
    estimator, labels, summed, dtype, peak, weights, *, reset, classes, warm
):
    """The classes checked and set from the distinct labels, and the class
    weights from their summed weights."""
    with warnings.catch_warnings():
        # the distinct labels are all unique: not the warning's concern
        warnings.filterwarnings("ignore", message="The number of unique classes")
        estimator._checked_codes(labels, reset=reset, classes=classes, warm=warm)
    cw = None
    final = 0
    if estimator.class_weight is not None:
        present = np.searchsorted(estimator.classes_, labels)
        full = np.zeros(estimator.classes_.size)
        full[present] = summed
        cw = estimator._class_weight_vector(labels, summed)
        if not float(np.dot(full, cw)) > 0:
            raise ValueError(
                "class_weight and sample_weight give every sample weight 0."
            )
        # the products' largest magnitude is at most the two largest's
        final = rescale_shift(peak * float(np.max(cw)), dtype)
    return _Encoding(
        "labels",
        dtype,
        classes=estimator.classes_,
        class_weight=cw,
        final_shift=final,
        **weights,
    )


# -------------------------------------------------------------------- rows
def _apply(fn: Callable, X: Any, T: tuple, args: tuple) -> Any:
    return fn(X, T[0], T[1], *args)


def _apply_targets(fn: Callable, T: tuple, args: tuple) -> Any:
    return fn(T[0], T[1], *args)


def _weight_count(Y: Array, sw: Array) -> tuple[float, int]:
    return float(np.sum(sw, dtype=np.float64)), int(np.count_nonzero(sw))


def _kept(X: Any, T: tuple) -> tuple[Array, Array, Array]:
    """The training rows of a block, in memory."""
    Y, sw, keep = T
    X = np.asarray(X)
    if keep is None:
        return X, Y, sw
    return X[keep], Y[keep], sw[keep]


def _rows_of(X: Any, T: tuple, rows: Array) -> tuple[Array, Array, Array]:
    X, Y, sw = _kept(X, T)
    return X[rows], Y[rows], sw[rows]


def _split_chunk(T: tuple, fraction: float, seed: int, stratify: bool) -> tuple:
    """A chunk's training and validation rows (sorted), stratified by
    class where the chunk allows it."""
    Y = T[0]
    n = Y.shape[0]
    rng = np.random.RandomState(seed)
    if stratify:
        labels = np.argmax(Y, axis=1) if Y.shape[1] > 1 else Y[:, 0].astype(int)
        try:
            tr, va = train_test_split(
                np.arange(n), test_size=fraction, stratify=labels, random_state=rng
            )
            return np.sort(tr), np.sort(va)
        except ValueError:
            # a class of one row in this chunk, or fewer held-out rows than
            # classes: a plain random split
            return _random_split(n, fraction, rng)
    return _random_split(n, fraction, rng)


def _random_split(n: int, fraction: float, rng) -> tuple[Array, Array]:
    n_val = int(np.ceil(fraction * n))
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _masked(T: tuple, split: tuple) -> tuple:
    """The training view of a chunk: the held-out rows at weight 0."""
    Y, sw, _ = T
    sw = sw.copy()
    sw[split[1]] = 0
    return Y, sw, split[0]


def _held_out_rows(X: Any, split: tuple) -> Array:
    return np.asarray(X)[split[1]]


def _held_out_targets(T: tuple, split: tuple) -> tuple:
    Y, sw, _ = T
    return Y[split[1]], sw[split[1]], None


def _sizes(split: tuple) -> tuple[int, int]:
    return len(split[0]), len(split[1])


def _reweight(X: Any, T: tuple, fn: Callable, args: tuple) -> tuple:
    Y, sw, keep = T
    return Y, fn(X, Y, sw, *args), keep


class DaskRows:
    """Training rows whose blocks are the chunks of dask arrays (see
    :class:`skgd._data.ArrayRows` for the interface): full-batch sums run on
    the chunks where they live; batches stream chunk by chunk.

    ``blocks`` are ``(X_c, T_c)`` pairs of dask delayed objects (or futures):
    ``T_c = (Y_c, sw_c, keep_c)``; ``rows`` the training rows of each.
    """

    sparse = False
    local = False

    def __init__(
        self,
        blocks: list[tuple],
        rows: Any,
        n_features: int,
        dtype: Any,
        n_targets: int,
        keep_alive: Any = None,
    ) -> None:
        self._blocks = blocks
        self._rows = np.asarray(rows, dtype=np.intp)
        self._starts = np.concatenate([[0], np.cumsum(self._rows)]).astype(np.intp)
        self.shape = (int(self._starts[-1]), n_features)
        self.dtype = np.dtype(dtype)
        self.nnz = self.shape[0] * n_features
        self.n_targets = n_targets
        # the persisted pieces stay on the workers while this refers to them
        self._keep_alive = keep_alive
        self.stats = None
        self.weight, self.positive = self.target_sum(_weight_count)
        self.total = self.dtype.type(self.weight)

    @classmethod
    def encoded(cls, X, y_blocks, sw_blocks, enc: _Encoding, k: int) -> "DaskRows":
        """The rows of ``X`` with ``y`` and the weights encoded chunk by chunk
        on the workers, once, and kept there for the fit."""
        dask, _ = _import_dask()
        encode = dask.delayed(_encode_chunk, pure=True)
        targets = dask.persist(
            *[encode(y, w, enc) for y, w in zip(y_blocks, sw_blocks, strict=True)]
        )
        blocks = list(zip(X.to_delayed().ravel(), targets, strict=True))
        return cls(blocks, list(X.chunks[0]), X.shape[1], X.dtype, k, targets)

    # ----------------------------------------------------------- full batch
    def _calls(self, fn: Callable, args: tuple, targets_only: bool = False) -> list:
        """``fn`` of every block, lazily; ``args`` (the model, the
        parameters) are one node of the graph, which each worker receives
        once rather than once per chunk."""
        dask, _ = _import_dask()
        shared = dask.delayed(args, pure=False, traverse=False)
        if targets_only:
            call = dask.delayed(_apply_targets, pure=False)
            return [call(fn, t, shared) for _, t in self._blocks]
        call = dask.delayed(_apply, pure=False)
        return [call(fn, x, t, shared) for x, t in self._blocks]

    def _reduce(self, parts: list, op: Callable) -> Any:
        dask, _ = _import_dask()
        # reduced on the workers, in a tree: one result comes back
        merge = dask.delayed(combine, pure=False)
        while len(parts) > 1:
            parts = [merge(parts[i : i + 8], op) for i in range(0, len(parts), 8)]
        return parts[0].compute()

    def full_sum(self, fn: Callable, *args: Any) -> Any:
        return self._reduce(self._calls(fn, args), operator.add)

    def full_max(self, fn: Callable, *args: Any) -> Any:
        return self._reduce(self._calls(fn, args), np.maximum)

    def target_sum(self, fn: Callable, *args: Any) -> Any:
        return self._reduce(self._calls(fn, args, targets_only=True), operator.add)

    # ---------------------------------------------------------- mini-batches
    def batches(
        self, batch_size: int, shuffle: bool, rng, light: bool = False
    ) -> Iterator[tuple]:
        """Mini-batches chunk by chunk, in a shuffled chunk order and
        shuffled within each chunk; the next chunk is computed while the
        current one trains (with a distributed client). The chunks are
        dense: ``light`` changes nothing."""
        dask, _ = _import_dask()
        n_blocks = len(self._blocks)
        order = list(rng.permutation(n_blocks) if shuffle else range(n_blocks))
        client = _client()
        kept = dask.delayed(_kept, pure=True)

        def fetch(b):
            block = kept(*self._blocks[b])
            return client.compute(block) if client is not None else block

        def result(pending):
            return pending.result() if client is not None else pending.compute()

        pending = fetch(order[0]) if order else None
        for i, _ in enumerate(order):
            Xc, Yc, swc = result(pending)
            if i + 1 < len(order):
                pending = fetch(order[i + 1])
            rows = Xc.shape[0]
            perm = rng.permutation(rows) if shuffle else np.arange(rows)
            for s in range(0, rows, batch_size):
                idx = perm[s : s + batch_size]
                yield Xc[idx], Yc[idx], swc[idx]

    # ------------------------------------------------------------ other rows
    def head(self, rows: int) -> tuple[Array, Array]:
        dask, _ = _import_dask()
        first = int(np.argmax(self._rows > 0))
        X, Y, _ = dask.delayed(_rows_of)(
            *self._blocks[first], np.arange(min(rows, self._rows[first]))
        ).compute()
        return X, Y

    def take(self, rows: Array) -> ArrayRows:
        """The training rows at positions ``rows``, in memory."""
        dask, _ = _import_dask()
        rows = np.sort(rows)
        block = np.searchsorted(self._starts, rows, side="right") - 1
        parts = [
            dask.delayed(_rows_of)(*self._blocks[b], rows[block == b] - self._starts[b])
            for b in np.unique(block)
        ]
        got = dask.compute(*parts)
        return ArrayRows(*(np.concatenate(p, axis=0) for p in zip(*got, strict=True)))

    def reweighted_by(self, fn: Callable, *args: Any) -> "DaskRows":
        dask, _ = _import_dask()
        shared = dask.delayed(args, pure=False, traverse=False)
        call = dask.delayed(_reweight, pure=False)
        blocks = [(x, call(x, t, fn, shared)) for x, t in self._blocks]
        return DaskRows(
            blocks,
            self._rows,
            self.shape[1],
            self.dtype,
            self.n_targets,
            self._keep_alive,
        )

    def split(self, fraction: float, rng, stratify: bool) -> tuple:
        """Training and validation rows: ``fraction`` of every chunk held
        out (stratified by class within the chunk where it can be)."""
        dask, _ = _import_dask()
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(self._blocks))
        cut = dask.delayed(_split_chunk, pure=True)
        splits = dask.persist(
            *[
                cut(t, fraction, int(s), stratify)
                for (_, t), s in zip(self._blocks, seeds, strict=True)
            ]
        )
        pairs = list(zip(self._blocks, splits, strict=True))
        mask = dask.delayed(_masked, pure=True)
        rows_of = dask.delayed(_held_out_rows, pure=True)
        targets_of = dask.delayed(_held_out_targets, pure=True)
        train_t = dask.persist(*[mask(t, s) for (_, t), s in pairs])
        val_x = dask.persist(*[rows_of(x, s) for (x, _), s in pairs])
        val_t = dask.persist(*[targets_of(t, s) for (_, t), s in pairs])
        sizes = dask.compute(*[dask.delayed(_sizes)(s) for s in splits])
        keep = (self._keep_alive, splits, train_t, val_x, val_t)
        d, dtype, k = self.shape[1], self.dtype, self.n_targets
        train_blocks = [(x, t) for (x, _), t in zip(self._blocks, train_t, strict=True)]
        train = DaskRows(train_blocks, [a for a, _ in sizes], d, dtype, k, keep)
        val_blocks = list(zip(val_x, val_t, strict=True))
        val = DaskRows(val_blocks, [b for _, b in sizes], d, dtype, k, keep)
        return train, val


def score_blockwise(estimator, X, y, sample_weight, kind: str) -> float:
    """``score`` on a dask ``X``: R² (``kind='r2'``, averaged over the
    targets as r2_score) or the accuracy, from sums over the chunks taken
    where they live; no array of ``n_samples`` reaches the client."""
    dask, da = _import_dask()
    X = X.rechunk({1: -1})
    pred = estimator.predict(X)
    y = _aligned("y", y, X, (1, 2))
    if sample_weight is None:
        w = da.ones(X.shape[0], chunks=(X.chunks[0],))
    else:
        w = _aligned("sample_weight", sample_weight, X, (1,)).astype(np.float64)
    if kind == "accuracy":
        right = pred == y
        if right.ndim == 2:
            right = right.all(axis=1)  # multilabel: the whole label set
        hits, total = dask.compute(da.dot(right.astype(np.float64), w), w.sum())
        return float(hits / total)
    Y = y.astype(np.float64).reshape(X.shape[0], -1)
    P = pred.astype(np.float64).reshape(X.shape[0], -1)
    W = w[:, None]
    total, first = dask.compute(w.sum(), (Y * W).sum(axis=0))
    mean = first / total
    errors, spread = dask.compute(
        ((Y - P) ** 2 * W).sum(axis=0), ((Y - mean) ** 2 * W).sum(axis=0)
    )
    from skgd._regression import r2_from_sums

    return float(np.mean(r2_from_sums(errors, spread)))


def blockwise(method: Callable) -> Callable:
    """Let a prediction method take a dask array: it then returns a dask
    array computed chunk by chunk where the chunks live."""

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        if not is_dask_collection(X):
            return method(self, X, *args, **kwargs)
        check_is_fitted(self)
        X = X.rechunk({1: -1})
        # one row tells the output's dtype and width
        probe = method(self, np.zeros((1, X.shape[1]), dtype=X.dtype))

        def apply(block):
            return method(self, block, *args, **kwargs)

        if probe.ndim == 1:
            return X.map_blocks(apply, dtype=probe.dtype, drop_axis=1)
        return X.map_blocks(
            apply, dtype=probe.dtype, chunks=(X.chunks[0], (probe.shape[1],))
        )

    return wrapper
