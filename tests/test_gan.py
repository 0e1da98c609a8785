"""GAN + MINE (dim/generative): coverage metrics against hand-computed answers, Stacked MNIST
labelling, the MINE term's effect on I(G(eps, c); c), exact resume, and the script's errors."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from dim.checkpoint import save_atomic
from dim.generative import GANSettings, GANTrainer, make_target, reverse_kl_to_uniform
from dim.generative.digits import classify_stacked, stack_digits, stacked_coverage

ROOT = Path(__file__).resolve().parent.parent


def test_reverse_kl_on_known_histograms():
    # q = (1/4, 1/4, 1/2, 0) against uniform over 4: 1/4 log 1 + 1/4 log 1 + 1/2 log 2 = log(2) / 2
    assert reverse_kl_to_uniform(torch.tensor([1, 1, 2, 0])) == pytest.approx(math.log(2) / 2)
    assert reverse_kl_to_uniform(torch.tensor([5, 0, 0, 0, 0])) == pytest.approx(math.log(5))
    assert reverse_kl_to_uniform(torch.tensor([3, 3, 3])) == pytest.approx(0.0, abs=1e-12)


def test_mode_counting_on_hand_made_samples():
    grid = make_target("grid")
    # 10 modes hit: mode k gets k + 1 samples 0.1 from its mean (inside 3 std = 0.15), plus 45 samples
    # 0.5 from mode 0 (outside: low quality, not counted)
    inside = torch.cat([grid.means[k] + torch.tensor([0.1, 0.0]) for k in range(10) for _ in range(k + 1)]).view(-1, 2)
    outside = (grid.means[0] + torch.tensor([0.0, 0.5])).repeat(45, 1)
    coverage = grid.coverage(torch.cat([inside, outside]))
    counts = torch.tensor([k + 1 for k in range(10)] + [0] * 15)
    assert coverage.modes == 10
    assert coverage.high_quality == pytest.approx(55 / 100)
    assert coverage.reverse_kl == pytest.approx(reverse_kl_to_uniform(counts))
    assert coverage.reverse_kl == pytest.approx(sum(c / 55 * math.log(c / 55 * 25) for c in range(1, 11)))


@pytest.mark.parametrize("name, modes", [("grid", 25), ("ring", 8), ("spiral", 50)])
def test_the_target_itself_covers_every_mode_at_the_gaussian_rate(name, modes):
    target = make_target(name)
    coverage = target.coverage(target.sample(5000, torch.Generator().manual_seed(0)))
    assert coverage.modes == coverage.num_modes == modes
    # in 2-D, P(|noise| <= 3 std) = P(chi2_2 <= 9) = 1 - exp(-4.5) = 0.9889 for a mixture; the spiral's
    # distance to the curve is at most the noise's norm, so its share is at least that
    expected = 1 - math.exp(-4.5)
    if name == "spiral":
        assert coverage.high_quality >= expected - 0.01
    else:
        assert coverage.high_quality == pytest.approx(expected, abs=0.006)
    assert coverage.reverse_kl < 0.02


class _IntensityClassifier(nn.Module):
    """A stand-in digit classifier: a channel filled with value d / 10 is digit d."""

    def predict(self, images):
        return (images.mean(dim=(1, 2, 3)) * 10).round().long()


def test_stacked_digits_labels_and_mode_count():
    digits = torch.arange(10).float().div(10).view(10, 1, 1, 1).expand(10, 1, 32, 32)
    images, modes = stack_digits(digits, torch.arange(10), 6000, torch.Generator().manual_seed(0))
    assert images.shape == (6000, 3, 32, 32)
    assert torch.equal(classify_stacked(_IntensityClassifier(), images), modes)
    coverage = stacked_coverage(_IntensityClassifier(), images)
    assert coverage.modes == len(torch.unique(modes)) > 990  # 6,000 uniform draws miss about 2.5 of 1,000
    collapsed = stacked_coverage(_IntensityClassifier(), images[:1].repeat(50, 1, 1, 1))
    assert collapsed.modes == 1 and collapsed.reverse_kl == pytest.approx(math.log(1000))


def _tiny(**kw) -> GANSettings:
    base = dict(dataset="grid", steps=20, batch_size=64, g_hidden=32, d_hidden=32, t_hidden=32, code_dim=10,
                dataset_size=2000, eval_samples=500, checkpoint_every=10, log_every=5, progress=False)
    return GANSettings(**{**base, **kw})


def test_the_mine_term_raises_the_generators_mutual_information():
    """Same networks, same draws: with beta > 0 the statistics network reads a clearly larger
    I(G(eps, c); c) than with beta = 0 (where G gets no MI gradient)."""
    readings = {}
    for beta in (0.0, 1.0):
        trainer = GANTrainer(_tiny(beta=beta, steps=300, lr=1e-3, seed=3))
        readings[beta] = trainer.fit()["final"]["mi_nats"]
    # measured: 1.30 vs 0.01 nats (seeds 0-3: 1.23-1.32 vs 0.01-0.04); log 10 = 2.30 is the ceiling
    assert readings[1.0] > 1.0 and readings[0.0] < 0.2, readings


def test_resume_reproduces_the_same_weights(tmp_path):
    straight = GANTrainer(_tiny(steps=20), tmp_path / "a")
    straight.fit()
    first = GANTrainer(_tiny(steps=10), tmp_path / "b")
    first.fit()
    resumed = GANTrainer(_tiny(steps=20), tmp_path / "b")
    resumed.start(resume=True)
    assert resumed.step == 10
    resumed.fit()
    for name, module in straight.modules.items():
        other = resumed.modules[name].state_dict()
        for key, value in module.state_dict().items():
            assert torch.equal(value, other[key]), f"{name}.{key} differs after resume"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "train_gan.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize("args, message", [
    (["dataset=faces"], "unknown dataset 'faces'; choose one of grid, ring, spiral, stacked"),
    (["beta=-0.5"], "beta must be >= 0"),
    (["code=binary"], "unknown code 'binary'"),
])  # fmt: skip
def test_bad_settings_exit_2_with_one_line_and_nothing_written(tmp_path, args, message):
    out = tmp_path / "run"
    result = _run(*args, f"out_dir={out}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not out.exists()


def test_a_checkpoint_of_another_kind_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    save_atomic({"format": "dim-ali-checkpoint-1", "step": 3}, out / "checkpoint.pt")
    before = sorted(p.name for p in out.iterdir())
    result = _run(f"out_dir={out}", "resume=true", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "'dim-ali-checkpoint-1' checkpoint; scripts/train_gan.py resumes only its own" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "configs" / "gan").glob("*.yaml")))
def test_every_gan_preset_composes_into_valid_settings(preset):
    from dim.config import compose
    from dim.generative.gan import GANSettings

    cfg = compose("train_gan", [f"+gan={preset}"])
    settings = GANSettings(**{name: cfg[name] for name in GANSettings.__dataclass_fields__})
    settings.validate()
    assert (settings.dataset == "stacked") == preset.startswith("stacked")
