"""Deep InfoMax: encoders, objectives, prior matching, training, resume, presets, bad input."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dim import bounds
from dim.checkpoint import load_encoder
from dim.config import compose
from dim.encoders import build_encoder, describe
from dim.errors import DimError
from dim.infomax import (
    DeepInfoMax,
    PriorDiscriminator,
    Trainer,
    infomax_bound,
    infomax_readout,
    infomax_scores,
    local_infonce_reference,
    sample_prior,
    scheduled_lr,
    sliced_wasserstein,
    train,
)
from dim.objectives import ESTIMATORS
from dim.tasks import embedded_digits

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize(
    "name, kwargs, shapes",
    [
        ("dim32", {"in_channels": 1}, {"local": (2, 128, 8, 8), "conv": (2, 256, 4, 4), "fc": (2, 1024), "code": (2, 64)}),
        ("dim32", {"width": 16}, {"local": (2, 32, 8, 8), "conv": (2, 64, 4, 4), "fc": (2, 256), "code": (2, 64)}),
        ("dim64", {}, {"local": (2, 192, 8, 8), "conv": (2, 192, 8, 8), "fc": (2, 1024), "code": (2, 64)}),
        ("conv1d", {"length": 64}, {"local": (2, 128, 16), "conv": (2, 256, 8), "fc": (2, 512), "code": (2, 64)}),
        ("mlp", {"in_dim": 20, "code_dim": 8}, {"local": (2, 256, 1), "conv": (2, 256, 1), "fc": (2, 256), "code": (2, 8)}),
        ("timm:resnet18", {"in_channels": 1, "image_size": 32},
         {"local": (2, 256, 2, 2), "conv": (2, 512, 1, 1), "fc": None, "code": (2, 64)}),
    ],
)
def test_encoder_outputs_have_documented_names_and_shapes(name, kwargs, shapes):
    assert describe(build_encoder(name, **kwargs)) == shapes


def test_shared_negative_infonce_equals_full_tensor_reference():
    torch.manual_seed(0)
    for q in (1, 4):
        scores = infomax_scores(torch.randn(6, q, 8), torch.randn(6, 8, 5)) * 4
        assert torch.allclose(infomax_bound(scores, "infonce"), local_infonce_reference(scores), atol=1e-5)


def _optimal_gaussian_scores(n: int, locations: int, dim: int, mi: float, generator) -> torch.Tensor:
    """S (N, 1, N, L) of the optimal critic log p(y|x) / p(y) for correlated Gaussians in DIM's
    layout: image i has x_i ~ N(0, I_d) and L locations y_il = rho x_i + sqrt(1 - rho^2) eps,
    rho^2 = 1 - exp(-2 I / d), so I(x; y_il) = I. S[i, 0, j, l] scores x_i against y_jl:
        log p(y|x) / p(y) = I - |y - rho x|^2 / (2 (1 - rho^2)) + |y|^2 / 2."""
    rho = math.sqrt(1 - math.exp(-2 * mi / dim))
    x = torch.randn(n, dim, generator=generator)
    y = rho * x[:, None] + math.sqrt(1 - rho**2) * torch.randn(n, locations, dim, generator=generator)
    residual = y[None] - rho * x[:, None, None]  # (i, j, l, d): y_jl - rho x_i
    scores = mi - residual.pow(2).sum(-1) / (2 * (1 - rho**2)) + y.pow(2).sum(-1)[None] / 2
    return scores.unsqueeze(1)


def test_readouts_recover_known_mi_from_the_optimal_critic():
    """I = 1 nat, 256 images x 8 locations: with the optimal critic T* = log p(y|x)/p(y), DV and
    InfoNCE (2040 negatives per positive, so its bias ~ e^I / K is negligible) read I, and NWJ
    reads I at its own optimum T* + 1. Sampling error (standard deviation over seeds): 0.045."""
    scores = _optimal_gaussian_scores(256, 8, 2, 1.0, torch.Generator().manual_seed(0))
    for head, shift in (("dv", 0.0), ("infonce", 0.0), ("nwj", 1.0)):
        assert abs(float(infomax_readout(scores + shift, head)) - 1.0) < 0.15, head
    assert float(infomax_readout(scores.flip(0), "dv")) < 0  # positives swapped with negatives


def _materialised_readouts(scores: torch.Tensor) -> dict[str, torch.Tensor]:
    """DV, NWJ and InfoNCE of S (N, Q, N, L) from their definitions, in float64, with every
    negative materialised: positives S[i, q, i, l]; the negatives of query (i, q) are its
    (N - 1) L scores S[i, q, j, l], j != i; InfoNCE contrasts each positive with its own row
    [positive, negatives of its query] of 1 + (N - 1) L scores."""
    s = scores.double()
    n, q, _, l = s.shape
    own = torch.eye(n, dtype=torch.bool)[:, None, :, None].expand(n, q, n, l)  # j == i
    positive, negative = s[own].reshape(n, q, l), s[~own].reshape(n, q, (n - 1) * l)
    rows = torch.cat([positive[..., None], negative[:, :, None].expand(n, q, l, (n - 1) * l)], dim=-1)
    return {
        "dv": positive.mean() - negative.exp().mean().log(),
        "nwj": positive.mean() - (negative - 1).exp().mean(),
        "infonce": (positive - rows.exp().sum(-1).log()).mean() + math.log(1 + (n - 1) * l),
    }


@pytest.mark.parametrize("head", list(ESTIMATORS))
def test_readout_equals_the_fully_materialised_reference(head):
    """InfoNCE for the infonce head, NWJ for nwj, DV for the others (a JSD, MINE or SMILE critic
    is read through DV)."""
    generator = torch.Generator().manual_seed(0)
    for shape in ((6, 1, 6, 5), (5, 3, 5, 4), (4, 2, 4, 1)):
        scores = 2 * torch.randn(shape, generator=generator)
        expected = _materialised_readouts(scores)[head if head in ("infonce", "nwj") else "dv"]
        assert abs(float(infomax_readout(scores, head)) - float(expected)) < 1e-5, shape


def _bytes_allocated(compute) -> int:
    """CPU bytes that the operators run by compute() allocate (torch.profiler's memory records;
    frees are not subtracted)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        compute()
    return sum(max(event.self_cpu_memory_usage, 0) for event in profiler.events())


