"""Adversarial prior matching of Deep InfoMax: a discriminator between codes and samples of a
prior, the prior's samples, and a sliced-Wasserstein check of how close the codes came."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dim.errors import ConfigError

__all__ = ["PriorDiscriminator", "prior_space", "sample_prior", "sliced_wasserstein"]


class PriorDiscriminator(nn.Module):
    """The DIM paper's prior discriminator: MLP D -> 1000 -> 200 -> 1 (logits), ReLU."""

    def __init__(self, code_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(code_dim, 1000), nn.ReLU(), nn.Linear(1000, 200), nn.ReLU(), nn.Linear(200, 1)
        )

    def forward(self, codes: Tensor) -> Tensor:
        return self.net(codes).squeeze(-1)

    def loss(self, real: Tensor, fake: Tensor, gradient_penalty: float = 10.0, forward=None) -> tuple[Tensor, Tensor]:
        """Discriminator loss (prior samples = real, codes = fake, both detached) and accuracy.

        softplus(-D(real)) + softplus(D(fake)) + gp * E ||grad D(mix)||^2 at random mixes
        of real and fake (a zero-centred penalty that keeps D smooth). ``forward``: the
        module to call (e.g. this one wrapped in DDP); default self."""
        forward = forward or self
        real, fake = real.detach(), fake.detach()
        logits_real, logits_fake = forward(real), forward(fake)
        loss = F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean()
        if gradient_penalty > 0:
            weight = torch.rand(real.shape[0], 1, device=real.device)
            mix = (weight * real + (1 - weight) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(forward(mix).sum(), mix, create_graph=True)
            loss = loss + gradient_penalty * grad.pow(2).sum(1).mean()
        accuracy = 0.5 * ((logits_real > 0).float().mean() + (logits_fake < 0).float().mean())
        return loss, accuracy

    def generator_loss(self, fake: Tensor, forward=None) -> Tensor:
        """Non-saturating generator loss for the encoder: softplus(-D(code)). ``forward``: the
        module to call (e.g. this one wrapped in DDP); default self."""
        return F.softplus(-(forward or self)(fake)).mean()


def sample_prior(prior: str, n: int, dim: int, device=None, generator=None) -> Tensor:
    """n samples of the prior: "uniform" on [0, 1]^D or "gaussian" N(0, I)."""
    if prior == "uniform":
        return torch.rand(n, dim, generator=generator, device=device)
    if prior == "gaussian":
        return torch.randn(n, dim, generator=generator, device=device)
    raise ConfigError(f"unknown prior {prior!r}; choose uniform or gaussian")


def prior_space(codes: Tensor, prior: str) -> Tensor:
    """Codes mapped to the prior's support: sigmoid for the uniform prior, identity otherwise."""
    return torch.sigmoid(codes) if prior == "uniform" else codes


@torch.no_grad()
def sliced_wasserstein(a: Tensor, b: Tensor, projections: int = 256, seed: int = 0) -> float:
    """Sliced 1-Wasserstein distance between two equal-size samples (N, D): the mean over
    random unit directions of the 1-D W1 between the sorted projections."""
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(a.shape[1], projections, generator=generator)
    directions = directions / directions.norm(dim=0, keepdim=True)
    pa = torch.sort(a.float().cpu() @ directions, dim=0).values
    pb = torch.sort(b.float().cpu() @ directions, dim=0).values
    return float((pa - pb).abs().mean())
