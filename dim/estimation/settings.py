"""The settings of :func:`dim.estimate_mi`'s critic: how it trains and how it is read out.

One dataclass that the function, the command line (``scripts/estimate_mi.py``) and the config
(``configs/estimate_mi.yaml``) share: :meth:`EstimatorSettings.from_config` reads every field
from the config in one call, so no option can be left behind.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from dim.bounds import MINE_ALPHA, SMILE_TAU
from dim.errors import ConfigError

__all__ = ["CONFIG_SECTIONS", "LR_SCHEDULES", "TRANSFORMS", "EstimatorSettings"]

TRANSFORMS = ("standardize", "rank", "asinh", "none")
LR_SCHEDULES = ("constant", "cosine")
# where each field lives in configs/estimate_mi.yaml: "training.<field>" unless named here
CONFIG_SECTIONS = {"transform": "", "amp": "", "device": "", "progress": "", "threads": "", "clip": "estimator",
                   "mine_alpha": "estimator"}  # fmt: skip


@dataclass(frozen=True)
class EstimatorSettings:
    """How :func:`dim.estimate_mi` trains its critic and reads it out; the defaults are the
    library's (chosen on ``scripts/bench/bench_distributions.py``).

    batch_size, steps, lr, weight_decay: the critic's Adam training (``steps`` is an upper
        limit: early stopping usually ends sooner). ``lr=None``: the estimator's own rate
        (``critic_lr`` in :data:`dim.objectives.ESTIMATORS`: 3e-3 for InfoNCE, whose softmax
        gradient is bounded; 1e-3 for DV, MINE, NWJ, JSD and SMILE, where MINE reads lower at
        higher rates).
    lr_schedule: "constant", or "cosine" (lr decays to 0 over ``steps`` by a half cosine).
    hidden, embedding_dim, critic_layers: width of the critic's sub-networks, width of the
        embeddings f(x), g(y) of separable, bilinear and interaction critics, and their hidden layers.
    fourier_features: a side with a single column gets a fixed Fourier basis of this many
        frequencies before its MLP (:class:`dim.critics.FourierFeatures`; 0: none): a step in
        the log-ratio, such as a band |y - x| < eps, is fit sooner (on the benchmark's eps 0.1
        band 0.083 nats closer). Sides with several columns keep the plain MLP.
    radial_feature: a side with several columns also gets its root-mean-square
        sqrt(mean_j x_j^2) as one more input (:class:`dim.critics.RadialFeature`): a dependence
        through each side's scale (a shared heavy tail, a spiral) is fit sooner.
    radius_column: a float vector side of several columns gets each row's radius, taken on the
        input scale before the marginal transform (robustly scaled per column), as one more
        column (:func:`dim.estimation.inputs.with_radius`): the per-column transform keeps no
        row's radius, and on the benchmark's heavy-tailed and spiral tasks this column closes
        most of the remaining gap. For the critics ``estimate_mi`` builds; a user's
        ``nn.Module`` critic sees the sides as given.
    ema: weight averaging: the critic that is read out (on the validation, calibration and
        held-out rows) is the bias-corrected exponential moving average of the trained weights
        with decay ``ema``, updated after every step (:class:`dim.runtime.WeightAverage`), which
        smooths the optimiser's noise out of the validation curve and of the critic kept; 0 reads
        the trained weights themselves.
    eval_every, patience, min_delta: a validation readout every ``eval_every`` steps; stop
        after ``patience`` readouts in a row that gain no more than ``min_delta`` nats over the
        last reading that did (0: any new best counts), and keep the best critic.
    split: fractions (train, validation, held-out); the validation rows are halved into an
        early-stopping part and a calibration part.
    transform: how each side's marginals are reshaped before the critic sees them, fitted on
        the training rows: "rank" (empirical CDF, then the normal quantile), "standardize",
        "asinh" (of z-scores) or "none" (:func:`dim.estimation.inputs.transform_inputs`).
    readout_batch_size: block size B of the held-out readout: each positive is read against
        the B - 1 other rows of its block (InfoNCE's ceiling is log B).
    bootstrap: bootstrap draws over held-out rows for the 95% interval.
    clip: SMILE's tau. mine_alpha: MINE's moving-average rate.
    calibrate: read out the best shrunk critic s T, s chosen on the calibration part, or the
        constant critic (estimate floored at 0) when none reads significantly above 0.
    amp: mixed precision for the critic on CUDA (the bounds stay float32).
    device: "cpu", "cuda", ...; None: CUDA when available.
    progress: a progress bar on stderr.
    threads: torch's intra-op threads while the critic trains; None: one on the CPU (small
        critics run fastest there on one thread, and stay fast beside other work,
        :func:`dim.runtime.critic_threads`), unchanged on CUDA. The caller's own setting is
        restored when ``estimate_mi`` returns.
    """

    batch_size: int = 256
    steps: int = 4000
    lr: float | None = None
    lr_schedule: str = "constant"
    weight_decay: float = 0.0
    hidden: int = 128
    embedding_dim: int = 64
    critic_layers: int = 2
    fourier_features: int = 8
    radial_feature: bool = True
    radius_column: bool = True
    ema: float = 0.99
    eval_every: int = 50
    patience: int = 3
    min_delta: float = 0.0
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    transform: str = "rank"
    readout_batch_size: int = 2048
    bootstrap: int = 200
    clip: float = SMILE_TAU
    mine_alpha: float = MINE_ALPHA
    calibrate: bool = True
    amp: bool = True
    device: str | torch.device | None = None
    progress: bool = False
    threads: int | None = None

    def validate(self) -> None:
        """One-line :class:`ConfigError` for a setting outside its range."""
        split = tuple(self.split)
        if len(split) != 3 or any(f <= 0 for f in split) or abs(sum(split) - 1.0) > 1e-6:
            raise ConfigError(f"split must be three positive fractions summing to 1, got {list(split)}")
        if self.transform not in TRANSFORMS:
            raise ConfigError(f"unknown transform {self.transform!r}; choose one of {', '.join(TRANSFORMS)}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ConfigError(f"threads must be a positive integer (or None for the default), got {self.threads!r}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema must be in [0, 1) (0 turns weight averaging off), got {self.ema}")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"lr must be a positive learning rate (or None for the estimator's own), got {self.lr}")
        if not isinstance(self.fourier_features, int) or self.fourier_features < 0:
            raise ConfigError(f"fourier_features must be a whole number of frequencies (0: none), got {self.fourier_features!r}")
        if self.min_delta < 0:
            raise ConfigError(f"min_delta must be at least 0 nats, got {self.min_delta}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"unknown lr_schedule {self.lr_schedule!r}; choose constant or cosine")

    def updated(self, **changes: Any) -> "EstimatorSettings":
        """A copy with ``changes``; an unknown name is a one-line error naming the nearest field."""
        names = [f.name for f in fields(self)]
        for key in changes:
            if key not in names:
                import difflib

                near = difflib.get_close_matches(key, names, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ConfigError(f"unknown estimate_mi setting {key!r}{hint} (see EstimatorSettings)")
        return replace(self, **changes)

    @classmethod
    def from_config(cls, cfg: Any) -> "EstimatorSettings":
        """Every field from a composed ``estimate_mi`` config (see ``CONFIG_SECTIONS``)."""
        values = {}
        for f in fields(cls):
            section = CONFIG_SECTIONS.get(f.name, "training")
            node = cfg if not section else cfg[section]
            if f.name not in node:
                raise ConfigError(f"the config has no {(section + '.') if section else ''}{f.name}")
            value = node[f.name]
            values[f.name] = tuple(value) if f.name == "split" else value
        return cls(**values)
