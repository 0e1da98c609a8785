"""Reading a trained critic on held-out rows: block scores, the bootstrap interval, and the
calibration that shrinks the critic towards the constant one (whose bound is exactly 0)."""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from dim import bounds, objectives
from dim.objectives import readout_value
from dim.runtime import autocast

__all__ = ["CALIBRATION_SCALES", "DEFAULT_PAIR_WIDTH", "ONE_SIDED_95", "READOUT_BUDGET", "Calibration", "Reading", "block_scores", "bootstrap_readings",
           "calibrate_scale", "percentile_interval", "read_held_out", "scaled_scores"]


# the values a readout's forward pass may hold at once (256 MiB in float32), and the values per
# scored pair assumed of a critic that does not say (its ``pair_width`` attribute)
READOUT_BUDGET = 2**26
DEFAULT_PAIR_WIDTH = 128


@torch.no_grad()
def block_scores(
    critic: nn.Module, x: Tensor, y: Tensor, block_size: int, device: torch.device, amp: bool
) -> tuple[Tensor, Tensor, int]:
    """Score held-out rows in blocks: positives (R,), per-row negatives (R, B - 1), and B.

    The rows are cut into floor(n / B) blocks of B = min(block_size, n) rows (the remainder,
    fewer than B rows, is left out); within a block every other row is a negative. A block is
    scored in chunks of rows against all B of its y, each chunk holding at most
    ``READOUT_BUDGET`` values: rows = READOUT_BUDGET // (B w), w the critic's ``pair_width``
    (1 for a separable critic, whose whole block is one pass; ``DEFAULT_PAIR_WIDTH`` where the
    critic has none).
    """
    n = x.shape[0]
    size = min(block_size, n)
    n_blocks = n // size
    chunk = max(1, READOUT_BUDGET // (size * getattr(critic, "pair_width", DEFAULT_PAIR_WIDTH)))
    positives, negatives = [], []
    for b in range(n_blocks):
        xb = x[b * size : (b + 1) * size].to(device)
        yb = y[b * size : (b + 1) * size].to(device)
        with autocast(device, amp):
            rows = [critic(xb[i : i + chunk], yb).float() for i in range(0, size, chunk)]
        scores = torch.cat(rows) if len(rows) > 1 else rows[0]
        positive, negative = bounds.diagonal_split(scores)
        positives.append(positive)
        negatives.append(negative)
    return torch.cat(positives), torch.cat(negatives), size


def bootstrap_readings(
    readout: str, positive: Tensor, negative: Tensor, clip: float, draws: int, seed: int
) -> np.ndarray:
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
    per_pass = max(1, READOUT_BUDGET // (16 * n))  # draws read at once: at most READOUT_BUDGET / 16 values gathered
    return torch.cat([entry.row_value(a, b, r, k) for r in rows.split(per_pass)]).cpu().numpy().astype(np.float64)


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
    shrunk = scaled_scores(positive, scale, readout), scaled_scores(negative, scale, readout)
    replicates = bootstrap_readings(readout, *shrunk, clip, draws=50, seed=seed)
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


def percentile_interval(replicates: np.ndarray) -> tuple[float, float]:
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
    raw_replicates = bootstrap_readings(readout, positive, negative, clip, bootstrap, seed)
    raw_interval = percentile_interval(raw_replicates)
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
    replicates = bootstrap_readings(readout, *shrunk, clip, bootstrap, seed)
    return Reading(value, percentile_interval(replicates), s, False, None, raw_value, raw_interval,
                   time.perf_counter() - started)  # fmt: skip
