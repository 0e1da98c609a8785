"""The supervised reference: the same encoder trained with labels (cross-entropy of a linear
layer on its code), on the same views as the self-supervised runs, so that a probe of its
layers shows what the architecture gives when the labels are known."""

from __future__ import annotations

import torch
from torch import Tensor

from dim.encoders import Encoder
from dim.views import ViewAugment
from eval.finetune import finetune

__all__ = ["train_supervised"]


def train_supervised(
    encoder: Encoder, train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], *, epochs: int, batch_size: int = 64,
    lr: float = 1e-3, seed: int = 0, augment: ViewAugment | None = None, device: str | torch.device = "cpu",
) -> tuple[Encoder, list[dict]]:  # fmt: skip
    """Train ``encoder`` and a linear layer on its code with cross-entropy (Adam ``lr``) for
    ``epochs`` over train = (images (N, C, H, W), labels (N,)), each batch through ``augment``
    (one view) when given: :func:`eval.finetune.finetune` from the encoder's initial weights.
    Returns the encoder (eval mode, head dropped) and per-epoch {"epoch", "test_accuracy"} of
    the head on the un-augmented test = (images, labels)."""
    result = finetune(encoder, train, test, epochs=epochs, lr=lr, batch_size=batch_size, augment=augment,
                      eval_every=1, seed=seed, device=device)  # fmt: skip
    return result.encoder, result.history
