"""GDMLPClassifier against scikit-learn's MLPClassifier, side by side.

Both networks have one hidden layer of 64 ReLU units and run the same number
of epochs (``tol=0`` and ``n_iter_no_change=max_iter`` switch off early
stopping in both), with the same solver, learning rate, batch size and
momentum. scikit-learn adds ``0.5 * alpha * ||W||^2 / batch_size`` to each
batch loss, skgd adds ``0.5 * alpha * ||W||^2`` to the mean loss, so
``MLPClassifier(alpha=a)`` is matched by ``GDMLPClassifier(alpha=a / 200)``.

Reported: fit time per epoch (median of ``--repeats`` fits), final training
loss and test accuracy, and ``sklearn_time / skgd_time`` (> 1: skgd faster).

Usage::

    python benchmarks/bench_mlp.py                  # digits and synthetic
    python benchmarks/bench_mlp.py --quick          # digits, 10 epochs
"""

import argparse
import warnings

from _common import (
    add_common_arguments,
    blas_limit,
    describe_machine,
    median_time,
    print_table,
)
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skgd import GDMLPClassifier

HIDDEN = (64,)
BATCH = 200
ALPHA = 1e-4  # scikit-learn's default, per batch
RATES = {"adam": 1e-3, "sgd": 1e-2}


def datasets(seed, synthetic):
    X, y = load_digits(return_X_y=True)
    yield "digits", train_test_split(X / 16.0, y, test_size=0.25, random_state=seed)
    if synthetic:
        X, y = make_classification(
            n_samples=20_000,
            n_features=50,
            n_informative=30,
            n_classes=3,
            random_state=seed,
        )
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.25, random_state=seed
        )
        scaler = StandardScaler().fit(X_tr)
        yield (
            "synthetic 20000x50",
            (scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te),
        )


def estimators(solver, max_iter, seed):
    common = dict(
        hidden_layer_sizes=HIDDEN,
        solver=solver,
        learning_rate_init=RATES[solver],
        batch_size=BATCH,
        max_iter=max_iter,
        tol=0.0,
        n_iter_no_change=max_iter,
        momentum=0.9,
        nesterovs_momentum=True,
        random_state=seed,
    )
    return (
        ("MLPClassifier", MLPClassifier(alpha=ALPHA, **common)),
        ("GDMLPClassifier", GDMLPClassifier(alpha=ALPHA / BATCH, **common)),
    )


def bench_one(est, data, repeats):
    X_tr, X_te, y_tr, y_te = data

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
            return est.fit(X_tr, y_tr)

    seconds, est = median_time(fit, repeats)
    return {
        "epochs": est.n_iter_,
        "ms_per_epoch": 1e3 * seconds / est.n_iter_,
        "loss": est.loss_curve_[-1],
        "accuracy": est.score(X_te, y_te),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=50)
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: digits only, 10 epochs"
    )
    parser.add_argument("--no-synthetic", action="store_true")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.max_iter, args.no_synthetic = 10, True
    with blas_limit(args.blas_threads):
        print(f"hidden={HIDDEN}, batch_size={BATCH}, max_iter={args.max_iter}")
        print(f"median of {args.repeats} fits; {describe_machine()}")
        rows, ratios = [], []
        for name, data in datasets(args.seed, not args.no_synthetic):
            for solver in RATES:
                res = {}
                for label, est in estimators(solver, args.max_iter, args.seed):
                    res[label] = r = bench_one(est, data, args.repeats)
                    rows.append(
                        (
                            name,
                            solver,
                            label,
                            r["epochs"],
                            f"{r['ms_per_epoch']:.2f}",
                            f"{r['loss']:.4f}",
                            f"{r['accuracy']:.4f}",
                        )
                    )
                sk, gd = res["MLPClassifier"], res["GDMLPClassifier"]
                ratio = sk["ms_per_epoch"] / gd["ms_per_epoch"]
                delta = gd["accuracy"] - sk["accuracy"]
                ratios.append((name, solver, f"{ratio:.2f}", f"{delta:+.4f}"))
        print()
        print_table(
            (
                "data",
                "solver",
                "estimator",
                "epochs",
                "ms/epoch",
                "final loss",
                "test acc",
            ),
            rows,
        )
        print("\nratios sklearn_time / skgd_time per epoch (> 1: skgd faster)")
        print_table(("data", "solver", "time ratio", "acc skgd - sklearn"), ratios)


if __name__ == "__main__":
    main()
