"""The supervised reference: the same encoder trained with labels (cross-entropy of a linear
layer on its code), on the same views as the self-supervised runs, so that a probe of its
layers shows what the architecture gives when the labels are known."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dim.encoders import Encoder
from dim.views import ViewAugment

__all__ = ["train_supervised"]


@torch.no_grad()
def _accuracy(encoder: Encoder, head: nn.Linear, images: Tensor, labels: Tensor, device: torch.device) -> float:
    encoder.eval()
    correct = 0
    for start in range(0, len(images), 256):
        logits = head(encoder(images[start : start + 256].to(device)).code)
        correct += int((logits.argmax(1).cpu() == labels[start : start + 256]).sum())
    return correct / len(images)


def train_supervised(
    encoder: Encoder, train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], *, epochs: int, batch_size: int = 64,
    lr: float = 1e-3, seed: int = 0, augment: ViewAugment | None = None, device: str | torch.device = "cpu",
) -> tuple[Encoder, list[dict]]:  # fmt: skip
    """Train ``encoder`` and a linear layer on its code with cross-entropy (Adam ``lr``) for
    ``epochs`` over train = (images (N, C, H, W), labels (N,)), each batch through ``augment``
    (one view) when given. Returns the encoder (eval mode, head dropped) and per-epoch
    {"epoch", "test_accuracy"} of the head on the un-augmented test = (images, labels)."""
    device = torch.device(device)
    torch.manual_seed(seed)
    images, labels = train
    classes = int(max(labels.max(), test[1].max())) + 1
    encoder = encoder.to(device)
    head = nn.Linear(encoder.code_dim, classes).to(device)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(epochs):
        encoder.train()
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images) - batch_size + 1, batch_size):
            rows = order[start : start + batch_size]
            batch = images[rows].to(device)
            if augment is not None:
                batch = augment(batch, generator)
            loss = F.cross_entropy(head(encoder(batch).code), labels[rows].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        history.append({"epoch": epoch + 1, "test_accuracy": _accuracy(encoder, head, *test, device)})
    return encoder.eval(), history
