"""Stochastic encoders (p(z|x)), learned q / r, and the sandwich bracketing a known MI."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dim.encoders import build_encoder
from dim.errors import ConfigError, DataError, DimError
from dim.sandwich import estimate_mi_bounds
from dim.stochastic import StochasticEncoder, load_stochastic_encoder, save_stochastic_encoder
from dim.tasks import gaussian_channel_gain
from dim.upper_bounds import club_upper_bound, gaussian_log_likelihoods
from dim.variational import GaussianMarginal, VariationalCLUB

pytestmark = pytest.mark.usefixtures("single_thread")


def channel_encoder(mi: float, dim: int, sigma: float = 1.0) -> StochasticEncoder:
    """z = a x + sigma eps with true I(X; Z) = mi for x ~ N(0, I_dim)."""
    linear = nn.Linear(dim, dim, bias=False)
    with torch.no_grad():
        linear.weight.copy_(gaussian_channel_gain(mi, dim, sigma) * torch.eye(dim))
    return StochasticEncoder(linear, "additive", sigma=sigma)


def test_additive_noise_has_the_stated_density_and_is_reparameterised():
    encoder = channel_encoder(2.0, 4, sigma=0.5)
    x = torch.randn(20000, 4)
    z = encoder.sample(x)
    residual = z - encoder.encoder(x)
    assert residual.std().item() == pytest.approx(0.5, rel=0.03)
    expected = torch.distributions.Normal(encoder.encoder(x), 0.5).log_prob(z).sum(1)
    assert torch.allclose(encoder.log_prob(z, x), expected, atol=1e-4)
    assert torch.allclose(encoder.log_prob_matrix(z[:5], x[:5]).diagonal(), expected[:5], atol=1e-4)
    encoder.sample(x[:8]).sum().backward()
    assert encoder.encoder.weight.grad is not None and encoder.encoder.weight.grad.abs().sum() > 0


def test_gaussian_noise_on_a_dim_encoder_learns_its_variance():
    encoder = StochasticEncoder(build_encoder("mlp", in_dim=10, hidden=32, code_dim=3), "gaussian")
    x = torch.randn(16, 10)
    mean, log_var = encoder.conditional(x)
    assert mean.shape == log_var.shape == (16, 3)
    z = encoder.sample(x)
    encoder.log_prob(z, x).sum().backward()
    assert encoder.log_var_head.weight.grad.abs().sum() > 0


def test_propagated_noise_reaches_every_layer_and_has_no_density():
    base = build_encoder("mlp", in_dim=10, hidden=32, code_dim=3)
    encoder = StochasticEncoder(base, "propagated", sigma=0.1)
    x = torch.randn(4, 10)
    clean = base(x).code
    assert torch.equal(base(x).code, clean)  # the hooks add noise only inside sample()
    assert not torch.allclose(encoder.sample(x), clean)
    assert len(encoder._hooks) == 3  # layer1, layer2, head
    # with a strong head, the noise injected before it dominates the head's own (0.1)
    with torch.no_grad():
        base.head.weight.mul_(20.0)
    spread = torch.stack([encoder.sample(x) for _ in range(200)]).std(0).mean().item()
    assert spread > 0.3
    with pytest.raises(DimError, match="propagated"):
        encoder.log_prob(clean, x)


def test_deterministic_encoder_is_refused_by_the_sandwich():
    with pytest.raises(DimError, match="deterministic"):
        estimate_mi_bounds(nn.Linear(3, 3), np.zeros((50, 3), np.float32))


def test_bad_configuration_and_input_raise():
    with pytest.raises(ConfigError, match="sigma"):
        StochasticEncoder(nn.Linear(2, 2), "additive", sigma=0.0)
    with pytest.raises(ConfigError, match="noise"):
        StochasticEncoder(nn.Linear(2, 2), "laplace")
    with pytest.raises(DataError, match="NaN"):
        estimate_mi_bounds(channel_encoder(1.0, 2), np.full((10, 2), np.nan, np.float32))


def test_save_and_load_round_trip(tmp_path):
    encoder = StochasticEncoder(build_encoder("mlp", in_dim=6, hidden=16, code_dim=2), "gaussian")
    path = save_stochastic_encoder(encoder, tmp_path / "stochastic.pt")
    loaded = load_stochastic_encoder(path)
    x = torch.randn(5, 6)
    encoder.eval()
    assert all(torch.allclose(a, b) for a, b in zip(encoder.conditional(x), loaded.conditional(x)))
    torch.save({"format": "dim-encoder-1"}, tmp_path / "other.pt")
    with pytest.raises(DimError, match="not a stochastic encoder"):
        load_stochastic_encoder(tmp_path / "other.pt")


@pytest.mark.parametrize("dim", [1, 8, 32])
@pytest.mark.parametrize("mi", [0.5, 2.0, 8.0])
def test_sandwich_brackets_the_true_mi_of_gaussian_channels(dim, mi):
    x = torch.randn(4096, dim, generator=torch.Generator().manual_seed(dim))
    result = estimate_mi_bounds(channel_encoder(mi, dim), x, block_size=1024, bootstrap=100, seed=1)
    assert result.lower_ci_nats[0] <= mi <= result.upper_ci_nats[1] + 0.01 * dim / 1024, result.bounds
    assert result.lower_nats <= result.ceiling_nats
    assert result.to_dict()["upper_bits"] == pytest.approx(result.upper_nats / math.log(2))


def test_sandwich_gap_narrows_as_k_grows():
    """With the moment-matched marginal available the upper side is tight here; the gap that K
    controls is the lower bound's, and leave-one-out's distance from InfoNCE."""
    x = torch.randn(4096, 8, generator=torch.Generator().manual_seed(3))
    encoder = channel_encoder(4.0, 8)
    gaps, loo = [], []
    for k in (16, 128, 1024):
        result = estimate_mi_bounds(encoder, x, block_size=k, bootstrap=20, seed=0)
        gaps.append(result.upper_nats - result.lower_nats)
        loo.append(result.bounds["leave_one_out"]["nats"] - result.lower_nats)
    assert gaps[0] > gaps[1] > gaps[2] > 0
    assert loo[0] > loo[1] > loo[2] > 0


def test_vclub_fits_q_and_approaches_club_with_the_true_conditional():
    torch.manual_seed(0)
    encoder = channel_encoder(2.0, 2)
    vclub = VariationalCLUB(2, 2, hidden=32)
    optimizer = torch.optim.Adam(vclub.parameters(), lr=3e-3)
    for _ in range(600):
        x = torch.randn(128, 2)
        loss = vclub.learning_loss(x, encoder.sample(x).detach())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x = torch.randn(1024, 2)
    with torch.no_grad():
        z = encoder.sample(x)
        true_club = club_upper_bound(gaussian_log_likelihoods(z, *encoder.conditional(x))).item()
        learned = vclub(x, z).item()
    assert learned == pytest.approx(true_club, rel=0.15)
    assert learned > 2.0 * 0.9


def test_learned_marginal_tightens_the_rate_to_the_truth():
    torch.manual_seed(0)
    encoder = channel_encoder(3.0, 4, sigma=2.0)  # marginal N(0, (a^2 + 4) I): not the standard normal
    marginal = GaussianMarginal(4)
    optimizer = torch.optim.Adam(marginal.parameters(), lr=0.05)
    x = torch.randn(4096, 4)
    with torch.no_grad():
        mean, log_var = encoder.conditional(x)
    start = marginal(mean, log_var).item()
    for _ in range(300):
        loss = marginal(mean, log_var)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert start > 3.5
    assert marginal(mean, log_var).item() == pytest.approx(3.0, abs=0.1)
