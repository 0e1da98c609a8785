"""The result of :func:`dim.estimate_mi`: values, intervals, warnings, and the aggregate of
several runs (seeds, folds)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from dim.bounds import NATS_PER_BIT

__all__ = ["MIResult", "aggregate", "combine_intervals", "estimate_note", "estimator_label", "finish", "floored_note",
           "result_warnings", "runs_disagree"]


@dataclass
class MIResult:
    """The result of :func:`estimate_mi`. All values in nats unless the name says bits.

    mi_nats, ci_nats: the reported value (calibrated critic, held-out rows) and its 95% interval:
        the sampling interval of this critic's held-out reading, so for a bound its lower limit is
        a lower limit on I(X; Y) but its upper limit is not an upper limit (measured: the truth
        inside it in 48% of the distribution benchmark's runs, below its lower limit in none).
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


def floored_note(result: MIResult) -> str:
    """What a floored estimate means, in one clause (the result's warning and the table's note)."""
    return f"no dependence above {result.upper_limit_nats:.3f} nats detected"


def estimate_note(result: MIResult) -> str:
    """What a value that is not a lower bound means, with the true bound read beside it (the
    result's warning and the table's note)."""
    note = f"{result.readout} is an estimate, not a lower bound: it can exceed the true MI"
    if result.lower_bound_nats is not None:
        note += (f"; a true lower bound from the same critic ({result.lower_bound_readout}) reads "
                 f"{result.lower_bound_nats:.3f} nats")  # fmt: skip
    return note


def estimator_label(result: MIResult) -> str:
    """"infonce", "jsd, read as dv", "auto: infonce": the estimator, and its readout when it differs."""
    label = result.estimator if result.readout == result.estimator else f"{result.estimator}, read as {result.readout}"
    return f"auto: {label}" if result.auto_choice is not None else label


def result_warnings(result: MIResult) -> list[str]:
    """The notes a reader of ``result`` needs: ceilings, floors, estimates that are not bounds,
    runs that disagree, over-fitting."""
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
            f"the estimate is floored at 0; {floored_note(result)} "
            "(the 95% upper limit of the trained critic's held-out bound; weaker dependence may be present)"
        )
    if not result.is_lower_bound:
        out.append(estimate_note(result))
    if len(result.runs) > 1 and runs_disagree([tuple(r["ci_nats"]) for r in result.runs]):
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


def finish(results: list[MIResult]) -> MIResult:
    """One result from the runs of one estimator (their aggregate when several), with its warnings."""
    final = results[0] if len(results) == 1 else aggregate(results)
    final.warnings = result_warnings(final)
    return final


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


def runs_disagree(intervals: Sequence[tuple[float, float]]) -> bool:
    """True when some two runs' intervals do not overlap."""
    return max(lo for lo, _ in intervals) > min(hi for _, hi in intervals)


def aggregate(results: list[MIResult]) -> MIResult:
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
