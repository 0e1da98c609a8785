"""Gaussian and additive-noise pairs whose I(X; Y) has a closed form (or a 1-D integral)."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "gaussian_mi", "gaussian_rho_for_mi", "sample_correlated_gaussians", "gaussian_channel_mi",
    "gaussian_channel_gain", "ADDITIVE_NOISE_FUNCTIONS", "sample_additive_noise", "additive_noise_mi"
]


def _logdet(matrix: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(matrix)
    if sign <= 0:
        raise ValueError("the correlation matrix must be positive definite")
    return float(value)


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


def gaussian_channel_mi(matrix: np.ndarray, sigma: float) -> float:
    """I(X; Z) for the Gaussian channel Z = A X + sigma * eps, X ~ N(0, I_d), eps ~ N(0, I_k):
    (1/2) log det(I_k + A A^T / sigma^2), in nats. ``matrix`` is A, shape (k, d)."""
    a = np.asarray(matrix, dtype=np.float64)
    return 0.5 * _logdet(np.eye(a.shape[0]) + a @ a.T / sigma**2)


def gaussian_channel_gain(mi_nats: float, dim: int, sigma: float) -> float:
    """The gain a for which Z = a X + sigma * eps in R^dim carries ``mi_nats``:
    (dim / 2) log(1 + a^2 / sigma^2) = mi_nats, so a = sigma sqrt(exp(2 mi / dim) - 1)."""
    return sigma * math.sqrt(math.expm1(2.0 * mi_nats / dim))


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
