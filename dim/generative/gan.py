"""GAN + MINE (Belghazi et al., 2018, Sec. 5.1, Eqn. 17): a generator that also maximises the
mutual information between its samples and part of its input.

The latent is z = [eps, c] with eps ~ N(0, I_noise_dim) and a code c (default: one-hot of
code_dim categories). The networks play three roles, each with its own Adam optimizer, in this
order every step:

1. discriminator D:  max  E_data[log sigma(D(x))] + E_z[log(1 - sigma(D(G(z))))];
2. statistics network T (via :class:`dim.loss.MutualInformation`, estimator "mine": the DV bound
   with MINE's moving-average gradient, negatives from a shuffled c):  max  I_T(G(z); c)
   on detached samples;
3. generator G:  min  -E_z[log sigma(D(G(z)))] - beta * I_T(G(z); c)   (non-saturating loss).
   The MI gradient is adaptively clipped (MINE App. 1) so that its norm never exceeds the
   adversarial gradient's: g = g_adv + beta * min(1, |g_adv| / |g_mi|) g_mi.

beta = 0 is the vanilla GAN with the *same* networks, optimizers and random draws (T still
trains, so the MI reading of the vanilla GAN is reported too, but sends G no gradient).

Data: ``grid`` / ``ring`` / ``spiral`` (2-D, fully connected networks, :mod:`dim.generative.toy`)
or ``stacked`` (Stacked MNIST from the digits at hand, DCGAN networks,
:mod:`dim.generative.digits`). Metrics: modes captured, high-quality share and reverse KL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from dim.bounds import MINE_ALPHA
from dim.generative.digits import DigitClassifier, stack_images, stacked_coverage
from dim.generative.networks import (
    ConvDiscriminator,
    ConvGenerator,
    ConvStatistics,
    MLPDiscriminator,
    MLPGenerator,
    VectorStatistics,
)
from dim.generative.toy import TARGETS, make_target
from dim.generative.trainer import AdversarialTrainer, LoopSettings, check_settings
from dim.gradients import descend, fit_statistics, regularized_gradients
from dim.loss import MutualInformation

__all__ = ["GANSettings", "GANTrainer", "GAN_DATA", "build_gan"]

GAN_DATA = (*TARGETS, "stacked")


@dataclass
class GANSettings(LoopSettings):
    """Everything a GAN run depends on (saved in its checkpoint)."""

    dataset: str = "grid"           # grid | ring | spiral | stacked
    beta: float = 1.0               # weight of I(G(eps, c); c); 0: the vanilla GAN
    steps: int = 6000
    batch_size: int = 100
    lr: float = 1e-3                # Adam (beta1 = 0.5) for G, D and T (the appendix: 1e-4, with 50,000 steps)
    noise_dim: int = 10             # eps
    code_dim: int = 50              # c: its dimension (categorical: its number of categories)
    code: str = "categorical"         # c ~ gaussian N(0, I) | uniform U(-1, 1) | categorical (one-hot)
    dataset_size: int = 100_000     # training samples drawn once from the target (the MINE appendix)
    g_hidden: int = 128             # 2-D: generator width (2 layers)
    d_hidden: int = 128             # 2-D: discriminator width (3 layers)
    t_hidden: int = 128             # 2-D: statistics network width (3 layers)
    g_width: int = 64               # images: DCGAN base width of G
    d_width: int = 64               # images: of D (PacGAN's small-D setting: a quarter of G's)
    t_width: int = 32               # images: of T
    mine_alpha: float = MINE_ALPHA  # MINE moving-average rate
    adaptive_clip: bool = True      # MINE's adaptive clipping of the MI gradient
    eval_samples: int = 2500        # samples for the metrics (26,000 for Stacked MNIST)

    def validate(self) -> None:
        check_settings(self, {"dataset": GAN_DATA, "code": ("gaussian", "uniform", "categorical")})


class GANTrainer(AdversarialTrainer):
    """A GAN (beta = 0) or GAN + MINE (beta > 0) on the settings' data; see the module docstring.

    For ``stacked``, pass ``digits``, the single-channel images (M, 1, 32, 32) to stack, and a trained
    ``classifier`` to count modes.
    """

    kind = "gan"
    sample_batch_size = 1000

    def __init__(
        self,
        settings: GANSettings,
        out_dir: str | Path | None = None,
        device: torch.device | str = "cpu",
        digits: Tensor | None = None,
        classifier: DigitClassifier | None = None,
    ) -> None:
        settings.validate()
        super().__init__(settings, out_dir, torch.device(device))
        s, latent = settings, settings.noise_dim + settings.code_dim
        data_generator = torch.Generator().manual_seed(10_000 + s.seed)
        if s.dataset == "stacked":
            if digits is None or classifier is None:
                raise ValueError("dataset='stacked' needs digits (images (M, 1, 32, 32)) and a trained classifier")
            self.digits, self.classifier = digits.to(self.device), classifier.to(self.device)
            # the training set: index triples into the digits, stacked per batch
            self.dataset = torch.randint(len(digits), (s.dataset_size, 3), generator=data_generator)
            G = ConvGenerator(latent, channels=3, width=s.g_width)
            D = ConvDiscriminator(channels=3, width=s.d_width)
            T = ConvStatistics(3, s.code_dim, width=s.t_width)
        else:
            self.target = make_target(s.dataset)
            self.dataset = self.target.sample(s.dataset_size, data_generator).to(self.device)
            G = MLPGenerator(latent, 2, hidden=s.g_hidden)
            D = MLPDiscriminator(2, hidden=s.d_hidden)
            T = VectorStatistics(2, s.code_dim, hidden=s.t_hidden)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.mi = MutualInformation(T, "mine", mine_alpha=s.mine_alpha, marginal="shuffle").to(self.device)
        self.modules = {"generator": self.G, "discriminator": self.D, "statistics": self.mi}
        adam = dict(lr=s.lr, betas=(0.5, 0.999))
        self.optimizers = {k: torch.optim.Adam(m.parameters(), **adam) for k, m in self.modules.items()}

    # ----------------------------------------------------------------- data
    def latent(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """(z = [eps, c] (n, noise_dim + code_dim), c (n, code_dim)) on the device."""
        s = self.settings
        eps = torch.randn(n, s.noise_dim, generator=generator)
        if s.code == "categorical":  # one-hot of a uniform category
            c = F.one_hot(torch.randint(s.code_dim, (n,), generator=generator), s.code_dim).float()
        elif s.code == "uniform":
            c = 2 * torch.rand(n, s.code_dim, generator=generator) - 1
        else:
            c = torch.randn(n, s.code_dim, generator=generator)
        c = c.to(self.device)
        return torch.cat([eps.to(self.device), c], dim=1), c

    def generator_input(self, n: int, generator: torch.Generator) -> Tensor:
        return self.latent(n, generator)[0]

    def real_batch(self) -> Tensor:
        rows = self.batch_rows()
        if self.settings.dataset == "stacked":
            return stack_images(self.digits, self.dataset[rows].to(self.device))
        return self.dataset[rows.to(self.device)]

    # ----------------------------------------------------------------- step
    def train_step(self) -> dict[str, float]:
        s = self.settings
        real = self.real_batch()
        z, c = self.latent(s.batch_size, self.generator)
        fake = self.G(z)
        # 1. discriminator
        d_loss = F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake.detach())).mean()
        descend(self.optimizers["discriminator"], d_loss)
        # 2. statistics network: ascend the MINE bound on detached samples
        estimate = fit_statistics(self.mi, self.optimizers["statistics"], fake.detach(), c)
        # 3. generator: non-saturating loss - beta * I (the moving average already took this batch
        #    in step 2), the MI gradient adaptively clipped
        g_loss = F.softplus(-self.D(fake)).mean()
        mi_loss = -self.mi(fake, c, update_average=False).objective if s.beta > 0 else None
        regularized_gradients(g_loss, mi_loss, list(self.G.parameters()), s.beta, s.adaptive_clip)
        self.optimizers["generator"].step()
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item(), "mi_nats": estimate.mi_nats.item()}

    # ------------------------------------------------------------- evaluate
    def mi_reading(self, n: int = 2000) -> float:
        """The statistics network's DV reading of I(G(eps, c); c) on n fresh samples (nats; a lower
        bound up to sampling noise, and only as good as T)."""
        z, c = self.latent(n, torch.Generator().manual_seed(self.settings.seed + 2))
        return self.in_eval(lambda: self.mi(self.G(z), c).mi_nats.item())

    def evaluate(self) -> dict[str, Any]:
        samples = self.sample(self.settings.eval_samples)
        if self.settings.dataset == "stacked":
            coverage = stacked_coverage(self.classifier, samples)
        else:
            coverage = self.target.coverage(samples.cpu())
        return {**coverage.to_dict(), "mi_nats": self.mi_reading()}


def build_gan(cfg) -> tuple[GANTrainer, float | None]:
    """The trainer a composed ``configs/train_gan.yaml`` describes (settings validated first, so
    bad input fails before any work), and for Stacked MNIST the digit classifier's test accuracy
    (the classifier is trained on ``cfg.data``'s training digits and scored on its test digits)."""
    from dim.data import load_data
    from dim.generative.digits import train_digit_classifier
    from dim.runtime import resolve_device

    settings = GANSettings(**{name: cfg[name] for name in GANSettings.__dataclass_fields__})
    settings.validate()
    device = resolve_device(cfg.device)
    if settings.dataset != "stacked":
        return GANTrainer(settings, cfg.out_dir, device), None
    split = load_data(cfg.data, (1, 32, 32), settings.seed)
    trained = train_digit_classifier(split.train.samples, split.train.labels, split.test.samples,
                                     split.test.labels, epochs=cfg.classifier_epochs, seed=settings.seed)  # fmt: skip
    trainer = GANTrainer(settings, cfg.out_dir, device, digits=split.train.samples, classifier=trained.model)
    return trainer, trained.test_accuracy
