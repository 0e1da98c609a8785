"""Quality of learned representations on the embedded digits: each objective's encoder read
by the linear probe and k-NN on several layers, beside random init, raw pixels and the same
encoder trained with labels. The functions behind ``scripts/repro/repro_dim_quality.py``."""

from __future__ import annotations

import json
import statistics
import textwrap
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from dim.data import DataSplit, embedded_digits_split
from dim.errors import ConfigError

__all__ = ["OBJECTIVES", "LABELS", "against_pixels", "run_item", "read_layers", "train_encoder", "train_and_read",
           "supervised_and_read", "baselines_and_read", "summary_rows", "plot_histories"]  # fmt: skip

# name -> overrides of ``configs/train.yaml``; "local" and "global" are the DIM paper's recipe
# (DIM(L), and the same with the global objective), the view runs use the digits presets, and
# "local_noviews" is the same preset with objective.views=1 (only the views differ)
OBJECTIVES: dict[str, list[str]] = {
    "default": [],
    "local": ["+experiment=digits_dim_local"],
    "global": ["+experiment=digits_dim_local", "objective=global"],
    "local_noviews": ["+experiment=digits_views_local", "objective.views=1"],
    "views_local": ["+experiment=digits_views_local"],
    "views_global": ["+experiment=digits_views_global"],
    "views_amdim": ["+experiment=digits_views_amdim"],
    "contrastive": ["+experiment=digits_contrastive"],
}
LABELS = {"default": "default run (scripts/train.py)", "local": "DIM(L)", "global": "DIM(G)",
          "local_noviews": "local DIM, no views", "views_local": "local DIM, views", "views_global": "global DIM, views", "views_amdim": "AMDIM, views",
          "contrastive": "contrastive control (SimCLR-style)", "supervised": "supervised (labels, views)",
          "random": "random init", "pixels": "raw pixels"}  # fmt: skip


def read_layers(model, data: DataSplit, layers: list[str], seed: int, k: int = 20) -> dict[str, dict[str, float]]:
    """{layer: {"linear": top-1 of ``eval.linear.linear_probe``, "knn": top-1 of the weighted
    k-NN (cosine, ``eval.knn.knn_predict``)}} on the fixed train / test split; ``model`` an
    encoder or "pixels" (then ``layers`` is read as the one input layer)."""
    from eval.features import extract_features
    from eval.knn import knn_predict
    from eval.linear import linear_probe

    train_y, test_y = data.train.labels.numpy(), data.test.labels.numpy()
    readings = {}
    for layer in layers:
        train_x, test_x = (extract_features(model, part.samples, layer if model != "pixels" else "code",
                                            fingerprint="digits", progress=False)
                           for part in (data.train, data.test))  # fmt: skip
        linear = linear_probe(train_x, train_y, test_x, test_y, seed=seed)["top1"]
        knn = float((knn_predict(train_x, train_y, test_x, k=k, backend="torch") == test_y).mean())
        readings[layer] = {"linear": linear, "knn": knn}
    return readings


def against_pixels(encoder, data: DataSplit, seed: int = 0, cache_dir: str | Path | None = None) -> dict[str, dict]:
    """The trained code beside the raw pixels, by the same two probes: {"code": {"linear",
    "knn"}, "pixels": {"linear", "knn"}} (test top-1, see :func:`read_layers`). The pixels'
    readings depend on the data only: with ``cache_dir`` they are measured once per data
    fingerprint and seed, and read from ``cache_dir/pixels_<hash of both>.json`` after that."""
    import hashlib

    from dim.io import write_json_atomic

    key = hashlib.sha1(f"{data.fingerprint}|{seed}".encode()).hexdigest()[:16]
    cache = Path(cache_dir, f"pixels_{key}.json") if cache_dir is not None else None
    if cache is not None and cache.is_file():
        pixels = json.loads(cache.read_text())
    else:
        pixels = read_layers("pixels", data, ["pixels"], seed)["pixels"]
        if cache is not None:
            write_json_atomic(cache, pixels)
    return {"code": read_layers(encoder, data, ["code"], seed)["code"], "pixels": pixels}


def train_encoder(seed: int, overrides: list[str], epochs: int | None = None, device: str | None = None,
                  extra: tuple[str, ...] = ()) -> tuple[Any, dict, float]:  # fmt: skip
    """Train ``configs/train.yaml`` with ``overrides`` and ``extra`` (``epochs``: else the config's)
    in a temporary folder; returns (the encoder, the run's summary, seconds of training)."""
    from dim.checkpoint import load_encoder
    from dim.config import compose
    from dim.infomax import train

    with tempfile.TemporaryDirectory() as tmp:
        overrides = [*overrides, f"seed={seed}", f"out_dir={tmp}/run", "trainer.progress=false",
                     *([f"trainer.epochs={epochs}"] if epochs else []), *extra]  # fmt: skip
        if device:
            overrides.append(f"device={device}")
        start = time.perf_counter()
        summary = train(compose("train", overrides))
        seconds = time.perf_counter() - start
        return load_encoder(Path(tmp) / "run" / "encoder.pt"), summary, seconds


