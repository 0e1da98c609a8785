"""The Information Bottleneck: a classifier on a stochastic code z, minimising CE + beta * I(X; Z).

The network is the permutation-invariant MLP of the VIB and MINE papers: x (flattened) ->
1024 -> 1024 -> z (K = 256) -> softmax classifier (a linear map of z); widths are settings.
Regularizers (``REGULARIZERS``):

* ``none``, ``dropout`` (on the code, before the classifier), ``label_smoothing``,
  ``confidence_penalty`` (CE - w * H(p(y|z)), Pereyra et al. 2017): deterministic code;
* ``vib``: Gaussian p(z|x), beta * E KL(p(z|x) || N(0, I)) (Alemi et al. 2016; an upper bound);
* ``club``: Gaussian or additive p(z|x), beta * CLUB with the known conditional (an upper bound);
* ``mine``: Gaussian, additive or propagated noise; beta * MINE's DV lower bound on I(X; Z) from
  a statistics network T(x, z) (separable here, for CPU cost; the MINE paper used a 2-layer MLP
  on (x, z)), with MINE's moving-average gradient and, by default, its adaptive gradient clipping.

MINE-IB is a game. Each step first takes one step of the statistics network on its own
optimizer, *maximising* the bound on the batch with z detached (:meth:`IBTrainer.critic_step`);
then one step of encoder and classifier *minimising* CE + beta * bound through the updated
network, whose parameters that step does not change (:meth:`IBTrainer.encoder_step`).

:func:`select_beta` chooses beta without the test split: it trains on all but the last
``holdout`` training rows for each candidate and seed, reads the error on those held-out rows,
and keeps the candidate with the lowest mean.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dim import upper_bounds as ub
from dim.bounds import MINE_ALPHA
from dim.critics import make_critic
from dim.encoders import MLPEncoder
from dim.errors import ConfigError, DataError
from dim.gradients import fit_statistics, regularized_gradients
from dim.loss import MutualInformation
from dim.runtime import follow_cores, shared_cores
from dim.sandwich import estimate_mi_bounds
from dim.stochastic import ConditionalDensity, StochasticEncoder, require_conditional

__all__ = ["REGULARIZERS", "BetaSweep", "IBClassifier", "IBRun", "IBSettings", "IBTrainer", "holdout_split",
           "pick_beta", "select_beta", "train_ib"]

REGULARIZERS = ("none", "dropout", "label_smoothing", "confidence_penalty", "vib", "mine", "club")
# noise kinds each regularizer accepts (None: deterministic code)
NOISE_FOR = {"vib": ("gaussian",), "club": ("gaussian", "additive"), "mine": ("gaussian", "additive", "propagated")}


@dataclass
class IBSettings:
    """Everything a run needs; defaults are the VIB paper's network with a short schedule."""

    regularizer: str = "none"
    beta: float = 1e-3  # weight of the I(X; Z) term (vib, club, mine)
    noise: str = "gaussian"  # gaussian | additive | propagated (see NOISE_FOR)
    sigma: float = 1.0  # fixed noise scale of additive and propagated noise
    hidden: int = 1024
    code_dim: int = 256
    epochs: int = 20
    batch_size: int = 100
    lr: float = 1e-4
    lr_decay: float = 0.97  # multiplied every 2 epochs (VIB's schedule)
    dropout: float = 0.5
    label_smoothing: float = 0.1
    confidence_penalty: float = 0.1
    critic_hidden: int = 256
    critic_embedding: int = 64
    critic_lr: float = 1e-4
    mine_alpha: float = MINE_ALPHA
    adaptive_clip: bool = True
    test_samples: int = 12  # codes averaged per test input (stochastic encoders)
    record_every: int = 1  # epochs between information-plane records (0: only at the end)
    record_rows: int = 1000  # test rows for the records' bounds
    seed: int = 0
    threads: int | None = None  # CPU threads; None: the cores other processes leave free (dim.runtime.CoreShare)

    def validate(self) -> None:
        if self.regularizer not in REGULARIZERS:
            raise ConfigError(f"unknown regularizer {self.regularizer!r}; choose one of {', '.join(REGULARIZERS)}")
        if not self.beta >= 0:
            raise ConfigError(f"beta must be >= 0 (it weighs the I(X; Z) penalty), got {self.beta}")
        allowed = NOISE_FOR.get(self.regularizer)
        if allowed and self.noise not in allowed:
            raise ConfigError(f"regularizer {self.regularizer} needs noise in {', '.join(allowed)}, got {self.noise!r}")
        if self.epochs < 1 or self.batch_size < 2:
            raise ConfigError(f"epochs must be >= 1 and batch_size >= 2, got {self.epochs}, {self.batch_size}")


