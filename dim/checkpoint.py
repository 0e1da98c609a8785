"""Checkpoints that ``torch.load(..., weights_only=True)`` accepts, written atomically.

``checkpoint.pt`` holds only tensors, numbers, strings, lists and dicts (state dicts,
optimizer states, generator states, the config as YAML text); ``encoder.pt`` holds the
encoder's ``spec`` and weights, so :func:`load_encoder` rebuilds it in one line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dim.encoders import encoder_from_spec
from dim.errors import DimError
from dim.io import atomic_path

__all__ = ["save_atomic", "load_checkpoint", "save_encoder", "load_encoder"]


def save_atomic(payload: Any, path: str | os.PathLike) -> Path:
    """torch.save to a temporary file in the same directory, then rename over ``path``."""
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)
    return Path(path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; one-line :class:`DimError` if missing or damaged."""
    path = Path(path)
    if not path.is_file():
        raise DimError(f"checkpoint {str(path)!r} not found; check the path (or drop resume=true)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, not a torch file, unpickling refused
        reason = str(error).splitlines()[0][:120]
        raise DimError(f"checkpoint {str(path)!r} is damaged or not a dim checkpoint ({reason})") from error


def save_encoder(encoder: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``{"spec": encoder.spec, "state_dict": ...}`` atomically."""
    return save_atomic({"format": "dim-encoder-1", "spec": encoder.spec, "state_dict": encoder.state_dict()}, path)


def load_encoder(path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """``dim.load_encoder("run/encoder.pt")`` -> the trained encoder in eval mode.

    Accepts ``encoder.pt`` or a full ``checkpoint.pt``. Call it on a batch to get
    :class:`dim.encoders.EncoderOutput` (``local``, ``conv``, ``fc``, ``code``).
    """
    payload = load_checkpoint(path)
    if not isinstance(payload, dict) or "spec" not in payload and "encoder_spec" not in payload:
        raise DimError(f"{str(path)!r} is not a dim encoder file; pass encoder.pt from a training run")
    if "spec" in payload:
        spec, weights = payload["spec"], payload["state_dict"]
    else:
        spec = payload["encoder_spec"]
        prefix = "encoder."
        weights = {k[len(prefix) :]: v for k, v in payload["model"].items() if k.startswith(prefix)}
    encoder = encoder_from_spec(spec)
    encoder.load_state_dict(weights)
    return encoder.to(device).eval()
