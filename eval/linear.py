"""Linear and MLP probes on frozen features.

Both standardise the features with the training part's mean and standard deviation, choose
the weight decay on a validation part of the train split (a small sweep), refit on the whole
train split with the chosen value, and report top-1 / top-5 accuracy and the test
cross-entropy (in nats) — the last feeds the Barber-Agakov bound in :mod:`eval.mi_checks`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dim.errors import DataError
from dim.runtime import follow_cores

__all__ = ["linear_probe", "mlp_probe", "check_features"]


def check_features(x: np.ndarray, y: np.ndarray | None, name: str) -> None:
    """One-line errors for the inputs every protocol shares."""
    if x.ndim != 2:
        raise DataError(f"{name} features must be (N, D), got shape {x.shape}")
    if y is not None and len(x) != len(y):
        raise DataError(f"{name} has {len(x)} feature rows but {len(y)} labels; pass one label per row")
    if not np.isfinite(x).all():
        raise DataError(f"{name} features contain NaN or inf; check the encoder or the data")


def _standardise(train: np.ndarray, *others: np.ndarray, reference: np.ndarray | None = None) -> list[torch.Tensor]:
    """Every array standardised by the mean and std of ``reference`` (default: ``train``)."""
    reference = train if reference is None else reference
    mean, std = reference.mean(0), reference.std(0) + 1e-6
    return [torch.from_numpy(((a - mean) / std).astype(np.float32)) for a in (train, *others)]


def _topk(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    k = min(k, logits.shape[1])
    return float((logits.topk(k, dim=1).indices == labels[:, None]).any(1).float().mean())


def _batches(n: int, size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A random partition of the rows 0..n-1 into batches of ``size`` rows, for one epoch.

    A last batch of a single row (n = 1 mod size, n > size) joins the batch before it,
    which then holds size + 1 rows: BatchNorm cannot normalise one row in training mode.
    """
    batches = list(torch.randperm(n, generator=generator).split(size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def _fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, weight_decay: float, epochs: int, seed: int,
         full_batch: bool) -> nn.Module:  # fmt: skip
    torch.manual_seed(seed)
    if full_batch:  # L-BFGS on the whole (small) training set: the exact regularised optimum
        optimizer = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=epochs, history_size=20,
                                      line_search_fn="strong_wolfe")  # fmt: skip

        def closure():
            follow_cores()
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y) + weight_decay * sum(p.pow(2).sum() for n, p in
                                                                     model.named_parameters() if "weight" in n)
            loss.backward()
            return loss

        optimizer.step(closure)
        return model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for rows in _batches(len(x), 256, generator):
            follow_cores()
            optimizer.zero_grad()
            F.cross_entropy(model(x[rows]), y[rows]).backward()
            optimizer.step()
    return model


def _probe(make_model, train_x, train_y, test_x, test_y, weight_decays, val_fraction, epochs, seed, full_batch,
           reference=None, select_by="top1"):  # fmt: skip
    if select_by not in ("top1", "cross_entropy"):
        raise ValueError(f"select_by={select_by!r}: use 'top1' or 'cross_entropy'")
    check_features(train_x, train_y, "train")
    check_features(test_x, test_y, "test")
    classes = int(max(train_y.max(), test_y.max())) + 1
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train_x))
    n_val = max(1, int(val_fraction * len(train_x)))
    val, fit = order[:n_val], order[n_val:]
    best = None
    for wd in weight_decays:
        xf, xv = _standardise(train_x[fit], train_x[val], reference=reference)
        model = _fit(make_model(train_x.shape[1], classes), xf, torch.from_numpy(train_y[fit]).long(), wd, epochs,
                     seed, full_batch).eval()  # fmt: skip
        with torch.no_grad():
            logits, labels = model(xv), torch.from_numpy(train_y[val]).long()
            accuracy = _topk(logits, labels, 1)
            # higher is better for both criteria
            score = accuracy if select_by == "top1" else -float(F.cross_entropy(logits, labels))
        if best is None or score > best[2]:
            best = (wd, accuracy, score)
    xt, xs = _standardise(train_x, test_x, reference=reference)
    labels = torch.from_numpy(test_y).long()
    model = _fit(make_model(train_x.shape[1], classes), xt, torch.from_numpy(train_y).long(), best[0], epochs, seed,
                 full_batch).eval()  # fmt: skip
    with torch.no_grad():
        logits = model(xs)
        return {"top1": _topk(logits, labels, 1), "top5": _topk(logits, labels, 5),
                "cross_entropy_nats": float(F.cross_entropy(logits, labels)),
                "weight_decay": best[0], "val_top1": best[1]}  # fmt: skip


def linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, *,
    weight_decays: Sequence[float] = (0.0, 1e-4, 1e-3, 1e-2), val_fraction: float = 0.1, max_iter: int = 200,
    seed: int = 0, reference: np.ndarray | None = None, select_by: str = "top1",
) -> dict:  # fmt: skip
    """Multinomial logistic regression (full-batch L-BFGS) on standardised frozen features.

    train_x (N, D), train_y (N,) ints, test_x (M, D), test_y (M,). The L2 weight decay is
    chosen from ``weight_decays`` by ``select_by`` on a ``val_fraction`` part of the train split:
    "top1" (highest accuracy, ties to the first) or "cross_entropy" (lowest, for a calibrated
    q(label | x), as the Barber-Agakov bound needs).
    reference: unlabelled rows (K, D) whose mean and std standardise the features (default:
    train_x; with a few labelled rows, the unlabelled training set gives stable statistics).
    Returns {"top1", "top5", "cross_entropy_nats", "weight_decay", "val_top1"}.
    """
    return _probe(lambda d, c: nn.Linear(d, c), train_x, train_y, test_x, test_y, weight_decays, val_fraction,
                  max_iter, seed, full_batch=True, reference=reference, select_by=select_by)  # fmt: skip


def mlp_probe(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, *,
    weight_decays: Sequence[float] = (0.0, 1e-4), val_fraction: float = 0.1, epochs: int = 30, seed: int = 0,
) -> dict:  # fmt: skip
    """The DIM paper's MLP probe: one hidden layer of 200 units with BatchNorm, ReLU and
    dropout 0.1, trained with AdamW (lr 1e-3, batches of 256; a last batch of one row joins
    the one before, see :func:`_batches`). Same protocol and output as :func:`linear_probe`."""

    def make(d: int, c: int) -> nn.Module:
        return nn.Sequential(nn.Linear(d, 200), nn.BatchNorm1d(200), nn.ReLU(), nn.Dropout(0.1), nn.Linear(200, c))

    return _probe(make, train_x, train_y, test_x, test_y, weight_decays, val_fraction, epochs, seed, full_batch=False)
