"""Augmented views as batched tensor ops on the training device (no per-image Python loop).

torchvision.transforms.v2 applied to a batch tensor draws one set of parameters for the
whole batch, so every image would get the same crop. Here the parameters are drawn per
image from a seeded ``torch.Generator`` (on the CPU: a few numbers per image, so a seed gives
the same views on any device), then applied to the whole batch at once:

* random resized crop + rotation + shear + horizontal flip: one (N, 2, 3) affine matrix per
  image, applied by one ``affine_grid`` / ``grid_sample`` (bilinear, zeros outside);
* colour jitter: per-image brightness, contrast and saturation factors, broadcast as
  (N, 1, 1, 1) tensors; per-image hue shifts as one (N, 3, 3) colour matrix each (a rotation
  of the chroma plane in YIQ space: luma kept, gray kept; torchvision's ``adjust_hue`` takes
  one factor for the whole batch); grayscale of RGB images with probability p per image,
  through ``torchvision.transforms.v2.functional.rgb_to_grayscale`` on the whole batch.

``strength`` scales every magnitude at once: 0 gives the images back unchanged, 1 the
settings as written, values above 1 stronger views (crop scale and probabilities clipped
to their valid ranges). Per-dataset settings live in ``configs/data/*.yaml`` under ``views``
(no flips for digits: a mirrored 2 is not a 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from dim.errors import ConfigError

__all__ = ["ViewAugment", "affine_matrices", "jitter_colours", "random_grayscale", "rotate_hue"]

# RGB -> YIQ (NTSC, the luma row is the ITU-R 601 weights of rgb_to_grayscale); its inverse
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def affine_matrices(
    n: int, generator: torch.Generator, scale: tuple[float, float] = (1.0, 1.0), ratio: tuple[float, float] = (1.0, 1.0),
    degrees: float = 0.0, shear: float = 0.0, flip: float = 0.0,
) -> Tensor:  # fmt: skip
    """(N, 2, 3) matrices for ``F.affine_grid`` (output -> input, normalised [-1, 1] coordinates).

    Each image: a crop of area fraction ~ U(scale) and aspect ratio log-uniform in ``ratio``
    (its sides clipped to the image), centred uniformly where it fits; rotated by
    U(-degrees, degrees), sheared along x by U(-shear, shear) degrees, mirrored with
    probability ``flip``. The identity when every setting is neutral.
    """
    area = _uniform(n, *scale, generator)
    log_ratio = _uniform(n, math.log(ratio[0]), math.log(ratio[1]), generator)
    width = torch.sqrt(area * log_ratio.exp()).clamp(max=1.0)
    height = torch.sqrt(area / log_ratio.exp()).clamp(max=1.0)
    centre_x = (1 - width) * _uniform(n, -1.0, 1.0, generator)
    centre_y = (1 - height) * _uniform(n, -1.0, 1.0, generator)
    angle = torch.deg2rad(_uniform(n, -degrees, degrees, generator))
    slant = torch.tan(torch.deg2rad(_uniform(n, -shear, shear, generator)))
    mirror = 1.0 - 2.0 * (torch.rand(n, generator=generator) < flip).float()
    cos, sin = angle.cos(), angle.sin()
    # input = diag(width, height) @ rotation @ shear @ flip @ output + centre
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (N, 2, 2)
    shear_flip = torch.zeros(n, 2, 2)
    shear_flip[:, 0, 0], shear_flip[:, 0, 1], shear_flip[:, 1, 1] = mirror, slant, 1.0
    linear = torch.stack([width, height], -1).unsqueeze(-1) * (rotation @ shear_flip)
    return torch.cat([linear, torch.stack([centre_x, centre_y], -1).unsqueeze(-1)], dim=-1)


def _grayscale(images: Tensor) -> Tensor:
    from torchvision.transforms.v2 import functional as TF

    return TF.rgb_to_grayscale(images) if images.shape[1] == 3 else images.mean(dim=1, keepdim=True)


def jitter_colours(images: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor | None) -> Tensor:
    """Per-image colour jitter of images (N, C, H, W) in [0, 1]; factors (N,), 1 = unchanged.

    brightness: x b; contrast: blend with the image's mean gray level, c x + (1 - c) mean;
    saturation (RGB only, else None): blend with the image's grayscale. Clipped to [0, 1]
    after each, as torchvision's adjust_* are."""
    shape = (-1, 1, 1, 1)
    images = (images * brightness.view(shape)).clamp(0, 1)
    mean = _grayscale(images).mean(dim=(1, 2, 3), keepdim=True)
    c = contrast.view(shape)
    images = (c * images + (1 - c) * mean).clamp(0, 1)
    if saturation is not None:
        s = saturation.view(shape)
        images = (s * images + (1 - s) * _grayscale(images)).clamp(0, 1)
    return images


