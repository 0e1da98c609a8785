"""Gradient steps shared by every model that maximises or penalises an MI term.

The MI-regularizer step of GAN + MINE, ALI + MINE and the Information Bottleneck is two moves:
(1) fit the statistics network on detached inputs (:func:`fit_statistics`), then (2) step the
model on its own loss plus beta times the MI term, the MI gradient clipped to the norm of the
main one (:func:`regularized_gradients`, MINE's adaptive clipping, :func:`adaptive_clip_`).
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import Tensor

__all__ = ["adaptive_clip_", "descend", "fit_statistics", "regularized_gradients"]


def adaptive_clip_(
    main_loss: Tensor, mi_loss: Tensor, parameters: Iterable[Tensor], mi_weight: float = 1.0
) -> None:
    """Backward pass with the MINE paper's adaptive gradient clipping (Belghazi et al., App. 1).

    Sets ``p.grad = g_main + mi_weight * min(|g_main|, |g_mi|) / |g_mi| * g_mi`` for the given
    parameters (|.| the Frobenius norm over all of them), so the MI term can never dominate
    the main objective's gradient. Both losses are minimised (pass ``-mi`` to maximise MI).
    """
    params = [p for p in parameters if p.requires_grad]
    g_main = torch.autograd.grad(main_loss, params, retain_graph=True, allow_unused=True)
    g_mi = torch.autograd.grad(mi_loss, params, allow_unused=True)
    g_main = [torch.zeros_like(p) if g is None else g for p, g in zip(params, g_main)]
    g_mi = [torch.zeros_like(p) if g is None else g for p, g in zip(params, g_mi)]
    norm_main = torch.sqrt(sum((g.float() ** 2).sum() for g in g_main))
    norm_mi = torch.sqrt(sum((g.float() ** 2).sum() for g in g_mi))
    scale = torch.minimum(norm_main, norm_mi) / norm_mi.clamp_min(1e-12)
    for p, a, b in zip(params, g_main, g_mi):
        grad = a + mi_weight * scale.to(b.dtype) * b
        p.grad = grad if p.grad is None else p.grad + grad


def descend(optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
    """One step of ``optimizer`` down ``loss`` (gradients zeroed first)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def regularized_gradients(main_loss: Tensor, mi_loss: Tensor | None, params: list[Tensor], beta: float,
                          adaptive_clip: bool) -> None:  # fmt: skip
    """Set ``p.grad`` of ``params`` (only those) for main_loss + beta * mi_loss.

    With ``adaptive_clip`` the MI gradient is clipped to the norm of the main one (MINE App. 1,
    :func:`adaptive_clip_`); with beta = 0 (or no ``mi_loss``) the MI term is left out.
    The other networks in the graph (discriminator, statistics networks) receive no gradient.
    """
    if beta > 0 and mi_loss is not None and adaptive_clip:
        for p in params:
            p.grad = None
        adaptive_clip_(main_loss, mi_loss, params, mi_weight=beta)
        return
    loss = main_loss + beta * mi_loss if beta > 0 and mi_loss is not None else main_loss
    for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True)):
        p.grad = g


def fit_statistics(mi: Any, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor) -> Any:
    """One ascent step of the statistics network of ``mi`` (a :class:`dim.loss.MutualInformation`)
    on the pairs (x, y), which the caller detaches from the model. Returns the step's
    :class:`dim.loss.MIEstimate`, read before the step."""
    estimate = mi(x, y)
    descend(optimizer, -estimate.objective)
    return estimate
