"""The one registry of MI objectives: every name that trains a critic or reads out its MI.

Two tables, each entry tying a name to the pure functions of :mod:`dim.bounds`:

* ``READOUTS``: an MI value in nats from positive scores (R,) and their per-row negatives
  (R, K) — the formula, whether it is a lower bound on I(X; Y), the true lower bound read
  beside it when it is not one, its ceiling, the constant critic whose reading is exactly 0,
  and (optionally) per-row summaries that let a bootstrap resample rows in O(R) per draw.
* ``ESTIMATORS``: a training objective for the critic (to maximise) and the readout its
  MI is reported through; optionally a fast path on Deep InfoMax's (N, Q, N, L) scores.

:class:`dim.loss.MutualInformation`, :func:`dim.estimate_mi`, Deep InfoMax's terms and the
command-line choices all look names up here; every list of names elsewhere is derived from
these tables. Adding an objective is one :func:`register_estimator` call (plus its readout,
if new) over a pure function of scores in :mod:`dim.bounds`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from dim import bounds
from dim.errors import ConfigError

__all__ = [
    "ESTIMATORS",
    "READOUTS",
    "Estimator",
    "Readout",
    "estimator",
    "estimator_names",
    "lower_bound_readout",
    "readout",
    "readout_names",
    "readout_value",
    "register_estimator",
    "register_readout",
]

ScoreValue = Callable[[Tensor, Tensor, float], Tensor]
RowTerms = Callable[[Tensor, Tensor, float], tuple[Tensor, Tensor | None]]
RowValue = Callable[[Tensor, Tensor | None, Tensor, int], Tensor]


@dataclass(frozen=True)
class Readout:
    """An MI value in nats from positives (R,) and their per-row negatives (R, K).

    value(positive, negative, clip) -> scalar. is_lower_bound: whether the value is a lower
    bound on I(X; Y) in expectation. companion: a readout that is one, reported beside a value
    that is not. has_ceiling: the value never exceeds log(K + 1) (InfoNCE). null_score: the
    constant critic T = c whose reading is exactly 0 (the target of shrinkage). row_terms and
    row_value: per-row summaries (a, b) (R,) each from which the value on any multiset of rows
    follows exactly, for an O(R) bootstrap; without them the bootstrap re-reads the scores.
    row_value(a, b, rows, k) reads the rows along the last axis of ``rows``: (n,) indices give
    one value, (D, n) give D values at once (D bootstrap draws).
    """

    name: str
    value: ScoreValue
    is_lower_bound: bool
    companion: str | None = None
    has_ceiling: bool = False
    null_score: float = 0.0
    row_terms: RowTerms | None = None
    row_value: RowValue | None = None

    def ceiling(self, block: int) -> float | None:
        """log B for a readout read in blocks of B rows with a ceiling, else None."""
        return math.log(block) if self.has_ceiling else None


@dataclass(frozen=True)
class Estimator:
    """A training objective for a critic, and the readout its MI is reported through.

    objective(positive, negative, *, clip, moving_average, update) -> scalar to maximise, with
    positive (P,) and negative (P, K) (flattened by every objective but InfoNCE's, which reads
    row by row). needs_moving_average: MINE's bias-corrected gradient keeps a running
    E_q[e^T]. needs_rows: the objective contrasts each positive with its own row of negatives,
    so a pointwise critic's shuffled single negative will not do. infomax: a fast path on Deep
    InfoMax's scores S (N, Q, N, L) that gathers no tensor of negatives (None: split S).
    matrix: a fast path on an (N, M) score matrix that needs no regrouping of its entries
    (None: split it into positives and negatives first). critic_lr: the Adam learning rate
    :func:`dim.estimate_mi` trains this objective's critic with unless ``lr`` is given.
    """

    name: str
    objective: Callable[..., Tensor]
    readout: str
    needs_moving_average: bool = False
    needs_rows: bool = False
    infomax: Callable[[Tensor], Tensor] | None = None
    matrix: Callable[[Tensor], Tensor] | None = None
    summary: str = ""
    critic_lr: float = 1e-3


READOUTS: dict[str, Readout] = {}
ESTIMATORS: dict[str, Estimator] = {}


def register_readout(entry: Readout) -> Readout:
    """Add a readout to the registry (its name must be new)."""
    if entry.name in READOUTS:
        raise ConfigError(f"readout {entry.name!r} is already registered")
    READOUTS[entry.name] = entry
    return entry


def register_estimator(entry: Estimator) -> Estimator:
    """Add an estimator to the registry (its name must be new, its readout registered)."""
    if entry.name in ESTIMATORS or entry.name == "auto":
        raise ConfigError(f"estimator {entry.name!r} is already registered")
    if entry.readout not in READOUTS:
        raise ConfigError(f"estimator {entry.name!r} reads out through unknown readout {entry.readout!r}")
    ESTIMATORS[entry.name] = entry
    return entry


def estimator_names() -> tuple[str, ...]:
    return tuple(ESTIMATORS)


def readout_names() -> tuple[str, ...]:
    return tuple(READOUTS)


def estimator(name: str, context: str = "") -> Estimator:
    """The registry entry of ``name``; an unknown name is a one-line :class:`ConfigError`."""
    if name not in ESTIMATORS:
        where = f" for {context}" if context else ""
        raise ConfigError(f"unknown estimator {name!r}{where}; choose one of {', '.join(ESTIMATORS)}")
    return ESTIMATORS[name]


def readout(name: str) -> Readout:
    if name not in READOUTS:
        raise ConfigError(f"unknown readout {name!r}; choose one of {', '.join(READOUTS)}")
    return READOUTS[name]


def readout_value(name: str, positive: Tensor, negative: Tensor, clip: float = bounds.SMILE_TAU) -> Tensor:
    """The MI value of readout ``name`` in nats, from positives (R,) and per-row negatives (R, K)."""
    return readout(name).value(positive, negative, clip)


def lower_bound_readout(name: str) -> str:
    """The readout of estimator ``name`` if it is a lower bound, else its companion bound."""
    entry = READOUTS[ESTIMATORS[name].readout]
    return entry.name if entry.is_lower_bound else entry.companion


# --------------------------------------------------------------------------------------
# readouts
# --------------------------------------------------------------------------------------


def _partition_rows(shift: float, clipped: bool) -> RowTerms:
    """a = positive + shift, b = logsumexp of the row's (clipped) negatives."""

    def terms(positive: Tensor, negative: Tensor, clip: float) -> tuple[Tensor, Tensor]:
        if clipped:
            negative = negative.clamp(-clip, clip)
        return positive + shift, bounds.logsumexp(negative, dim=1)

    return terms


