"""Generators, discriminators and statistics networks for the MINE paper's generative experiments.

Vectors (2-D mixtures), after the MINE appendix: the generator is fully connected with batch
normalisation and leaky ReLUs (as in ALI); the discriminator and the statistics network are
fully connected. Images (Stacked MNIST, digits), DCGAN-style (Radford et al., 2016) at 32 x 32:
transposed convolutions 4 -> 8 -> 16 -> 32 in the generator, strided convolutions back in the
discriminator. The image statistics network is the DCGAN discriminator with ELUs and no batch
normalisation, conditioned on the code c by a linear map per layer whose output is added to
that layer's feature maps as a per-channel bias (the MINE appendix's "dynamic bias").

Statistics networks here are *pointwise*: ``T(x, c) -> (N,)`` for N pairs; use them with
``MutualInformation(..., marginal="shuffle")`` (negatives from a permutation of c).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dim.critics import ELU

__all__ = [
    "MLPGenerator",
    "MLPDiscriminator",
    "VectorStatistics",
    "ConvGenerator",
    "ConvDiscriminator",
    "ConvStatistics",
    "JointMLPDiscriminator",
    "JointConvDiscriminator",
]


def _dense_stack(in_dim: int, hidden: int, layers: int, activation: type[nn.Module], batchnorm: bool) -> list[nn.Module]:
    modules: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        modules.append(nn.Linear(width, hidden))
        if batchnorm:
            modules.append(nn.BatchNorm1d(hidden))
        modules.append(activation(0.2) if activation is nn.LeakyReLU else activation())
        width = hidden
    return modules


class MLPGenerator(nn.Module):
    """G(z): latent (N, latent_dim) -> samples (N, out_dim); ``layers`` hidden layers of ``hidden``
    units, each Linear -> BatchNorm -> LeakyReLU(0.2), then a linear output."""

    def __init__(self, latent_dim: int, out_dim: int = 2, hidden: int = 400, layers: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(*_dense_stack(latent_dim, hidden, layers, nn.LeakyReLU, True), nn.Linear(hidden, out_dim))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """D(x): samples (N, in_dim) -> logits (N,); ``layers`` hidden layers, LeakyReLU(0.2)."""

    def __init__(self, in_dim: int = 2, hidden: int = 400, layers: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(*_dense_stack(in_dim, hidden, layers, nn.LeakyReLU, False), nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


class VectorStatistics(nn.Module):
    """T(x, c) = MLP([x, c]) -> (N,): the MINE statistics network on vectors, ELU activations."""

    def __init__(self, x_dim: int, c_dim: int, hidden: int = 400, layers: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(*_dense_stack(x_dim + c_dim, hidden, layers, ELU, False), nn.Linear(hidden, 1))

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        return self.net(torch.cat([x.flatten(1), c.flatten(1)], dim=1)).squeeze(-1)


class JointMLPDiscriminator(MLPDiscriminator):
    """D(x, z) = MLPDiscriminator([x, z]) -> logits (N,) on pairs of vectors x (N, x_dim) and
    codes z (N, z_dim): ALI's joint discriminator for 2-D data."""

    def __init__(self, x_dim: int, z_dim: int, hidden: int = 400, layers: int = 3) -> None:
        super().__init__(x_dim + z_dim, hidden, layers)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return super().forward(torch.cat([x.flatten(1), z.flatten(1)], dim=1))


class ConvGenerator(nn.Module):
    """DCGAN generator: latent (N, latent_dim) -> images (N, channels, 32, 32) in [0, 1].

    latent -> (4 width, 4, 4) -> (2 width, 8, 8) -> (width, 16, 16) -> (channels, 32, 32);
    batch norm and ReLU between layers, sigmoid output.
    """

    def __init__(self, latent_dim: int, channels: int = 3, width: int = 64) -> None:
        super().__init__()
        self.width = width
        self.project = nn.Sequential(nn.Linear(latent_dim, 4 * width * 16), nn.BatchNorm1d(4 * width * 16), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.project(z).view(len(z), 4 * self.width, 4, 4))


class ConvDiscriminator(nn.Module):
    """DCGAN discriminator: images (N, channels, 32, 32) -> logits (N,).

    (channels, 32) -> (width, 16) -> (2 width, 8) -> (4 width, 4) -> linear; LeakyReLU(0.2),
    batch norm after the first layer. ``features(x)`` returns the flattened last feature map
    (N, 16 * 4 width) for models that add inputs after it (ALI's joint discriminator).
    """

    def __init__(self, channels: int = 3, width: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.BatchNorm2d(4 * width), nn.LeakyReLU(0.2),
            nn.Flatten(),
        )  # fmt: skip
        self.feature_dim = 4 * width * 16
        self.head = nn.Linear(self.feature_dim, 1)

    def features(self, x: Tensor) -> Tensor:
        return self.net(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).squeeze(-1)


class _BiasedConv(nn.Module):
    """A strided conv whose output gets a per-channel bias computed from the code c."""

    def __init__(self, in_channels: int, out_channels: int, c_dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 4, 2, 1)
        self.bias_from_code = nn.Linear(c_dim, out_channels)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        return nn.functional.elu(self.conv(x) + self.bias_from_code(c)[:, :, None, None])


class ConvStatistics(nn.Module):
    """T(x, c) -> (N,) for images x (N, channels, 32, 32) and codes c (N, c_dim): the DCGAN
    discriminator with ELUs, no batch norm, and c added as a dynamic bias at every layer."""

    def __init__(self, channels: int, c_dim: int, width: int = 64) -> None:
        super().__init__()
        sizes = [channels, width, 2 * width, 4 * width]
        self.layers = nn.ModuleList(_BiasedConv(a, b, c_dim) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(4 * width * 16 + c_dim, 1)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        c = c.flatten(1)
        for layer in self.layers:
            x = layer(x, c)
        return self.head(torch.cat([x.flatten(1), c], dim=1)).squeeze(-1)


class JointConvDiscriminator(nn.Module):
    """D(x, z) -> logits (N,) on pairs of images x (N, channels, 32, 32) and codes z (N, z_dim):
    ALI's joint discriminator. The DCGAN features of x (N, 64 width) beside an embedding of z
    (two LeakyReLU layers of 8 width), then a joint head (one LeakyReLU layer of 16 width)."""

    def __init__(self, channels: int, z_dim: int, width: int = 64) -> None:
        super().__init__()
        self.x_branch = ConvDiscriminator(channels, width)
        self.x_branch.head = nn.Identity()  # only its features are read
        self.z_branch = nn.Sequential(*_dense_stack(z_dim, 8 * width, 2, nn.LeakyReLU, False))
        self.head = nn.Sequential(*_dense_stack(self.x_branch.feature_dim + 8 * width, 16 * width, 1, nn.LeakyReLU, False),
                                  nn.Linear(16 * width, 1))  # fmt: skip

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        joint = torch.cat([self.x_branch.features(x), self.z_branch(z.flatten(1))], dim=1)
        return self.head(joint).squeeze(-1)
