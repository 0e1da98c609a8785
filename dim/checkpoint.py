"""Checkpoints that ``torch.load(..., weights_only=True)`` accepts, written atomically.

``checkpoint.pt`` holds only tensors, numbers, strings, lists and dicts (state dicts,
optimizer states, generator states, the config as YAML text); ``encoder.pt`` holds the
encoder's ``spec`` and weights, so :func:`load_encoder` rebuilds it in one line.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dim.encoders import encoder_from_spec
from dim.errors import DimError
from dim.io import atomic_path

__all__ = ["check_out_dir", "flatten", "load_checkpoint", "load_encoder", "save_atomic", "save_encoder",
           "setting_differences"]


def check_out_dir(out_dir: str | os.PathLike | None, resume: bool) -> None:
    """Refuse, in one line, ``resume`` without ``out_dir/checkpoint.pt``, or a new run into an
    ``out_dir`` that already holds one (cheap: call it before loading data or training anything)."""
    path = None if out_dir is None else Path(out_dir) / "checkpoint.pt"
    if resume and (path is None or not path.is_file()):
        raise DimError(f"resume=true, but {path} was not found; check out_dir, or drop resume=true")
    if not resume and path is not None and path.exists():
        raise DimError(f"{out_dir} already holds a checkpoint; pass resume=true to continue it, or another out_dir")


def save_atomic(payload: Any, path: str | os.PathLike) -> Path:
    """torch.save to a temporary file in the same directory, then rename over ``path``."""
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)
    return Path(path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a dim checkpoint (``checkpoint.pt`` or ``encoder.pt``) with ``weights_only=True``.

    Anything else is a one-line :class:`DimError` that says what is wrong with ``path``: missing,
    a directory (naming the checkpoint files in it), empty, truncated, not a zip archive, holding
    objects a weights-only load refuses, or a PyTorch file that dim did not write.
    """
    path = Path(path)
    if path.is_dir():
        files = " or ".join(str(path / name) for name in sorted(p.name for p in path.glob("*.pt")))
        raise DimError(f"{str(path)!r} is a directory; "
                       + (f"pass a checkpoint file in it: {files}" if files else
                          "it holds no .pt file; pass the encoder.pt or checkpoint.pt a training run wrote"))  # fmt: skip
    if not path.is_file():
        raise DimError(f"{str(path)!r} not found: no such file; check the path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (torch raises many kinds; the reason is found below)
        raise DimError(f"{str(path)!r} {_unreadable(path, error)}") from None
    if not isinstance(payload, dict) or not str(payload.get("format", "")).startswith("dim-"):
        raise DimError(f"{str(path)!r} is a PyTorch file but not a dim checkpoint; "
                       "pass the encoder.pt or checkpoint.pt that scripts/train.py wrote")  # fmt: skip
    return payload


def _unreadable(path: Path, error: Exception) -> str:
    """Why ``torch.load`` failed on ``path``, as the rest of one sentence."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        magic = handle.read(4)
    if size == 0:
        return "is empty (0 bytes); write or copy it again"
    if magic != b"PK\x03\x04":
        return "is not a PyTorch checkpoint: not a zip archive, which torch.save writes"
    if not zipfile.is_zipfile(path):
        return f"is damaged: truncated, the end of its zip archive is missing ({size:,} bytes); write or copy it again"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        damaged = archive.testzip()
    if damaged is not None:
        return f"is damaged: {damaged} in its zip archive fails its checksum; write or copy it again"
    if not any(name.endswith("/data.pkl") for name in names):
        return "is a zip archive but not a PyTorch checkpoint"
    if isinstance(error, pickle.UnpicklingError):
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        what = f" ({refused.group(1)})" if refused else ""
        return f"holds Python objects{what} that a weights-only load refuses; it is not a dim checkpoint"
    return f"cannot be read: {type(error).__name__}: {' '.join(str(error).split())}"


def save_encoder(encoder: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``{"spec": encoder.spec, "state_dict": ...}`` atomically."""
    return save_atomic({"format": "dim-encoder-1", "spec": encoder.spec, "state_dict": encoder.state_dict()}, path)


def load_encoder(path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """``dim.load_encoder("run/encoder.pt")`` -> the trained encoder in eval mode.

    Accepts ``encoder.pt`` or a full ``checkpoint.pt``. Call it on a batch to get
    :class:`dim.encoders.EncoderOutput` (``local``, ``conv``, ``fc``, ``code``).
    """
    payload = load_checkpoint(path)
    if "spec" in payload:
        spec, weights = payload["spec"], payload["state_dict"]
    else:
        spec = payload["encoder_spec"]
        prefix = "encoder."
        weights = {k[len(prefix) :]: v for k, v in payload["model"].items() if k.startswith(prefix)}
    encoder = encoder_from_spec(spec)
    encoder.load_state_dict(weights)
    return encoder.to(device).eval()


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict of config values as {dotted key: leaf value} (an empty dict is a leaf)."""
    if not isinstance(node, dict) or not node:
        return {prefix.rstrip("."): node}
    return {k: v for key, value in node.items() for k, v in flatten(value, f"{prefix}{key}.").items()}


def setting_differences(saved: dict[str, Any], current: dict[str, Any], resumable: tuple[str, ...]) -> list[str]:
    """``"key: A (checkpoint) vs B (now)"`` for every dotted key of two nested settings dicts whose
    values differ, except the ``resumable`` keys (those a resumed run may change). A key that one
    side lacks reads "(not set)"."""
    old, new = flatten(saved), flatten(current)
    keys = sorted((old.keys() | new.keys()) - set(resumable))
    missing = "(not set)"
    return [f"{k}: {old.get(k, missing)} (checkpoint) vs {new.get(k, missing)} (now)"
            for k in keys if old.get(k, missing) != new.get(k, missing)]  # fmt: skip
