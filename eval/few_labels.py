"""Label efficiency: what a pretrained encoder buys when only a few labels are known.

For each number of labels n (balanced over the classes) and each of several random draws of
the n training images, four classifiers are fitted on the same n labelled images and read on
the whole test split:

* ``pixels linear``: the linear probe (:func:`eval.linear.linear_probe`) on raw pixels;
* ``code linear``: the linear probe on the pretrained encoder's frozen code;
* ``fine-tune``: the pretrained encoder and a linear head tuned end to end
  (:func:`eval.finetune.finetune`, the encoder at a tenth of the head's learning rate);
* ``scratch``: the same architecture from random weights, trained the same way on the same
  labels (every layer at the head's learning rate).

Fine-tuning and scratch training take the same number of optimizer steps whatever n is
(``steps``; an epoch of n < batch images is one step), without augmentation. The linear probes
choose their weight decay on a fifth of the n labels, so at 10 labels the choice rests on 2 images;
they standardise the features with the mean and std of the whole training split, read without
its labels (a handful of rows gives a near-zero std for most pixels).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dim.data import DataSplit
from dim.encoders import Encoder, encoder_from_spec
from dim.errors import DataError
from eval.features import extract_features
from eval.finetune import finetune
from eval.linear import linear_probe

__all__ = ["FewLabelSettings", "METHODS", "balanced_draw", "few_label_evaluation", "few_label_table",
           "plot_few_labels"]  # fmt: skip

METHODS = ("pixels linear", "code linear", "fine-tune", "scratch")


@dataclass(frozen=True)
class FewLabelSettings:
    """sizes: labelled images per run (balanced over the classes); draws: random draws per size;
    steps, batch_size, lr, encoder_lr: fine-tuning (the scratch run uses ``lr`` everywhere)."""

    sizes: tuple[int, ...] = (10, 100, 1000)
    draws: int = 3
    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    encoder_lr: float = 1e-4


def balanced_draw(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of ``size`` rows, ``size // C`` of each of the C classes (the remainder from
    classes chosen at random), drawn without replacement with ``seed``."""
    classes = np.unique(labels)
    if size < len(classes):
        raise DataError(f"{size} labels cannot cover the {len(classes)} classes; use at least {len(classes)}")
    rng = np.random.default_rng(seed)
    counts = np.full(len(classes), size // len(classes))
    counts[rng.choice(len(classes), size % len(classes), replace=False)] += 1
    chosen = []
    for c, count in zip(classes, counts):
        members = np.flatnonzero(labels == c)
        if count > len(members):
            raise DataError(f"class {c} has {len(members)} training images, fewer than the {count} asked for; "
                            f"use fewer labels")  # fmt: skip
        chosen.append(rng.choice(members, count, replace=False))
    return np.sort(np.concatenate(chosen))


def few_label_evaluation(encoder: Encoder, data: DataSplit, settings: FewLabelSettings = FewLabelSettings(),
                         seed: int = 0, progress: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """Rows {"labels", "draw", "method", "top1"} for every size x draw x method of ``METHODS``."""
    train_x, train_y = data.train.samples, data.train.labels
    test_x, test_y = data.test.samples, data.test.labels
    train_code, test_code = (extract_features(encoder, x, "code", fingerprint=f"{data.fingerprint}:{part}",
                                              progress=progress) for part, x in (("train", train_x), ("test", test_x)))
    train_pixels, test_pixels = train_x.flatten(1).numpy(), test_x.flatten(1).numpy()
    classes = data.num_classes
    rows = []
    for size in settings.sizes:
        for draw in range(settings.draws):
            picked = balanced_draw(train_y.numpy(), size, seed=seed + 1000 * draw + size)
            labels = train_y[picked]
            per_epoch = size // min(settings.batch_size, size)
            epochs = math.ceil(settings.steps / per_epoch)
            common = dict(epochs=epochs, lr=settings.lr, batch_size=settings.batch_size, classes=classes,
                          seed=seed + draw)  # fmt: skip
            scores = {
                "pixels linear": linear_probe(train_pixels[picked], labels.numpy(), test_pixels, test_y.numpy(),
                                              val_fraction=0.2, seed=seed + draw, reference=train_pixels)["top1"],
                "code linear": linear_probe(train_code[picked], labels.numpy(), test_code, test_y.numpy(),
                                            val_fraction=0.2, seed=seed + draw, reference=train_code)["top1"],
                "fine-tune": finetune(copy.deepcopy(encoder), (train_x[picked], labels), (test_x, test_y),
                                      encoder_lr=settings.encoder_lr, **common).accuracy,
            }  # fmt: skip
            torch.manual_seed(seed + draw)
            scores["scratch"] = finetune(encoder_from_spec(dict(encoder.spec)), (train_x[picked], labels),
                                         (test_x, test_y), **common).accuracy  # fmt: skip
            rows += [{"labels": size, "draw": draw, "method": m, "top1": float(scores[m])} for m in METHODS]
            if progress:
                print(f"  {size} labels, draw {draw}: " + "  ".join(f"{m} {scores[m]:.3f}" for m in METHODS),
                      flush=True)  # fmt: skip
    return rows


def _summary(rows: list[dict[str, Any]]) -> dict[tuple[int, str], tuple[float, float]]:
    """(labels, method) -> (mean, std over draws) of top-1."""
    cells: dict[tuple[int, str], list[float]] = {}
    for r in rows:
        cells.setdefault((r["labels"], r["method"]), []).append(r["top1"])
    return {k: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else float("nan")) for k, v in cells.items()}


def few_label_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: a row per number of labels, a column per method, mean ± std of test top-1 over draws."""
    summary = _summary(rows)
    sizes = sorted({r["labels"] for r in rows})
    draws = len({r["draw"] for r in rows})
    lines = [f"| labels (draws: {draws}) | " + " | ".join(METHODS) + " |", "|---|" + "---|" * len(METHODS)]
    for n in sizes:
        lines.append(f"| {n:,} | " + " | ".join(f"{summary[n, m][0]:.3f} ± {summary[n, m][1]:.3f}" for m in METHODS)
                     + " |")  # fmt: skip
    return "\n".join(lines)


def plot_few_labels(rows: list[dict[str, Any]], path) -> Any:
    """Test top-1 against the number of labels (log axis), one line per method, ± std over draws."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dim.report import save_figure

    summary = _summary(rows)
    sizes = sorted({r["labels"] for r in rows})
    figure, ax = plt.subplots(figsize=(5.5, 3.8))
    for method in METHODS:
        mean = np.array([summary[n, method][0] for n in sizes])
        std = np.nan_to_num(np.array([summary[n, method][1] for n in sizes]))
        ax.errorbar(sizes, mean, yerr=std, marker="o", capsize=3, label=method)
    ax.set(xscale="log", xlabel="labelled training images", ylabel="test top-1", ylim=(0, 1),
           title="accuracy against the number of labels")  # fmt: skip
    ax.legend()
    return save_figure(figure, path)
