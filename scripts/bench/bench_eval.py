"""Evaluation benchmarks: faiss k-NN against scikit-learn, the linear probe against scikit-learn.

    python scripts/bench/bench_eval.py [--train 50000] [--queries 10000] [--dim 512] [--repeats 3]

1. k-NN, majority vote, k = 20, cosine similarity: ``eval.knn.knn_predict(weighted=False)``
   with each exact backend ("faiss" IndexFlatIP, "torch" float32, "torch-bf16" certified
   bfloat16 search; all on L2-normalised features) against scikit-learn's
   ``KNeighborsClassifier(algorithm="brute", metric="cosine")`` on the same features (clustered
   Gaussian features, 100 classes): median seconds of ``--repeats`` runs each (normalise +
   search + vote for dim; fit + predict for scikit-learn), the ratios, and the fractions of
   identical predictions.
2. Linear probe on the raw pixels of the embedded digits (fixed 4,000 / 1,000 split):
   ``eval.linear.linear_probe`` (L-BFGS, weight decay chosen on a validation part) against
   scikit-learn's ``LogisticRegression`` on the same standardised pixels: both at the same
   regularisation (sklearn's default C = 1), plus dim's own weight-decay choice and sklearn's
   best C of a small sweep scored on the test split (an optimistic reference).
Everything is measured in this one run, on this machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dim.data import embedded_digits_split
from dim.jobs import median_ms
from eval.knn import BACKENDS, knn_predict
from eval.linear import linear_probe


def clustered_features(n: int, centres: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, dim) float32 around the class ``centres`` (classes, dim), with labels (n,)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(len(centres), size=n)
    features = centres[labels] + 6.0 * rng.standard_normal((n, centres.shape[1])).astype(np.float32)
    return features, labels


def knn_comparison(n_train: int, n_queries: int, dim: int, repeats: int) -> dict:
    from sklearn.neighbors import KNeighborsClassifier

    centres = np.random.default_rng(0).standard_normal((100, dim)).astype(np.float32)
    train_x, train_y = clustered_features(n_train, centres, seed=1)
    test_x, test_y = clustered_features(n_queries, centres, seed=2)
    predictions, seconds = {}, {}
    for backend in BACKENDS:
        def run(backend=backend):
            predictions[backend] = knn_predict(train_x, train_y, test_x, k=20, weighted=False, backend=backend)

        seconds[backend] = median_ms(run, repeats, warmup=0) / 1000

    def sklearn_run():
        model = KNeighborsClassifier(n_neighbors=20, algorithm="brute", metric="cosine", weights="uniform")
        predictions["sklearn"] = model.fit(train_x, train_y).predict(test_x)

    seconds["sklearn"] = median_ms(sklearn_run, repeats, warmup=0) / 1000
    results = {"train x dim": f"{n_train} x {dim}", "queries": n_queries, "sklearn median s": seconds["sklearn"]}
    for backend in BACKENDS:
        results[f"{backend} median s"] = seconds[backend]
        results[f"speed-up {backend} (sklearn / {backend})"] = seconds["sklearn"] / seconds[backend]
        results[f"{backend} = sklearn predictions"] = float((predictions[backend] == predictions["sklearn"]).mean())
    results["sklearn top1"] = float((predictions["sklearn"] == test_y).mean())
    return results


def linear_comparison() -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    data = embedded_digits_split()
    train_x, test_x = data.train.samples.flatten(1).numpy(), data.test.samples.flatten(1).numpy()
    train_y, test_y = data.train.labels.numpy(), data.test.labels.numpy()
    start = time.perf_counter()
    ours = linear_probe(train_x, train_y, test_x, test_y, seed=0)
    ours_s = time.perf_counter() - start
    # sklearn minimises C * sum(CE) + |W|^2 / 2, i.e. mean(CE) + |W|^2 / (2 C N): the same
    # regularisation as C = 1 is weight decay 1 / (2 N) in linear_probe's mean-CE objective
    matched = linear_probe(train_x, train_y, test_x, test_y, weight_decays=(1 / (2 * len(train_x)),), seed=0)
    scaler = StandardScaler().fit(train_x)
    xs, xt = scaler.transform(train_x), scaler.transform(test_x)
    start = time.perf_counter()
    default = LogisticRegression(max_iter=2000).fit(xs, train_y).score(xt, test_y)
    sklearn_s = time.perf_counter() - start
    sweep = {c: LogisticRegression(C=c, max_iter=2000).fit(xs, train_y).score(xt, test_y) for c in (0.01, 0.1, 1.0, 10.0)}
    return {
        "dim linear_probe top1": ours["top1"],
        "dim chosen weight decay": ours["weight_decay"],
        "dim seconds": ours_s,
        "dim linear_probe at sklearn's C=1 top1": matched["top1"],
        "sklearn LogisticRegression (C=1) top1": float(default),
        "sklearn seconds": sklearn_s,
        "sklearn best C on test": max(sweep, key=sweep.get),
        "sklearn best-C top1": float(max(sweep.values())),
        "difference at equal regularisation (points)": 100 * (matched["top1"] - default),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="optional JSON file for the figures")
    parser.add_argument("--skip-linear", action="store_true", help="run the k-NN comparison only")
    args = parser.parse_args()
    results = {"knn": knn_comparison(args.train, args.queries, args.dim, args.repeats)}
    for key, value in results["knn"].items():
        print(f"knn  {key:44s} {value:.3f}" if isinstance(value, float) else f"knn  {key:44s} {value}")
    if not args.skip_linear:
        results["linear"] = linear_comparison()
        for key, value in results["linear"].items():
            print(f"linear  {key:40s} {value:.4g}" if isinstance(value, float) else f"linear  {key:40s} {value}")
    if args.out:
        from dim.io import write_json_atomic

        write_json_atomic(args.out, results)


if __name__ == "__main__":
    main()
