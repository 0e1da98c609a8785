"""The pairs as the critic sees them: checked tensors, their kinds, the marginal transform
fitted on the training rows, and the disjoint parts (train, stop, calibration, held-out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from dim.critics import infer_kind
from dim.errors import ConfigError, DataError

__all__ = ["MIN_ROWS", "Pairs", "as_tensor", "explicit_parts", "pairs_from", "rank_gaussianize", "split_parts",
           "standardize", "transform_inputs", "with_radius"]

MIN_ROWS = 100


@dataclass(frozen=True)
class Pairs:
    """x (N, ...) and y (N, ...) paired row by row, with their kinds ("vector", "image",
    "sequence", "label")."""

    x: Tensor
    y: Tensor
    x_kind: str
    y_kind: str


def pairs_from(x: Any, y: Any, x_kind: str | None = None, y_kind: str | None = None) -> Pairs:
    """Checked tensors from arrays or tensors (one-line :class:`DataError` on bad input); the
    kinds are inferred when not given."""
    xt, yt = as_tensor(x, "x"), as_tensor(y, "y")
    if xt.shape[0] != yt.shape[0]:
        raise DataError(
            f"x has {xt.shape[0]} rows but y has {yt.shape[0]}; the two must be paired row by row"
        )
    if xt.shape[0] < MIN_ROWS:
        raise DataError(f"only {xt.shape[0]} paired rows; give at least {MIN_ROWS} to train and hold out a part")
    return Pairs(xt, yt, x_kind or infer_kind(xt), y_kind or infer_kind(yt))


def as_tensor(values: Any, name: str) -> Tensor:
    if isinstance(values, Tensor):
        tensor = values.detach().cpu()
    else:
        array = np.asarray(values)
        if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise DataError(f"{name} must be numeric, got dtype {array.dtype}; convert it to numbers first")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.dim() == 0:
        raise DataError(f"{name} is a single number; pass one row per sample")
    if tensor.is_floating_point():
        if not torch.isfinite(tensor).all():
            bad = int((~torch.isfinite(tensor)).reshape(tensor.shape[0], -1).any(1).sum())
            raise DataError(f"{name} has NaN or inf values in {bad} rows; remove or impute them first")
        tensor = tensor.float()
    elif tensor.dtype == torch.bool:
        tensor = tensor.long()
    return tensor


def standardize(values: Tensor, kind: str, train_rows: Tensor) -> Tensor:
    """Z-score float inputs with the training rows' statistics (per feature for vectors).

    A feature that barely varies on the training rows (a pixel that is almost always 0) would
    turn a single held-out value into an outlier of thousands of standard deviations, and the
    critic's reading on it into nonsense; so each feature's scale is at least 10% of the
    features' mean scale, and standardised values are clipped to [-10, 10].
    """
    if not values.is_floating_point() or kind == "label":
        return values
    train = values[train_rows]
    if kind == "vector":
        flat = train.reshape(train.shape[0], -1)
        mean, std = flat.mean(0), flat.std(0)
        std = std.clamp_min(max(0.1 * float(std.mean()), 1e-8))
        scaled = ((values.reshape(values.shape[0], -1) - mean) / std).reshape(values.shape)
    else:
        scaled = (values - train.mean()) / train.std().clamp_min(1e-8)
    return scaled.clamp(-10.0, 10.0)


def rank_gaussianize(values: Tensor, train_rows: Tensor) -> tuple[Tensor, dict[str, int]]:
    """Each column through its training rows' empirical CDF, then the standard normal quantile.

    values (N, D) float. For a value v of column d, F(v) = (#{train < v} + #{train <= v}) / 2n
    (the mid-rank: tied values share one rank), clipped to [1/2n, 1 - 1/2n], then
    z = Phi^-1(F(v)). Strictly increasing on the training values, so I(X; Y) is unchanged
    there (MI is invariant under invertible maps of each coordinate); values the training
    rows never showed share the rank of their gap (a resolution of 1/n: it can only lower MI).
    Returns z and counts: columns with tied training values, and columns with at most 20
    distinct values (treated as discrete: their categories are kept apart, not spread out).
    """
    flat = values.reshape(values.shape[0], -1)
    train = flat[train_rows].sort(dim=0).values.T.contiguous()  # (D, n)
    n = train.shape[1]
    queries = flat.T.contiguous()
    below = torch.searchsorted(train, queries, right=False)
    at_or_below = torch.searchsorted(train, queries, right=True)
    cdf = ((below + at_or_below).double() / (2 * n)).clamp(0.5 / n, 1 - 0.5 / n)
    z = torch.special.ndtri(cdf).T.float().reshape(values.shape)
    distinct = torch.tensor([int(torch.unique(column).numel()) for column in train])
    return z, {"tied_columns": int((distinct < n).sum()), "discrete_columns": int((distinct <= 20).sum())}


def with_radius(values: Tensor, kind: str, train_rows: Tensor) -> Tensor:
    """A float vector side of several columns with each row's radius as one more column.

    values (N, D) -> (N, D + 1), the last column r = sqrt(mean_j ((x_j - m_j) / s_j)^2), m_j
    and s_j the median and interquartile range of column j on the training rows (robust to
    heavy tails; each s_j at least 10% of their mean, as in :func:`standardize`). r is a
    function of the row, so I(X; Y) is unchanged; it is taken before the marginal transform,
    which acts column by column and so keeps no row's radius: a dependence through each
    side's scale (a shared heavy-tailed scale, a spiral's radius-dependent turn) is then one
    column the critic reads directly. Other sides (one column, images, labels) pass unchanged.
    """
    if kind != "vector" or not values.is_floating_point() or values.dim() != 2 or values.shape[1] < 2:
        return values
    low, median, high = torch.quantile(values[train_rows], torch.tensor([0.25, 0.5, 0.75]), dim=0)
    scale = (high - low).clamp_min(max(0.1 * float((high - low).mean()), 1e-8))
    radius = ((values - median) / scale).pow(2).mean(dim=1, keepdim=True).sqrt()
    return torch.cat([values, radius], dim=1)


def transform_inputs(values: Tensor, kind: str, train_rows: Tensor, transform: str) -> tuple[Tensor, dict[str, Any]]:
    """Reshape the marginals of one side before the critic sees it, fitted on the training rows.

    "standardize": z-scores (:func:`standardize`); "rank": :func:`rank_gaussianize`;
    "asinh": asinh of the z-scores (a log-like squashing of heavy tails); "none": as given.
    Rank and asinh act on float vectors only (per-coordinate maps, MI-invariant); images and
    sequences are standardised whatever is asked (a per-pixel rank map is invertible too, but
    it would erase the scale that makes neighbouring pixels comparable), labels pass through.
    Returns the values and a record {"transform": what was applied, ...notes}.
    """
    if not values.is_floating_point() or kind == "label":
        return values, {"transform": "none"}
    if transform == "none":
        return values, {"transform": "none"}
    if kind != "vector" or transform == "standardize":
        return standardize(values, kind, train_rows), {"transform": "standardize"}
    if transform == "rank":
        z, notes = rank_gaussianize(values, train_rows)
        return z, {"transform": "rank", **notes}
    return torch.asinh(standardize(values, kind, train_rows)), {"transform": "asinh"}


def split_parts(n: int, fractions: Sequence[float], generator: torch.Generator, fold: int | None, folds: int):
    """Disjoint row indices (train, stop, calibration, test).

    fractions (train, validation, held-out); the validation rows are cut in two halves, one
    for early stopping and one for choosing the critic's shrinkage, so that neither choice
    sees the rows of the other (a choice made on the rows that also picked the stopping step
    would be optimistic). With folds, fold ``fold`` is the test part.
    """
    order = torch.randperm(n, generator=generator)
    if fold is None:
        train_f, val_f, _ = fractions
        n_train, n_val = int(round(train_f * n)), int(round(val_f * n))
        train, val, test = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    else:
        chunks = torch.tensor_split(order, folds)
        test = chunks[fold]
        rest = torch.cat([c for i, c in enumerate(chunks) if i != fold])
        n_val = int(round(len(rest) * fractions[1] / (fractions[0] + fractions[1])))
        train, val = rest[n_val:], rest[:n_val]
    half = (len(val) + 1) // 2
    return train, val[:half], val[half:], test


def explicit_parts(split_rows: Sequence[Any], n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(train, stop, calibration, test) index tensors from user parts (train, validation, held-out)."""
    if len(split_rows) != 3:
        raise ConfigError(
            f"split_rows must hold three index arrays (train, validation, held-out), got {len(split_rows)}"
        )
    train, val, test = (torch.as_tensor(np.asarray(rows), dtype=torch.long).reshape(-1) for rows in split_rows)
    every = torch.cat([train, val, test])
    if every.numel() and (every.min() < 0 or every.max() >= n):
        raise DataError(f"split_rows index out of range for {n} rows; give row numbers 0 .. {n - 1}")
    if torch.unique(every).numel() != every.numel():
        raise DataError("split_rows parts overlap or repeat a row; give each row to at most one part")
    half = (len(val) + 1) // 2
    return train, val[:half], val[half:], test
