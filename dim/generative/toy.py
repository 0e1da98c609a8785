"""Two-dimensional targets for mode-dropping experiments, each with its mode-assignment rule.

- ``grid``: 25 Gaussians with means {-4, -2, 0, 2, 4}^2 and standard deviation 0.05 (the MINE
  paper's 25-Gaussians figure; PacGAN's "2D grid").
- ``ring``: 8 Gaussians on the unit circle, standard deviation 0.01 (PacGAN's "2D ring").
- ``spiral``: points spread uniformly in arc length along r = theta / pi, theta in [pi, 4 pi]
  (one and a half turns from radius 1 to 4, 2 apart between turns), plus Gaussian noise of
  standard deviation 0.05 (the MINE paper's spiral, "additive noise"). A continuous curve has
  no natural modes; here its arc is cut into ``segments`` pieces of equal length, each of equal
  mass under the target, so that "modes captured" and the reverse KL keep their meaning.

A sample is high quality within 3 standard deviations of its mode's mean (for the spiral: of
the nearest point of the curve), as VEEGAN and PacGAN count.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor

from dim.errors import ConfigError
from dim.generative.metrics import ModeCoverage, mode_coverage

__all__ = ["TARGETS", "ToyTarget", "MixtureTarget", "SpiralTarget", "make_target"]


class ToyTarget(ABC):
    """A 2-D target: ``sample(n, generator)`` (n, 2) and ``assign(x)`` -> (mode (n,), high quality (n,))."""

    num_modes: int
    std: float

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples of the target, (n, 2)."""

    @abstractmethod
    def assign(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Each sample's mode (n,) and whether it is high quality (n,)."""

    def coverage(self, x: Tensor) -> ModeCoverage:
        """Modes captured, high-quality share and reverse KL of samples ``x`` (n, 2)."""
        modes, high_quality = self.assign(x)
        return mode_coverage(modes, high_quality, self.num_modes)


class MixtureTarget(ToyTarget):
    """An equal-weight mixture of isotropic Gaussians with ``means`` (K, 2) and one ``std``."""

    def __init__(self, means: Tensor, std: float) -> None:
        self.means, self.std, self.num_modes = means.float(), float(std), len(means)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        index = torch.randint(self.num_modes, (n,), generator=generator)
        return self.means[index] + self.std * torch.randn(n, 2, generator=generator)

    def assign(self, x: Tensor) -> tuple[Tensor, Tensor]:
        distance, mode = torch.cdist(x.float(), self.means).min(dim=1)
        return mode, distance <= 3 * self.std


class SpiralTarget(ToyTarget):
    """Uniform in arc length on r = theta / pi, theta in [pi, 4 pi], plus N(0, std^2 I) noise."""

    def __init__(self, std: float = 0.05, segments: int = 50, resolution: int = 20_000) -> None:
        self.std, self.num_modes = float(std), int(segments)
        theta = torch.linspace(math.pi, 4 * math.pi, resolution, dtype=torch.float64)
        curve = torch.stack([theta * torch.cos(theta), theta * torch.sin(theta)], dim=1) / math.pi
        arc = torch.cat([torch.zeros(1, dtype=torch.float64), (curve[1:] - curve[:-1]).norm(dim=1).cumsum(0)])
        self.curve, self.arc_fraction = curve.float(), (arc / arc[-1]).float()  # dense polyline, s in [0, 1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        s = torch.rand(n, generator=generator)
        index = torch.searchsorted(self.arc_fraction, s).clamp(max=len(self.curve) - 1)
        return self.curve[index] + self.std * torch.randn(n, 2, generator=generator)

    def assign(self, x: Tensor) -> tuple[Tensor, Tensor]:
        distance, nearest = torch.cdist(x.float(), self.curve).min(dim=1)
        segment = (self.arc_fraction[nearest] * self.num_modes).long().clamp(max=self.num_modes - 1)
        return segment, distance <= 3 * self.std


def _grid() -> MixtureTarget:
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return MixtureTarget(torch.cartesian_prod(axis, axis), std=0.05)


def _ring() -> MixtureTarget:
    angle = torch.arange(8) * (2 * math.pi / 8)
    return MixtureTarget(torch.stack([angle.cos(), angle.sin()], dim=1), std=0.01)


TARGETS = {"grid": _grid, "ring": _ring, "spiral": SpiralTarget}


def make_target(name: str) -> ToyTarget:
    """The 2-D target called ``name`` (one of ``TARGETS``)."""
    if name not in TARGETS:
        raise ConfigError(f"unknown 2-D target {name!r}; choose one of {', '.join(TARGETS)}")
    return TARGETS[name]()
