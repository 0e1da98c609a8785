"""Learned densities for the upper bounds: a conditional q(z|x) (vCLUB) and a marginal r(z) (VIB).

These hold parameters, so they are modules; the mathematics is in :mod:`dim.upper_bounds`.

* :class:`GaussianConditional` q(z|x) = N(mu(x), diag e^{s(x)}), an MLP, fitted by maximum
  likelihood on pairs (x, z) (``learning_loss``);
* :class:`VariationalCLUB` vCLUB (Cheng et al., 2020): CLUB with that learned q, for encoders
  whose own p(z|x) is unknown (propagated noise, or any pair of variables);
* :class:`GaussianMarginal` a learned diagonal Gaussian r(z) for the variational marginal bound.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dim.critics import mlp
from dim.stochastic import MAX_LOG_VAR, MIN_LOG_VAR, GaussianParameters
from dim.upper_bounds import (
    club_upper_bound,
    gaussian_log_likelihood,
    gaussian_log_likelihoods,
    variational_marginal_upper_bound,
)

__all__ = ["GaussianConditional", "GaussianMarginal", "VariationalCLUB"]


class GaussianConditional(nn.Module):
    """q(z|x): x (N, x_dim) -> mean, log_var (N, z_dim); an MLP with ``layers`` hidden layers."""

    def __init__(self, x_dim: int, z_dim: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.net = mlp(x_dim, hidden, 2 * z_dim, layers)

    def forward(self, x: Tensor) -> GaussianParameters:
        mean, log_var = self.net(x.flatten(1)).chunk(2, dim=1)
        return GaussianParameters(mean, log_var.clamp(MIN_LOG_VAR, MAX_LOG_VAR))

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """mean_i log q(z_i | x_i), nats (paired rows)."""
        return gaussian_log_likelihood(z, *self(x)).mean()

    def log_prob_matrix(self, x: Tensor, z: Tensor) -> Tensor:
        """log q(z_i | x_j): (K, K), the layout of :mod:`dim.upper_bounds`."""
        return gaussian_log_likelihoods(z, *self(x))


class VariationalCLUB(nn.Module):
    """vCLUB: ``forward(x, z)`` is :func:`dim.upper_bounds.club_upper_bound` of a learned q(z|x).

    Train q with ``learning_loss(x, z)`` (negative log-likelihood of the paired rows; pass z
    detached so that only q learns) on its own optimizer; minimise ``forward(x, z)`` through the
    encoder to lower I(X; Z). The value is an upper bound only while q is good enough (see
    :func:`club_upper_bound`); it is otherwise an estimate.
    """

    def __init__(self, x_dim: int, z_dim: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.q = GaussianConditional(x_dim, z_dim, hidden, layers)

    def learning_loss(self, x: Tensor, z: Tensor) -> Tensor:
        return -self.q.log_likelihood(x, z)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return club_upper_bound(self.q.log_prob_matrix(x, z))


class GaussianMarginal(nn.Module):
    """A learned r(z) = N(mean, diag e^log_var), (z_dim,) parameters, initialised to N(0, I).

    ``forward(mean, log_var)`` of the encoder's p(z|x) rows gives the variational marginal upper
    bound E_x KL(p(z|x) || r) (:func:`dim.upper_bounds.variational_marginal_upper_bound`);
    minimising it over r's parameters tightens it (its optimum is the moment-matched Gaussian).
    """

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(z_dim))
        self.log_var = nn.Parameter(torch.zeros(z_dim))

    def forward(self, mean: Tensor, log_var: Tensor) -> Tensor:
        return variational_marginal_upper_bound(mean, log_var, self.mean, self.log_var)
