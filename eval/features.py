"""Features of a labelled train/test split, extracted in batches and cached to .npy.

Sources: any ``dim.load_encoder`` encoder (named outputs ``conv`` flattened, ``fc``, ``code``,
``local`` average-pooled over locations), any ``nn.Module`` returning a tensor (a timm
model: its output is ``code``), or ``"pixels"`` (the flattened input). The cache key is a
hash of the weights, the data's fingerprint and the layer; a second call reads the file, and
the folder is kept under a size bound by deleting the least recently used files.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from dim.errors import DataError
from dim.io import atomic_path
from dim.runtime import follow_cores, interactive

__all__ = ["LAYERS", "weights_hash", "extract_features", "evict_least_recently_used"]

LAYERS = ("conv", "fc", "code", "local")


def weights_hash(model: nn.Module | str) -> str:
    """A short hash of a model's weights and buffers ("pixels" for raw input)."""
    if isinstance(model, str):
        return model
    digest = hashlib.sha1()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _select(output, layer: str) -> Tensor:
    if isinstance(output, Tensor):
        if layer != "code":
            raise DataError(f"this model returns one tensor; only layer 'code' exists, not {layer!r}")
        return output.flatten(1)
    value = getattr(output, layer, None)
    if value is None:
        raise DataError(f"the encoder has no {layer!r} output; choose among conv, fc, code, local")
    if layer == "local":
        return value.flatten(2).mean(2)
    return value.flatten(1)


@torch.no_grad()
def extract_features(model: nn.Module | str, samples: Tensor, layer: str, *, fingerprint: str,
                     cache_dir: str | os.PathLike | None = None, cache_max_bytes: int | None = None,
                     batch_size: int = 256, progress: bool = True) -> np.ndarray:  # fmt: skip
    """Features (N, D) float32 of ``samples`` (N, ...) at ``layer`` ("pixels": the input).

    With ``cache_dir``: read from / written to ``cache_dir/<key>.npy``; after a write, the least
    recently used files are deleted until the folder holds at most ``cache_max_bytes``.
    """
    if layer not in LAYERS:
        raise DataError(f"unknown layer {layer!r}; choose among {', '.join(LAYERS)}")
    if isinstance(model, str) and model != "pixels":
        raise DataError(f"unknown feature source {model!r}; pass an encoder or 'pixels'")
    cache = None
    if cache_dir is not None:
        key = hashlib.sha1(f"{weights_hash(model)}|{fingerprint}|{layer}|{len(samples)}".encode()).hexdigest()[:20]
        cache = Path(cache_dir) / f"{key}.npy"
        if cache.is_file():
            os.utime(cache)  # recently used: evicted last
            return np.load(cache)
    if model == "pixels":
        features = samples.flatten(1).numpy().astype(np.float32)
    else:
        from tqdm.auto import tqdm

        model.eval()
        device = next(model.parameters()).device
        parts = []
        for i in tqdm(range(0, len(samples), batch_size), disable=not interactive(progress), desc=f"features {layer}",
                      leave=False):  # fmt: skip
            follow_cores()
            parts.append(_select(model(samples[i : i + batch_size].to(device)), layer).float().cpu())
        features = torch.cat(parts).numpy()
    if cache is not None:
        with atomic_path(cache) as temporary:
            np.save(temporary, features)
        if cache_max_bytes is not None:
            evict_least_recently_used(cache.parent, cache_max_bytes, keep=cache)
    return features


def evict_least_recently_used(cache_dir: Path, max_bytes: int, keep: Path) -> None:
    """Delete ``cache_dir``'s ``.npy`` files, least recently used (oldest mtime) first, until
    they total at most ``max_bytes``; ``keep`` (the file just written) stays."""
    files = []
    for path in cache_dir.glob("*.npy"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # deleted meanwhile by another run
            continue
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        if path != keep:
            path.unlink(missing_ok=True)
            total -= size
