"""Fine-tuning: an encoder and a linear layer on its code trained end to end on labelled images.

The same loop trains the supervised reference (a fresh encoder: :func:`eval.supervised.train_supervised`)
and fine-tunes a pretrained one, so the two differ only in where the encoder's weights start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dim.encoders import Encoder
from dim.errors import DataError
from dim.runtime import follow_cores, resolve_device
from dim.views import ViewAugment

__all__ = ["FinetuneResult", "finetune", "accuracy"]

Labelled = tuple[Tensor, Tensor]


@dataclass
class FinetuneResult:
    """accuracy: top-1 of the tuned encoder and head on the test images (None without test data);
    encoder: the tuned encoder (eval mode); head: the linear layer on its code; history: per
    evaluated epoch {"epoch", "test_accuracy"}."""

    accuracy: float | None
    encoder: Encoder
    head: nn.Linear
    history: list[dict] = field(default_factory=list)


@torch.no_grad()
def accuracy(encoder: Encoder, head: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``head(encoder(images).code)`` against labels (N,); eval mode."""
    encoder.eval()
    device = next(head.parameters()).device
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = head(encoder(images[start : start + batch_size].to(device)).code)
        correct += int((logits.argmax(1).cpu() == labels[start : start + batch_size]).sum())
    return correct / len(images)


def _epoch_batches(train: Labelled | Iterable[Labelled], batch_size: int,
                   generator: torch.Generator) -> Iterable[Labelled]:  # fmt: skip
    """One epoch of (images, labels) batches: a loader's own batches, or a seeded shuffle of a
    (images, labels) pair in batches of ``batch_size`` (all rows in one batch when fewer; an
    incomplete last batch is dropped)."""
    if not isinstance(train, tuple):
        yield from train
        return
    images, labels = train
    size = min(batch_size, len(images))
    order = torch.randperm(len(images), generator=generator)
    for start in range(0, len(images) - size + 1, size):
        rows = order[start : start + size]
        yield images[rows], labels[rows]


def finetune(
    encoder: Encoder,
    train: Labelled | Iterable[Labelled],
    test: Labelled | None = None,
    *,
    epochs: int,
    lr: float = 1e-3,
    encoder_lr: float | None = None,
    weight_decay: float = 0.0,
    batch_size: int = 64,
    classes: int | None = None,
    augment: ViewAugment | None = None,
    eval_every: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> FinetuneResult:
    """Train ``encoder`` and a new linear layer on its code with cross-entropy, end to end.

    train: (images (N, C, H, W), labels (N,)) or a loader yielding such batches; test: the
    same pair, read without augmentation. Adam (AdamW when ``weight_decay`` > 0) with ``lr`` for
    the head and ``encoder_lr`` (default ``lr``) for the encoder, for ``epochs`` passes; each
    batch goes through ``augment`` (one view) when given. classes: the head's outputs
    (default: 1 + the largest label seen in ``train`` and ``test``). eval_every: test accuracy
    every that many epochs into ``history`` (None: at the end only). The encoder is tuned in
    place (pass a copy to keep the pretrained weights).
    """
    if epochs < 1:
        raise DataError(f"epochs must be at least 1, got {epochs}")
    device = resolve_device(device)
    torch.manual_seed(seed)
    if classes is None:
        if not isinstance(train, tuple):
            raise DataError("with a loader for train, pass classes= (the number of labels)")
        classes = int(max(train[1].max(), test[1].max() if test is not None else 0)) + 1
    encoder = encoder.to(device)
    head = nn.Linear(encoder.code_dim, classes).to(device)
    groups = [{"params": head.parameters(), "lr": lr},
              {"params": encoder.parameters(), "lr": lr if encoder_lr is None else encoder_lr}]  # fmt: skip
    optimizer = torch.optim.AdamW(groups, weight_decay=weight_decay) if weight_decay else torch.optim.Adam(groups)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(1, epochs + 1):
        encoder.train()
        for images, labels in _epoch_batches(train, batch_size, generator):
            follow_cores()
            images = images.to(device)
            if augment is not None:
                images = augment(images, generator)
            loss = F.cross_entropy(head(encoder(images).code), labels.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if test is not None and eval_every and (epoch % eval_every == 0 or epoch == epochs):
            history.append({"epoch": epoch, "test_accuracy": accuracy(encoder, head, *test)})
    final = None
    if test is not None:
        final = history[-1]["test_accuracy"] if history and history[-1]["epoch"] == epochs else accuracy(
            encoder, head, *test)
    return FinetuneResult(final, encoder.eval(), head.eval(), history)
