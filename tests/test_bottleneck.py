"""The Information Bottleneck trainer: the MINE game alternates correctly, beta lowers I(X; Z),
bad settings are refused, and MutualInformation works as a minimised term."""

import json
import math

import pytest
import torch

from dim.bottleneck import IBClassifier, IBRun, IBSettings, IBTrainer, holdout_split, select_beta, train_ib
from dim.critics import make_critic
from dim.errors import ConfigError, DataError
from dim.loss import MutualInformation

pytestmark = pytest.mark.usefixtures("single_thread")

SMALL = dict(hidden=64, code_dim=8, batch_size=64, lr=1e-3, critic_hidden=64, critic_embedding=16, critic_lr=1e-3,
             test_samples=4, record_rows=400)  # fmt: skip


def toy_classes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n, 20) Gaussian; y in 0..3, the argmax of a fixed linear map of x."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=generator)
    projection = torch.randn(20, 4, generator=torch.Generator().manual_seed(99))
    return x, (x @ projection).argmax(1)


@pytest.mark.parametrize("changes, error, message", [
    ({"beta": -0.1}, ConfigError, "beta must be >= 0"),
    ({"regularizer": "vib", "noise": "additive"}, ConfigError, "needs noise in gaussian"),
    ({"regularizer": "club", "noise": "propagated"}, ConfigError, "needs noise in"),
    ({"regularizer": "lasso"}, ConfigError, "unknown regularizer"),
])  # fmt: skip
def test_bad_settings_are_refused(changes, error, message):
    x, y = toy_classes(200, 0)
    with pytest.raises(error, match=message):
        train_ib(x, y, x, y, IBSettings(epochs=1, **SMALL, **changes))


def test_unpaired_rows_are_refused():
    x, y = toy_classes(200, 0)
    with pytest.raises(DataError, match="paired row by row"):
        train_ib(x, y[:-1], x, y, IBSettings(epochs=1, **SMALL))


def test_statistics_network_bound_rises_while_the_encoder_is_frozen():
    torch.manual_seed(0)
    settings = IBSettings(regularizer="mine", noise="additive", sigma=0.05, **{**SMALL, "critic_lr": 3e-3})
    x, _ = toy_classes(2048, 1)
    model = IBClassifier(20, 4, settings)
    trainer = IBTrainer(model, settings, x[:64])
    before = [p.clone() for p in model.parameters()]
    readings = [trainer.critic_step(x[torch.randint(2048, (64,))]) for _ in range(300)]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the critic step leaves the encoder
    early, late = sum(readings[:30]) / 30, sum(readings[-30:]) / 30
    assert late > early + 0.5, (early, late)


