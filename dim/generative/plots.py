"""Figures of generated samples: 2-D scatter plots over the target's modes, and image grids."""

from __future__ import annotations

from torch import Tensor

from dim.generative.toy import MixtureTarget, ToyTarget

__all__ = ["scatter_samples", "image_grid"]


def scatter_samples(ax, samples: Tensor, target: ToyTarget, title: str = "") -> None:
    """Samples (N, 2) as dots, high-quality ones dark, over the target's modes (or curve)."""
    _, high_quality = target.assign(samples)
    samples = samples.cpu()
    ax.scatter(*samples[~high_quality].T, s=2, c="tab:orange", alpha=0.4, label="low quality")
    ax.scatter(*samples[high_quality].T, s=2, c="tab:blue", alpha=0.6, label="high quality")
    if isinstance(target, MixtureTarget):
        ax.scatter(*target.means.T, s=30, facecolors="none", edgecolors="k", linewidths=0.8)
    else:
        ax.plot(*target.curve.T, c="k", lw=0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def image_grid(images: Tensor, rows: int = 8) -> Tensor:
    """Images (N, C, H, W) in [0, 1] -> one grid (H', W', C) for ``imshow`` (first rows^2 images)."""
    from torchvision.utils import make_grid

    grid = make_grid(images[: rows * rows].detach().cpu().clamp(0, 1), nrow=rows, padding=1, pad_value=1.0)
    return grid.permute(1, 2, 0)
