"""The bounds at the optimal critic, their ordering, ceilings and numerical safety."""

import math

import pytest
import torch

from dim import bounds
from dim.tasks import gaussian_rho_for_mi, sample_correlated_gaussians


def optimal_scores(mi: float, n: int = 2000, dim: int = 4, seed: int = 0) -> torch.Tensor:
    """(n, n) scores of the true log-ratio log p(x,y)/(p(x)p(y)) on correlated Gaussians."""
    rho = gaussian_rho_for_mi(mi, dim)
    x, y = (torch.from_numpy(a).double() for a in sample_correlated_gaussians(n, dim, rho, seed))
    c = 1.0 - rho**2
    quad = (x**2).sum(1, keepdim=True) + (y**2).sum(1)[None, :] - 2 * rho * x @ y.T
    log_ratio = -0.5 * dim * math.log(c) - quad / (2 * c) + ((x**2).sum(1, keepdim=True) + (y**2).sum(1)[None, :]) / 2
    return log_ratio.float()


@pytest.mark.parametrize("mi", [0.5, 1.0, 2.0])
def test_dv_and_nwj_recover_mi_at_optimal_critic(mi):
    scores = optimal_scores(mi)
    dv = bounds.dv_bound(scores).item()
    nwj = bounds.nwj_bound(scores + 1.0).item()  # NWJ's optimum is 1 + log-ratio
    # sampling error of the 2000 positives' mean log-ratio is about sqrt(var / n) < 0.05 here
    assert dv == pytest.approx(mi, abs=0.12)
    assert nwj == pytest.approx(mi, abs=0.15)


def test_dv_at_least_nwj_for_same_critic_and_samples():
    generator = torch.Generator().manual_seed(1)
    for _ in range(20):
        scores = torch.randn(64, 64, generator=generator) * 3
        assert bounds.dv_bound(scores) >= bounds.nwj_bound(scores) - 1e-6


def test_infonce_never_exceeds_log_m():
    scores = torch.full((32, 48), -50.0)
    scores[range(32), range(32)] = 50.0  # a perfect critic
    assert bounds.infonce_bound(scores).item() == pytest.approx(math.log(48), abs=1e-5)
    for seed in range(10):
        random = torch.randn(32, 48, generator=torch.Generator().manual_seed(seed)) * 20
        assert bounds.infonce_bound(random).item() <= math.log(48) + 1e-5


@pytest.mark.parametrize("shape", [(1, 2), (2, 2), (5, 5), (3, 7), (16, 48)])
def test_diagonal_split_matches_a_row_by_row_reference(shape):
    n, m = shape
    scores = torch.randn(n, m, generator=torch.Generator().manual_seed(n * 100 + m), requires_grad=True)
    positive, negative = bounds.diagonal_split(scores)
    expected = torch.stack([torch.cat([scores[i, :i], scores[i, i + 1 :]]) for i in range(n)])
    assert torch.equal(positive, torch.stack([scores[i, i] for i in range(n)]))
    assert torch.equal(negative, expected)
    # every entry lands exactly once: the gradient of a weighted sum is the weight pattern
    weights = torch.arange(n * (m - 1), dtype=torch.float32).view(n, m - 1)
    (grad,) = torch.autograd.grad((negative * weights).sum() + 1000 * positive.sum(), scores)
    reference = torch.full((n, m), 1000.0)
    for i in range(n):
        reference[i, [j for j in range(m) if j != i]] = weights[i]
    assert torch.equal(grad, reference)


def test_infonce_apart_equals_matrix_form():
    scores = torch.randn(16, 16)
    positive, negative = bounds.diagonal_split(scores)
    assert torch.allclose(bounds.infonce_bound(scores), bounds.infonce_bound(positive=positive, negative=negative))


def test_jsd_objective_is_nonpositive_and_optimum_is_log_ratio():
    scores = optimal_scores(1.0, n=500)
    value = bounds.jsd_objective(scores)
    assert value.item() < 0
    # shifting the optimal critic lowers the JS objective
    assert bounds.jsd_objective(scores + 1.0) < value and bounds.jsd_objective(scores - 1.0) < value


