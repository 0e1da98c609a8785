"""Encoders with local and global outputs, as Deep InfoMax uses them.

Every encoder maps a batch to :class:`EncoderOutput`:

* ``local`` — the feature map the local objective reads: (N, C, H, W) for images, (N, C, L)
  for sequences and vectors (L = 1 for an MLP);
* ``conv`` — the last convolutional layer's map (the DIM paper's "conv" probe reads it
  flattened);
* ``fc`` — the penultimate fully connected features (N, F), where the architecture has them,
  else None;
* ``code`` — the global representation (N, D).

Build one by name with :func:`build_encoder` ("dim32", "dim64", "timm:<name>", "conv1d",
"mlp"); every encoder records its construction arguments in ``spec`` so that
:func:`dim.checkpoint.load_encoder` rebuilds it from a weights-only file.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from dim.errors import ConfigError

__all__ = [
    "EncoderOutput",
    "DIMConv32",
    "DIMAlexNet64",
    "TimmEncoder",
    "Conv1dEncoder",
    "MLPEncoder",
    "build_encoder",
    "encoder_from_spec",
    "describe",
]


class EncoderOutput(NamedTuple):
    local: Tensor
    conv: Tensor
    fc: Tensor | None
    code: Tensor


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int, padding: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Encoder(nn.Module):
    """Base class: subclasses set ``spec`` (name and keyword arguments) and ``input_shape``."""

    spec: dict[str, Any]
    input_shape: tuple[int, ...]
    code_dim: int


class DIMConv32(Encoder):
    """DIM's 32x32 encoder: conv 64 -> 128 -> 256 (k4, s2, BN, ReLU), fc 1024, code 64.

    (N, C, 32, 32) -> local (N, 2w, 8, 8) after the 2nd conv; conv (N, 4w, 4, 4);
    fc (N, 16w); code (N, code_dim), with ``width`` w = 64 as in the paper (smaller w gives a
    proportionally narrower network, e.g. w = 16 for quick or long CPU runs).
    ``batch_norm=False`` gives a BatchNorm-free variant (used where per-sample independence
    matters, e.g. the DDP equivalence test).
    """

    def __init__(self, in_channels: int = 3, code_dim: int = 64, batch_norm: bool = True, width: int = 64) -> None:
        super().__init__()
        if width < 1:
            raise ConfigError(f"encoder width must be a positive integer, got {width}")
        self.spec = {"name": "dim32", "in_channels": in_channels, "code_dim": code_dim, "batch_norm": batch_norm,
                     "width": width}  # fmt: skip
        self.input_shape, self.code_dim = (in_channels, 32, 32), code_dim
        norm2d = nn.BatchNorm2d if batch_norm else lambda c: nn.Identity()
        norm1d = nn.BatchNorm1d if batch_norm else lambda c: nn.Identity()
        w = width
        self.block1 = nn.Sequential(nn.Conv2d(in_channels, w, 4, 2, 1), norm2d(w), nn.ReLU())
        self.block2 = nn.Sequential(nn.Conv2d(w, 2 * w, 4, 2, 1), norm2d(2 * w), nn.ReLU())
        self.block3 = nn.Sequential(nn.Conv2d(2 * w, 4 * w, 4, 2, 1), norm2d(4 * w), nn.ReLU())
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * 4 * 4, 16 * w), norm1d(16 * w), nn.ReLU())
        self.head = nn.Linear(16 * w, code_dim)

    def forward(self, images: Tensor) -> EncoderOutput:
        local = self.block2(self.block1(images))
        conv = self.block3(local)
        fc = self.fc(conv)
        return EncoderOutput(local, conv, fc, self.head(fc))


class DIMAlexNet64(Encoder):
    """AlexNet-style encoder for 64x64 input (STL-10 crops), after DIM's "alexnet" variant.

    conv 96 (k3) -> pool -> 192 -> pool -> 384 -> 384 -> 192 -> pool, each with BN + ReLU;
    (N, C, 64, 64) -> local (N, 192, 8, 8) (the pooled last conv, also ``conv``);
    fc 4096 -> 4096 ... here 1024 (N, 1024); code (N, code_dim).
    """

    def __init__(self, in_channels: int = 3, code_dim: int = 64) -> None:
        super().__init__()
        self.spec = {"name": "dim64", "in_channels": in_channels, "code_dim": code_dim}
        self.input_shape, self.code_dim = (in_channels, 64, 64), code_dim
        self.features = nn.Sequential(
            _conv_bn_relu(in_channels, 96, 3, 1, 1),
            nn.MaxPool2d(2),
            _conv_bn_relu(96, 192, 3, 1, 1),
            nn.MaxPool2d(2),
            _conv_bn_relu(192, 384, 3, 1, 1),
            _conv_bn_relu(384, 384, 3, 1, 1),
            _conv_bn_relu(384, 192, 3, 1, 1),
            nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(192 * 8 * 8, 1024), nn.BatchNorm1d(1024), nn.ReLU())
        self.head = nn.Linear(1024, code_dim)

    def forward(self, images: Tensor) -> EncoderOutput:
        conv = self.features(images)
        fc = self.fc(conv)
        return EncoderOutput(conv, conv, fc, self.head(fc))


class TimmEncoder(Encoder):
    """Any timm CNN by name, trained from scratch (``features_only``; no weight downloads).

    local: the feature map of stage ``local_stage`` (an index into timm's feature stages,
    negative counts from the end); conv: the last stage; fc: None; code: the last stage
    average-pooled, then a linear map to code_dim.
    """

    def __init__(
        self, model: str, in_channels: int = 3, image_size: int = 32, code_dim: int = 64, local_stage: int = -2
    ) -> None:
        super().__init__()
        import timm

        self.spec = {"name": f"timm:{model}", "in_channels": in_channels, "image_size": image_size,
                     "code_dim": code_dim, "local_stage": local_stage}  # fmt: skip
        self.input_shape, self.code_dim = (in_channels, image_size, image_size), code_dim
        try:
            self.body = timm.create_model(model, pretrained=False, features_only=True, in_chans=in_channels)
        except RuntimeError as error:  # timm: "Unknown model (...)"
            raise ConfigError(f"timm has no model {model!r}; see timm.list_models() for names") from error
        channels = self.body.feature_info.channels()
        if not -len(channels) <= local_stage < len(channels):
            raise ConfigError(f"local_stage {local_stage} out of range: {model} has {len(channels)} stages")
        self.local_stage = local_stage
        self.head = nn.Linear(channels[-1], code_dim)

    def forward(self, images: Tensor) -> EncoderOutput:
        stages = self.body(images)
        conv = stages[-1]
        return EncoderOutput(stages[self.local_stage], conv, None, self.head(conv.mean(dim=(2, 3))))


class Conv1dEncoder(Encoder):
    """1-D conv encoder for sequences: (N, C, L) -> local (N, 128, L/4), conv (N, 256, L/8),
    fc (N, 512), code (N, code_dim). Conv k4 s2 with BN and ReLU, as the 2-D DIM encoder."""

    def __init__(self, in_channels: int = 1, length: int = 128, code_dim: int = 64) -> None:
        super().__init__()
        self.spec = {"name": "conv1d", "in_channels": in_channels, "length": length, "code_dim": code_dim}
        self.input_shape, self.code_dim = (in_channels, length), code_dim

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv1d(cin, cout, 4, 2, 1), nn.BatchNorm1d(cout), nn.ReLU())

        self.local_blocks = nn.Sequential(block(in_channels, 64), block(64, 128))
        self.conv_block = block(128, 256)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(256 * (length // 8), 512), nn.BatchNorm1d(512), nn.ReLU())
        self.head = nn.Linear(512, code_dim)

    def forward(self, sequences: Tensor) -> EncoderOutput:
        local = self.local_blocks(sequences)
        conv = self.conv_block(local)
        fc = self.fc(conv)
        return EncoderOutput(local, conv, fc, self.head(fc))


class MLPEncoder(Encoder):
    """MLP for vectors: (N, D_in) -> hidden (N, H) -> fc (N, H) -> code (N, code_dim).

    local is the first hidden layer as a length-1 map (N, H, 1), conv is the same tensor
    (an MLP has no conv layer), fc the second hidden layer.
    """

    def __init__(self, in_dim: int, hidden: int = 256, code_dim: int = 64) -> None:
        super().__init__()
        self.spec = {"name": "mlp", "in_dim": in_dim, "hidden": hidden, "code_dim": code_dim}
        self.input_shape, self.code_dim = (in_dim,), code_dim
        self.layer1 = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, code_dim)

    def forward(self, vectors: Tensor) -> EncoderOutput:
        hidden = self.layer1(vectors.flatten(1))
        fc = self.layer2(hidden)
        return EncoderOutput(hidden.unsqueeze(-1), hidden.unsqueeze(-1), fc, self.head(fc))


ENCODERS = {"dim32": DIMConv32, "dim64": DIMAlexNet64, "conv1d": Conv1dEncoder, "mlp": MLPEncoder}


def build_encoder(name: str, **kwargs: Any) -> Encoder:
    """An encoder by name: "dim32", "dim64", "conv1d", "mlp" or "timm:<model>" (see each class)."""
    if name.startswith("timm:"):
        return TimmEncoder(name[len("timm:") :], **kwargs)
    if name not in ENCODERS:
        raise ConfigError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)} or timm:<model>")
    return ENCODERS[name](**kwargs)


def encoder_from_spec(spec: dict[str, Any]) -> Encoder:
    """Rebuild an encoder from its ``spec`` (as saved in ``encoder.pt``)."""
    spec = dict(spec)
    return build_encoder(spec.pop("name"), **spec)


@torch.no_grad()
def describe(encoder: Encoder) -> dict[str, tuple[int, ...] | None]:
    """Output shapes for one dummy input, e.g. {"local": (1, 128, 8, 8), ...}."""
    was_training = encoder.training
    encoder.eval()
    out = encoder(torch.zeros(2, *encoder.input_shape))
    encoder.train(was_training)
    return {k: None if v is None else tuple(v.shape) for k, v in out._asdict().items()}