def _log_partition(b: Tensor, rows: Tensor, k: int) -> Tensor:
    """log E_q[e^T] over the negatives of ``rows`` (along its last axis): logsumexp of their row
    sums - log(n K), n the rows per set."""
    return bounds.logsumexp(b[rows], dim=-1) - math.log(rows.shape[-1] * k)


def _dv_rows(a: Tensor, b: Tensor | None, rows: Tensor, k: int) -> Tensor:
    return a[rows].mean(dim=-1) - _log_partition(b, rows, k)


def _nwj_rows(offset: float) -> RowValue:
    """E_p[T] - E_q[exp(T - offset)] from per-row summaries (offset 1: NWJ; 0: NWJ of T + 1)."""

    def value(a: Tensor, b: Tensor | None, rows: Tensor, k: int) -> Tensor:
        return a[rows].mean(dim=-1) - torch.exp((_log_partition(b, rows, k) - offset).clamp(max=bounds.NWJ_MAX_EXPONENT))

    return value


def _infonce_row_terms(positive: Tensor, negative: Tensor, clip: float) -> tuple[Tensor, None]:
    return bounds.infonce_rows(positive, negative), None


def _infonce_rows(a: Tensor, b: Tensor | None, rows: Tensor, k: int) -> Tensor:
    return a[rows].mean(dim=-1) + math.log(k + 1)


