"""The probe run behind ``scripts/probe.py``: protocols x layers x encoders, one table, a report.

Rows of ``probe.json``: {"encoder": "trained" | "random" | "pixels", "layer": "conv" | "fc" |
"code" | "local" | "input" (raw pixels), "protocol": "linear" | "mlp" | "knn" |
"knn_majority" | "mi_label_ba" | "mi_label_mine" | "mi_input_code" | "dependency",
"metric": "top1" | "top5" | "mi_nats" | ..., "value": float}.
"""

from __future__ import annotations

import logging
import re

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from dim.checkpoint import load_encoder
from dim.data import load_data
from dim.encoders import encoder_from_spec
from dim.errors import DataError
from dim.io import atomic_directory, atomic_path, refuse_overwrite, write_json_atomic, write_text_atomic
from dim.runtime import shared_cores
from eval.features import LAYERS, extract_features
from eval.few_labels import FewLabelSettings, few_label_evaluation, few_label_table, plot_few_labels
from eval.knn import knn_predict
from eval.linear import linear_probe, mlp_probe
from eval.mi_checks import input_code_mi, label_mi_barber_agakov, label_mi_estimate, neural_dependency

__all__ = ["run_probe", "probe_overrides", "feature_sources", "encoder_name", "probe_out_dir", "export_features",
           "table", "write_report", "PROTOCOLS"]

PROTOCOLS = ("linear", "mlp", "knn")


def probe_overrides(argv: list[str]) -> list[str]:
    """Command-line ``encoder=X`` means the encoder to probe; since ``encoder`` is also a config
    group (of the training configs), it is passed to Hydra as ``encoder_path=X``."""
    return ["encoder_path=" + a.split("=", 1)[1] if a.startswith("encoder=") else a for a in argv]


def feature_sources(cfg: DictConfig) -> dict[str, Any]:
    """{"trained": module, "random": module, "pixels": "pixels", "_shape": input shape} as the
    config asks: ``encoder_path`` (a path, "random" or "pixels"), ``random_spec``, ``baselines``."""
    source = str(cfg.encoder_path)
    if source in ("random", "pixels"):
        spec = dict(cfg.random_spec)
        trained = None
    else:
        trained = load_encoder(source)
        spec = dict(trained.spec)
    torch.manual_seed(cfg.seed)
    random = encoder_from_spec(spec).eval()
    if source == "pixels":
        return {"pixels": "pixels", "_shape": random.input_shape}
    if source == "random":
        return {"random": random, "_shape": random.input_shape}
    chosen = {"trained": trained}
    if cfg.get("baselines", False):
        chosen.update({"random": random, "pixels": "pixels"})
    chosen["_shape"] = trained.input_shape
    return chosen


def encoder_name(source: str) -> str:
    """A short name for ``encoder=SOURCE``: "random" / "pixels", the run folder's name for an
    ``encoder.pt`` or ``checkpoint.pt`` (``outputs/train/encoder.pt`` -> "train"), else the
    file's stem. Default output paths are named after it."""
    if source in ("random", "pixels"):
        return source
    path = Path(source)
    return path.resolve().parent.name if path.stem in ("encoder", "checkpoint") else path.stem


def probe_out_dir(cfg: DictConfig) -> Path:
    """``cfg.out_dir``, by default ``outputs/probe/<encoder name>``."""
    return Path(cfg.out_dir or Path("outputs", "probe", encoder_name(str(cfg.encoder_path))))


def _choices(values, allowed: tuple[str, ...], what: str) -> list[str]:
    """``values`` as a list, or a one-line error naming the first one not in ``allowed``."""
    chosen = list(values)
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise DataError(f"unknown {what} {unknown[0]!r}; choose among {', '.join(allowed)}")
    return chosen


def _source_layers(model: Any, layers: list[str]) -> list[str]:
    """The layers to read from a feature source: "input" alone for raw pixels."""
    return ["input"] if model == "pixels" else layers


