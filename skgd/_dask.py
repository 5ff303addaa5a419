"""Training rows and predictions on dask arrays (the ``skgd[dask]`` extra).

:class:`DaskRows` is the second implementation of the data interface the
training loop uses (see :class:`skgd._data.ArrayRows`): a full-batch sum is
mapped over the chunks of ``X`` where they live and reduced there, so only
parameter-sized results reach the client; mini-batches stream, one chunk
computed ahead while the client trains on the current one. The encoded
targets and the weights (``n x k``, small next to ``X``) are validated in
memory, as for arrays, and sent to the workers once per fit, in chunks
aligned with those of ``X``.

Nothing here is imported unless a dask collection is passed.
"""

import functools
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted
from sklearn.utils.validation import validate_data as check_features

from skgd._data import ArrayRows, combine, is_dask_collection
from skgd._validation import _check_magnitude_peak, validate_data

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


def validate_dask(estimator, X, y, sample_weight, *, reset: bool):
    """``X`` checked without computing it whole (one reduction for finite
    values and magnitude); ``y`` and ``sample_weight`` brought into memory.

    Returns ``(X, y, sample_weight)``: ``X`` a float dask array in one
    column chunk, with known row chunks.
    """
    dask, da = _import_dask()
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
    X = X.rechunk({1: -1})
    # one compute: a y derived from X (or an X not persisted) costs one pass
    finite, peak, y, sample_weight = dask.compute(
        da.isfinite(X).all(), abs(X).max(), y, sample_weight
    )
    y = validate_data(
        estimator,
        y=np.asarray(y),
        multi_output=True,
        y_numeric=estimator._y_numeric,
    )
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"X has {X.shape[0]} samples but y has {y.shape[0]}: they must match."
        )
    if not finite:
        raise ValueError("X contains NaN or infinity.")
    _check_magnitude_peak(float(peak), X.shape[0], "X", X.dtype)
    if sample_weight is not None and not np.isscalar(sample_weight):
        sample_weight = np.asarray(sample_weight)
    return X, y, sample_weight


class DaskRows:
    """Training rows whose ``X`` is a dask array (see
    :class:`skgd._data.ArrayRows` for the interface): full-batch sums run on
    the chunks where they live; batches stream chunk by chunk."""

    sparse = False

    def __init__(self, X: Any, Y: Array, sw: Array) -> None:
        dask, da = _import_dask()
        self.X, self.Y, self.sw = X, Y, sw
        self.shape = X.shape
        self.dtype = X.dtype
        self.nnz = X.shape[0] * X.shape[1]
        self.total = sw.sum()
        rows = X.chunks[0]
        self._starts = np.concatenate([[0], np.cumsum(rows)]).astype(np.intp)
        # targets and weights travel to the workers once, aligned with X, and
        # are held here: the workers keep them while something refers to them
        bounds = list(itertools.pairwise(self._starts))
        client = _client()
        if client is not None:
            self._targets = (
                client.scatter([Y[a:b] for a, b in bounds]),
                client.scatter([sw[a:b] for a, b in bounds]),
            )
            Y_blocks, sw_blocks = self._targets
        else:
            Yd = da.from_array(Y, chunks=(rows, Y.shape[1]))
            swd = da.from_array(sw, chunks=(rows,))
            self._targets = Yd, swd = dask.persist(Yd, swd)
            Y_blocks, sw_blocks = Yd.to_delayed().ravel(), swd.to_delayed().ravel()
        self._blocks = list(
            zip(X.to_delayed().ravel(), Y_blocks, sw_blocks, strict=True)
        )

    # ----------------------------------------------------------- full batch
    def _calls(self, fn: Callable, args: tuple) -> list[Any]:
        """``fn(X_c, Y_c, sw_c, *args)`` of every chunk, lazily; ``args``
        (the model, the parameters) are one node of the graph, which each
        worker receives once rather than once per chunk."""
        dask, _ = _import_dask()
        shared = dask.delayed(args, pure=False, traverse=False)
        call = dask.delayed(_apply, pure=False)
        return [call(fn, x, y, w, shared) for x, y, w in self._blocks]

    def _reduce(self, fn: Callable, args: tuple, op: Callable) -> Any:
        dask, _ = _import_dask()
        parts = self._calls(fn, args)
        # reduced on the workers, in a tree: one result comes back
        merge = dask.delayed(combine, pure=False)
        while len(parts) > 1:
            parts = [merge(parts[i : i + 8], op) for i in range(0, len(parts), 8)]
        return parts[0].compute()

    def full_sum(self, fn: Callable, *args: Any) -> Any:
        return self._reduce(fn, args, np.add)

    def full_max(self, fn: Callable, *args: Any) -> Any:
        return self._reduce(fn, args, np.maximum)

    def map_rows(self, fn: Callable, *args: Any) -> Any:
        dask, _ = _import_dask()
        return np.concatenate(dask.compute(*self._calls(fn, args)), axis=0)

    # ---------------------------------------------------------- mini-batches
    def batches(self, batch_size: int, shuffle: bool, rng) -> Iterator[tuple]:
        """Mini-batches chunk by chunk, in a shuffled chunk order and
        shuffled within each chunk; the next chunk is computed while the
        current one trains (with a distributed client)."""
        order = (
            rng.permutation(len(self._blocks)) if shuffle else range(len(self._blocks))
        )
        order = list(order)
        client = _client()

        def fetch(b):
            block = self._blocks[b][0]
            return client.compute(block) if client is not None else block

        def result(pending):
            return pending.result() if client is not None else pending.compute()

        pending = fetch(order[0]) if order else None
        for i, b in enumerate(order):
            Xc = np.asarray(result(pending))
            if i + 1 < len(order):
                pending = fetch(order[i + 1])
            start, rows = self._starts[b], Xc.shape[0]
            perm = rng.permutation(rows) if shuffle else np.arange(rows)
            for s in range(0, rows, batch_size):
                idx = perm[s : s + batch_size]
                yield Xc[idx], self.Y[start + idx], self.sw[start + idx]

    # ------------------------------------------------------------ other rows
    def head(self, rows: int) -> Array:
        return np.asarray(self.X[:rows].compute())

    def subset(self, rows: Array) -> "DaskRows":
        rows = np.sort(rows)
        return DaskRows(self.X[rows], self.Y[rows], self.sw[rows])

    def take(self, rows: Array) -> ArrayRows:
        rows = np.sort(rows)
        return ArrayRows(
            np.asarray(self.X[rows].compute()), self.Y[rows], self.sw[rows]
        )

    def reweighted(self, sw: Array) -> "DaskRows":
        return DaskRows(self.X, self.Y, sw)


def _apply(fn: Callable, X: Any, Y: Array, sw: Array, args: tuple) -> Any:
    return fn(X, Y, sw, *args)


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
