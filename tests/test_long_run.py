"""Short version of scripts/bench/long_run.py: every estimator with injected extreme scores stays finite."""

import math

import pytest
import torch

from dim.critics import make_critic
from dim.errors import DimError
from dim.loss import MutualInformation, train_online
from dim.objectives import ESTIMATORS


def _sampler(rho=0.9, dim=5, batch=32):
    def sample(step):
        x = torch.randn(batch, dim)
        return x, rho * x + math.sqrt(1 - rho * rho) * torch.randn(batch, dim)

    return sample


def _inject_extremes(scores, step):
    """Every fourth step, push some scores to +-1e4 (kept differentiable)."""
    if step % 4 != 3:
        return scores
    bump = torch.zeros_like(scores)
    bump[0, 0], bump[1, 2], bump[-1, 0] = 1e4, -1e4, 1e4
    return scores + bump


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_estimators_stay_finite_with_extreme_scores(estimator):
    torch.manual_seed(0)
    probe = torch.randn(32, 5)
    mi = MutualInformation(make_critic(probe, probe, "separable", hidden=32, embedding_dim=16), estimator)
    readings = train_online(mi, _sampler(), steps=60, lr=1e-3, inject=_inject_extremes)
    assert readings.shape == (60,)
    assert all(torch.isfinite(p).all() for p in mi.critic.parameters())


def test_online_training_raises_the_bound():
    torch.manual_seed(0)
    probe = torch.randn(32, 5)
    mi = MutualInformation(make_critic(probe, probe, "separable", hidden=64, embedding_dim=16), "infonce")
    readings = train_online(mi, _sampler(), steps=300, lr=1e-3)
    assert readings[-50:].mean() > readings[:20].mean() + 0.5


def test_non_finite_weights_are_reported():
    torch.manual_seed(0)
    probe = torch.randn(32, 5)
    mi = MutualInformation(make_critic(probe, probe, "separable", hidden=16, embedding_dim=8), "dv")
    with pytest.raises(DimError, match="non-finite"):
        train_online(mi, _sampler(), steps=5, inject=lambda s, step: s * float("nan"))
