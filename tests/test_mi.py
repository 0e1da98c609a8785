"""estimate_mi on data with known MI, the MI loss module, and adaptive clipping."""

import math

import numpy as np
import pytest
import torch

from dim import DataError, ConfigError, MutualInformation, estimate_mi
from dim.critics import make_critic
from dim.mi import adaptive_clip_
from dim.tasks import gaussian_mi, gaussian_rho_for_mi, sample_correlated_gaussians

FAST = dict(steps=600, eval_every=50, patience=6, bootstrap=50, readout_batch_size=512, hidden=64)


@pytest.mark.parametrize("lr_schedule", ["constant", "cosine"])
def test_short_training_recovers_known_mi(lr_schedule):
    x, y = sample_correlated_gaussians(3000, 2, gaussian_rho_for_mi(1.0, 2), seed=3)
    result = estimate_mi(x, y, lr_schedule=lr_schedule, **FAST)
    assert result.mi_nats == pytest.approx(1.0, abs=0.15)
    assert result.ci_nats[0] <= result.mi_nats <= result.ci_nats[1]
    assert result.mi_bits == pytest.approx(result.mi_nats / math.log(2))
    assert result.ceiling_nats is None
    assert result.rows["train"] == 1800 and result.rows["val"] == 600
    assert result.history and result.history[-1]["step"] == result.steps


def test_independent_variables_read_near_zero():
    rng = np.random.default_rng(0)
    result = estimate_mi(rng.standard_normal((2000, 5)), rng.standard_normal((2000, 5)), **FAST)
    assert abs(result.mi_nats) < 0.02
    assert result.ci_nats[0] <= 0.0 <= result.ci_nats[1]
    uncalibrated = estimate_mi(rng.standard_normal((2000, 5)), rng.standard_normal((2000, 5)), calibrate=False, **FAST)
    assert uncalibrated.critic_scale == 1.0 and uncalibrated.mi_nats < 0.02


def test_calibration_keeps_the_constant_critic_without_evidence_and_shrinks_otherwise():
    from dim.mi import calibrate_scale, scaled_scores

    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(2000, generator=generator), torch.randn(2000, 50, generator=generator)
    assert calibrate_scale("dv", *noise, clip=5.0) == (0.0, 0.0)  # independent: the constant critic
    positive, negative = 2.0 + torch.randn(2000, generator=generator), torch.randn(2000, 50, generator=generator)
    scale, value = calibrate_scale("dv", 3 * positive, 3 * negative, clip=5.0)  # over-confident x3
    assert 0.5 < scale < 0.8 and value > 0  # the log-ratio of N(2,1) to N(0,1) is 2t - 2: s = 2/3
    assert torch.allclose(scaled_scores(torch.tensor([3.0]), 0.0, "nwj"), torch.tensor([1.0]))


def test_infonce_reports_its_ceiling_and_warns_near_it():
    x, y = sample_correlated_gaussians(1200, 2, 0.999, seed=0)  # ~6.2 nats, far above log 128
    result = estimate_mi(x, y, estimator="infonce", **{**FAST, "readout_batch_size": 128, "lr": 3e-3})
    assert result.ceiling_nats == pytest.approx(math.log(128))
    assert result.mi_nats <= result.ceiling_nats + 1e-6
    assert any("ceiling" in w for w in result.warnings)


def test_folds_and_seeds_report_spread():
    x, y = sample_correlated_gaussians(1000, 2, gaussian_rho_for_mi(0.5, 2), seed=1)
    result = estimate_mi(x, y, folds=3, **{**FAST, "steps": 200})
    assert len(result.runs) == 3 and result.spread_nats is not None
    assert result.mi_nats == pytest.approx(np.mean([r["mi_nats"] for r in result.runs]))


def test_same_seed_same_estimate():
    x, y = sample_correlated_gaussians(600, 2, 0.5, seed=1)
    a = estimate_mi(x, y, **{**FAST, "steps": 100})
    b = estimate_mi(x, y, **{**FAST, "steps": 100})
    assert a.mi_nats == b.mi_nats


@pytest.mark.parametrize(
    "x, y, error, match",
    [
        (np.zeros((200, 2)), np.zeros((199, 2)), DataError, "paired row by row"),
        (np.full((200, 2), np.nan), np.zeros((200, 2)), DataError, "NaN"),
        (np.zeros((50, 2)), np.zeros((50, 2)), DataError, "at least"),
    ],
)
def test_bad_input_raises_clear_error(x, y, error, match):
    with pytest.raises(error, match=match):
        estimate_mi(x, y)


def test_unknown_estimator():
    with pytest.raises(ConfigError, match="unknown estimator"):
        estimate_mi(np.zeros((200, 2)), np.zeros((200, 2)), estimator="ksg")
    with pytest.raises(ConfigError, match="unknown lr_schedule"):
        estimate_mi(np.zeros((200, 2)), np.zeros((200, 2)), lr_schedule="step")


@pytest.mark.parametrize("estimator", ["dv", "mine", "nwj", "jsd", "infonce", "smile"])
def test_mi_module_raises_its_bound_in_a_few_steps(estimator):
    x, y = (torch.from_numpy(a) for a in sample_correlated_gaussians(256, 2, 0.9, seed=0))
    module = MutualInformation(make_critic(x, y, hidden=32, embedding_dim=16), estimator)
    optimizer = torch.optim.Adam(module.parameters(), lr=3e-3)
    first = module(x, y).mi_nats.item()
    for _ in range(60):
        out = module(x, y)
        optimizer.zero_grad()
        (-out.objective).backward()
        optimizer.step()
    assert module(x, y).mi_nats.item() > first + 0.3
    assert torch.isfinite(out.objective)


def test_adaptive_clip_bounds_the_mi_gradient_norm():
    weight = torch.nn.Parameter(torch.ones(3))
    main = (weight * 0.01).sum()  # gradient norm 0.01 * sqrt(3)
    mi = (weight * 100.0).sum()  # gradient norm 100 * sqrt(3)
    adaptive_clip_(main, mi, [weight])
    # clipped MI gradient has the main gradient's norm: total = 0.01 + 0.01 per entry
    assert torch.allclose(weight.grad, torch.full((3,), 0.02))


def test_standardisation_keeps_rare_features_bounded():
    """A feature constant on the training rows must not become a 1e6-sigma outlier held out."""
    from dim.mi import _standardize

    values = torch.randn(200, 5)
    values[:, 0] = 0.0
    values[150, 0] = 1.0  # a rare "pixel", on in one held-out row only
    scaled = _standardize(values, "vector", torch.arange(100))
    assert scaled.abs().max() <= 10.0
    assert torch.allclose(scaled[:100, 1:].mean(0), torch.zeros(4), atol=1e-5)
