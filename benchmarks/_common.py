"""Helpers shared by the benchmark scripts: timing, BLAS report, tables."""

import argparse
import os
import statistics
import time
from contextlib import nullcontext

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # optional: only used to report and pin BLAS threads
    threadpool_info = threadpool_limits = None


def median_time(fn, repeats):
    """Median wall time of ``fn()`` over ``repeats`` calls, and its last result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def blas_limit(n_threads):
    """A context pinning BLAS to ``n_threads`` (None: leave it as it is)."""
    if n_threads is None:
        return nullcontext()
    if threadpool_limits is None:
        raise SystemExit("--blas-threads needs threadpoolctl")
    return threadpool_limits(n_threads, user_api="blas")


def describe_machine():
    """One line on the BLAS libraries and their threads, one on the load."""
    if threadpool_info is None:
        blas = "threadpoolctl not installed; BLAS threads unknown"
    else:
        libs = [p for p in threadpool_info() if p["user_api"] == "blas"]
        blas = ", ".join(
            f"{p['internal_api']} {p.get('version')} ({p['num_threads']} threads)"
            for p in libs
        )
    load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    return f"BLAS: {blas or 'none detected'}\nload average at start: {load}"


def add_common_arguments(parser):
    parser.add_argument("--repeats", type=int, default=3, help="median of so many")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads (needs threadpoolctl); default: leave as is",
    )


def target_parser(doc):
    """The parser of a script measuring issue 10's setting: ``--quick`` (a
    tenth of the rows) and ``--blas-threads`` (default 1, both sides)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--blas-threads", type=int, default=1)
    return parser


def mlp_setting(doc, epochs, argv=None):
    """The command line of a script on target 3's data (``--quick``,
    ``--blas-threads``, ``--epochs``), after printing the machine: the
    parsed arguments and the data, 50,000 x 100 (with ``--quick`` 5,000)
    in 10 classes."""
    from sklearn.datasets import make_classification

    parser = target_parser(doc)
    parser.add_argument("--epochs", type=int, default=epochs)
    args = parser.parse_args(argv)
    n = 5_000 if args.quick else 50_000
    X, y = make_classification(n, 100, n_informative=50, n_classes=10, random_state=0)
    print(describe_machine())
    return args, X, y


def print_table(header, rows):
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
