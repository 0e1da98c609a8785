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

__all__ = ["ModeCoverage", "mode_coverage", "reverse_kl_to_uniform", "ms_ssim", "MS_SSIM_BETAS"]


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


# MS-SSIM at 32 x 32: the first three of Wang et al.'s five scale weights (0.0448, 0.2856,
# 0.3001), renormalised to sum to 1. Five scales (torchmetrics' default, kernel 11) need images
# of more than 160 px; torchmetrics accepts, for 3 scales at 32 px, kernels up to 7 (it asks
# 32 // (3 - 1)^2 > kernel - 1), so the standard sigma 1.5 is kept with a kernel of 7.
MS_SSIM_BETAS = (0.0711, 0.4530, 0.4759)
MS_SSIM_KERNEL = 7


def ms_ssim(images: Tensor, references: Tensor, data_range: float = 1.0) -> Tensor:
    """Per-image MS-SSIM (N,) between ``images`` and ``references`` (N, C, H, W), H, W >= 32, in
    [0, data_range] (torchmetrics' implementation: Gaussian window sigma 1.5, kernel 7, the three
    scales and weights ``MS_SSIM_BETAS``, negative similarities clipped at 0 ("relu")). 1 for
    identical images, lower as they differ."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    return multiscale_structural_similarity_index_measure(
        images.float(), references.float(), kernel_size=MS_SSIM_KERNEL, sigma=1.5, betas=MS_SSIM_BETAS,
        data_range=data_range, reduction="none",
    )  # fmt: skip