def test_smile_value_is_clipped_dv_and_gradient_is_jsd():
    scores = (torch.randn(20, 20) * 8).requires_grad_()
    value = bounds.smile_bound(scores, clip=5.0)
    positive, negative = bounds.diagonal_split(scores.detach())
    expected = positive.mean() - bounds.log_mean_exp(negative.clamp(-5, 5))
    assert value.item() == pytest.approx(expected.item(), abs=1e-5)
    (grad_smile,) = torch.autograd.grad(value, scores)
    (grad_jsd,) = torch.autograd.grad(bounds.jsd_objective(scores), scores)
    assert torch.allclose(grad_smile, grad_jsd)
    assert bounds.smile_bound(scores.detach(), clip=math.inf).item() == pytest.approx(bounds.dv_bound(scores.detach()).item(), abs=1e-5)


def test_mine_moving_average_holds_no_graph_and_corrects_gradient():
    average = bounds.MINEMovingAverage(alpha=0.1)
    weights = torch.randn(8, 8, requires_grad=True)
    for _ in range(3):
        value = bounds.mine_bound(weights * 2.0, moving_average=average)
        value.backward()
    assert average.log_average.grad_fn is None and not average.log_average.requires_grad
    assert "log_average" in average.state_dict()
    # forward value is the plain DV bound
    assert value.item() == pytest.approx(bounds.dv_bound(weights.detach() * 2.0).item(), abs=1e-5)


def test_mine_gradient_uses_moving_average_denominator():
    average = bounds.MINEMovingAverage(alpha=0.5)
    first = torch.zeros(4, 4)
    average(first)  # average of E[e^T] = 1
    scores = torch.full((4, 4), math.log(3.0), requires_grad=True)
    average(scores).backward()
    # m = 0.5 * 1 + 0.5 * 3 = 2; d(partition)/dT_neg = e^T / (Q m) = 3 / (12 * 2)
    off = ~torch.eye(4, dtype=torch.bool)
    assert torch.allclose(scores.grad[off], torch.full((12,), -3.0 / 24.0))


@pytest.mark.parametrize("bound", [bounds.dv_bound, bounds.nwj_bound, bounds.jsd_objective, bounds.infonce_bound, bounds.smile_bound])
@pytest.mark.parametrize("magnitude", [1e4, 1e30])
def test_extreme_scores_stay_finite(bound, magnitude):
    scores = torch.randn(16, 16) * magnitude
    scores[0, 1], scores[2, 2] = magnitude, -magnitude
    assert torch.isfinite(bound(scores)).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = bound(scores.bfloat16() / 1e26 if magnitude > 1e20 else scores.bfloat16())
    assert out.dtype == torch.float32 and torch.isfinite(out).item()


def test_bad_layout_raises():
    with pytest.raises(ValueError, match="N <= M"):
        bounds.dv_bound(torch.randn(5, 3))
    with pytest.raises(ValueError, match="either scores"):
        bounds.dv_bound(torch.randn(3, 3), positive=torch.randn(3), negative=torch.randn(3))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape, dim", [((64, 64), 1), ((5, 3, 5, 4), 3), ((300,), 0), ((6, 9), 0)])
def test_logsumexp_gives_torchs_value_and_gradient(dtype, shape, dim):
    """Scores spread over hundreds of nats (a trained critic's): most entries less their row's
    maximum lie below the floor, where the helper raises them, and the value must not move."""
    values = (torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(0)) * 200).requires_grad_()
    reference = torch.logsumexp(values, dim)
    (reference_grad,) = torch.autograd.grad(reference.sum(), values)
    ours = bounds.logsumexp(values, dim)
    (ours_grad,) = torch.autograd.grad(ours.sum(), values)
    assert torch.equal(ours, reference)
    # the gradient is the softmax; torch's reaches it through exp(x - value), which carries the
    # value's rounding (about 200 nats x float32 epsilon), ours through exp(x - max) / sum
    tolerance = 1e-4 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(ours_grad, reference_grad, atol=tolerance, rtol=0)
    torch.testing.assert_close(ours_grad.sum(dim), torch.ones_like(ours).to(dtype))


def test_logsumexp_keeps_torchs_infinities_and_nan():
    values = torch.tensor([[-math.inf, -math.inf], [0.0, -math.inf], [math.inf, 1.0], [math.nan, 1.0]])
    expected = torch.tensor([-math.inf, 0.0, math.inf, math.nan])
    torch.testing.assert_close(bounds.logsumexp(values, 1), expected, equal_nan=True)
    torch.testing.assert_close(bounds.logsumexp(values, 1, keepdim=True), expected[:, None], equal_nan=True)