class IBClassifier(nn.Module):
    """Encoder (deterministic or :class:`StochasticEncoder`) and a linear softmax classifier on z.

    ``encoder``: your own p(z|x) instead of the built-in one, an ``nn.Module`` with ``sample(x)``
    and ``log_prob(z, x)`` (:class:`dim.stochastic.ConditionalDensity`) whose codes have
    ``settings.code_dim`` columns. The MINE penalty needs only its samples and the sandwich
    records only its density; VIB and CLUB need a :class:`StochasticEncoder`'s Gaussian.
    """

    def __init__(self, in_dim: int, num_classes: int, settings: IBSettings, encoder: nn.Module | None = None) -> None:
        super().__init__()
        if encoder is not None:
            require_conditional(encoder)
            if settings.regularizer in ("vib", "club") and not isinstance(encoder, StochasticEncoder):
                raise ConfigError(f"regularizer {settings.regularizer} needs the Gaussian p(z|x) of a "
                                  "StochasticEncoder; with your own conditional model use regularizer=mine")
            self.encoder: nn.Module = encoder
        else:
            base = MLPEncoder(in_dim, settings.hidden, settings.code_dim)
            noise = settings.noise if settings.regularizer in NOISE_FOR else None
            self.encoder = base if noise is None else StochasticEncoder(base, noise, settings.sigma)
        self.dropout = nn.Dropout(settings.dropout) if settings.regularizer == "dropout" else nn.Identity()
        self.classifier = nn.Linear(settings.code_dim, num_classes)

    @property
    def stochastic(self) -> bool:
        return isinstance(self.encoder, (StochasticEncoder, ConditionalDensity))

    @property
    def has_density(self) -> bool:
        """Whether p(z|x) has a density the sandwich can read."""
        return self.stochastic and getattr(self.encoder, "has_density", True)

    def encode(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        """A code z (N, K) and, when p(z|x) is a known Gaussian, its (mean, log_var) (z drawn from them)."""
        if not self.stochastic:
            return self.encoder(x).code, None
        if not isinstance(self.encoder, StochasticEncoder):
            return self.encoder.sample(x), None
        if not self.encoder.has_density:
            return self.encoder.sample(x), None
        mean, log_var = self.encoder.conditional(x)
        return mean + torch.exp(0.5 * log_var) * torch.randn_like(mean), (mean, log_var)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, classes) for one code per input."""
        return self.classifier(self.dropout(self.encode(x)[0]))

    @torch.no_grad()
    def predict_proba(self, x: Tensor, samples: int = 12) -> Tensor:
        """p(y|x) averaged over ``samples`` codes (one for a deterministic encoder), eval mode."""
        was_training = self.training
        self.eval()
        draws = samples if self.stochastic else 1
        probabilities = torch.stack([F.softmax(self(x), dim=1) for _ in range(draws)]).mean(0)
        self.train(was_training)
        return probabilities


def _entropy(logits: Tensor) -> Tensor:
    """Mean entropy of the softmax of each row, nats."""
    log_p = F.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(1).mean()


class IBTrainer:
    """One model, its optimizer, and (for ``mine``) the statistics network with its own optimizer."""

    def __init__(self, model: IBClassifier, settings: IBSettings, example_x: Tensor) -> None:
        self.model, self.settings = model, settings
        self.optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, betas=(0.5, 0.999))
        self.mi: MutualInformation | None = None
        if settings.regularizer == "mine":
            with torch.no_grad():
                example_z = model.encode(example_x)[0]
            critic = make_critic(example_x, example_z, "separable", hidden=settings.critic_hidden,
                                 embedding_dim=settings.critic_embedding)  # fmt: skip
            self.mi = MutualInformation(critic, "mine", mine_alpha=settings.mine_alpha)
            self.critic_optimizer = torch.optim.Adam(critic.parameters(), lr=settings.critic_lr)

    def critic_step(self, x: Tensor) -> float:
        """One ascent step of the statistics network on (x, z), z detached. Returns the batch's
        DV reading before the step (nats)."""
        with torch.no_grad():
            z = self.model.encode(x)[0]
        return fit_statistics(self.mi, self.critic_optimizer, x, z).mi_nats.item()

    def penalty(self, x: Tensor, z: Tensor, conditional: tuple[Tensor, Tensor] | None) -> Tensor:
        """The I(X; Z) term of the loss for this batch, nats (0 for non-MI regularizers)."""
        kind = self.settings.regularizer
        if kind == "vib":
            return ub.variational_marginal_upper_bound(*conditional)
        if kind == "club":
            return ub.club_upper_bound(ub.gaussian_log_likelihoods(z, *conditional))
        if kind == "mine":  # read the bound with the moving average, without updating it
            return self.mi(x, z, update_average=False).objective
        return torch.zeros((), device=z.device)

    def encoder_step(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """One descent step of encoder and classifier on CE + beta * penalty (+ the other regularizers)."""
        s = self.settings
        z, conditional = self.model.encode(x)
        logits = self.model.classifier(self.model.dropout(z))
        ce = F.cross_entropy(logits, y, label_smoothing=s.label_smoothing if s.regularizer == "label_smoothing" else 0.0)
        main = ce - s.confidence_penalty * _entropy(logits) if s.regularizer == "confidence_penalty" else ce
        penalty = self.penalty(x, z, conditional)
        regularized_gradients(main, penalty, list(self.model.parameters()), s.beta,
                              adaptive_clip=s.regularizer == "mine" and s.adaptive_clip)
        self.optimizer.step()
        return {"ce": ce.item(), "penalty": penalty.item()}

    def step(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """The critic's step (mine), then the encoder's."""
        critic_reading = self.critic_step(x) if self.mi is not None else None
        out = self.encoder_step(x, y)
        if critic_reading is not None:
            out["critic_mi"] = critic_reading
        return out


@dataclass
class IBRun:
    """A finished run: settings, final test error (%), and per-epoch records (information plane:
    ``i_xz_lower`` / ``i_xz_upper`` the sandwich where p(z|x) is known, ``i_xz_mine`` the statistics
    network's DV reading for mine, ``i_zy_lower`` = H(Y) - test CE, a lower bound on I(Z; Y))."""

    settings: dict[str, Any]
    test_error: float
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _label_entropy(y: Tensor) -> float:
    p = torch.bincount(y).double() / len(y)
    p = p[p > 0]
    return float(-(p * p.log()).sum())


@torch.no_grad()
def _record(trainer: IBTrainer, x: Tensor, y: Tensor, epoch: int, train_ce: float) -> dict[str, float]:
    model, s = trainer.model, trainer.settings
    probabilities = model.predict_proba(x, s.test_samples)
    record = {"epoch": epoch, "train_ce": train_ce,
              "test_error": 100.0 * float((probabilities.argmax(1) != y).float().mean()),
              "i_zy_lower": _label_entropy(y) - float(F.nll_loss(probabilities.clamp_min(1e-12).log(), y))}  # fmt: skip
    rows = x[: s.record_rows]
    if model.has_density:
        bounds = estimate_mi_bounds(model.encoder, rows, block_size=len(rows), bootstrap=20, seed=epoch)
        model.train()
        record.update(i_xz_lower=bounds.lower_nats, i_xz_upper=bounds.upper_nats, i_xz_ceiling=bounds.ceiling_nats)
    if trainer.mi is not None:
        trainer.mi.eval()
        record["i_xz_mine"] = trainer.mi(rows, model.encode(rows)[0]).mi_nats.item()
        trainer.mi.train()
    return record


def train_ib(
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    settings: IBSettings,
    progress: Callable[[dict[str, float]], None] | None = None,
    encoder: nn.Module | None = None,
) -> tuple[IBRun, IBClassifier]:
    """Train one IB classifier and report its test error (%) and information-plane records.

    x_* (N, ...) float (flattened inside), y_* (N,) int64 labels; the test rows are never trained
    on (they give the error and the records). ``encoder``: your own p(z|x) (see
    :class:`IBClassifier`). Returns the :class:`IBRun` and the trained model.
    """
    settings.validate()
    if x_train.shape[0] != y_train.shape[0] or x_test.shape[0] != y_test.shape[0]:
        raise DataError(f"x_train/y_train have {x_train.shape[0]}/{y_train.shape[0]} rows and x_test/y_test "
                        f"{x_test.shape[0]}/{y_test.shape[0]}; inputs and labels must be paired row by row")  # fmt: skip
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    x_train, x_test = x_train.flatten(1).float(), x_test.flatten(1).float()
    classes = int(max(y_train.max(), y_test.max())) + 1
    model = IBClassifier(x_train.shape[1], classes, settings, encoder)
    trainer = IBTrainer(model, settings, x_train[: settings.batch_size])
    scheduler = torch.optim.lr_scheduler.StepLR(trainer.optimizer, step_size=2, gamma=settings.lr_decay)
    generator = torch.Generator().manual_seed(settings.seed)
    history = []
    with shared_cores(torch.device("cpu"), settings.threads):
        for epoch in range(1, settings.epochs + 1):
            order = torch.randperm(len(x_train), generator=generator)
            losses = []
            for start in range(0, len(order) - settings.batch_size + 1, settings.batch_size):
                rows = order[start : start + settings.batch_size]
                losses.append(trainer.step(x_train[rows], y_train[rows])["ce"])
                follow_cores()
            scheduler.step()
            last = epoch == settings.epochs
            if last or (settings.record_every and epoch % settings.record_every == 0):
                history.append(_record(trainer, x_test, y_test, epoch, float(np.mean(losses))))
                if progress is not None:
                    progress(history[-1])
    run = IBRun(asdict(settings), history[-1]["test_error"], history, time.perf_counter() - started)
    return run, model



@dataclass
class BetaSweep:
    """A beta chosen on held-out training rows: each candidate's validation errors (%, one per
    seed), the candidate with the lowest mean, and how many training rows were held out."""

    errors: dict[float, list[float]]
    chosen: float
    validation_rows: int

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "validation_rows": self.validation_rows,
                "candidates": [{"beta": beta, "validation_error_mean": float(np.mean(e)),
                                "validation_error_std": float(np.std(e, ddof=1)) if len(e) > 1 else 0.0,
                                "validation_errors": list(e)} for beta, e in self.errors.items()]}  # fmt: skip


