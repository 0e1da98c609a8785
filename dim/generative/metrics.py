"""Mode-coverage metrics for generative models, as VEEGAN (Srivastava et al., 2017) and PacGAN
(Lin et al., 2018) define them.

Each generated sample is assigned to its nearest mode and marked *high quality* when it lies
within 3 standard deviations of it (2-D mixtures), or, for Stacked MNIST, labelled by a
pretrained classifier (every sample counts). From the assignments:

- modes captured: the number of modes that receive at least one high-quality sample
  (PacGAN, 2-D: at least one; Stacked MNIST: at least one classified sample);
- high-quality share: the fraction of samples that are high quality;
- reverse KL: KL(q || p) = sum_k q_k log(q_k / p_k) between the histogram q of high-quality
  samples over the modes and the target p (uniform, p_k = 1 / K). Modes with q_k = 0 add 0;
  dropping modes raises it (one mode only: log K), a perfect spread gives 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

__all__ = ["ModeCoverage", "mode_coverage", "reverse_kl_to_uniform"]


@dataclass(frozen=True)
class ModeCoverage:
    """Modes captured (of ``num_modes``), the share of high-quality samples, and the reverse KL
    (nats) of the captured-mode histogram to the uniform target, from ``samples`` samples."""

    modes: int
    num_modes: int
    high_quality: float
    reverse_kl: float
    samples: int

    def to_dict(self) -> dict:
        return asdict(self)


def reverse_kl_to_uniform(counts: Tensor) -> float:
    """KL(q || uniform) in nats for a histogram ``counts`` (K,) of non-negative counts.

    q = counts / sum(counts); terms with q_k = 0 are 0. Returns log K when every count sits in
    one bin and 0 for equal counts; ``nan`` for an all-zero histogram (no sample to judge).
    """
    counts = torch.as_tensor(counts, dtype=torch.float64)
    if counts.dim() != 1 or (counts < 0).any():
        raise ValueError(f"counts must be a 1-D histogram of non-negative counts, got shape {tuple(counts.shape)}")
    total = counts.sum()
    if total == 0:
        return float("nan")
    q = counts / total
    nonzero = q > 0
    return float((q[nonzero] * (q[nonzero].log() + math.log(len(counts)))).sum())


def mode_coverage(assignments: Tensor, high_quality: Tensor, num_modes: int, min_count: int = 1) -> ModeCoverage:
    """Coverage metrics from per-sample mode ``assignments`` (N,) in [0, num_modes) and a
    ``high_quality`` mask (N,). A mode is captured when at least ``min_count`` high-quality
    samples fall in it."""
    assignments, high_quality = torch.as_tensor(assignments).long(), torch.as_tensor(high_quality).bool()
    if assignments.shape != high_quality.shape or assignments.dim() != 1:
        raise ValueError("assignments and high_quality must be 1-D tensors of one length")
    if len(assignments) and (assignments.min() < 0 or assignments.max() >= num_modes):
        raise ValueError(f"assignments must lie in [0, {num_modes})")
    counts = torch.bincount(assignments[high_quality], minlength=num_modes)
    return ModeCoverage(
        modes=int((counts >= min_count).sum()),
        num_modes=num_modes,
        high_quality=float(high_quality.float().mean()) if len(high_quality) else float("nan"),
        reverse_kl=reverse_kl_to_uniform(counts),
        samples=len(assignments),
    )
