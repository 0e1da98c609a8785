import math

import pytest
import torch

from dim.critics import (
    ELU,
    BilinearCritic,
    ConcatCritic,
    FourierFeatures,
    InteractionCritic,
    RadialFeature,
    SeparableCritic,
    infer_kind,
    make_critic,
)


@pytest.mark.parametrize(
    "x, kind",
    [
        (torch.randn(8, 5), "vector"),
        (torch.randn(8), "vector"),
        (torch.randint(0, 4, (8,)), "label"),
        (torch.randn(8, 1, 28, 28), "image"),
    ],
)
def test_infer_kind(x, kind):
    assert infer_kind(x) == kind


def test_ambiguous_shape_asks_for_kind():
    with pytest.raises(ValueError, match="kind="):
        infer_kind(torch.randn(8, 28, 28))


@pytest.mark.parametrize("name, cls", [("separable", SeparableCritic), ("bilinear", BilinearCritic), ("concat", ConcatCritic),
                                       ("interaction", InteractionCritic)])  # fmt: skip
@pytest.mark.parametrize(
    "x, y, y_kind",
    [
        (torch.randn(6, 3), torch.randn(6, 2), None),
        (torch.randn(6, 1, 16, 16), torch.randint(0, 5, (6,)), None),
        (torch.randn(6, 1, 16, 16), torch.randn(6, 1, 64), "sequence"),
    ],
)
def test_every_critic_scores_all_pairs(name, cls, x, y, y_kind):
    critic = make_critic(x, y, name, y_kind=y_kind, hidden=16, embedding_dim=8)
    assert isinstance(critic, cls)
    scores = critic(x, y[:4])
    assert scores.shape == (6, 4)
    scores.sum().backward()


def test_concat_equals_explicit_pairwise_mlp():
    x, y = torch.randn(5, 3), torch.randn(4, 2)
    critic = make_critic(x, y, "concat", hidden=8)
    pairs = torch.cat([x[:, None, :].expand(5, 4, 3), y[None].expand(5, 4, 2)], -1)
    w = torch.cat([critic.x_in.weight, critic.y_in.weight], 1)
    explicit = critic.head(pairs @ w.T + critic.x_in.bias).squeeze(-1)
    assert torch.allclose(critic(x, y), explicit, atol=1e-6)


def test_interaction_equals_its_formula_pair_by_pair():
    """T(x, y) = a^T s + v^T ELU(W s + c), s_k = f_k(x)^T g_k(y) / sqrt(D), for every pair."""
    torch.manual_seed(0)
    x, y = torch.randn(5, 3), torch.randn(4, 2)
    critic = make_critic(x, y, "interaction", hidden=8, embedding_dim=16)  # 8 heads of width 2
    torch.nn.init.normal_(critic.mix_out.weight)  # the non-separable part, zero-free
    explicit = torch.empty(5, 4)
    for i in range(5):
        for j in range(4):
            s = (critic.f(x[i : i + 1]).view(8, 2) * critic.g(y[j : j + 1]).view(8, 2)).sum(1) / 2**0.5
            hidden = torch.nn.functional.elu(critic.mix_in.weight @ s + critic.mix_in.bias)
            explicit[i, j] = critic.linear @ s + critic.mix_out.weight[0] @ hidden
    torch.testing.assert_close(critic(x, y), explicit, atol=1e-5, rtol=1e-5)


def test_interaction_without_its_mlp_is_a_weighted_separable_critic():
    torch.manual_seed(0)
    x, y = torch.randn(6, 3), torch.randn(7, 3)
    critic = make_critic(x, y, "interaction", hidden=8, embedding_dim=8)  # 8 heads of width 1
    with torch.no_grad():
        critic.mix_out.weight.zero_()
        critic.linear.fill_(1.0)
    torch.testing.assert_close(critic(x, y), critic.f(x) @ critic.g(y).T)  # D = 1: no scaling
    with pytest.raises(ValueError, match="multiple of heads"):
        make_critic(x, y, "interaction", embedding_dim=12)


def test_user_module_is_used_as_is():
    class Dot(torch.nn.Module):
        def forward(self, x, y):
            return x @ y.T

    dot = Dot()
    assert make_critic(torch.randn(2, 2), torch.randn(2, 2), dot) is dot


def test_shared_critic_uses_one_network_and_refuses_mismatched_sides():
    x, y = torch.randn(8, 3, 16), torch.randn(8, 3, 16)
    critic = make_critic(x, y, "shared", x_kind="sequence", y_kind="sequence")
    assert critic.f is critic.g and critic(x, y).shape == (8, 8)
    with pytest.raises(ValueError, match="one kind and shape"):
        make_critic(torch.randn(8, 4), torch.randn(8, 5), "shared")