def train_and_read(seed: int, objective: str, epochs: int, layers: list[str], device: str | None,
                   extra: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """Train ``objective`` (a key of OBJECTIVES) with ``seed`` for ``epochs`` (plus ``extra``
    overrides), then read its layers. Returns {"readings", "history", "online", "seconds"}."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; choose among {', '.join(OBJECTIVES)}")
    encoder, summary, seconds = train_encoder(seed, OBJECTIVES[objective], epochs, device, extra)
    history = [h["probe_test_accuracy"] for h in summary["history"]]
    return {"readings": read_layers(encoder, embedded_digits_split(), layers, seed), "history": history,
            "online": summary["probe_test_accuracy"], "seconds": seconds}  # fmt: skip


def _encoder(extra: tuple[str, ...]):
    from dim.config import compose
    from dim.encoders import build_encoder

    cfg = compose("train", list(extra))
    spec = dict(cfg.encoder)
    return build_encoder(spec.pop("name"), in_channels=cfg.data.channels, **spec), cfg


def supervised_and_read(seed: int, epochs: int, layers: list[str], device: str | None,
                        extra: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """The same encoder (configs/train.yaml with ``extra``) trained with labels on one view per
    batch of the digits' view settings, Adam 1e-3, batch 64; then read like the others."""
    from dim.views import ViewAugment
    from eval.supervised import train_supervised

    data = embedded_digits_split()
    torch.manual_seed(seed)
    encoder, cfg = _encoder(extra)
    start = time.perf_counter()
    encoder, history = train_supervised(
        encoder, (data.train.samples, data.train.labels), (data.test.samples, data.test.labels), epochs=epochs,
        lr=1e-3, seed=seed, augment=ViewAugment.from_config(cfg.data.views), device=device or "cpu",
    )  # fmt: skip
    seconds = time.perf_counter() - start
    return {"readings": read_layers(encoder.cpu(), data, layers, seed), "history": [h["test_accuracy"] for h in history],
            "online": history[-1]["test_accuracy"], "seconds": seconds}  # fmt: skip


def baselines_and_read(seed: int, layers: list[str], extra: tuple[str, ...] = ()) -> dict[str, dict]:
    """{"random": readings of the encoder at its seeded initialisation, "pixels": of the input}."""
    data = embedded_digits_split()
    torch.manual_seed(seed)
    encoder, _ = _encoder(extra)
    return {"random": read_layers(encoder.eval(), data, layers, seed),
            "pixels": read_layers("pixels", data, ["pixels"], seed)}  # fmt: skip


def run_item(kind: str, seed: int, objective: str, epochs: int, layers: list[str], device: str | None,
             extra: tuple[str, ...]) -> dict:  # fmt: skip
    """One unit of the report, for ``dim.jobs.parallel_map``: kind "train" (an objective),
    "supervised" or "baselines" (random init and pixels; epochs and device unused)."""
    if kind == "train":
        return train_and_read(seed, objective, epochs, layers, device, extra)
    if kind == "supervised":
        return supervised_and_read(seed, epochs, layers, device, extra)
    return baselines_and_read(seed, layers, extra)


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def summary_rows(readings: dict[str, list[dict[str, dict[str, float]]]], layers: list[str]) -> list[list[str]]:
    """One row per representation: its label, then "mean ± std" over seeds of the linear probe
    and of k-NN for each layer ("" where the layer is absent, e.g. pixels)."""
    rows = []
    for name, per_seed in readings.items():
        row = [LABELS.get(name, name)]
        for layer in layers:
            present = layer in per_seed[0] or (name == "pixels" and layer == layers[0])
            key = "pixels" if name == "pixels" else layer
            for reader in ("linear", "knn"):
                row.append(_mean_std([r[key][reader] for r in per_seed]) if present else "")
        rows.append(row)
    return rows


def plot_histories(histories: dict[str, list[list[float]]], path: str | Path, title: str) -> Path:
    """PNG of accuracy against epochs: per representation, the mean over seeds with a band of
    +- one standard deviation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from dim.report import save_figure

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, runs in histories.items():
        values = np.array(runs, dtype=float)  # (seeds, epochs)
        epochs = np.arange(1, values.shape[1] + 1)
        mean, std = values.mean(0), values.std(0)
        axis.plot(epochs, mean, marker="o", label=LABELS.get(name, name))
        axis.fill_between(epochs, mean - std, mean + std, alpha=0.2)
    axis.set_xlabel("epoch")
    axis.set_ylabel("test accuracy, linear layer on the code\n(online probe; supervised: its own head)")
    axis.set_title(textwrap.fill(title, 100), fontsize=8)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return save_figure(figure, path)