def rotate_hue(images: Tensor, shift: Tensor) -> Tensor:
    """RGB images (N, 3, H, W) in [0, 1] with their hue turned by ``shift`` (N,) turns (0.5 = 180
    degrees), clipped to [0, 1]: each pixel's chroma (I, Q) rotated by 2 pi shift in YIQ space, its
    luma Y kept, so gray pixels stay as they are and a whole turn gives the image back."""
    angle = 2 * math.pi * shift.float()
    cos, sin = angle.cos(), angle.sin()
    rotation = torch.zeros(len(shift), 3, 3, device=shift.device)
    rotation[:, 0, 0] = 1.0
    rotation[:, 1, 1], rotation[:, 1, 2], rotation[:, 2, 1], rotation[:, 2, 2] = cos, -sin, sin, cos
    forward, back = _RGB_TO_YIQ.to(shift.device), _YIQ_TO_RGB.to(shift.device)
    matrices = back @ rotation @ forward  # (N, 3, 3), one colour map per image
    return torch.einsum("nij,njhw->nihw", matrices, images.float()).clamp(0, 1).to(images.dtype)


def random_grayscale(images: Tensor, chosen: Tensor) -> Tensor:
    """RGB images (N, 3, H, W) with the rows where ``chosen`` (N,) bool is set made gray (3 equal channels)."""
    gray = _grayscale(images).expand_as(images)
    return torch.where(chosen.view(-1, 1, 1, 1), gray, images)


@dataclass(frozen=True)
class ViewAugment:
    """One random view of every image of a batch; settings as ``configs/data/*.yaml`` ``views``.

    scale: crop area fraction range; ratio: crop aspect-ratio range; degrees: rotation range
    (+-); shear: x-shear range in degrees (+-); flip: horizontal-flip probability;
    brightness, contrast, saturation: jitter amounts a (factor ~ U(1 - a, 1 + a)); hue: shift
    ~ U(-h, h) turns, h <= 0.5 (RGB only; :func:`rotate_hue`); grayscale: probability of a gray
    RGB view; strength: multiplies all of them (0: off).
    """

    scale: tuple[float, float] = (0.5, 1.0)
    ratio: tuple[float, float] = (0.75, 4 / 3)
    degrees: float = 0.0
    shear: float = 0.0
    flip: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    grayscale: float = 0.0
    hue: float = 0.0
    strength: float = 1.0

    def __post_init__(self) -> None:
        problems = [f"{f} must be >= 0, got {getattr(self, f)}" for f in
                    ("degrees", "shear", "flip", "brightness", "contrast", "saturation", "grayscale", "hue",
                     "strength") if getattr(self, f) < 0]  # fmt: skip
        if self.hue > 0.5:
            problems.append(f"hue must be at most 0.5 (half a turn), got {self.hue}")
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            problems.append(f"scale must satisfy 0 < low <= high <= 1, got {tuple(self.scale)}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            problems.append(f"ratio must satisfy 0 < low <= high, got {tuple(self.ratio)}")
        if problems:
            raise ConfigError("data.views: " + "; ".join(problems))

    @classmethod
    def from_config(cls, settings: Any) -> "ViewAugment":
        """From a mapping (``cfg.data.views``); missing keys keep the defaults, unknown keys are refused."""
        settings = dict(settings or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ConfigError(f"data.views has unknown keys {unknown}; known: {', '.join(sorted(known))}")
        for key in ("scale", "ratio"):
            if key in settings:
                settings[key] = tuple(float(v) for v in settings[key])
        return cls(**settings)

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """A view of images (N, C, H, W) in [0, 1], same shape, dtype and device. The random
        parameters come from ``generator`` (CPU), so a seed fixes the views on any device."""
        if self.strength == 0:
            return images
        if images.dim() != 4:
            raise ConfigError(f"views need image batches (N, C, H, W), got shape {tuple(images.shape)}; "
                              "set objective.views=1 and data.augment=false for sequences and vectors")  # fmt: skip
        n, s = images.shape[0], self.strength
        low = max(1.0 - s * (1.0 - self.scale[0]), 1e-3)
        high = max(1.0 - s * (1.0 - self.scale[1]), low)
        ratio = (self.ratio[0] ** min(s, 1.0), self.ratio[1] ** min(s, 1.0))
        theta = affine_matrices(n, generator, (low, high), ratio, s * self.degrees, s * self.shear,
                                min(1.0, s * self.flip))  # fmt: skip
        brightness, contrast, saturation = (_uniform(n, max(0.0, 1 - s * a), 1 + s * a, generator)
                                            for a in (self.brightness, self.contrast, self.saturation))  # fmt: skip
        gray = torch.rand(n, generator=generator) < min(1.0, s * self.grayscale)
        rgb = images.shape[1] == 3
        # drawn last, and only when used: settings without hue keep the random stream they had
        hue = _uniform(n, -min(0.5, s * self.hue), min(0.5, s * self.hue), generator) if rgb and self.hue else None
        device, dtype = images.device, images.dtype
        theta = theta.to(device=device, dtype=torch.float32, non_blocking=True)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        views = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if self.brightness or self.contrast or (rgb and self.saturation):
            views = jitter_colours(views, brightness.to(device), contrast.to(device),
                                   saturation.to(device) if rgb and self.saturation else None)  # fmt: skip
        if hue is not None:
            views = rotate_hue(views, hue.to(device))
        if rgb and self.grayscale:
            views = random_grayscale(views, gray.to(device))
        return views.to(dtype).contiguous(memory_format=_memory_format(images))


def _memory_format(images: Tensor) -> torch.memory_format:
    """channels_last when ``images`` is stored so (and has more than one channel), else contiguous."""
    if images.shape[1] > 1 and images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format
