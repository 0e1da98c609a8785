"""Bounds from a known p(z|x): hand-computed values, ceilings, and the truth between them on
Gaussian channels z = a x + sigma eps whose MI is known in closed form."""

import math

import numpy as np
import pytest
import torch

from dim import upper_bounds as ub
from dim.errors import DataError
from dim.tasks import gaussian_channel_gain, gaussian_channel_mi

pytestmark = pytest.mark.usefixtures("single_thread")

# log p(z_i | x_j), K = 3
SMALL = torch.tensor([[0.0, -1.0, -3.0], [-2.0, 0.0, -2.0], [-1.0, -1.0, 0.0]])


def lse(*values: float) -> float:
    return math.log(sum(math.exp(v) for v in values))


def test_infonce_likelihood_by_hand():
    rows = [0 - lse(0, -1, -3), 0 - lse(-2, 0, -2), 0 - lse(-1, -1, 0)]
    expected = sum(rows) / 3 + math.log(3)
    assert ub.infonce_likelihood_bound(SMALL).item() == pytest.approx(expected, abs=1e-6)
    terms = ub.infonce_likelihood_bound(SMALL, reduction="none")
    assert terms.shape == (3,) and terms.mean().item() == pytest.approx(expected, abs=1e-6)


def test_leave_one_out_by_hand():
    rows = [0 - lse(-1, -3), 0 - lse(-2, -2), 0 - lse(-1, -1)]
    expected = sum(rows) / 3 + math.log(2)
    assert ub.leave_one_out_upper_bound(SMALL).item() == pytest.approx(expected, abs=1e-6)


def test_club_by_hand():
    expected = ((0 + 2.0) + (0 + 2.0) + (0 + 1.0)) / 3  # diagonal minus the mean of the other entries
    assert ub.club_upper_bound(SMALL).item() == pytest.approx(expected, abs=1e-6)


def test_gaussian_log_likelihoods_match_torch_distributions():
    generator = torch.Generator().manual_seed(0)
    z, mean, log_var = (torch.randn(5, 3, generator=generator) for _ in range(3))
    expected = torch.distributions.Normal(mean[None], torch.exp(0.5 * log_var)[None]).log_prob(z[:, None]).sum(-1)
    assert torch.allclose(ub.gaussian_log_likelihoods(z, mean, log_var), expected, atol=1e-5)


def test_gaussian_kl_matches_torch_distributions():
    generator = torch.Generator().manual_seed(1)
    mean, log_var, prior_mean, prior_log_var = (torch.randn(4, 3, generator=generator) for _ in range(4))
    normal = torch.distributions.Normal
    expected = torch.distributions.kl_divergence(normal(mean, torch.exp(0.5 * log_var)),
                                                 normal(prior_mean, torch.exp(0.5 * prior_log_var))).sum(-1)  # fmt: skip
    assert torch.allclose(ub.gaussian_kl(mean, log_var, prior_mean, prior_log_var), expected, atol=1e-5)
    assert torch.allclose(ub.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def test_moment_matched_marginal_by_hand():
    mean = torch.tensor([[0.0], [2.0]])
    log_var = torch.log(torch.tensor([[1.0], [3.0]]))
    prior_mean, prior_log_var = ub.moment_matched_marginal(mean, log_var)
    assert prior_mean.item() == pytest.approx(1.0)
    assert math.exp(prior_log_var.item()) == pytest.approx(2.0 + 1.0)  # mean variance 2, variance of means 1


def test_infonce_likelihood_never_exceeds_log_k():
    generator = torch.Generator().manual_seed(2)
    for k in (2, 8, 64):
        log_p = torch.randn(k, k, generator=generator) * 5
        log_p.diagonal().add_(100.0)  # perfectly identifiable codes: the bound saturates
        assert ub.infonce_likelihood_bound(log_p).item() <= math.log(k) + 1e-5
        assert ub.infonce_likelihood_bound(log_p).item() == pytest.approx(math.log(k), abs=1e-4)


@pytest.mark.parametrize(
    "bad, message",
    [(torch.zeros(3, 4), "square"), (torch.zeros(1, 1), "at least 2"), (torch.full((2, 2), float("nan")), "NaN")],
)
def test_bad_log_p_raises_data_error(bad, message):
    for bound in (ub.infonce_likelihood_bound, ub.leave_one_out_upper_bound, ub.club_upper_bound):
        with pytest.raises(DataError, match=message):
            bound(bad)


def test_mismatched_gaussian_shapes_raise_data_error():
    with pytest.raises(DataError, match="same code width"):
        ub.gaussian_log_likelihoods(torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(DataError, match="reduction"):
        ub.club_upper_bound(SMALL, reduction="sum")


def channel_batch(mi: float, dim: int, k: int, generator: torch.Generator, sigma: float = 1.0):
    """One batch of z = a x + sigma eps (true MI ``mi``) and its (K, K) log p(z_i|x_j) matrix."""
    a = gaussian_channel_gain(mi, dim, sigma)
    x = torch.randn(k, dim, generator=generator)
    mean = a * x
    log_var = torch.full_like(mean, 2 * math.log(sigma))
    z = mean + sigma * torch.randn(k, dim, generator=generator)
    return ub.gaussian_log_likelihoods(z, mean, log_var), mean, log_var


@pytest.mark.parametrize("dim", [1, 8, 32])
@pytest.mark.parametrize("mi", [0.5, 2.0, 8.0])
def test_truth_between_lower_and_upper_bounds_on_gaussian_channels(dim, mi):
    truth = gaussian_channel_mi(gaussian_channel_gain(mi, dim, 1.0) * np.eye(dim), 1.0)
    assert truth == pytest.approx(mi, rel=1e-9)
    generator = torch.Generator().manual_seed(dim * 100 + int(mi * 10))
    k, blocks = 256, 8
    values = {"nce": [], "loo": [], "club": [], "vib": []}
    for _ in range(blocks):
        log_p, mean, log_var = channel_batch(mi, dim, k, generator)
        values["nce"].append(ub.infonce_likelihood_bound(log_p, reduction="none"))
        values["loo"].append(ub.leave_one_out_upper_bound(log_p, reduction="none"))
        values["club"].append(ub.club_upper_bound(log_p, reduction="none"))
        values["vib"].append(ub.variational_marginal_upper_bound(mean, log_var, *ub.moment_matched_marginal(mean, log_var),
                                                                  reduction="none"))  # fmt: skip
    means = {name: torch.cat(v).mean().item() for name, v in values.items()}
    errors = {name: 3 * torch.cat(v).std().item() / math.sqrt(k * blocks) for name, v in values.items()}
    assert means["nce"] <= math.log(k) + 1e-5
    assert means["nce"] - errors["nce"] <= truth
    for upper in ("loo", "club", "vib"):
        assert means[upper] + errors[upper] + 0.01 * dim / k >= truth, (upper, means)
    # the moment-matched marginal is the true one here (a Gaussian): the rate is tight
    assert means["vib"] == pytest.approx(truth, abs=errors["vib"] + 0.05)


def test_gap_between_loo_and_infonce_narrows_as_k_grows():
    generator = torch.Generator().manual_seed(5)
    gaps = {}
    for k in (16, 128, 1024):
        gap = []
        for _ in range(max(1, 2048 // k)):
            log_p, _, _ = channel_batch(4.0, 8, k, generator)
            gap.append(ub.leave_one_out_upper_bound(log_p).item() - ub.infonce_likelihood_bound(log_p).item())
        gaps[k] = float(np.mean(gap))
    assert gaps[16] > gaps[128] > gaps[1024] > 0
