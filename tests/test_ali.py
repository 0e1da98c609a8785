"""ALI and ALI + MINE (dim/generative/ali.py, scripts/train_ali.py): exact resume, the MINE term's
effect on reconstructions, MS-SSIM's known values, the encoder as a dim encoder, and bad input."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dim.checkpoint import load_encoder
from dim.errors import DimError
from dim.generative.ali import ALISettings, ALITrainer
from dim.generative.gan import GANSettings, GANTrainer
from dim.generative.metrics import ms_ssim

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "train_ali.py"


def tiny_grid(**overrides) -> ALISettings:
    """A few-second 2-D run: 32 units per layer, 5,000 training points, lr 1e-3."""
    values = dict(data="grid", hidden=32, lr=1e-3, dataset_size=5000, eval_samples=500, progress=False,
                  checkpoint_every=10_000, log_every=10)  # fmt: skip
    return ALISettings(**{**values, **overrides})


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "progress=false", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)  # fmt: skip


@pytest.mark.parametrize("statistics", ["separate", "shared"])
def test_resume_reproduces_the_same_weights(tmp_path, single_thread, statistics):
    settings = dict(beta=1.0, statistics=statistics)
    straight = ALITrainer(tiny_grid(steps=40, **settings), tmp_path / "straight")
    straight.fit()
    ALITrainer(tiny_grid(steps=20, **settings), tmp_path / "halves").fit()
    resumed = ALITrainer(tiny_grid(steps=40, **settings), tmp_path / "halves")
    assert resumed.resume() and resumed.step == 20
    # shared: both paths still read one network after loading, and only the encoder's pairs fit it
    assert (resumed.mi["encoder"].critic is resumed.mi["decoder"].critic) == (statistics == "shared")
    assert ("statistics_decoder" in resumed.optimizers) == (statistics == "separate")
    resumed.fit()
    for name, module in straight.modules.items():
        other = resumed.modules[name].state_dict()
        for key, value in module.state_dict().items():
            assert torch.equal(value, other[key]), f"{name}.{key} differs after resume"
    # and the runs did train: the weights moved from their initialisation
    fresh = ALITrainer(tiny_grid(steps=40, beta=1.0)).modules["encoder"].state_dict()
    assert not all(torch.equal(v, fresh[k]) for k, v in straight.modules["encoder"].state_dict().items())


def test_shared_statistics_network_is_fit_on_the_encoders_pairs_only(single_thread):
    """After one step, the shared T equals the T of a run that has only the encoder's path (same
    initialisation, batches and shuffles; beta 0 so that E and G take the same step): the decoder's
    pairs never train it. Were they in its loss, the weights would differ."""
    shared = ALITrainer(tiny_grid(beta=0.0, statistics="shared"))  # each trainer seeds torch's RNG: step it at once
    shared.train_step()
    encoder_only = ALITrainer(tiny_grid(beta=0.0, mi_paths="encoder"))
    encoder_only.train_step()
    for key, value in encoder_only.mi["encoder"].critic.state_dict().items():
        assert torch.equal(value, shared.mi["encoder"].critic.state_dict()[key]), key
    separate = ALITrainer(tiny_grid(beta=0.0))
    separate.train_step()  # the control: its decoder network is another network, trained on other pairs
    assert not all(torch.equal(v, separate.mi["decoder"].critic.state_dict()[k])
                   for k, v in shared.mi["decoder"].critic.state_dict().items())  # fmt: skip


def test_resume_accepts_a_checkpoint_written_before_a_setting_existed(tmp_path, single_thread):
    """A checkpoint whose settings lack a newer field (here ``statistics``) resumes with its default."""
    ALITrainer(tiny_grid(steps=2), tmp_path).fit()
    path = tmp_path / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    del state["settings"]["statistics"]
    torch.save(state, path)
    resumed = ALITrainer(tiny_grid(steps=4), tmp_path)
    assert resumed.resume() and resumed.step == 2
    with pytest.raises(DimError, match=r"statistics: separate \(checkpoint\) vs shared \(now\)"):
        ALITrainer(tiny_grid(steps=4, statistics="shared"), tmp_path).resume()


@pytest.mark.parametrize("statistics", ["separate", "shared"])
def test_mine_term_improves_reconstructions(single_thread, statistics):
    """Same seed, networks, batches and latents; only beta differs. Measured (seeds 0, 1, 2):
    recon error 2.60 / 2.88 / 3.88 for ALI vs 0.79 / 0.80 / 0.89 with MINE (shared T: 1.04 / 0.61 /
    0.83); mode match 0.17 / 0.37 / 0.11 vs 0.79 / 0.91 / 0.63 (shared T: 0.67 / 0.93 / 0.71). A
    no-op MI term would leave the two runs alike."""
    ali = ALITrainer(tiny_grid(steps=300, beta=0.0)).fit()["final"]
    mine = ALITrainer(tiny_grid(steps=300, beta=1.0, statistics=statistics)).fit()["final"]
    assert mine["recon_error"] < 0.5 * ali["recon_error"]
    assert mine["recon_mode_match"] > ali["recon_mode_match"] + 0.3
    assert mine["mi_encoder_nats"] > ali["mi_encoder_nats"]


def test_ms_ssim_is_one_for_identical_images_and_drops_with_noise():
    generator = torch.Generator().manual_seed(0)
    images = torch.nn.functional.avg_pool2d(torch.rand(8, 1, 64, 64, generator=generator), 2)  # (8, 1, 32, 32)
    assert torch.allclose(ms_ssim(images, images), torch.ones(8), atol=1e-5)
    scores = [ms_ssim((images + s * torch.randn(images.shape, generator=generator)).clamp(0, 1), images).mean().item()
              for s in (0.05, 0.2, 0.5)]  # fmt: skip
    assert 1.0 > scores[0] > scores[1] > scores[2] >= 0.0


def test_trainer_refuses_a_checkpoint_of_another_kind(tmp_path, single_thread):
    GANTrainer(GANSettings(steps=1, g_hidden=8, d_hidden=8, t_hidden=8, dataset_size=100, eval_samples=100,
                           progress=False), tmp_path).fit()  # fmt: skip
    with pytest.raises(DimError, match="resumes only its own"):
        ALITrainer(tiny_grid(steps=2), tmp_path).resume()


def test_script_writes_a_dim_encoder_that_probes_can_load(tmp_path):
    out = tmp_path / "run"
    done = run_script("dataset=digits", "steps=2", "width=4", "latent_dim=16", "eval_samples=50",
                      "classifier_epochs=1", f"out_dir={out}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == {"checkpoint.pt", "encoder.pt", "metrics.json", "tensorboard"}
    encoder = load_encoder(out / "encoder.pt")
    assert encoder.spec["name"] == "dim32" and encoder.input_shape == (1, 32, 32) and encoder.code_dim == 16
    assert encoder(torch.rand(3, 1, 32, 32)).code.shape == (3, 16)
    assert "recon_accuracy" in done.stdout and "ms_ssim" in done.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["dataset=cifar"], "unknown data 'cifar'"),
        (["beta=-0.5"], "beta must be >= 0"),
        (["mi_paths=all"], "unknown mi_paths 'all'"),
        (["statistics=tied"], "unknown statistics 'tied'"),
        (["statistics=shared", "mi_paths=encoder"], "needs mi_paths=both"),
        (["regularizer=mine"], "unknown key 'regularizer'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, args, message):
    out = tmp_path / "run"
    done = run_script(*args, f"out_dir={out}")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr and done.stderr.startswith("train_ali: error:")
    assert not out.exists()


def test_script_refuses_a_gan_checkpoint_on_resume(tmp_path, single_thread):
    GANTrainer(GANSettings(steps=1, g_hidden=8, d_hidden=8, t_hidden=8, dataset_size=100, eval_samples=100,
                           progress=False), tmp_path).fit()  # fmt: skip
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    done = run_script("dataset=grid", "resume=true", f"out_dir={tmp_path}")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "'dim-gan-checkpoint-1' checkpoint; scripts/train_ali.py resumes only its own" in done.stderr
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