@pytest.mark.parametrize("head", list(ESTIMATORS))
def test_readout_allocates_no_more_than_the_objective(head):
    """The readout logged at every step reads S (N, Q, N, L) without gathering each query's
    (N - 1) L negatives, so it allocates no more than the head's own objective (up to the
    (N, Q, N) tensors of its reduction): the pooled JSD objective allocates about |S|, and a
    readout that gathers the negatives about 2 |S|."""
    scores = torch.randn(32, 1, 32, 64, generator=torch.Generator().manual_seed(0))
    objective = _bytes_allocated(lambda: infomax_bound(scores, head, bounds.MINEMovingAverage()))
    readout = _bytes_allocated(lambda: infomax_readout(scores, head))
    assert readout <= 1.1 * objective, (readout, objective)


def test_local_jsd_uses_own_image_locations_as_positives():
    keys = torch.randn(4, 8, 3)
    queries = keys.mean(dim=2, keepdim=True).transpose(1, 2) * 50  # each code points at its own image
    scores = infomax_scores(queries, keys)
    assert infomax_bound(scores, "jsd") > infomax_bound(scores.flip(0), "jsd")


def _tiny_npz(tmp_path, n=192):
    images, labels = embedded_digits()
    x = np.pad(images[:n], ((0, 0), (0, 0), (2, 2), (2, 2)))
    path = tmp_path / "tiny.npz"
    np.savez(path, x=x, y=labels[:n], x_test=x[:64], y_test=labels[:64])
    return path


def _cfg(tmp_path, *overrides, out="run"):
    return compose("train", [
        "data=npz", f"data.root={_tiny_npz(tmp_path)}", f"out_dir={tmp_path / out}", "trainer.batch_size=32",
        "trainer.progress=false", "trainer.checkpoint_every=3", "objective.units=64", *overrides,
    ])  # fmt: skip


@pytest.mark.parametrize("head", list(ESTIMATORS))
def test_one_training_step_per_head_changes_weights(tmp_path, head):
    trainer = Trainer(_cfg(tmp_path, f"estimator={head}"))
    images, labels = trainer.data.train.samples[:32], trainer.data.train.labels[:32]
    before = [p.detach().clone() for p in trainer.encoder.parameters()]
    scalars = trainer.train_step(images, labels)
    assert all(math.isfinite(v) for v in scalars.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.encoder.parameters()))


