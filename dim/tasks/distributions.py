"""Benchmark distributions with a closed-form (or exactly reducible) I(X; Y): multinormal,
Student-t, warped marginals, additive uniform noise; ``DISTRIBUTION_TASKS`` names them."""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import digamma, gammaln, ndtr

from dim.tasks.gaussian import _logdet, gaussian_rho_for_mi

__all__ = [
    "DISTRIBUTION_TASKS", "sparse_correlation", "dense_correlation", "multinormal_mi", "sample_multinormal",
    "student_t_correction", "student_t_mi", "student_t_log_ratio", "sample_student_t", "normal_cdf_warp",
    "half_cube_warp", "spiral_warp", "bmi_spiral", "sample_warped_multinormal", "additive_uniform_mi",
    "additive_uniform_log_ratio", "sample_additive_uniform", "DistributionTask"
]


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
