"""Mutual information estimation with a trained critic: ``estimate_mi`` and the MI loss module.

``estimate_mi`` splits the pairs into disjoint parts: the critic trains on one part, early
stopping watches a second, the shrinkage of the critic (``calibrate``) is chosen on a third,
and the reported estimate and its interval come from a fourth part that none of them saw.
The critic read out is the best, on the calibration part, of the trained critic shrunk
towards the constant critic (whose bound is exactly 0); without evidence of dependence on
that part the estimate is floored at 0 (``floored``) and the interval becomes
[0, ``upper_limit_nats``], never of zero width. The uncalibrated held-out reading and its
interval are always reported beside it (``raw_mi_nats``, ``raw_ci_nats``).

The readout scores the held-out rows in blocks of ``readout_batch_size`` (every other row
of its block is a negative), and the 95% interval is a bootstrap over the held-out rows. That
interval covers the sampling noise of the readout only: not the gap between the bound and
the true MI, nor the spread from seed to seed (use ``seeds=r`` or ``folds=k``: their combined
interval adds that spread, see :func:`combine_intervals`).

Which readings are bounds: DV, NWJ and InfoNCE values are lower bounds on I(X; Y) (in
expectation over samples); SMILE's clipped value is an *estimate*, not a bound, and may
exceed the truth. Every SMILE result therefore also carries a true lower bound (the DV
readout of the same critic, ``lower_bound_nats``), and ``is_lower_bound`` says which the
reported value is.

``MutualInformation`` is the same bounds and critics as an ``nn.Module`` for use inside
any training loop (Deep InfoMax objectives, a GAN regulariser, an information bottleneck).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from dim import bounds, objectives
from dim.critics import infer_kind, make_critic
from dim.errors import ConfigError, DataError, DimError

__all__ = [
    "ESTIMATORS",
    "MIEstimate",
    "MIResult",
    "MutualInformation",
    "adaptive_clip_",
    "Calibration",
    "calibrate_scale",
    "combine_intervals",
    "estimate_mi",
    "resolve_device",
    "scaled_scores",
    "transform_inputs",
]

# estimator name -> its registry entry (training objective and readout): dim.objectives
ESTIMATORS = objectives.ESTIMATORS
readout_value = objectives.readout_value
# estimate_mi(estimator="auto"): InfoNCE, unless a reading comes within this many nats of its
# ceiling log B; then MINE (see estimate_mi's docstring for why 2 nats)
AUTO_CEILING_MARGIN = 2.0
MIN_ROWS = 100
NATS_PER_BIT = math.log(2.0)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device``, or CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _autocast(device: torch.device, enabled: bool):
    """bf16/fp16 autocast for critic forwards on CUDA; the bounds always run in float32."""
    if not enabled or device.type != "cuda":
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


# --------------------------------------------------------------------------------------
# MI as a loss
# --------------------------------------------------------------------------------------


class MIEstimate(NamedTuple):
    """objective: the differentiable quantity to maximise (for "jsd" a JS value, not nats);
    mi_nats: the batch's MI reading in nats (detached), through the estimator's readout."""

    objective: Tensor
    mi_nats: Tensor


class MutualInformation(nn.Module):
    """A critic plus a bound: ``MutualInformation(critic, "infonce")(x, y)`` -> :class:`MIEstimate`.

    x (N, ...), y (N, ...) paired row by row. estimator: one of ``ESTIMATORS``; "mine" keeps the
    MINE moving average (``mine_alpha``); "smile" clips at ``clip``. Maximise ``objective``
    (minimise its negative).

    marginal: where the negative pairs come from.
      "all" (default): the critic scores all N x M pairs, ``critic(x, y) -> (N, M)``, positives on
        the diagonal, every off-diagonal pair a negative (N - 1 per row).
      "shuffle": MINE's Algorithm 1. The critic is pointwise, ``critic(x, y) -> (N,)`` (for
        statistics networks that see x and y together, such as a conv net on x biased by y, whose
        N x N evaluation would cost N times more); the negatives are T(x_i, y_pi(i)) for a random
        permutation pi, one per row. A permutation's fixed points (about one per batch) are
        joint pairs counted as negatives: a bias of order 1/N toward 0. "infonce" needs "all".
    """

    MARGINALS = ("all", "shuffle")

    def __init__(
        self,
        critic: nn.Module,
        estimator: str = "jsd",
        *,
        clip: float = 5.0,
        mine_alpha: float = 0.01,
        marginal: str = "all",
    ) -> None:
        super().__init__()
        entry = objectives.estimator(estimator)
        if marginal not in self.MARGINALS:
            raise ConfigError(f"unknown marginal {marginal!r}; choose one of {', '.join(self.MARGINALS)}")
        if marginal == "shuffle" and entry.needs_rows:
            others = ", ".join(name for name, e in ESTIMATORS.items() if not e.needs_rows)
            raise ConfigError(f"{estimator} needs every row's negatives (marginal='all'); with 'shuffle' use {others}")
        self.critic = critic
        self.estimator = estimator
        self.entry = entry
        self.clip = clip
        self.marginal = marginal
        self.moving_average = bounds.MINEMovingAverage(mine_alpha) if entry.needs_moving_average else None

    def objective(self, scores: Tensor | None = None, *, positive: Tensor | None = None,
                  negative: Tensor | None = None, update_average: bool = True) -> Tensor:  # fmt: skip
        """The training objective of this estimator for a score matrix (N, M), or for positive
        (P,) and negative (P, K) scores. ``update_average=False``: "mine" reads its moving average
        without taking in this batch (for the player that minimises or maximises the same bound
        after the statistics network's own step)."""
        if scores is not None:
            if positive is not None or negative is not None:
                raise ValueError("pass either scores, or positive and negative, not both")
            positive, negative = bounds.diagonal_split(scores)
        return self.entry.objective(positive, negative, clip=self.clip, moving_average=self.moving_average,
                                    update=update_average)

    def forward(self, x: Tensor, y: Tensor, *, update_average: bool = True) -> MIEstimate:
        """The estimate on the pairs (x_i, y_i); ``update_average``: see :meth:`objective`."""
        if self.marginal == "shuffle":
            positive = self.critic(x, y).reshape(-1)
            negative = self.critic(x, y[torch.randperm(len(y), device=y.device)]).reshape(-1, 1)
        else:
            positive, negative = bounds.diagonal_split(self.critic(x, y))
        objective = self.objective(positive=positive, negative=negative, update_average=update_average)
        with torch.no_grad():
            mi = readout_value(self.entry.readout, positive.float(), negative.float(), clip=self.clip)
        return MIEstimate(objective, mi)


def adaptive_clip_(
    main_loss: Tensor, mi_loss: Tensor, parameters: Iterable[Tensor], mi_weight: float = 1.0
) -> None:
    """Backward pass with the MINE paper's adaptive gradient clipping (Belghazi et al., App. 1).

    Sets ``p.grad = g_main + mi_weight * min(|g_main|, |g_mi|) / |g_mi| * g_mi`` for the given
    parameters (|.| the Frobenius norm over all of them), so the MI term can never dominate
    the main objective's gradient. Both losses are minimised (pass ``-mi`` to maximise MI).
    """
    params = [p for p in parameters if p.requires_grad]
    g_main = torch.autograd.grad(main_loss, params, retain_graph=True, allow_unused=True)
    g_mi = torch.autograd.grad(mi_loss, params, allow_unused=True)
    g_main = [torch.zeros_like(p) if g is None else g for p, g in zip(params, g_main)]
    g_mi = [torch.zeros_like(p) if g is None else g for p, g in zip(params, g_mi)]
    norm_main = torch.sqrt(sum((g.float() ** 2).sum() for g in g_main))
    norm_mi = torch.sqrt(sum((g.float() ** 2).sum() for g in g_mi))
    scale = torch.minimum(norm_main, norm_mi) / norm_mi.clamp_min(1e-12)
    for p, a, b in zip(params, g_main, g_mi):
        grad = a + mi_weight * scale.to(b.dtype) * b
        p.grad = grad if p.grad is None else p.grad + grad


# --------------------------------------------------------------------------------------
# estimate_mi
# --------------------------------------------------------------------------------------


@dataclass
class MIResult:
    """The result of :func:`estimate_mi`. All values in nats unless the name says bits.

    mi_nats, ci_nats: the reported value (calibrated critic, held-out rows) and its 95% interval.
    is_lower_bound: whether ``mi_nats`` is a lower bound on I(X; Y) (False for SMILE).
    raw_mi_nats, raw_ci_nats: the held-out reading of the trained critic without calibration.
    floored: no evidence of dependence on the calibration rows, so ``mi_nats`` is 0 and
        ``ci_nats`` is [0, upper_limit_nats].
    upper_limit_nats: when floored, the one-sided 95% upper confidence limit of the held-out
        bound of the trained critic (at least 1.645 bootstrap standard errors above 0): no
        dependence above it was detected *by this critic*. Not an upper bound on I(X; Y).
    lower_bound_*: for readouts that are not bounds (SMILE), a true lower bound (DV) read from
        the same critic on the same held-out rows, with its own calibration and interval.
    auto_choice: with ``estimator="auto"``, InfoNCE's reading, its ceiling, the margin, MINE's
        reading when it was trained (near the ceiling) and the estimator reported; seconds and
        timings then include every run trained.
    """

    estimator: str
    readout: str
    mi_nats: float
    ci_nats: tuple[float, float]
    is_lower_bound: bool
    raw_mi_nats: float
    raw_ci_nats: tuple[float, float]
    floored: bool
    upper_limit_nats: float | None
    train_mi_nats: float
    val_mi_nats: float
    ceiling_nats: float | None
    readout_batch_size: int
    negatives_per_positive: int
    rows: dict[str, int]
    steps: int
    best_step: int
    critic_scale: float
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    spread_nats: float | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    lower_bound_readout: str | None = None
    lower_bound_nats: float | None = None
    lower_bound_ci_nats: tuple[float, float] | None = None
    auto_choice: dict[str, Any] | None = None
    transform: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def mi_bits(self) -> float:
        return self.mi_nats / NATS_PER_BIT

    @property
    def ci_bits(self) -> tuple[float, float]:
        return (self.ci_nats[0] / NATS_PER_BIT, self.ci_nats[1] / NATS_PER_BIT)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary, bits included."""
        out = asdict(self)
        for key in ("ci_nats", "raw_ci_nats", "lower_bound_ci_nats"):
            out[key] = None if out[key] is None else list(out[key])
        out["mi_bits"] = self.mi_bits
        out["ci_bits"] = list(self.ci_bits)
        return out


def _as_tensor(values: Any, name: str) -> Tensor:
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


TRANSFORMS = ("standardize", "rank", "asinh", "none")


def _standardize(values: Tensor, kind: str, train_rows: Tensor) -> Tensor:
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


def transform_inputs(values: Tensor, kind: str, train_rows: Tensor, transform: str) -> tuple[Tensor, dict[str, Any]]:
    """Reshape the marginals of one side before the critic sees it, fitted on the training rows.

    "standardize": z-scores (:func:`_standardize`); "rank": :func:`rank_gaussianize`;
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
        return _standardize(values, kind, train_rows), {"transform": "standardize"}
    if transform == "rank":
        z, notes = rank_gaussianize(values, train_rows)
        return z, {"transform": "rank", **notes}
    return torch.asinh(_standardize(values, kind, train_rows)), {"transform": "asinh"}


def _split(n: int, fractions: Sequence[float], generator: torch.Generator, fold: int | None, folds: int):
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


@torch.no_grad()
def block_scores(
    critic: nn.Module, x: Tensor, y: Tensor, block_size: int, device: torch.device, amp: bool, chunk: int = 256
) -> tuple[Tensor, Tensor, int]:
    """Score held-out rows in blocks: positives (R,), per-row negatives (R, B - 1), and B.

    The rows are cut into floor(n / B) blocks of B = min(block_size, n) rows (the remainder,
    fewer than B rows, is left out); within a block every other row is a negative.
    """
    n = x.shape[0]
    size = min(block_size, n)
    n_blocks = n // size
    positives, negatives = [], []
    for b in range(n_blocks):
        xb = x[b * size : (b + 1) * size].to(device)
        yb = y[b * size : (b + 1) * size].to(device)
        with _autocast(device, amp):
            rows = [critic(xb[i : i + chunk], yb).float() for i in range(0, size, chunk)]
        scores = torch.cat(rows)
        positive, negative = bounds.diagonal_split(scores)
        positives.append(positive)
        negatives.append(negative)
    return torch.cat(positives), torch.cat(negatives), size


def _bootstrap(readout: str, positive: Tensor, negative: Tensor, clip: float, draws: int, seed: int) -> np.ndarray:
    """``draws`` bootstrap values of ``readout``, resampling held-out rows (a row keeps its own
    negatives). Each draw costs O(R), not O(R K), where the readout has per-row
    summaries (:attr:`dim.objectives.Readout.row_terms`)."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    n, k = negative.shape
    entry = objectives.readout(readout)
    rows = torch.randint(n, (draws, n), generator=generator).to(positive.device)
    if entry.row_terms is None:  # no per-row form: re-read the resampled scores, O(R K) a draw
        return np.asarray([entry.value(positive[r], negative[r], clip).item() for r in rows])
    a, b = entry.row_terms(positive.float(), negative.float(), clip)
    return np.asarray([entry.row_value(a, b, r, k).item() for r in rows])


CALIBRATION_SCALES = tuple(i / 20 for i in range(21))  # 0, 0.05, ..., 1


def scaled_scores(scores: Tensor, scale: float, readout: str) -> Tensor:
    """The critic shrunk towards the constant critic c whose bound is exactly 0:
    T_s = c + s (T - c), c = the readout's ``null_score`` (0 for DV, SMILE and InfoNCE; 1 for
    NWJ, whose constant optimum is T = 1). s = 1 is the trained critic, s = 0 the constant one."""
    null = objectives.readout(readout).null_score
    return scale * scores if null == 0.0 else null + scale * (scores - null)


class Calibration(NamedTuple):
    """The calibration of a critic on held-aside rows: the best non-constant shrinkage
    ``scale`` (s > 0), its reading ``value`` and that reading's bootstrap standard error;
    ``significant`` when the value exceeds two standard errors (evidence of dependence)."""

    scale: float
    value: float
    standard_error: float
    significant: bool


def calibrate_scale(readout: str, positive: Tensor, negative: Tensor, clip: float, seed: int = 0) -> Calibration:
    """Choose the shrinkage s of the critic on calibration scores (rows used for nothing else).

    s is the value in ``CALIBRATION_SCALES`` (s > 0) whose shrunk critic (:func:`scaled_scores`)
    reads highest; the choice is ``significant`` when that reading exceeds two bootstrap
    standard errors. Otherwise the constant critic (s = 0, bound exactly 0) is the honest
    choice: under independence every non-constant critic reads below 0 in expectation (DV:
    E[T] - log E[e^T] <= 0 by Jensen), so a reading within noise of 0 is no evidence.
    """
    values = [readout_value(readout, scaled_scores(positive, s, readout), scaled_scores(negative, s, readout),
                            clip).item() for s in CALIBRATION_SCALES[1:]]  # fmt: skip
    best = int(np.argmax(values))
    scale = CALIBRATION_SCALES[1:][best]
    replicates = _bootstrap(readout, scaled_scores(positive, scale, readout), scaled_scores(negative, scale, readout),
                            clip, draws=50, seed=seed)  # fmt: skip
    error = float(replicates.std())
    return Calibration(scale, values[best], error, values[best] > 2.0 * error)


class Reading(NamedTuple):
    """A held-out reading of one readout: reported value and 95% interval, the critic scale
    used (0 when floored), the one-sided upper limit when floored, and the uncalibrated
    (s = 1) value and interval, and the seconds spent in the bootstrap."""

    value: float
    interval: tuple[float, float]
    scale: float
    floored: bool
    upper_limit: float | None
    raw_value: float
    raw_interval: tuple[float, float]
    bootstrap_seconds: float = 0.0


ONE_SIDED_95 = 1.6448536  # the standard normal's 95% quantile


def _percentile_interval(replicates: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(replicates, 2.5)), float(np.percentile(replicates, 97.5))


def read_held_out(
    readout: str,
    calibration_scores: tuple[Tensor, Tensor] | None,
    test_scores: tuple[Tensor, Tensor],
    *,
    clip: float,
    bootstrap: int,
    seed: int,
) -> Reading:
    """Read ``readout`` on held-out scores (positive (R,), negative (R, K)).

    Raw: the trained critic (s = 1), its value and bootstrap percentile interval. Calibrated
    (when ``calibration_scores`` are given): the shrinkage s chosen on the calibration rows
    (:func:`calibrate_scale`). With evidence of dependence there, the value is the held-out
    reading of s T and the interval its bootstrap interval. Without it, the value is floored
    at 0 and the interval is [0, U], U = max(raw value, 0) + 1.645 x the raw reading's
    bootstrap standard error: the one-sided 95% upper confidence limit of what the trained
    critic's bound reads on these rows (positive whenever the data are not constant).
    """
    positive, negative = test_scores
    raw_value = readout_value(readout, positive, negative, clip).item()
    started = time.perf_counter()
    raw_replicates = _bootstrap(readout, positive, negative, clip, bootstrap, seed)
    raw_interval = _percentile_interval(raw_replicates)
    if calibration_scores is None:
        return Reading(raw_value, raw_interval, 1.0, False, None, raw_value, raw_interval,
                       time.perf_counter() - started)  # fmt: skip
    calibration = calibrate_scale(readout, *calibration_scores, clip, seed)
    if not calibration.significant:
        upper = max(raw_value, 0.0) + ONE_SIDED_95 * max(float(raw_replicates.std()), 1e-6)
        return Reading(0.0, (0.0, upper), 0.0, True, upper, raw_value, raw_interval,
                       time.perf_counter() - started)  # fmt: skip
    s = calibration.scale
    shrunk = scaled_scores(positive, s, readout), scaled_scores(negative, s, readout)
    value = readout_value(readout, *shrunk, clip).item()
    replicates = _bootstrap(readout, *shrunk, clip, bootstrap, seed)
    return Reading(value, _percentile_interval(replicates), s, False, None, raw_value, raw_interval,
                   time.perf_counter() - started)  # fmt: skip


def _objective_for(estimator: str, clip: float, mine_alpha: float) -> MutualInformation:
    return MutualInformation(nn.Identity(), estimator, clip=clip, mine_alpha=mine_alpha)


def _fit_once(
    x: Tensor,
    y: Tensor,
    *,
    estimator: str,
    readout: str,
    critic: str | nn.Module,
    x_kind: str,
    y_kind: str,
    fractions: Sequence[float],
    fold: int | None,
    folds: int,
    split_rows: tuple[Tensor, Tensor, Tensor, Tensor] | None,
    transform: str,
    batch_size: int,
    steps: int,
    lr: float,
    lr_schedule: str,
    weight_decay: float,
    hidden: int,
    embedding_dim: int,
    critic_layers: int,
    eval_every: int,
    patience: int,
    readout_batch_size: int,
    bootstrap: int,
    clip: float,
    mine_alpha: float,
    calibrate: bool,
    seed: int,
    device: torch.device,
    amp: bool,
    progress: bool,
) -> MIResult:
    start = time.perf_counter()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_rows, val_rows, cal_rows, test_rows = split_rows or _split(x.shape[0], fractions, generator, fold, folds)
    parts = (("training", train_rows), ("early-stopping", val_rows), ("calibration", cal_rows),
             ("held-out", test_rows))  # fmt: skip
    for name, rows in parts:
        if len(rows) < 16:
            raise DataError(
                f"the {name} part has only {len(rows)} rows; give at least {MIN_ROWS} pairs or change the split"
            )
    xs, x_transform = transform_inputs(x, x_kind, train_rows, transform)
    ys, y_transform = transform_inputs(y, y_kind, train_rows, transform)
    x_train, y_train = xs[train_rows], ys[train_rows]
    batch_size = min(batch_size, len(train_rows))

    # copy a user critic, so that repeated runs (seeds, folds) each start from its initial weights
    model = copy.deepcopy(critic) if isinstance(critic, nn.Module) else make_critic(
        x_train[:batch_size], y_train[:batch_size], critic, x_kind=x_kind, y_kind=y_kind,
        hidden=hidden, embedding_dim=embedding_dim, layers=critic_layers,
        x_classes=int(x.max()) + 1 if x_kind == "label" else None,
        y_classes=int(y.max()) + 1 if y_kind == "label" else None,
    )  # fmt: skip
    model = model.to(device)
    mi_module = _objective_for(estimator, clip, mine_alpha).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps) if lr_schedule == "cosine" else None

    def evaluate(rows: Tensor, block: int) -> tuple[Tensor, Tensor, int]:
        model.eval()
        out = block_scores(model, xs[rows], ys[rows], block, device, amp)
        model.train()
        return out

    timings = {"setup": time.perf_counter() - start, "critic_steps": 0.0, "early_stopping": 0.0, "readout": 0.0,
               "bootstrap": 0.0}  # fmt: skip
    clock = time.perf_counter()

    def lap(key: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[key] += now - clock
        clock = now

    val_block = min(readout_batch_size, len(val_rows))
    best_value, best_step, best_state, evals_without_gain = -math.inf, 0, None, 0
    history: list[dict[str, float]] = []
    running = None
    bar = _progress(steps, progress, f"{estimator}")
    step = 0
    epoch_order = torch.randperm(len(train_rows), generator=generator)
    cursor = 0
    for step in range(1, steps + 1):
        if cursor + batch_size > len(train_rows):
            epoch_order, cursor = torch.randperm(len(train_rows), generator=generator), 0
        batch = epoch_order[cursor : cursor + batch_size]
        cursor += batch_size
        xb, yb = x_train[batch].to(device, non_blocking=True), y_train[batch].to(device, non_blocking=True)
        with _autocast(device, amp):
            scores = model(xb, yb)
        objective = mi_module.objective(scores.float())
        optimizer.zero_grad(set_to_none=True)
        (-objective).backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        value = objective.item()
        running = value if running is None else 0.95 * running + 0.05 * value
        lap("critic_steps")
        if step % eval_every == 0 or step == steps:
            val_value = readout_value(readout, *evaluate(val_rows, val_block)[:2], clip).item()
            history.append({"step": step, "train_objective": running, "val_mi_nats": val_value})
            if val_value > best_value:
                best_value, best_step, evals_without_gain = val_value, step, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                evals_without_gain += 1
            if bar is not None:
                bar.set_postfix(val_nats=f"{val_value:.3f}", best=f"{best_value:.3f}")
            lap("early_stopping")
            if evals_without_gain >= patience:
                break
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)

    test_block = min(readout_batch_size, len(test_rows))
    positive, negative, block = evaluate(test_rows, test_block)
    calibration_scores = evaluate(cal_rows, min(readout_batch_size, len(cal_rows)))[:2] if calibrate else None

    def read(name: str) -> Reading:
        return read_held_out(name, calibration_scores, (positive, negative), clip=clip, bootstrap=bootstrap, seed=seed)

    reading = read(readout)
    companion = objectives.readout(readout).companion
    bound = read(companion) if companion else None
    train_positive, train_negative, _ = evaluate(train_rows[: len(test_rows)], test_block)
    train_mi = readout_value(readout, train_positive, train_negative, clip).item()
    lap("readout")
    timings["bootstrap"] = reading.bootstrap_seconds + (bound.bootstrap_seconds if bound else 0.0)
    timings["readout"] -= timings["bootstrap"]
    result = MIResult(
        estimator=estimator,
        readout=readout,
        mi_nats=reading.value,
        ci_nats=reading.interval,
        is_lower_bound=objectives.readout(readout).is_lower_bound,
        raw_mi_nats=reading.raw_value,
        raw_ci_nats=reading.raw_interval,
        floored=reading.floored,
        upper_limit_nats=reading.upper_limit,
        train_mi_nats=train_mi,
        val_mi_nats=best_value,
        ceiling_nats=objectives.readout(readout).ceiling(block),
        readout_batch_size=block,
        negatives_per_positive=block - 1,
        rows={"train": len(train_rows), "val": len(val_rows), "calibration": len(cal_rows),
              "test": len(test_rows) // block * block},  # fmt: skip
        steps=step,
        best_step=best_step,
        critic_scale=reading.scale,
        seconds=time.perf_counter() - start,
        history=history,
        lower_bound_readout=companion,
        lower_bound_nats=None if bound is None else bound.value,
        lower_bound_ci_nats=None if bound is None else bound.interval,
        transform={"x": x_transform, "y": y_transform},
        timings=timings,
    )
    return result


def _progress(total: int, enabled: bool, description: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=False, dynamic_ncols=True)


def _warnings(result: MIResult) -> list[str]:
    out = []
    if result.ceiling_nats is not None and result.mi_nats > result.ceiling_nats - 1.0:
        out.append(
            f"the estimate {result.mi_nats:.2f} nats is within 1 nat of the {result.readout} ceiling "
            f"log {result.readout_batch_size} = {result.ceiling_nats:.2f}; the true MI may be much higher "
            "(raise readout_batch_size, or use a DV/NWJ/SMILE readout)"
        )
    if result.floored:
        out.append(
            "no trained critic read significantly above the constant critic (0 nats) on the calibration part: "
            f"the estimate is floored at 0; no dependence above {result.upper_limit_nats:.3f} nats detected "
            "(the 95% upper limit of the trained critic's held-out bound; weaker dependence may be present)"
        )
    if not result.is_lower_bound:
        note = f"{result.readout} is an estimate, not a lower bound: it can exceed the true MI"
        if result.lower_bound_nats is not None:
            note += (f"; a true lower bound from the same critic ({result.lower_bound_readout}) reads "
                     f"{result.lower_bound_nats:.3f} nats")  # fmt: skip
        out.append(note)
    if len(result.runs) > 1 and _runs_disagree([tuple(r["ci_nats"]) for r in result.runs]):
        readings = ", ".join(f"{r['mi_nats']:.3f}" for r in result.runs)
        out.append(
            f"the runs disagree by more than their intervals (readings {readings} nats): the interval was widened "
            "by their spread; training is unstable on these data (try more steps, a cosine lr_schedule, or more rows)"
        )
    trust = math.log(result.negatives_per_positive) - 1.0
    if result.mi_nats > trust:
        out.append(
            f"the estimate {result.mi_nats:.2f} nats is above log(negatives per positive) - 1 = {trust:.2f}; "
            "lower bounds need about exp(MI) samples, so treat it as a lower bound only"
        )
    if result.train_mi_nats > result.raw_mi_nats + max(0.1, 0.1 * abs(result.raw_mi_nats)):
        out.append(
            f"the critic reads {result.train_mi_nats:.2f} nats on training rows but {result.raw_mi_nats:.2f} held out: "
            "it over-fits (use more pairs, a smaller critic, or weight_decay)"
        )
    return out


def estimate_mi(
    x: Any,
    y: Any,
    *,
    estimator: str = "auto",
    critic: str | nn.Module = "separable",
    readout: str | None = None,
    x_kind: str | None = None,
    y_kind: str | None = None,
    batch_size: int = 256,
    steps: int = 4000,
    lr: float = 1e-3,
    lr_schedule: str = "constant",
    weight_decay: float = 0.0,
    hidden: int = 128,
    embedding_dim: int = 64,
    critic_layers: int = 2,
    eval_every: int = 100,
    patience: int = 10,
    split: Sequence[float] = (0.6, 0.2, 0.2),
    split_rows: Sequence[Any] | None = None,
    transform: str = "rank",
    readout_batch_size: int = 2048,
    bootstrap: int = 200,
    clip: float = 5.0,
    mine_alpha: float = 0.01,
    calibrate: bool = True,
    folds: int | None = None,
    seeds: int = 1,
    seed: int = 0,
    device: str | torch.device | None = None,
    amp: bool = True,
    progress: bool = False,
) -> MIResult:
    """Estimate I(X; Y) in nats from paired samples, with a held-out readout and interval.

    Args:
        x, y: numpy arrays or tensors, paired row by row: (N, ...) each. Float vectors are
            rank-gaussianised and images standardised with the training rows' statistics
            (``transform``); integer (N,) arrays are labels.
        estimator: training objective: "auto" (default), "mine", "smile", "dv", "nwj", "jsd",
            "infonce". Each reports through its readout (``ESTIMATORS``): JSD and MINE through
            DV, SMILE through its clipped DV value (an estimate, not a bound). "auto" trains
            InfoNCE and reports it, unless some run reads within ``AUTO_CEILING_MARGIN`` = 2
            nats of InfoNCE's ceiling log B (B: the held-out block, ``readout_batch_size`` or
            the held-out rows if fewer); then every run is repeated with MINE, and the head
            whose early-stopping readings are higher is reported (``auto_choice`` records
            both; the trigger reads the held-out value, the choice does not). Why: on
            ``scripts/bench_distributions.py`` InfoNCE is the closest head (within max(10%,
            0.05 nats) on 14 of 17 tasks, MINE on 10) and the fastest, but its reading never
            exceeds log B (``scripts/bench_estimators.py``: 6.32 nats of 8, MINE 6.99). With the
            true log-ratio as critic InfoNCE reads log B - log(1 + (B - 1) e^{-I}), so a reading
            below log B - 2 means I < log B - 1.85, where that ceiling bias is under 0.15 nats.
        critic: "separable" (default), "bilinear", "concat", or an ``nn.Module`` mapping
            (x (N, ...), y (M, ...)) -> scores (N, M).
        readout: override the readout: "dv", "nwj", "nwj_shifted", "infonce", "smile".
        x_kind, y_kind: "vector", "image", "sequence", "label"; inferred when unambiguous.
        batch_size, steps, lr, weight_decay, hidden, embedding_dim: critic training (Adam).
            The defaults (128-unit sub-networks, lr 1e-3, patience 10) replaced 256 units,
            lr 3e-4 and patience 20 after a sweep on ``dim.tasks.DISTRIBUTION_TASKS``
            (``scripts/bench_distributions.py``; 3.0x faster than commit fe24eb0 there with
            ``--time``).
        critic_layers: hidden layers of the critic's vector sub-networks (or of a concat
            critic's head).
        lr_schedule: "constant", or "cosine" (lr decays to 0 over ``steps`` by a half cosine:
            steadier late validation readings on hard tasks; early stopping still applies).
        eval_every, patience: validation readout every ``eval_every`` steps; stop after
            ``patience`` readouts without a new best, and keep the best critic.
        split: fractions (train, validation, held-out); the validation rows are halved into
            an early-stopping part and a calibration part.
        split_rows: explicit disjoint row indices (train, validation, held-out), for data
            whose rows are not exchangeable (pairs built from a shared pool of images: give
            each part its own pool); the validation rows are halved as above. Replaces
            ``split``; not combined with ``folds`` or ``seeds > 1``.
        transform: how each side's marginals are reshaped before the critic sees them (fitted
            on the training rows): "standardize" (z-scores), "rank" (empirical CDF, then the
            normal quantile), "asinh" (asinh of z-scores), "none" (:func:`transform_inputs`).
            Per-coordinate invertible maps leave I(X; Y) unchanged; rank and asinh apply to
            float vectors only, images and sequences are standardised. "rank" is the default:
            on the distribution benchmark it keeps heavy-tailed columns from being squashed
            by their extreme rows (a Cauchy pair floored at 0 with z-scores) and undoes
            monotone warps of the marginals exactly.
        readout_batch_size: block size B of the held-out readout; each positive is read
            against the B - 1 other rows of its block (InfoNCE's ceiling is log B).
        bootstrap: number of bootstrap draws over held-out rows for the 95% interval.
        clip: SMILE's tau. mine_alpha: MINE's moving-average rate.
        calibrate: read out the best of the shrunk critics s T, s in {0.05, ..., 1}
            (:func:`scaled_scores`), s chosen on the calibration part (``critic_scale`` in the
            result), or the constant critic (s = 0, bound exactly 0, ``floored``) when no s
            reads above two bootstrap standard errors there: without it, the held-out bound
            of any non-constant critic on independent data is below 0.
        folds: k-fold: each fold is the held-out part once; the estimate is their mean.
        seeds: repeat with ``seeds`` different seeds (initialisation and split).
        device: "cpu", "cuda", ...; default CUDA when available. amp: mixed precision for
            the critic on CUDA (the bounds stay float32).

    Returns:
        :class:`MIResult` with ``mi_nats``, ``mi_bits``, ``ci_nats`` (95%), ``is_lower_bound``,
        ``raw_mi_nats`` / ``raw_ci_nats`` (uncalibrated), ``floored`` / ``upper_limit_nats``,
        for SMILE ``lower_bound_nats`` / ``lower_bound_ci_nats`` (DV of the same critic),
        ``train_mi_nats`` (uncalibrated, on training rows), ``ceiling_nats`` (None where none
        applies), ``history``, ``warnings``; with several runs, ``spread_nats`` (their
        standard deviation), ``runs``, and the interval of :func:`combine_intervals`.
    """
    if estimator not in ESTIMATORS and estimator != "auto":
        raise ConfigError(f"unknown estimator {estimator!r}; choose auto or one of {', '.join(ESTIMATORS)}")
    if estimator == "auto" and readout is not None:
        raise ConfigError(f"estimator='auto' picks its own readout; to read out through {readout!r}, name the "
                          "estimator too (for example estimator='infonce')")  # fmt: skip
    if readout is not None:
        objectives.readout(readout)  # an unknown name is a one-line error
    if len(split) != 3 or any(f <= 0 for f in split) or abs(sum(split) - 1.0) > 1e-6:
        raise ConfigError(f"split must be three positive fractions summing to 1, got {list(split)}")
    if folds is not None and folds < 2:
        raise ConfigError(f"folds must be at least 2, got {folds}")
    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {seeds}")
    if transform not in TRANSFORMS:
        raise ConfigError(f"unknown transform {transform!r}; choose one of {', '.join(TRANSFORMS)}")
    if lr_schedule not in ("constant", "cosine"):
        raise ConfigError(f"unknown lr_schedule {lr_schedule!r}; choose constant or cosine")
    xt, yt = _as_tensor(x, "x"), _as_tensor(y, "y")
    if xt.shape[0] != yt.shape[0]:
        raise DataError(
            f"x has {xt.shape[0]} rows but y has {yt.shape[0]}; the two must be paired row by row"
        )
    if xt.shape[0] < MIN_ROWS:
        raise DataError(f"only {xt.shape[0]} paired rows; give at least {MIN_ROWS} to train and hold out a part")
    x_kind = x_kind or infer_kind(xt)
    y_kind = y_kind or infer_kind(yt)
    dev = resolve_device(device)
    parts = None
    if split_rows is not None:
        if folds or seeds > 1:
            raise ConfigError("split_rows fixes the parts; it cannot be combined with folds or seeds > 1")
        parts = _explicit_parts(split_rows, xt.shape[0])

    fold_ids: list[int | None] = list(range(folds)) if folds else [None]

    def run_all(head: str) -> list[MIResult]:
        """One fit per seed and fold with training objective ``head``."""
        results = []
        for run_seed in range(seed, seed + seeds):
            for fold in fold_ids:
                results.append(_fit_once(
                    xt, yt, estimator=head, readout=readout or ESTIMATORS[head].readout, critic=critic, x_kind=x_kind,
                    y_kind=y_kind, fractions=split, fold=fold, folds=folds or 1, split_rows=parts,
                    transform=transform, batch_size=batch_size, steps=steps, lr=lr, lr_schedule=lr_schedule,
                    weight_decay=weight_decay, hidden=hidden, embedding_dim=embedding_dim,
                    critic_layers=critic_layers, eval_every=eval_every, patience=patience,
                    readout_batch_size=readout_batch_size, bootstrap=bootstrap, clip=clip, mine_alpha=mine_alpha,
                    calibrate=calibrate, seed=run_seed, device=dev, amp=amp, progress=progress,
                ))  # fmt: skip
        return results

    if estimator != "auto":
        return _finish(run_all(estimator))
    infonce = run_all("infonce")
    reported, choice = infonce, {"infonce_nats": float(np.mean([r.mi_nats for r in infonce]))}
    first = infonce[0]
    near_ceiling = any(r.mi_nats >= r.ceiling_nats - AUTO_CEILING_MARGIN for r in infonce)
    if near_ceiling:
        mine = run_all("mine")
        choice["mine_nats"] = float(np.mean([r.mi_nats for r in mine]))
        # both are lower bounds: keep the one that reads higher on the early-stopping rows, so
        # that the held-out reading of the choice is not picked for being high by chance
        if np.mean([r.val_mi_nats for r in mine]) > np.mean([r.val_mi_nats for r in infonce]):
            reported = mine
    final = _finish(reported)
    final.auto_choice = {**choice, "infonce_ceiling_nats": first.ceiling_nats, "margin_nats": AUTO_CEILING_MARGIN,
                         "reported": final.estimator}  # fmt: skip
    if near_ceiling:  # every run trained is part of this estimate's cost
        for r in (infonce if reported is mine else mine):
            final.seconds += r.seconds
            final.timings = {k: v + r.timings[k] for k, v in final.timings.items()}
        final.warnings.append(
            f"estimator 'auto': InfoNCE read up to {max(r.mi_nats for r in infonce):.2f} nats, within "
            f"{AUTO_CEILING_MARGIN:g} nats of its ceiling log {first.readout_batch_size} = {first.ceiling_nats:.2f}, "
            "so MINE (no ceiling) "
            f"was trained too and read {choice['mine_nats']:.2f}; reported: {final.estimator}, the higher of the "
            "two on the early-stopping rows"
        )
    return final


def _finish(results: list[MIResult]) -> MIResult:
    """One result from the runs of one estimator (their aggregate when several), with its warnings."""
    final = results[0] if len(results) == 1 else _aggregate(results)
    final.warnings = _warnings(final)
    return final


def _explicit_parts(split_rows: Sequence[Any], n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(train, stop, calibration, test) index tensors from user parts (train, validation, held-out)."""
    if len(split_rows) != 3:
        raise ConfigError(f"split_rows must hold three index arrays (train, validation, held-out), got {len(split_rows)}")
    train, val, test = (torch.as_tensor(np.asarray(rows), dtype=torch.long).reshape(-1) for rows in split_rows)
    every = torch.cat([train, val, test])
    if every.numel() and (every.min() < 0 or every.max() >= n):
        raise DataError(f"split_rows index out of range for {n} rows; give row numbers 0 .. {n - 1}")
    if torch.unique(every).numel() != every.numel():
        raise DataError("split_rows parts overlap or repeat a row; give each row to at most one part")
    half = (len(val) + 1) // 2
    return train, val[:half], val[half:], test


def combine_intervals(values: Sequence[float], intervals: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """95% interval for the mean of r runs whose held-out parts may overlap (seeds, folds).

    The runs are not independent (seeds share rows; folds share training rows), so their
    bootstrap replicates cannot be averaged as if they were. The rule, conservative on
    purpose: around the mean m, each side is the widest per-run half-width on that side (one
    run's sampling noise, which overlapping runs do not average away) plus
    t_{0.975, r-1} * sd / sqrt(r) (the run-to-run spread of training):

        [m - max_i(v_i - lo_i) - t sd/sqrt(r),  m + max_i(hi_i - v_i) + t sd/sqrt(r)].
    """
    from scipy import stats

    values_arr = np.asarray(values, dtype=float)
    r = len(values_arr)
    mean = float(values_arr.mean())
    spread = float(stats.t.ppf(0.975, r - 1) * values_arr.std(ddof=1) / math.sqrt(r)) if r > 1 else 0.0
    below = max(v - lo for v, (lo, _) in zip(values_arr, intervals))
    above = max(hi - v for v, (_, hi) in zip(values_arr, intervals))
    return mean - below - spread, mean + above + spread


def _runs_disagree(intervals: Sequence[tuple[float, float]]) -> bool:
    """True when some two runs' intervals do not overlap."""
    return max(lo for lo, _ in intervals) > min(hi for _, hi in intervals)


def _aggregate(results: list[MIResult]) -> MIResult:
    """Mean over runs, with the interval of :func:`combine_intervals` (raw and bound alike)."""
    values = [r.mi_nats for r in results]
    first = results[0]
    floored = all(r.floored for r in results)
    bound = None
    if first.lower_bound_nats is not None:
        bounds_ = [r.lower_bound_nats for r in results]
        bound = (float(np.mean(bounds_)), combine_intervals(bounds_, [r.lower_bound_ci_nats for r in results]))
    interval = combine_intervals(values, [r.ci_nats for r in results])
    return MIResult(
        estimator=first.estimator,
        readout=first.readout,
        mi_nats=float(np.mean(values)),
        ci_nats=(max(interval[0], 0.0), interval[1]) if floored else interval,
        is_lower_bound=first.is_lower_bound,
        raw_mi_nats=float(np.mean([r.raw_mi_nats for r in results])),
        raw_ci_nats=combine_intervals([r.raw_mi_nats for r in results], [r.raw_ci_nats for r in results]),
        floored=floored,
        upper_limit_nats=max(r.upper_limit_nats for r in results) if floored else None,
        train_mi_nats=float(np.mean([r.train_mi_nats for r in results])),
        val_mi_nats=float(np.mean([r.val_mi_nats for r in results])),
        ceiling_nats=first.ceiling_nats,
        readout_batch_size=min(r.readout_batch_size for r in results),
        negatives_per_positive=min(r.negatives_per_positive for r in results),
        rows={k: sum(r.rows[k] for r in results) for k in first.rows},
        steps=sum(r.steps for r in results),
        best_step=first.best_step,
        critic_scale=float(np.mean([r.critic_scale for r in results])),
        seconds=sum(r.seconds for r in results),
        history=first.history,
        spread_nats=float(np.std(values, ddof=1)),
        runs=[{k: v for k, v in r.to_dict().items() if k != "history"} for r in results],
        lower_bound_readout=first.lower_bound_readout,
        lower_bound_nats=None if bound is None else bound[0],
        lower_bound_ci_nats=None if bound is None else bound[1],
        transform=first.transform,
        timings={k: sum(r.timings[k] for r in results) for k in first.timings},
    )


def train_online(
    mi: MutualInformation,
    sample_batch: Callable[[int], tuple[Tensor, Tensor]],
    steps: int,
    lr: float = 5e-4,
    inject: Callable[[Tensor, int], Tensor] | None = None,
) -> np.ndarray:
    """Maximise ``mi`` on fresh batches, returning every step's reading in nats (steps,).

    sample_batch(step) -> (x, y): the step's paired batch. inject(scores, step) -> scores:
    optional hook that alters the critic's scores before the bound (used to stress the bounds
    with extreme values). Stops early, raising :class:`DimError`, at the first non-finite
    objective, reading or parameter, naming the step.
    """
    optimizer = torch.optim.Adam(mi.critic.parameters(), lr=lr)
    readings = np.empty(steps)
    for step in range(steps):
        x, y = sample_batch(step)
        scores = mi.critic(x, y).float()
        if inject is not None:
            scores = inject(scores, step)
        objective = mi.objective(scores)
        optimizer.zero_grad(set_to_none=True)
        (-objective).backward()
        optimizer.step()
        with torch.no_grad():
            reading = readout_value(mi.entry.readout, *bounds.diagonal_split(scores), clip=mi.clip)
        readings[step] = reading.item()
        finite_parameters = all(torch.isfinite(p).all() for p in mi.critic.parameters())
        if not (torch.isfinite(objective) and math.isfinite(readings[step]) and finite_parameters):
            raise DimError(f"{mi.estimator}: non-finite objective, reading or weights at step {step}")
    return readings
