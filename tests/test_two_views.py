"""Objectives on two augmented views (dim/infomax/): wiring, presets, a few
training steps of each new configuration, the bound rising, the GPU-path switches on CPU."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dim.config import compose
from dim.encoders import build_encoder
from dim.errors import ConfigError
from dim.infomax import infomax_scores
from dim.tasks import embedded_digits
from dim.infomax import DeepInfoMax, Trainer, train
from dim.views import ViewAugment

pytestmark = pytest.mark.usefixtures("single_thread")

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
VIEW_PRESETS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml") if "views" in p.stem or "contrastive" in p.stem)
SMALL = ["encoder.width=8", "objective.units=32", "trainer.batch_size=32", "trainer.progress=false"]


def _digits_npz(tmp_path, n=256):
    images, labels = embedded_digits()
    order = np.random.default_rng(0).permutation(len(images))[:n]  # the file is sorted by class
    x = np.pad(images[order], ((0, 0), (0, 0), (2, 2), (2, 2)))
    path = tmp_path / "digits.npz"
    np.savez(path, x=x[64:], y=labels[order][64:], x_test=x[:64], y_test=labels[order][:64])
    return path


def _preset(tmp_path, preset, *overrides):
    return compose("train", [f"+experiment={preset}", "data=npz", f"data.root={_digits_npz(tmp_path)}",
                             f"out_dir={tmp_path / 'run'}", *SMALL, *overrides])  # fmt: skip


def test_view_presets_compose_for_every_dataset_and_objective():
    assert len(VIEW_PRESETS) == 12
    for preset in VIEW_PRESETS:
        cfg = compose("train", [f"+experiment={preset}"])
        data = preset.split("_")[0]
        assert cfg.data.name == data and cfg.objective.views == 2, preset
        assert cfg.encoder.name == ("dim64" if data == "stl10" else "dim32")
        assert ViewAugment.from_config(cfg.data.views).flip == (0.0 if data == "digits" else 0.5)
        if preset.endswith("contrastive"):
            assert cfg.objective.global_target == "code" and cfg.estimator.name == "infonce"
            assert (cfg.objective.alpha, cfg.objective.beta, cfg.objective.local_local) == (1.0, 0.0, 0.0)
        if preset.endswith("amdim"):
            assert cfg.objective.local_local > 0


@pytest.mark.parametrize("preset", ["digits_views_local", "digits_views_global", "digits_views_amdim",
                                    "digits_contrastive"])  # fmt: skip
def test_each_view_configuration_trains_a_few_steps(tmp_path, preset):
    summary = train(_preset(tmp_path, preset, "trainer.epochs=1"))
    assert summary["steps"] == 6 and math.isfinite(summary["loss/total"])
    assert [h["epoch"] for h in summary["history"]] == [1] and 0 <= summary["history"][0]["probe_test_accuracy"] <= 1
    term = {"digits_views_local": "local", "digits_views_global": "global", "digits_views_amdim": "local_local",
            "digits_contrastive": "global"}[preset]  # fmt: skip
    assert math.isfinite(summary[f"mi_nats/{term}"])


def test_two_equal_views_give_the_one_view_terms():
    """The encoder runs once on both views and each term averages A->B and B->A: with
    view B = view A (and BatchNorm statistics of a doubled batch equal to the batch's), the
    terms equal the one-view terms."""
    torch.manual_seed(0)
    model = DeepInfoMax(build_encoder("dim32", in_channels=1, width=8), estimator="infonce", units=32, alpha=1.0,
                        beta=1.0, local_local=1.0)  # fmt: skip
    images = torch.rand(8, 1, 32, 32)
    one, two = model(images), model(images, images.clone())
    for name in ("global", "local", "local_local", "local_nats", "score_penalty"):
        assert torch.allclose(one[name], two[name], atol=1e-5), name


def test_cosine_scores_with_temperature():
    queries, keys = torch.randn(5, 1, 16), torch.randn(5, 16, 1)
    scores = infomax_scores(queries, keys, temperature=0.2)
    cosine = torch.nn.functional.cosine_similarity(queries[:, 0].unsqueeze(1), keys[:, :, 0].unsqueeze(0), dim=2)
    assert torch.allclose(scores[:, 0, :, 0], cosine / 0.2, atol=1e-5)


def test_code_target_without_two_views_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="views=2"):
        Trainer(_preset(tmp_path, "digits_contrastive", "objective.views=1"))
    with pytest.raises(ConfigError, match="global_target"):
        DeepInfoMax(build_encoder("dim32", in_channels=1, width=8), global_target="codes")


@pytest.mark.parametrize("preset, term, steps, bn_mode, rise", [
    ("digits_contrastive", "global", 40, False, 1.0),
    ("digits_views_local", "local", 60, True, 0.06),
])
def test_two_view_objective_raises_its_bound_on_held_out_views(tmp_path, preset, term, steps, bn_mode, rise):
    """A few steps (lr 1e-3, InfoNCE, width-8 encoder) raise the trained term's InfoNCE bound
    on two views of 64 held-out digits, never trained on, from about 0. Measured: contrastive
    0.0 -> 1.69 nats after 40 steps (BatchNorm in eval mode); local DIM on two views, slower
    (its code must predict locations of another crop), -0.006 -> 0.134 after 60 steps with
    batch statistics (in eval mode its reading swings by +-0.1 on so short a run)."""
    trainer = Trainer(_preset(tmp_path, preset, "estimator=infonce", "trainer.lr=1e-3"))
    held_out = trainer.data.test.samples[:64]

    def reading() -> float:
        generator = torch.Generator().manual_seed(123)
        view_a, view_b = trainer.augment(held_out, generator), trainer.augment(held_out, generator)
        trainer.model.train(bn_mode)
        with torch.no_grad():
            return float(trainer.model(view_a, view_b)[term])

    before = reading()
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        rows = torch.randperm(len(trainer.train_samples), generator=generator)[:32]
        trainer.train_step(trainer.train_samples[rows], trainer.train_labels[rows])
    after = reading()
    assert after > before + rise, (before, after)


def test_channels_last_on_cpu_trains_the_same_step(tmp_path):
    """trainer.channels_last=true (the GPU default) changes the memory layout, not the step."""
    results = []
    for setting in ("false", "true"):
        trainer = Trainer(_preset(tmp_path, "digits_views_amdim", f"trainer.channels_last={setting}",
                                  "trainer.data_on_device=true"))  # fmt: skip
        scalars = trainer.train_step(trainer.train_samples[:32], trainer.train_labels[:32])
        results.append(scalars["loss/total"])
        if setting == "true":
            assert trainer.encoder.block1[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert results[0] == pytest.approx(results[1], rel=1e-4)


@pytest.mark.parametrize("preset", [p for p in VIEW_PRESETS if not p.startswith("digits")])
def test_rgb_presets_train_a_few_steps_on_synthetic_images(tmp_path, preset):
    """The CIFAR-10 and STL-10 presets (their views: flips, saturation, grayscale) train on
    random RGB arrays in place of their datasets, which cannot be downloaded here."""
    from omegaconf import OmegaConf

    generator = np.random.default_rng(0)
    path = tmp_path / "rgb.npz"
    np.savez(path, x=generator.random((24, 3, 32, 32), dtype=np.float32), y=generator.integers(0, 10, 24))
    cfg = compose("train", [f"+experiment={preset}", f"out_dir={tmp_path / 'run'}", "objective.units=32",
                            "trainer.batch_size=8", "trainer.epochs=1", "trainer.progress=false"])  # fmt: skip
    OmegaConf.update(cfg, "data.name", "npz")
    OmegaConf.update(cfg, "data.root", str(path))
    if cfg.encoder.name == "dim32":
        OmegaConf.update(cfg, "encoder.width", 8)
    trainer = Trainer(cfg)
    before = [p.detach().clone() for p in trainer.encoder.parameters()]
    summary = trainer.fit()
    assert summary["steps"] == 2 and math.isfinite(summary["loss/total"])
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.encoder.parameters()))
