"""MI as a loss: a critic plus a bound, for use inside any training loop.

``MutualInformation(critic, "infonce")(x, y)`` scores the pairs with the critic and returns the
estimator's training objective (to maximise) and its MI reading in nats. Deep InfoMax, GAN +
MINE, ALI + MINE and the Information Bottleneck are built on it; :func:`train_online` trains one
on fresh batches (the long-run stability checks).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from dim import bounds, objectives
from dim.errors import ConfigError, DimError
from dim.objectives import ESTIMATORS, readout_value

__all__ = ["MIEstimate", "MutualInformation", "train_online"]


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
        clip: float = bounds.SMILE_TAU,
        mine_alpha: float = bounds.MINE_ALPHA,
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
            if self.entry.matrix is not None:
                return self.entry.matrix(scores)
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