def holdout_split(n_rows: int, holdout: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) row indices of a training set of ``n_rows``: the last ``holdout`` rows validate."""
    if not 0 < holdout < n_rows:
        raise ConfigError(f"holdout must leave rows on both sides: 0 < holdout < {n_rows}, got {holdout}")
    return np.arange(n_rows - holdout), np.arange(n_rows - holdout, n_rows)


def pick_beta(errors: dict[float, Sequence[float]]) -> float:
    """The beta with the lowest mean error; a tie goes to the smaller beta."""
    if not errors:
        raise ConfigError("no candidate betas to choose from")
    return min(errors, key=lambda beta: (float(np.mean(errors[beta])), beta))


def select_beta(
    x_train: Tensor,
    y_train: Tensor,
    settings: IBSettings,
    candidates: Sequence[float],
    seeds: Sequence[int],
    holdout: int = 1000,
    train: Callable[..., tuple[IBRun, Any]] = train_ib,
) -> BetaSweep:
    """Choose ``settings.beta`` among ``candidates`` from the training rows alone.

    For each candidate and seed, ``train`` (``train_ib``'s signature) fits on all but the last
    ``holdout`` rows of (x_train, y_train) and is scored on those last rows; no test rows enter.
    """
    fit, validation = holdout_split(len(x_train), holdout)
    x_fit, y_fit, x_val, y_val = x_train[fit], y_train[fit], x_train[validation], y_train[validation]
    errors = {float(beta): [float(train(x_fit, y_fit, x_val, y_val, replace(settings, beta=float(beta), seed=seed))[0]
                                  .test_error) for seed in seeds] for beta in candidates}  # fmt: skip
    return BetaSweep(errors, pick_beta(errors), holdout)
