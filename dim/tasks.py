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