def _split_features(model: Any, layer: str, data: Any, cfg: DictConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) features of ``layer`` ("input": the pixels), extracted or read from the cache."""
    cache = {"cache_dir": cfg.cache_dir, "cache_max_bytes": int(cfg.cache_max_mb * 2**20)} if cfg.feature_cache else {}
    return tuple(extract_features(model, part.samples, "code" if layer == "input" else layer,
                                  fingerprint=f"{data.fingerprint}:{split}", progress=cfg.progress, **cache)
                 for split, part in (("train", data.train), ("test", data.test)))  # fmt: skip


def run_probe(cfg: DictConfig) -> dict[str, Any]:
    """Run every protocol on every layer of every encoder; returns the probe.json payload. On the
    CPU the threads follow the cores other processes leave free (``threads``: a fixed count),
    re-read once a step of every feature pass, probe fit and neighbour search
    (:func:`dim.runtime.follow_cores`)."""
    with shared_cores(torch.device("cpu"), cfg.get("threads")):
        return _run_probe(cfg)


def _run_probe(cfg: DictConfig) -> dict[str, Any]:
    start = time.perf_counter()
    layers = _choices(cfg.layers, LAYERS, "layer")
    protocols = _choices(cfg.protocols, PROTOCOLS, "protocol")
    encoders = feature_sources(cfg)
    shape = encoders.pop("_shape")
    data = load_data(cfg.data, shape, seed=cfg.seed)
    train, test = data.train, data.test
    labelled = data.num_classes is not None and bool((train.labels >= 0).all()) and bool((test.labels >= 0).all())
    notes = []
    if not labelled:
        notes.append("the data has no labels: probes and label MI checks skipped; dependency and input MI still run")
        print(notes[-1])
    train_y, test_y = train.labels.numpy(), test.labels.numpy()
    rows: list[dict[str, Any]] = []
    code_features: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def add(encoder: str, layer: str, protocol: str, metric: str, value: float) -> None:
        rows.append({"encoder": encoder, "layer": layer, "protocol": protocol, "metric": metric, "value": float(value)})

    for name, model in encoders.items():
        for layer in _source_layers(model, layers):
            features = _split_features(model, layer, data, cfg)
            if layer in ("code", "input"):
                code_features[name] = features
            if not labelled:
                continue
            if "linear" in protocols:
                result = linear_probe(features[0], train_y, features[1], test_y, seed=cfg.seed)
                add(name, layer, "linear", "top1", result["top1"])
                add(name, layer, "linear", "top5", result["top5"])
            if "mlp" in protocols:
                result = mlp_probe(features[0], train_y, features[1], test_y, seed=cfg.seed)
                add(name, layer, "mlp", "top1", result["top1"])
                add(name, layer, "mlp", "top5", result["top5"])
            if "knn" in protocols:
                for k in cfg.knn_k:
                    predicted = knn_predict(features[0], train_y, features[1], k=k, temperature=cfg.knn_temperature,
                                            backend=cfg.knn_backend)
                    add(name, layer, "knn", f"top1_k{k}", (predicted == test_y).mean())
                majority = knn_predict(features[0], train_y, features[1], k=20, weighted=False, backend=cfg.knn_backend)
                add(name, layer, "knn_majority", "top1_k20", (majority == test_y).mean())
            print(f"  {name:8s} {layer:6s} " + "  ".join(f"{r['protocol']}:{r['metric']}={r['value']:.3f}"
                  for r in rows if r["encoder"] == name and r["layer"] == layer), flush=True)  # fmt: skip

    few_labels = []
    if cfg.few_labels.sizes:
        if "trained" not in encoders or not labelled:
            notes.append("few-label evaluation skipped: it needs a trained encoder and labelled data")
            print(notes[-1])
        else:
            settings = FewLabelSettings(**{**OmegaConf.to_container(cfg.few_labels, resolve=True),
                                           "sizes": tuple(cfg.few_labels.sizes)})  # fmt: skip
            print(f"few-label evaluation: {list(settings.sizes)} labels x {settings.draws} draws")
            few_labels = few_label_evaluation(encoders["trained"], data, settings, seed=cfg.seed,
                                              progress=cfg.progress)  # fmt: skip

    mi = {}
    for name, (train_code, test_code) in code_features.items():
        layer = "input" if name == "pixels" else "code"
        checks: dict[str, Any] = {}
        if labelled and "label" in cfg.mi_checks:
            checks["label_ba"] = label_mi_barber_agakov(train_code, train_y, test_code, test_y, seed=cfg.seed)
            add(name, layer, "mi_label_ba", "mi_nats", checks["label_ba"]["mi_nats"])
            checks["label_mine"] = label_mi_estimate(np.concatenate([train_code, test_code]),
                                                     np.concatenate([train_y, test_y]), seed=cfg.seed,
                                                     steps=cfg.mi_steps)  # fmt: skip
            add(name, layer, "mi_label_mine", "mi_nats", checks["label_mine"]["mi_nats"])
        if "dependency" in cfg.mi_checks and name != "pixels":
            checks["dependency"] = neural_dependency(train_code, seed=cfg.seed)
            add(name, layer, "dependency", "mi_nats", checks["dependency"]["mi_nats"])
        if "input" in cfg.mi_checks and name != "pixels":
            checks["input_code"] = input_code_mi(train.samples.numpy(), train_code, sigma=cfg.input_noise_sigma,
                                                 seed=cfg.seed, steps=cfg.mi_steps)  # fmt: skip
            add(name, layer, "mi_input_code", "mi_nats", checks["input_code"]["mi_nats"])
        mi[name] = checks
    return {
        "rows": rows,
        "few_labels": few_labels,
        "mi_checks": mi,
        "notes": notes,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "data_fingerprint": data.fingerprint,
        "labelled": labelled,
        "seconds": time.perf_counter() - start,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "_codes": {name: (feats[1], test_y) for name, feats in code_features.items()},
    }


def export_features(cfg: DictConfig) -> dict[str, Any]:
    """Features of the train and test parts at ``cfg.layers`` written to one ``.npz`` (atomically).

    Keys: ``train_<layer>`` / ``test_<layer>`` (N, D) float32 (``<layer>`` is "input" for
    ``encoder=pixels``), ``train_labels`` / ``test_labels`` (N,) int64 (-1 where unlabelled).
    The file is ``cfg.out``, by default ``outputs/features/<encoder name>.npz``; an existing one
    is replaced only with ``cfg.overwrite``. Returns {"path", "encoder", "arrays": {key: shape}}.
    """
    out = Path(cfg.out or Path("outputs", "features", f"{encoder_name(str(cfg.encoder_path))}.npz"))
    refuse_overwrite(out, cfg.overwrite, "out")
    layers = _choices(cfg.layers, LAYERS, "layer")
    sources = feature_sources(cfg)
    shape = sources.pop("_shape")
    (name, model), = sources.items()
    data = load_data(cfg.data, shape, seed=cfg.seed)
    arrays: dict[str, np.ndarray] = {}
    for layer in _source_layers(model, layers):
        arrays[f"train_{layer}"], arrays[f"test_{layer}"] = _split_features(model, layer, data, cfg)
    for split, part in (("train", data.train), ("test", data.test)):
        arrays[f"{split}_labels"] = part.labels.numpy().astype(np.int64)
    with atomic_path(out) as temporary:
        np.savez(temporary, **arrays)
    return {"path": str(out), "encoder": name, "arrays": {k: list(v.shape) for k, v in arrays.items()}}


def _column_order(column: tuple[str, str]) -> tuple:
    """Probes before MI checks, then by name with numbers in numeric order (k10 before k100)."""
    protocol, metric = column
    natural = tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", metric))
    return protocol.startswith("mi"), protocol, natural


def table(rows: list[dict[str, Any]]) -> str:
    """One Markdown table: a row per (encoder, layer), a column per protocol:metric."""
    columns = sorted({(r["protocol"], r["metric"]) for r in rows}, key=_column_order)
    keys = list(dict.fromkeys((r["encoder"], r["layer"]) for r in rows))
    lookup = {(r["encoder"], r["layer"], r["protocol"], r["metric"]): r["value"] for r in rows}
    lines = ["| encoder | layer | " + " | ".join(f"{p} {m}" for p, m in columns) + " |",
             "|---|---|" + "---|" * len(columns)]  # fmt: skip
    for encoder, layer in keys:
        cells = [lookup.get((encoder, layer, p, m)) for p, m in columns]
        lines.append(f"| {encoder} | {layer} | " + " | ".join("" if c is None else f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines)


def write_report(payload: dict[str, Any], out_dir: Path, run_dir: str | None, overwrite: bool = False) -> None:
    """``out_dir/{probe.json, report.md, *.png}``, written into a temporary folder that then
    replaces ``out_dir`` whole: a report never mixes files of two runs, and an existing
    ``out_dir`` is replaced only with ``overwrite``."""
    with atomic_directory(out_dir, overwrite) as report_dir:
        _write_report_files(payload, report_dir, run_dir)


def _write_report_files(payload: dict[str, Any], report_dir: Path, run_dir: str | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dim.report import save_figure

    codes = payload.pop("_codes")
    figures = []
    accuracy = [r for r in payload["rows"] if r["metric"] in ("top1", "top1_k20") and not r["protocol"].startswith("mi")]
    if accuracy:
        figure, ax = plt.subplots(figsize=(8, 3.5))
        labels = [f"{r['encoder']}/{r['layer']}\n{r['protocol']}" for r in accuracy]
        ax.bar(range(len(accuracy)), [r["value"] for r in accuracy], color="tab:blue")
        ax.set_xticks(range(len(accuracy)), labels, rotation=90, fontsize=7)
        ax.set(ylabel="test top-1", ylim=(0, 1), title="accuracy per encoder, layer and protocol")
        figures.append(save_figure(figure, report_dir / "accuracy.png"))
    for name, (features, labels) in codes.items():
        centred = features - features.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        xy = centred @ vt[:2].T
        figure, ax = plt.subplots(figsize=(4.5, 4))
        ax.scatter(xy[:, 0], xy[:, 1], c=labels if payload["labelled"] else None, cmap="tab10", s=4)
        ax.set(title=f"PCA of the {name} code (test split)", xticks=[], yticks=[])
        figures.append(save_figure(figure, report_dir / f"pca_{name}.png"))
    if run_dir:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        logging.getLogger("tensorboard").setLevel(logging.WARNING)  # its reader logs each file at INFO
        events = EventAccumulator(str(Path(run_dir) / "tensorboard"))
        events.Reload()
        tags = [t for t in events.Tags().get("scalars", []) if t.startswith("mi_nats/")]
        if tags:
            figure, ax = plt.subplots(figsize=(6, 3.5))
            for tag in tags:
                scalars = events.Scalars(tag)
                ax.plot([s.step for s in scalars], [s.value for s in scalars], label=tag)
            ax.set(xlabel="step", ylabel="nats (DV / NWJ / InfoNCE readout)", title="MI over training")
            ax.legend()
            figures.append(save_figure(figure, report_dir / "mi_over_training.png"))
    lines = ["# Probe report\n", f"data: `{payload['data_fingerprint']}`; {payload['seconds']:.0f} s\n",
             table(payload["rows"]), ""] + [f"- {n}" for n in payload["notes"]]  # fmt: skip
    if payload["few_labels"]:
        figures.append(plot_few_labels(payload["few_labels"], report_dir / "few_labels.png"))
        lines += ["", "## Few labels (test top-1, mean ± std over draws)", "", few_label_table(payload["few_labels"]),
                  "", "Fitted on the labelled images only; protocol in `eval/few_labels.py`."]  # fmt: skip
    lines += ["", "MI checks (nats): see probe.json `mi_checks` for intervals, ceilings and warnings.", ""]
    lines += [f"![{f.stem}]({f.name})" for f in figures]
    write_text_atomic(report_dir / "report.md", "\n".join(lines) + "\n")
    write_json_atomic(report_dir / "probe.json", payload)