@pytest.mark.parametrize("name", ["separable", "shared", "bilinear", "interaction"])
def test_layers_set_the_depth_of_vector_sub_networks(name):
    x, y = torch.randn(6, 3), torch.randn(6, 3)
    for layers in (1, 3):
        critic = make_critic(x, y, name, hidden=8, embedding_dim=8, layers=layers)
        hidden = [m for m in critic.f.modules() if isinstance(m, ELU)]
        assert len(hidden) == layers
        assert critic(x, y).shape == (6, 6)


def test_elu_matches_torchs_values_and_derivatives():
    grid = torch.linspace(-30, 30, 20001)
    torch.testing.assert_close(ELU()(grid), torch.nn.functional.elu(grid), atol=1e-7, rtol=0)
    x = torch.randn(32, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    assert torch.autograd.gradcheck(ELU(), (x,))
    assert torch.autograd.gradgradcheck(ELU(), (x,))  # gradient penalties differentiate it twice
    (ours,) = torch.autograd.grad(ELU()(x).sum(), x)
    (theirs,) = torch.autograd.grad(torch.nn.functional.elu(x).sum(), x)
    torch.testing.assert_close(ours, theirs)


def test_fourier_features_are_the_hand_computed_basis():
    basis = FourierFeatures(3, lowest=0.5, highest=2.0)
    torch.testing.assert_close(basis.frequencies, torch.tensor([0.5, 1.0, 2.0]))  # geometric: ratio 2
    x = torch.tensor([[0.0], [math.pi]])
    expected = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
                             [math.pi, 1.0, 0.0, 0.0, 0.0, -1.0, 1.0]])  # fmt: skip
    torch.testing.assert_close(basis(x), expected, atol=1e-6, rtol=0)
    assert basis.out_dim == 7


def contains(network, module_type):
    return any(isinstance(m, module_type) for m in network.modules())


@pytest.mark.parametrize("name", ["separable", "shared", "bilinear", "interaction"])
def test_only_one_column_sides_get_the_fourier_basis(name):
    def has_basis(network):
        return contains(network, FourierFeatures)

    one, five = torch.randn(6, 1), torch.randn(6, 5)
    critic = make_critic(one, one, name, hidden=8, embedding_dim=8, fourier_features=4)
    assert has_basis(critic.f) and has_basis(critic.g) and critic(one, one).shape == (6, 6)
    if name != "shared":
        mixed = make_critic(one, five, name, hidden=8, embedding_dim=8, fourier_features=4)
        assert has_basis(mixed.f) and not has_basis(mixed.g)
    torch.manual_seed(0)
    plain = make_critic(one, one, name, hidden=8, embedding_dim=8, fourier_features=0)
    torch.manual_seed(0)
    default = make_critic(one, one, name, hidden=8, embedding_dim=8)
    assert not has_basis(plain) and weights_equal(plain, default)  # off by default in make_critic


def weights_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_radial_feature_is_the_root_mean_square_of_several_column_sides():
    x = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    expected = torch.tensor([[3.0, 4.0, math.sqrt(12.5)], [0.0, 0.0, 0.0]])  # sqrt((9 + 16) / 2)
    torch.testing.assert_close(RadialFeature()(x), expected)

    def has_radial(network):
        return contains(network, RadialFeature)

    one, five = torch.randn(6, 1), torch.randn(6, 5)
    critic = make_critic(one, five, "separable", hidden=8, embedding_dim=8, radial_feature=True)
    assert not has_radial(critic.f) and has_radial(critic.g) and critic(one, five).shape == (6, 6)
    assert not has_radial(make_critic(five, five, "separable", hidden=8, embedding_dim=8))  # off by default


@pytest.mark.parametrize("name", ["separable", "concat", "interaction"])
def test_readout_blocks_are_scored_in_chunks_within_the_budget(name, monkeypatch):
    """block_scores cuts a block into chunks of rows by the critic's pair_width (one pass for a
    separable critic, several for concat and interaction under a small budget) and reads the
    same positives and negatives as the whole score matrix."""
    from dim import bounds
    from dim.estimation import readout

    torch.manual_seed(0)
    x, y = torch.randn(64, 3), torch.randn(64, 2)
    critic = make_critic(x, y, name, hidden=16, embedding_dim=8)
    positive, negative = bounds.diagonal_split(critic(x, y).detach())
    monkeypatch.setattr(readout, "READOUT_BUDGET", 64 * 64 * 4)
    calls = []
    critic.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[0]))
    got_positive, got_negative, block = readout.block_scores(critic, x, y, 64, torch.device("cpu"), amp=False)
    assert block == 64
    rows = 64 * 4 // critic.pair_width  # the budget holds 4 x 64 x 64 values: 64 x 4 / w rows a chunk
    assert calls == [min(rows, 64 - start) for start in range(0, 64, rows)]
    assert (len(calls) == 1) == (name == "separable")
    torch.testing.assert_close(got_positive, positive, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_negative, negative, rtol=1e-5, atol=1e-5)