@pytest.fixture(scope="module")
def shuffled_digits() -> torch.Tensor:
    """640 of the embedded digits as flat vectors (640, 784), in a random order: the file is
    sorted by class, so its first and last rows do not come from the same distribution."""
    images, _ = embedded_digits()
    order = np.random.default_rng(0).permutation(len(images))[:640]
    return torch.from_numpy(images[order].reshape(640, -1))


@pytest.mark.usefixtures("single_thread")
@pytest.mark.parametrize("head", list(ESTIMATORS))
def test_training_raises_the_held_out_readout_for_every_head(head, shuffled_digits):
    """80 Adam steps of DIM (the code against the hidden layer of a small MLP encoder, batches
    of 64 of 512 digits) raise the head's MI readout on 128 other digits, never trained on,
    from about 0 (scores ~ 0 at initialisation; NWJ then reads -1/e) to more than 0.25 nats,
    which no critic reaches on independent pairs (these readouts are then <= 0 in expectation).
    Measured over seeds 0-4 of this test: 0.41 to 2.97 nats after training, 0.41 or more above
    the start."""
    torch.manual_seed(0)
    train_digits, held_out = shuffled_digits[:512], shuffled_digits[512:]
    model = DeepInfoMax(build_encoder("mlp", in_dim=784, hidden=64, code_dim=16), estimator=head, units=32,
                        alpha=0.0, beta=1.0)  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def held_out_readout() -> float:
        model.eval()
        with torch.no_grad():
            return float(model(held_out)["local_nats"])

    before = held_out_readout()
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(80):
        batch = train_digits[torch.randperm(512, generator=generator)[:64]]
        loss = -model.objective(model(batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = held_out_readout()
    assert after > 0.25 and after > before + 0.3, (before, after)


def test_prior_matching_moves_codes_towards_the_prior():
    """The adversarial prior term, alone, lowers the sliced-Wasserstein distance to the prior."""
    torch.manual_seed(0)
    distances = {}
    for gamma in (0.0, 1.0):
        torch.manual_seed(0)
        encoder = build_encoder("mlp", in_dim=10, hidden=64, code_dim=4)
        discriminator = PriorDiscriminator(4)
        opt_e = torch.optim.Adam(encoder.parameters(), lr=1e-3)
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
        data = torch.randn(512, 10)
        for step in range(300):
            x = data[torch.randint(512, (64,))]
            code = torch.sigmoid(encoder(x).code)
            loss = gamma * discriminator.generator_loss(code) + 1e-3 * code.pow(2).mean()  # + a tiny pull to 0
            opt_e.zero_grad()
            loss.backward()
            opt_e.step()
            d_loss, _ = discriminator.loss(sample_prior("uniform", 64, 4), code.detach())
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        with torch.no_grad():
            codes = torch.sigmoid(encoder(data).code)
        distances[gamma] = sliced_wasserstein(codes, sample_prior("uniform", 512, 4, generator=torch.Generator().manual_seed(1)))
    assert distances[1.0] <= 0.5 * distances[0.0]


def test_resume_reproduces_uninterrupted_run(tmp_path):
    full = train(_cfg(tmp_path, "trainer.epochs=2", out="full"))
    train(_cfg(tmp_path, "trainer.epochs=1", out="split"))
    resumed = train(_cfg(tmp_path, "trainer.epochs=2", "resume=true", out="split"))
    assert full["steps"] == resumed["steps"]
    a, b = load_encoder(tmp_path / "full" / "encoder.pt"), load_encoder(tmp_path / "split" / "encoder.pt")
    for (name, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(p, q), name
    state = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    assert {"model", "optimizers", "rng", "config", "scaler", "discriminator", "probe"} <= set(state)


def test_load_encoder_is_one_line_and_ready(tmp_path):
    train(_cfg(tmp_path, "trainer.epochs=1"))
    encoder = load_encoder(tmp_path / "run" / "encoder.pt")
    out = encoder(torch.zeros(3, 1, 32, 32))
    assert out.code.shape == (3, 64) and not encoder.training


def test_resume_with_other_config_is_refused_and_keeps_checkpoint(tmp_path):
    train(_cfg(tmp_path, "trainer.epochs=1"))
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    before = checkpoint.read_bytes()
    with pytest.raises(DimError, match="config differs"):
        train(_cfg(tmp_path, "trainer.epochs=2", "resume=true", "trainer.lr=0.01"))
    with pytest.raises(DimError, match="already holds a checkpoint"):
        train(_cfg(tmp_path, "trainer.epochs=1"))
    assert checkpoint.read_bytes() == before


def test_truncated_or_missing_checkpoint_is_one_line_error(tmp_path):
    with pytest.raises(DimError, match="not found"):
        train(_cfg(tmp_path, "resume=true"))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DimError, match="damaged"):
        train(_cfg(tmp_path, "resume=true"))


PAPER_PRESETS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml")
                       if "views" not in p.stem and "contrastive" not in p.stem  # view presets: test_two_views.py
                       and not p.stem.startswith("digits"))  # the digits recipe: its own test below


@pytest.mark.parametrize("preset", PAPER_PRESETS)
def test_every_preset_composes(preset):
    cfg = compose("train", [f"+experiment={preset}"])
    assert cfg.trainer.lr == 1e-4 and cfg.trainer.batch_size == 64 and cfg.objective.units == 2048
    weights = (cfg.objective.alpha, cfg.objective.beta, cfg.objective.gamma)
    assert weights == ((1.0, 0.0, 1.0) if "global" in preset else (0.0, 1.0, 0.1))


def test_the_digits_dim_local_preset_is_the_dim_papers_recipe():
    cfg = compose("train", ["+experiment=digits_dim_local"])
    assert (cfg.objective.alpha, cfg.objective.beta, cfg.objective.gamma, cfg.objective.views) == (0.0, 1.0, 0.1, 1)
    assert cfg.estimator.name == "jsd" and cfg.trainer.lr == 1e-4 and cfg.trainer.epochs == 10
    assert cfg.trainer.batch_size == 64 and cfg.objective.units == 256 and not cfg.data.augment


def test_pooled_local_jsd_equals_split_form_in_value_and_gradient():
    scores = (3 * torch.randn(6, 2, 6, 5)).requires_grad_()
    positive, negative = bounds.query_split(scores)
    reference = bounds.jsd_objective(positive=positive, negative=negative)
    (grad_reference,) = torch.autograd.grad(reference, scores)
    pooled = infomax_bound(scores, "jsd")
    (grad_pooled,) = torch.autograd.grad(pooled, scores)
    assert torch.allclose(pooled, reference, atol=1e-6) and torch.allclose(grad_pooled, grad_reference, atol=1e-7)


def test_scheduled_lr_matches_the_cosine_formula_by_hand():
    assert scheduled_lr(1e-3, 0, 100, "cosine") == pytest.approx(1e-3)
    assert scheduled_lr(1e-3, 50, 100, "cosine") == pytest.approx(0.5e-3)
    assert scheduled_lr(1e-3, 25, 100, "cosine") == pytest.approx(1e-3 * (1 + math.sqrt(0.5)) / 2)
    assert scheduled_lr(1e-3, 100, 100, "cosine") == pytest.approx(0.0, abs=1e-12)
    assert scheduled_lr(1e-3, 130, 100, "cosine") == pytest.approx(0.0, abs=1e-12)
    assert scheduled_lr(1e-3, 70, 100, "constant") == 1e-3


def test_unknown_lr_schedule_is_refused_before_training(tmp_path):
    with pytest.raises(DimError, match="lr_schedule 'linear'"):
        train(_cfg(tmp_path, "trainer.lr_schedule=linear"))
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_cosine_schedule_decays_and_resumes_exactly_after_an_interruption(tmp_path, monkeypatch):
    settings = ("trainer.epochs=2", "trainer.lr_schedule=cosine", "trainer.lr=1e-3")
    full = train(_cfg(tmp_path, *settings, out="full"))
    total = full["steps"]
    assert full["lr"] == pytest.approx(scheduled_lr(1e-3, total - 1, total, "cosine"))  # the last update's rate
    assert full["lr"] < 0.05 * 1e-3
    original, calls = Trainer.train_step, {"n": 0}

    def killed_at_step_8(self, *args):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(Trainer, "train_step", killed_at_step_8)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path, *settings, out="split"))
    monkeypatch.setattr(Trainer, "train_step", original)
    resumed = train(_cfg(tmp_path, *settings, "resume=true", out="split"))  # from the step-6 checkpoint
    assert resumed["steps"] == total
    a, b = load_encoder(tmp_path / "full" / "encoder.pt"), load_encoder(tmp_path / "split" / "encoder.pt")
    for (name, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(p, q), name
