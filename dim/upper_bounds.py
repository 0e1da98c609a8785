"""Bounds on I(X; Z) that use a known (or learned) conditional density p(z|x), as pure functions.

Log-density layout (one convention for every function here)
-----------------------------------------------------------
A batch of K pairs (x_i, z_i), z_i ~ p(z|x_i), gives the matrix ``log_p`` of shape (K, K) with
``log_p[i, j] = log p(z_i | x_j)``: row i scores the code z_i under every input of the batch;
the diagonal holds the code's own input. (Compare :mod:`dim.bounds`, whose ``scores[i, j]``
are critic values T(x_i, y_j); here the densities replace the critic, so nothing is trained.)
:func:`gaussian_log_likelihoods` builds the matrix for diagonal Gaussian conditionals.

Each bound is the mean over rows of a per-row term; ``reduction="none"`` returns the K terms
(for bootstrap intervals over rows), ``"mean"`` (default) their mean. Values in nats, float32
out, computed with ``logsumexp`` (and float64 for the Gaussian quadratic forms).

Which are bounds (Poole et al., 2019; Cheng et al., 2020; Sobolev's notes):
lower  :func:`infonce_likelihood_bound` (<= log K always);
upper  :func:`leave_one_out_upper_bound`, :func:`variational_marginal_upper_bound`,
       :func:`club_upper_bound` with the true p(z|x). With a learned q(z|x) (vCLUB) the CLUB
       value is an estimate, an upper bound only when q is close enough to p (see there).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dim.errors import DataError

__all__ = [
    "club_upper_bound",
    "gaussian_kl",
    "gaussian_log_likelihood",
    "gaussian_log_likelihoods",
    "infonce_likelihood_bound",
    "leave_one_out_upper_bound",
    "moment_matched_marginal",
    "variational_marginal_upper_bound",
]

LOG_2PI = math.log(2.0 * math.pi)


def _check_log_p(log_p: Tensor, minimum: int) -> Tensor:
    if log_p.dim() != 2 or log_p.shape[0] != log_p.shape[1]:
        raise DataError(
            f"log_p must be a square (K, K) matrix with log_p[i, j] = log p(z_i | x_j), got shape "
            f"{tuple(log_p.shape)}; score every code of the batch under every input of the same batch"
        )
    if log_p.shape[0] < minimum:
        raise DataError(f"log_p has K = {log_p.shape[0]} rows; this bound needs a batch of at least {minimum} pairs")
    if torch.isnan(log_p).any() or torch.isposinf(log_p).any():
        raise DataError("log_p holds NaN or +inf; check the encoder's variance (a zero variance gives +inf densities)")
    return log_p.float()


def _reduce(terms: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return terms.mean()
    if reduction == "none":
        return terms
    raise DataError(f"unknown reduction {reduction!r}; choose mean or none")


def _off_diagonal(log_p: Tensor) -> Tensor:
    """(K, K - 1): row i without its diagonal entry."""
    k = log_p.shape[0]
    keep = ~torch.eye(k, dtype=torch.bool, device=log_p.device)
    return log_p[keep].view(k, k - 1)


def infonce_likelihood_bound(log_p: Tensor, reduction: str = "mean") -> Tensor:
    """InfoNCE with the known likelihood: a lower bound on I(X; Z), in nats.

    I_NCE = mean_i [ log p(z_i|x_i) - log (1/K) sum_j p(z_i|x_j) ]   (j over all K, i included).

    log_p (K, K) as in the module docstring. It is :func:`dim.bounds.infonce_bound` with the
    optimal critic log p(z|x) (so nothing is trained). Bias: always <= log K (each term is
    log K minus a log-softmax), so it under-reads once I approaches log K; E[I_NCE] <= I for
    every K and rises to I as K -> inf (Poole et al., 2019, eq. 12). Low variance.
    """
    log_p = _check_log_p(log_p, 2)
    terms = log_p.diagonal() - torch.logsumexp(log_p, dim=1) + math.log(log_p.shape[0])
    return _reduce(terms, reduction)


def leave_one_out_upper_bound(log_p: Tensor, reduction: str = "mean") -> Tensor:
    """Leave-one-out (minibatch) upper bound on I(X; Z), in nats.

    I_LOO = mean_i [ log p(z_i|x_i) - log (1/(K-1)) sum_{j != i} p(z_i|x_j) ].

    log_p (K, K). The inner mean over the K - 1 other inputs is an unbiased estimate of the
    marginal p(z_i), and log of it is biased low (Jensen), so E[I_LOO] >= I for every K
    (Poole et al., 2019, eq. 13); the gap shrinks to 0 as K -> inf. Bias: large when K is
    small compared with e^I (the other inputs rarely explain z_i); no ceiling: a single row
    whose code no other input explains can read very high, so the variance is large then.
    """
    log_p = _check_log_p(log_p, 2)
    terms = log_p.diagonal() - torch.logsumexp(_off_diagonal(log_p), dim=1) + math.log(log_p.shape[0] - 1)
    return _reduce(terms, reduction)


def club_upper_bound(log_p: Tensor, reduction: str = "mean") -> Tensor:
    """CLUB, the contrastive log-ratio upper bound (Cheng et al., 2020), in nats.

    I_CLUB = E_{p(x,z)}[log p(z|x)] - E_{p(x)p(z)}[log p(z|x)]
           ~ mean_i [ log p(z_i|x_i) - (1/(K-1)) sum_{j != i} log p(z_i|x_j) ].

    log_p (K, K). With the true conditional, I_CLUB >= I (Cheng et al., Thm 3.1; the gap is
    E_z[ KL-like Jensen gap of log p(z) ] and grows with I: on d-dimensional Gaussians with
    correlation rho it reads d rho^2 / (1 - rho^2) against I = -(d/2) log(1 - rho^2)). The
    sample value is unbiased for I_CLUB (both terms are plain means; the off-diagonal mean is
    used, where Cheng et al. average all K^2 entries, a difference of O(1/K)).
    vCLUB: pass log q(z_i|x_j) of a learned q (:class:`dim.variational.VariationalCLUB`); then
    the value is an upper bound only when KL(p(x,z) || q(z|x)p(x)) <= KL(p(x)p(z) || q(z|x)p(x))
    (Cheng et al., Thm 3.2), otherwise an estimate that can fall below I.
    """
    log_p = _check_log_p(log_p, 2)
    terms = log_p.diagonal() - _off_diagonal(log_p).mean(dim=1)
    return _reduce(terms, reduction)


def gaussian_log_likelihoods(z: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    """log N(z_i; mean_j, diag(exp(log_var_j))) for every pair: (K, D) x (M, D) x (M, D) -> (K, M).

    The layout of this module: entry [i, j] is log p(z_i | x_j) when mean_j, log_var_j are the
    parameters of p(z | x_j). The quadratic form is expanded into matrix products in float64
    (sum_d z^2/v - 2 z m / v + m^2 / v), so memory is O(K M), not O(K M D).
    """
    if z.dim() != 2 or mean.dim() != 2 or mean.shape != log_var.shape or z.shape[1] != mean.shape[1]:
        raise DataError(
            f"z {tuple(z.shape)}, mean {tuple(mean.shape)} and log_var {tuple(log_var.shape)} must be (K, D), "
            "(M, D), (M, D) with the same code width D"
        )
    z, mean, log_var = z.double(), mean.double(), log_var.double()
    precision = torch.exp(-log_var)
    quadratic = (z * z) @ precision.T - 2.0 * z @ (mean * precision).T + (mean * mean * precision).sum(1)
    log_norm = -0.5 * (log_var.sum(1) + z.shape[1] * LOG_2PI)
    return (log_norm - 0.5 * quadratic).float()


def gaussian_log_likelihood(z: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    """log N(z_i; mean_i, diag(exp(log_var_i))) for paired rows: (N, D) x3 -> (N,), nats
    (the diagonal of :func:`gaussian_log_likelihoods`, differentiable, in the input dtype)."""
    return -0.5 * ((z - mean) ** 2 * torch.exp(-log_var) + log_var + LOG_2PI).sum(1)


def gaussian_kl(
    mean: Tensor, log_var: Tensor, prior_mean: Tensor | None = None, prior_log_var: Tensor | None = None
) -> Tensor:
    """KL( N(mean, diag e^log_var) || N(prior_mean, diag e^prior_log_var) ) per row, in nats.

    mean, log_var (N, D); the prior's (D,) or (N, D), default the standard normal. Returns (N,):
    (1/2) sum_d [ log v_r - log v + (v + (m - m_r)^2) / v_r - 1 ].
    """
    prior_mean = torch.zeros_like(mean) if prior_mean is None else prior_mean
    prior_log_var = torch.zeros_like(log_var) if prior_log_var is None else prior_log_var
    mean, log_var = mean.double(), log_var.double()
    prior_mean, prior_log_var = prior_mean.double(), prior_log_var.double()
    ratio = torch.exp(log_var - prior_log_var)
    kl = 0.5 * (prior_log_var - log_var + ratio + (mean - prior_mean) ** 2 * torch.exp(-prior_log_var) - 1.0)
    return kl.sum(dim=-1).float()


def variational_marginal_upper_bound(
    mean: Tensor,
    log_var: Tensor,
    prior_mean: Tensor | None = None,
    prior_log_var: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """The variational marginal upper bound (the VIB rate), in nats.

    I(X; Z) = E_x KL(p(z|x) || r(z)) - KL(p(z) || r(z)) <= E_x KL(p(z|x) || r(z))

    for any density r; here p(z|x) = N(mean(x), diag e^log_var(x)) (rows of mean, log_var (N, D))
    and r = N(prior_mean, diag e^prior_log_var), the standard normal by default (Alemi et al.'s
    VIB), or a learned r (:func:`moment_matched_marginal`, :class:`dim.variational.GaussianMarginal`).
    Bias: exactly KL(p(z) || r) >= 0, zero when r is the true marginal; it does not shrink with
    more samples, only with a better r. No ceiling; the per-row KL has finite variance.
    """
    if mean.dim() != 2 or mean.shape != log_var.shape:
        raise DataError(f"mean {tuple(mean.shape)} and log_var {tuple(log_var.shape)} must both be (N, D)")
    return _reduce(gaussian_kl(mean, log_var, prior_mean, prior_log_var), reduction)


def moment_matched_marginal(mean: Tensor, log_var: Tensor) -> tuple[Tensor, Tensor]:
    """The diagonal Gaussian r that minimises E_x KL(p(z|x) || r) for Gaussian p(z|x), in closed form.

    mean, log_var (N, D) of p(z|x_n). Returns (prior_mean (D,), prior_log_var (D,)):
    r's mean = mean_n mean_n, r's variance = mean_n e^log_var_n + var_n(mean_n) (the moments of
    the mixture (1/N) sum_n p(z|x_n)). Fitted and evaluated on the same rows, the bound reads
    lower than on fresh rows by O(D / N) nats.
    """
    mean, log_var = mean.double(), log_var.double()
    prior_mean = mean.mean(0)
    variance = torch.exp(log_var).mean(0) + mean.var(0, unbiased=False)
    return prior_mean.float(), torch.log(variance).float()
