"""A digit classifier for judging generated digits, and Stacked MNIST built from any digits.

Stacked MNIST (Che et al., 2017; VEEGAN; PacGAN): three digits drawn independently and stacked
as the channels of one colour image, so the data have 10^3 = 1,000 modes (the triple of labels,
``100 a + 10 b + c``). A pretrained classifier labels each channel of a generated image; the
modes captured and the KL of the label histogram to the uniform over 1,000 modes are then
counted on 26,000 samples (PacGAN's protocol; every sample counts, there is no quality cut).

The classifier is a small CNN trained on the digits at hand (the embedded 4,000 / 1,000 split by
default); its test accuracy bounds how much a mode count can be trusted, so it is always reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dim.generative.metrics import ModeCoverage, mode_coverage

__all__ = ["DigitClassifier", "train_digit_classifier", "stack_images", "stack_digits", "classify_stacked", "stacked_coverage"]

STACKED_MODES = 1000


class DigitClassifier(nn.Module):
    """Images (N, 1, 32, 32) in [0, 1] -> logits (N, 10): three conv -> batch norm -> ReLU -> max-pool
    blocks (32 -> 16 -> 8 -> 4), dropout 0.3, a linear layer."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        sizes = [1, width, 2 * width, 2 * width]
        blocks = [
            module
            for a, b in zip(sizes[:-1], sizes[1:])
            for module in (nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(), nn.MaxPool2d(2))
        ]
        self.net = nn.Sequential(*blocks, nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * 16, 10))

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)

    @torch.no_grad()
    def predict(self, images: Tensor, batch_size: int = 1024) -> Tensor:
        """Labels (N,) of images (N, 1, 32, 32), in evaluation mode, in batches."""
        was_training = self.training
        self.eval()
        labels = torch.cat([self(images[i : i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])
        self.train(was_training)
        return labels


@dataclass(frozen=True)
class TrainedClassifier:
    model: DigitClassifier
    test_accuracy: float


def train_digit_classifier(
    train_images: Tensor, train_labels: Tensor, test_images: Tensor, test_labels: Tensor,
    epochs: int = 10, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
) -> TrainedClassifier:  # fmt: skip
    """Train :class:`DigitClassifier` (Adam, small random shifts of +-2 pixels as augmentation) and
    report its accuracy on the test digits. Images (N, 1, 32, 32) in [0, 1]; labels (N,)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DigitClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(train_images), generator=generator)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            shift = torch.randint(-2, 3, (2,), generator=generator).tolist()
            images = torch.roll(train_images[index], shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(images), train_labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    accuracy = float((model.predict(test_images) == test_labels).float().mean())
    return TrainedClassifier(model.eval(), accuracy)


def stack_images(images: Tensor, index: Tensor) -> Tensor:
    """Stacked-MNIST images (n, 3, H, W) from single-channel digits (M, 1, H, W): channel k of
    image i is digit ``index[i, k]`` (index (n, 3), on the images' device)."""
    return images[index].squeeze(2)


def stack_digits(images: Tensor, labels: Tensor, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """n Stacked-MNIST images (n, 3, H, W) from single-channel digits (M, 1, H, W), each channel an
    independent uniform draw, and their modes (n,) = 100 a + 10 b + c for channel labels a, b, c."""
    index = torch.randint(len(images), (n, 3), generator=generator)
    digit = labels[index]
    return stack_images(images, index), digit[:, 0] * 100 + digit[:, 1] * 10 + digit[:, 2]


def classify_stacked(classifier: DigitClassifier, images: Tensor) -> Tensor:
    """Modes (N,) of stacked images (N, 3, H, W): each channel labelled by the classifier."""
    labels = [classifier.predict(images[:, k : k + 1]) for k in range(3)]
    return labels[0] * 100 + labels[1] * 10 + labels[2]


def stacked_coverage(classifier: DigitClassifier, images: Tensor) -> ModeCoverage:
    """Modes captured of 1,000 and KL(label histogram || uniform) of generated stacked images."""
    modes = classify_stacked(classifier, images)
    return mode_coverage(modes, torch.ones_like(modes, dtype=torch.bool), STACKED_MODES)