def test_encoder_step_does_not_move_the_statistics_network():
    settings = IBSettings(regularizer="mine", noise="propagated", sigma=0.1, beta=0.1, **SMALL)
    x, y = toy_classes(256, 2)
    trainer = IBTrainer(IBClassifier(20, 4, settings), settings, x[:64])
    trainer.critic_step(x[:64])
    critic_before = [p.clone() for p in trainer.mi.parameters()]
    encoder_before = [p.clone() for p in trainer.model.parameters()]
    out = trainer.encoder_step(x[:64], y[:64])
    assert math.isfinite(out["ce"]) and math.isfinite(out["penalty"])
    assert all(torch.equal(a, b) for a, b in zip(critic_before, trainer.mi.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(encoder_before, trainer.model.parameters()))


def test_larger_beta_lowers_i_xz_and_the_sandwich_is_recorded():
    x, y = toy_classes(1400, 3)
    runs = {}
    for beta in (1e-4, 0.3):
        settings = IBSettings(regularizer="vib", beta=beta, epochs=6, record_every=3, **SMALL)
        runs[beta], _ = train_ib(x[:1000], y[:1000], x[1000:], y[1000:], settings)
    low, high = runs[1e-4].history[-1], runs[0.3].history[-1]
    assert high["i_xz_upper"] < 0.5 * low["i_xz_upper"], (low, high)
    assert low["i_xz_lower"] <= low["i_xz_upper"] and len(runs[0.3].history) == 2
    assert low["test_error"] < 40.0  # chance is 75%: the weakly regularised classifier learned


def test_mine_regularizer_trains_and_reads_its_bound():
    x, y = toy_classes(600, 4)
    settings = IBSettings(regularizer="mine", noise="gaussian", beta=1e-2, epochs=2, **SMALL)
    run, model = train_ib(x[:400], y[:400], x[400:], y[400:], settings)
    record = run.history[-1]
    assert math.isfinite(record["i_xz_mine"]) and record["i_xz_lower"] <= record["i_xz_upper"]
    assert run.test_error < 75.0


@pytest.mark.parametrize("direction", ["minimise", "maximise"])
def test_mutual_information_as_a_minimised_or_maximised_term(direction):
    """I(X; X + s eps) falls as s grows: minimising the estimate over s drives s up, maximising down."""
    torch.manual_seed(0)
    log_s = torch.nn.Parameter(torch.tensor(0.0))
    x_probe = torch.randn(8, 1)
    mi = MutualInformation(make_critic(x_probe, x_probe, "separable", hidden=32, embedding_dim=16), "infonce")
    critic_optimizer = torch.optim.Adam(mi.parameters(), lr=3e-3)
    noise_optimizer = torch.optim.Adam([log_s], lr=2e-2)
    sign = 1.0 if direction == "minimise" else -1.0
    for _ in range(200):
        x = torch.randn(128, 1)
        y = x + torch.exp(log_s) * torch.randn(128, 1)
        critic_loss = -mi(x, y.detach()).objective  # the critic always maximises the bound
        critic_optimizer.zero_grad()
        critic_loss.backward()
        critic_optimizer.step()
        noise_loss = sign * mi(x, y).objective
        noise_optimizer.zero_grad()
        noise_loss.backward()
        noise_optimizer.step()
    s = math.exp(log_s.item())
    assert (s > 1.5) if direction == "minimise" else (s < 0.67), s


def test_train_ib_script_sweeps_beta_and_refuses_bad_input(run_script, tmp_path):
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = run_script("train_ib", "beta=-0.5", f"out_dir={tmp_path}/never", env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "beta must be >= 0" in done.stderr
    done = run_script("train_ib", "regularizer=vib", "noise=propagated", env=env)
    assert done.returncode == 2 and "needs noise in gaussian" in done.stderr
    assert not (tmp_path / "never").exists()
    done = run_script("train_ib", "regularizer=vib", "beta=[0.001,0.1]", "training.epochs=1", "training.hidden=32",
                      "training.code_dim=4", "training.record_rows=200", "progress=false", f"out_dir={tmp_path}/run",
                      env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "beta 0.001: test error" in done.stdout and "beta 0.1: test error" in done.stdout
    assert (tmp_path / "run" / "encoder.pt").exists() and (tmp_path / "run" / "test_inputs.npy").exists()


class FakeTrain:
    """Stands in for train_ib: records the rows it is given and returns error = |beta - mean(x_score)|
    (in %), so the chosen beta is the value of the rows that score the candidates."""

    def __init__(self):
        self.calls = []

    def __call__(self, x_fit, y_fit, x_score, y_score, settings):
        self.calls.append((x_fit.clone(), x_score.clone(), settings))
        return IBRun({}, 100.0 * abs(settings.beta - float(x_score.mean()))), None


def test_select_beta_fits_and_scores_on_training_rows_only():
    # fit rows hold 0.01, the held-out training rows 0.1; test rows (never passed) would hold 1.0
    x_train = torch.cat([torch.full((30, 3), 0.01), torch.full((10, 3), 0.1)])
    y_train = torch.arange(40) % 4
    fake = FakeTrain()
    sweep = select_beta(x_train, y_train, IBSettings(regularizer="vib"), [0.01, 0.1, 1.0], seeds=[3, 7], holdout=10,
                        train=fake)  # fmt: skip
    assert sweep.chosen == 0.1  # scored on the fit rows it would be 0.01, on test-like rows 1.0
    assert len(fake.calls) == 6 and {(c[2].beta, c[2].seed) for c in fake.calls} == {
        (b, s) for b in (0.01, 0.1, 1.0) for s in (3, 7)}  # fmt: skip
    for x_fit, x_score, settings in fake.calls:
        assert torch.equal(x_fit, x_train[:30]) and torch.equal(x_score, x_train[30:])
        assert settings.regularizer == "vib"
    fit, validation = holdout_split(40, 10)
    assert set(fit).isdisjoint(validation) and sorted([*fit, *validation]) == list(range(40))


def test_select_beta_picks_the_lowest_mean_and_records_the_sweep():
    table = {(0.01, 0): 1.0, (0.01, 1): 9.0, (0.1, 0): 4.0, (0.1, 1): 4.0, (1.0, 0): 6.0, (1.0, 1): 3.0}

    def train(x_fit, y_fit, x_score, y_score, settings):
        return IBRun({}, table[settings.beta, settings.seed]), None

    x, y = toy_classes(50, 0)
    sweep = select_beta(x, y, IBSettings(regularizer="mine"), [0.01, 0.1, 1.0], [0, 1], holdout=20, train=train)
    assert sweep.chosen == 0.1  # means 5, 4, 4.5: neither the best single seed (0.01) nor the best worst case
    record = sweep.to_dict()
    assert record["chosen"] == 0.1 and record["validation_rows"] == 20
    assert [c["validation_error_mean"] for c in record["candidates"]] == [5.0, 4.0, 4.5]
    assert record["candidates"][0]["validation_error_std"] == pytest.approx(math.sqrt(32))


def test_select_beta_with_train_ib_rejects_a_collapsing_beta():
    x, y = toy_classes(1400, 5)
    settings = IBSettings(regularizer="vib", epochs=6, record_every=0, **SMALL)
    sweep = select_beta(x, y, settings, [1e-4, 30.0], seeds=[0], holdout=400)
    assert sweep.chosen == 1e-4
    assert sweep.errors[30.0][0] > sweep.errors[1e-4][0] + 20.0, sweep.errors  # beta 30 squeezes out the labels


@pytest.mark.parametrize("holdout", [0, 50, -1])
def test_holdout_must_leave_rows_on_both_sides(holdout):
    with pytest.raises(ConfigError, match="holdout must leave rows"):
        holdout_split(50, holdout)


def test_repro_ib_script_chooses_betas_on_training_rows_and_writes_the_sweep(run_script, tmp_path):
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = run_script("repro/repro_ib", "--variants", "baseline,vib,club_gaussian", "--seeds", "0,1", "--epochs", "1",
                      "--hidden", "32", "--code-dim", "4", "--betas", "vib=0.05", "--select-betas", "1e-3,10",
                      "--select-seeds", "0", "--holdout", "500", "--out", tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "ib_table3.json").read_text())
    assert list(result["beta_selection"]) == ["club_gaussian"]  # vib keeps the beta it was given
    sweep = result["beta_selection"]["club_gaussian"]
    assert [c["beta"] for c in sweep["candidates"]] == [1e-3, 10.0] and sweep["validation_rows"] == 500
    best = min(sweep["candidates"], key=lambda c: c["validation_error_mean"])["beta"]
    betas = {s["variant"]: s["beta"] for s in result["summary"]}
    assert betas == {"baseline": 0.0, "vib": 0.05, "club_gaussian": best} and sweep["chosen"] == best
    assert "Beta selection" in (tmp_path / "ib_table3.md").read_text()
    assert (tmp_path / "ib_information_plane.png").exists()


class LinearGaussian(torch.nn.Module):
    """A user's own p(z|x), not a StochasticEncoder: z = x W + 0.5 eps, with sample and log_prob."""

    def __init__(self, in_dim: int, code_dim: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(in_dim, code_dim)

    def sample(self, x):
        mean = self.linear(x)
        return mean + 0.5 * torch.randn_like(mean)

    def log_prob(self, z, x):
        d = z.shape[1]
        return -0.5 * ((z - self.linear(x)) / 0.5).pow(2).sum(1) - d * math.log(0.5) - 0.5 * d * math.log(2 * math.pi)


def test_the_bottleneck_trains_any_conditional_model_and_records_its_sandwich():
    x, y = toy_classes(600, seed=4)
    settings = IBSettings(regularizer="mine", beta=1e-3, epochs=10, **{**SMALL, "code_dim": 4, "lr": 1e-2, "record_rows": 200})
    encoder = LinearGaussian(20, 4)
    before = encoder.linear.weight.detach().clone()
    run, model = train_ib(x[:400], y[:400], x[400:], y[400:], settings, encoder=encoder)
    assert model.encoder is encoder and not torch.equal(before, encoder.linear.weight)
    last = run.history[-1]
    assert 0.0 <= last["i_xz_lower"] <= last["i_xz_upper"] + 0.05 and math.isfinite(last["i_xz_mine"])
    assert run.test_error < 60.0  # four classes: chance is 75%


def test_vib_needs_the_gaussian_of_a_stochastic_encoder():
    x, y = toy_classes(200, seed=4)
    with pytest.raises(ConfigError, match="regularizer vib needs the Gaussian p\\(z\\|x\\) of a StochasticEncoder"):
        train_ib(x[:100], y[:100], x[100:], y[100:], IBSettings(regularizer="vib", epochs=1, **SMALL),
                 encoder=LinearGaussian(20, 8))
