"""Mutual information estimation with a trained critic: :func:`estimate_mi`.

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

The modules: :mod:`~dim.estimation.settings` (the critic's settings), :mod:`~dim.estimation.inputs`
(checks, transforms, splits), :mod:`~dim.estimation.fit` (the training loop),
:mod:`~dim.estimation.readout` (held-out readout, bootstrap, calibration) and
:mod:`~dim.estimation.result` (the result, its warnings, several runs combined).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from torch import nn

from dim import objectives
from dim.errors import ConfigError
from dim.estimation.fit import fit_critic
from dim.estimation.inputs import MIN_ROWS, explicit_parts, pairs_from, transform_inputs
from dim.estimation.readout import calibrate_scale, scaled_scores
from dim.estimation.result import MIResult, combine_intervals, finish
from dim.estimation.settings import EstimatorSettings
from dim.objectives import ESTIMATORS
from dim.runtime import critic_threads, resolve_device, thread_limit

__all__ = ["AUTO_CEILING_MARGIN", "MIN_ROWS", "EstimatorSettings", "MIResult", "calibrate_scale", "combine_intervals",
           "estimate_mi", "scaled_scores", "transform_inputs"]

# estimate_mi(estimator="auto"): InfoNCE, unless a reading comes within this many nats of its
# ceiling log B; then MINE (see estimate_mi's docstring for why 2 nats)
AUTO_CEILING_MARGIN = 2.0


def estimate_mi(
    x: Any,
    y: Any,
    settings: EstimatorSettings | None = None,
    *,
    estimator: str = "auto",
    critic: str | nn.Module = "separable",
    readout: str | None = None,
    x_kind: str | None = None,
    y_kind: str | None = None,
    split_rows: Sequence[Any] | None = None,
    folds: int | None = None,
    seeds: int = 1,
    seed: int = 0,
    **overrides: Any,
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
            the held-out rows if fewer); then every run is repeated with MINE, and the
            estimator whose early-stopping readings are higher is reported (``auto_choice``
            records both; the trigger reads the held-out value, the choice does not). Why: on
            ``scripts/bench/bench_distributions.py`` InfoNCE is the closest estimator (within
            max(10%, 0.05 nats) on 14 of 17 tasks, MINE on 10) and the fastest, but its reading
            never exceeds log B. With the true log-ratio as critic InfoNCE reads
            log B - log(1 + (B - 1) e^{-I}), so a reading below log B - 2 means I < log B - 1.85,
            where that ceiling bias is under 0.15 nats.
        critic: "separable" (default), "bilinear", "concat", "interaction", or an ``nn.Module`` mapping
            (x (N, ...), y (M, ...)) -> scores (N, M).
        readout: override the readout: "dv", "nwj", "nwj_shifted", "infonce", "smile".
        x_kind, y_kind: "vector", "image", "sequence", "label"; inferred when unambiguous.
        settings: an :class:`EstimatorSettings` (how the critic trains and is read out);
            default ``EstimatorSettings()``. Any of its fields may also be given as a keyword
            (``steps=600``), which replaces that field: ``batch_size``, ``steps``, ``lr``,
            ``lr_schedule``, ``weight_decay``, ``hidden``, ``embedding_dim``,
            ``critic_layers``, ``ema``, ``eval_every``, ``patience``, ``min_delta``, ``split``, ``transform``,
            ``readout_batch_size``, ``bootstrap``, ``clip``, ``mine_alpha``, ``calibrate``,
            ``amp``, ``device``, ``progress``, ``threads`` (documented there). The defaults (128-unit
            sub-networks, lr 3e-3 for InfoNCE and 1e-3 for the others, weight averaging at 0.99,
            a readout every 50 steps with patience 3, rank transform) were chosen on
            ``dim.tasks.DISTRIBUTION_TASKS`` (``scripts/bench/bench_distributions.py``).
        split_rows: explicit disjoint row indices (train, validation, held-out), for data
            whose rows are not exchangeable (pairs built from a shared pool of images: give
            each part its own pool); the validation rows are halved as above. Replaces
            ``split``; not combined with ``folds`` or ``seeds > 1``.
        folds: k-fold: each fold is the held-out part once; the estimate is their mean.
        seeds: repeat with ``seeds`` different seeds (initialisation and split).

    Returns:
        :class:`MIResult` with ``mi_nats``, ``mi_bits``, ``ci_nats`` (95%), ``is_lower_bound``,
        ``raw_mi_nats`` / ``raw_ci_nats`` (uncalibrated), ``floored`` / ``upper_limit_nats``,
        for SMILE ``lower_bound_nats`` / ``lower_bound_ci_nats`` (DV of the same critic),
        ``train_mi_nats`` (uncalibrated, on training rows), ``ceiling_nats`` (None where none
        applies), ``history``, ``warnings``; with several runs, ``spread_nats`` (their
        standard deviation), ``runs``, and the interval of :func:`combine_intervals`.
    """
    s = (settings or EstimatorSettings()).updated(**overrides)
    s.validate()
    if estimator != "auto" and estimator not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {estimator!r}; choose auto or one of {', '.join(ESTIMATORS)}")
    if estimator == "auto" and readout is not None:
        raise ConfigError(f"estimator='auto' picks its own readout; to read out through {readout!r}, name the "
                          "estimator too (for example estimator='infonce')")  # fmt: skip
    if readout is not None:
        objectives.readout(readout)  # an unknown name is a one-line error
    if folds is not None and folds < 2:
        raise ConfigError(f"folds must be at least 2, got {folds}")
    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {seeds}")
    pairs = pairs_from(x, y, x_kind, y_kind)
    dev = resolve_device(s.device)
    threads = critic_threads(dev, s.threads)
    parts = None
    if split_rows is not None:
        if folds or seeds > 1:
            raise ConfigError("split_rows fixes the parts; it cannot be combined with folds or seeds > 1")
        parts = explicit_parts(split_rows, pairs.x.shape[0])

    fold_ids: list[int | None] = list(range(folds)) if folds else [None]

    def run_all(name: str) -> list[MIResult]:
        """One fit per seed and fold with estimator ``name``."""
        results = []
        with thread_limit(threads):
            for run_seed in range(seed, seed + seeds):
                for fold in fold_ids:
                    results.append(fit_critic(
                        pairs, estimator=name, readout=readout or ESTIMATORS[name].readout, critic=critic, settings=s,
                        seed=run_seed, fold=fold, folds=folds or 1, split_rows=parts, device=dev,
                    ))  # fmt: skip
        return results

    if estimator != "auto":
        return finish(run_all(estimator))
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
    final = finish(reported)
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