register_readout(Readout(
    "dv", lambda p, n, clip: bounds.dv_bound(positive=p, negative=n), is_lower_bound=True,
    row_terms=_partition_rows(0.0, clipped=False), row_value=_dv_rows,
))  # fmt: skip
register_readout(Readout(
    "nwj", lambda p, n, clip: bounds.nwj_bound(positive=p, negative=n), is_lower_bound=True, null_score=1.0,
    row_terms=_partition_rows(0.0, clipped=False), row_value=_nwj_rows(1.0),
))  # fmt: skip
register_readout(Readout(
    "infonce", lambda p, n, clip: bounds.infonce_bound(positive=p, negative=n), is_lower_bound=True,
    has_ceiling=True, row_terms=_infonce_row_terms, row_value=_infonce_rows,
))  # fmt: skip
register_readout(Readout(
    "smile", lambda p, n, clip: bounds.smile_value(positive=p, negative=n, clip=clip), is_lower_bound=False,
    companion="dv", row_terms=_partition_rows(0.0, clipped=True), row_value=_dv_rows,
))  # fmt: skip
# NWJ of T + 1: the NWJ readout of a critic trained with JSD or DV (whose optimum is log p/q, NWJ's is 1 + log p/q)
register_readout(Readout(
    "nwj_shifted", lambda p, n, clip: bounds.nwj_bound(positive=p + 1.0, negative=n + 1.0), is_lower_bound=True,
    row_terms=_partition_rows(1.0, clipped=False), row_value=_nwj_rows(0.0),
))  # fmt: skip


# --------------------------------------------------------------------------------------
# estimators (training objectives)
# --------------------------------------------------------------------------------------


def _mine(positive: Tensor, negative: Tensor, *, moving_average: bounds.MINEMovingAverage | None = None,
          update: bool = True, **_) -> Tensor:  # fmt: skip
    if moving_average is None:
        raise ConfigError("the mine estimator needs its MINEMovingAverage")
    return bounds.mine_bound(positive=positive, negative=negative, moving_average=moving_average, update=update)


def _infonce_infomax(scores: Tensor) -> Tensor:
    """Each positive against the (N - 1) L negatives of its query, their logsumexp computed once."""
    return bounds.infonce_shared_negatives(*bounds.query_split(scores))


def _jsd_infomax(scores: Tensor) -> Tensor:
    """JSD with every score that is not a positive as a negative, without gathering them."""
    return bounds.jsd_objective_pooled(scores.diagonal(dim1=0, dim2=2), scores)


register_estimator(Estimator(
    "dv", lambda p, n, **_: bounds.dv_bound(positive=p, negative=n), readout="dv",
    summary="Donsker-Varadhan bound, trained as is (biased minibatch gradient)",
))  # fmt: skip
register_estimator(Estimator(
    "mine", _mine, readout="dv", needs_moving_average=True,
    summary="MINE: the DV bound with the moving-average gradient correction",
))  # fmt: skip
register_estimator(Estimator(
    "nwj", lambda p, n, **_: bounds.nwj_bound(positive=p, negative=n), readout="nwj",
    summary="NWJ / MINE-f: E_p[T] - E_q[exp(T - 1)]; unbiased, high variance",
))  # fmt: skip
register_estimator(Estimator(
    "jsd", lambda p, n, **_: bounds.jsd_objective(positive=p, negative=n), readout="dv", infomax=_jsd_infomax,
    summary="Jensen-Shannon training signal (f-GAN / Deep InfoMax); MI read out through DV",
))  # fmt: skip
register_estimator(Estimator(
    "infonce", lambda p, n, **_: bounds.infonce_bound(positive=p, negative=n), readout="infonce", needs_rows=True,
    infomax=_infonce_infomax, matrix=bounds.infonce_bound, summary="InfoNCE (CPC): low variance, never above log(negatives + 1)",
    critic_lr=3e-3,  # bounded softmax gradient: fewer steps to its best, as high or higher (bench_distributions)
))  # fmt: skip
register_estimator(Estimator(
    "smile", lambda p, n, *, clip=bounds.SMILE_TAU, **_: bounds.smile_bound(positive=p, negative=n, clip=clip),
    readout="smile",
    summary="SMILE: DV value with the partition term clipped to [-clip, clip], trained through the JS gradient",
))  # fmt: skip
