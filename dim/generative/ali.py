"""ALI and ALI + MINE (Belghazi et al., 2018, Sec. 5.2, Eqns. 18-19): a bi-directional adversarial
model whose encoder and decoder also maximise the mutual information between data and code.

Three networks play ALI's game (Dumoulin et al., 2016; BiGAN, Donahue et al., 2016): the encoder
E (a :mod:`dim.encoders` encoder, so that its code can be probed like any DIM code), the decoder
(generator) G and a joint discriminator D(x, z) that tells the encoder's pairs (x, E(x)),
x ~ data, from the decoder's pairs (G(z), z), z ~ N(0, I_latent_dim). The encoder is
deterministic, z = E(x).code (BiGAN's form of ALI; ALI's Gaussian encoder adds noise to it), so
a reconstruction is x_rec = G(E(x)).

Why MI: the paper's Eqn. 18 bounds the reconstruction error R = E_x E_{q(z|x)}[-log p(x|z)] by
R <= KL(q(x, z) || p(x, z)) - I_q(x; z) + H_q(z): once the adversarial game matches the joints
(KL -> 0) and the prior fixes H(z), raising the encoder's I_q(x; z) lowers the bound. The paper
keeps "the generator the same as with GANs in the previous section" (GAN + MINE, which raises
I(G(z); z)), so the information is maximised on both paths:

- encoder path:  I_q(x; E(x)),  x ~ data; only E receives its gradient (x is data);
- decoder path:  I_p(G(z); z),  z ~ N(0, I); only G receives its gradient (z is drawn).

Each is estimated by MINE (:class:`dim.loss.MutualInformation`, estimator "mine": the Donsker-
Varadhan bound with MINE's moving-average gradient; negatives from a shuffled code, so the
statistics networks are pointwise T(x, z) -> (N,), conditioned on the code z: a DCGAN net with
z as a dynamic bias per layer for images, an MLP on [x, z] for vectors). ``mi_paths`` keeps one
path only ("encoder" or "decoder") for ablations.

``statistics="shared"`` (our variant, not the paper's) reads both paths with one network T fit to
the encoder's pairs: the DV bound E_p[T] - log E_{p(x) p(z)}[e^T] is a lower bound on I_p(G(z); z)
for *any* T, so the decoder's term stays a bound (no guarantee in itself: for a deterministic G
that MI is unbounded). What does the work is the coupling: raising it moves G(z) towards the x
that T pairs with z under the encoder, which ties G to E's inverse (a learned cycle consistency).
At the adversarial optimum the two joints are equal and so are the two paths' optimal T.

Every step, each network with its own Adam optimizer (lr 1e-4, beta1 0.5, as the MINE appendix;
a shared T has one):

1. discriminator D:  max  E_x[log sigma(D(x, E(x)))] + E_z[log(1 - sigma(D(G(z), z)))];
2. statistics networks T_q, T_p:  max  I_Tq(x; E(x)) and I_Tp(G(z); z) on detached pairs
   (``statistics="shared"``: one network T = T_q = T_p that ascends only the encoder's bound);
3. encoder and decoder (non-saturating, labels swapped):
       min  L_adv - beta * (I_Tq(x; E(x)) + I_Tp(G(z); z)),
       L_adv = E_x[-log(1 - sigma(D(x, E(x))))] + E_z[-log sigma(D(G(z), z))],
   the MI gradient adaptively clipped over the parameters of E and G together (MINE App. 1):
   g = g_adv + beta * min(1, |g_adv| / |g_mi|) g_mi.

beta = 0 is vanilla ALI with the *same* networks, optimizers, batches and latents (the statistics
networks still train, so the MI readings of ALI are reported too, but send E and G no gradient).

Data: ``grid`` / ``ring`` / ``spiral`` (2-D, :mod:`dim.generative.toy`, fully connected
networks, an ``mlp`` encoder) or images fit to 1 x 32 x 32 (``digits``: the embedded 4,000 /
1,000 split; ``mnist``; ``npz``) with DCGAN networks and a ``dim32`` encoder.

Metrics on held-out data (:meth:`ALITrainer.evaluate`), x_rec = G(E(x)):

- ``recon_error``: mean over held-out x of the Euclidean norm ||x - x_rec||_2 (images: over the
  1,024 pixels in the images' [0, 1] scale; the paper does not state its scale);
- ``recon_accuracy`` (labelled images): the share of x_rec that a separately trained digit
  classifier gives the true label of x;
- ``ms_ssim`` (images): mean MS-SSIM(x_rec, x) (:func:`dim.generative.metrics.ms_ssim`);
- 2-D: ``recon_mode_match``, the share of x_rec assigned to the mode of its x, the modes of the
  reconstructions, and the modes / high-quality share / reverse KL of samples G(z);
- images with a classifier: the digit classes among samples G(z) and their reverse KL;
- ``mi_encoder_nats`` / ``mi_decoder_nats``: the statistics networks' DV readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from dim.bounds import MINE_ALPHA
from dim.encoders import build_encoder
from dim.errors import ConfigError
from dim.generative.digits import TrainedClassifier
from dim.generative.metrics import mode_coverage, ms_ssim
from dim.generative.networks import (
    ConvGenerator,
    ConvStatistics,
    JointConvDiscriminator,
    JointMLPDiscriminator,
    MLPGenerator,
    VectorStatistics,
)
from dim.generative.toy import TARGETS, make_target
from dim.generative.trainer import AdversarialTrainer, LoopSettings, check_settings
from dim.gradients import descend, regularized_gradients
from dim.loss import MutualInformation

__all__ = ["ALISettings", "ALITrainer", "ALIData", "ALI_DATA", "IMAGE_DATA", "load_ali_data"]

IMAGE_DATA = ("digits", "mnist", "npz")
ALI_DATA = (*TARGETS, *IMAGE_DATA)
IMAGE_SHAPE = (1, 32, 32)
MI_PATHS = ("both", "encoder", "decoder")
STATISTICS = ("separate", "shared")
EVAL_SPLITS = ("test", "validation")
VALIDATION_SIZE = 500  # eval_split=validation: the last 500 training images (2-D: fresh samples)


@dataclass
class ALISettings(LoopSettings):
    """Everything an ALI run depends on (saved in its checkpoint)."""

    data: str = "digits"            # grid | ring | spiral | digits | mnist | npz
    data_root: str | None = None    # mnist: torchvision folder; npz: the .npz file
    beta: float = 1.0               # weight of the MI terms; 0: vanilla ALI
    mi_paths: str = "both"          # both | encoder: I(x; E(x)) | decoder: I(G(z); z)
    statistics: str = "separate"    # separate: a statistics network per path | shared: one, fit on the encoder's pairs
    steps: int = 10_000
    batch_size: int = 100
    lr: float = 1e-4                # Adam (beta1 = 0.5) for E, G, D and T
    latent_dim: int = 0             # 0: 2 for 2-D data, 64 for images
    dataset_size: int = 100_000     # 2-D: training samples drawn once from the target
    hidden: int = 256               # 2-D: width of E, G, D and T
    width: int = 32                 # images: base width of E (dim32), G, D and T (DCGAN: 64)
    mine_alpha: float = MINE_ALPHA  # MINE moving-average rate
    adaptive_clip: bool = True      # MINE's adaptive clipping of the MI gradient
    eval_split: str = "test"        # test | validation (tuning: the last 500 training images)
    eval_samples: int = 2500        # held-out points (2-D) / at most this many held-out images; samples G(z)

    def validate(self) -> None:
        check_settings(self, {"data": ALI_DATA, "mi_paths": MI_PATHS, "eval_split": EVAL_SPLITS,
                              "statistics": STATISTICS})  # fmt: skip
        if self.statistics == "shared" and self.mi_paths != "both":
            raise ConfigError("statistics=shared reads one network on both paths; it needs mi_paths=both, "
                              f"got {self.mi_paths!r}")
        if self.latent_dim < 0:
            raise ConfigError(f"latent_dim must be >= 0 (0: the data's default), got {self.latent_dim}")
        if self.data in ("mnist", "npz") and not self.data_root:
            raise ConfigError(f"data={self.data} needs data_root (the {'MNIST folder' if self.data == 'mnist' else '.npz file'})")

    @property
    def images(self) -> bool:
        return self.data in IMAGE_DATA

    @property
    def latent(self) -> int:
        """The code's dimension: ``latent_dim``, or 2 (2-D data) / 64 (images) when 0."""
        return self.latent_dim or (64 if self.images else 2)


@dataclass(frozen=True)
class ALIData:
    """Training samples (N, ...) and held-out samples (M, ...) with labels (M,) or None."""

    train: Tensor
    held_out: Tensor
    held_out_labels: Tensor | None
    train_labels: Tensor | None = None


def load_ali_data(settings: ALISettings) -> ALIData:
    """The settings' data: 2-D targets sampled (training: ``dataset_size`` draws seeded by
    10,000 + seed; held out: ``eval_samples`` draws seeded by 20,000 + seed, or 30,000 + seed for
    ``eval_split=validation``), or images fit to
    (1, 32, 32) in [0, 1] with the held-out part ``eval_split`` names."""
    s = settings
    if not s.images:
        target = make_target(s.data)
        train = target.sample(s.dataset_size, torch.Generator().manual_seed(10_000 + s.seed))
        held_out_seed = (30_000 if s.eval_split == "validation" else 20_000) + s.seed
        return ALIData(train, target.sample(s.eval_samples, torch.Generator().manual_seed(held_out_seed)), None)
    from omegaconf import OmegaConf

    from dim.data import load_data

    split = load_data(OmegaConf.create({"name": s.data, "root": s.data_root, "download": False}), IMAGE_SHAPE, 0)
    x, y = split.train.samples, split.train.labels if split.num_classes else None
    if s.eval_split == "validation":
        cut = len(x) - VALIDATION_SIZE
        return ALIData(x[:cut], x[cut:], None if y is None else y[cut:], None if y is None else y[:cut])
    test_y = split.test.labels if split.num_classes else None
    return ALIData(x, split.test.samples, test_y, y)


class ALITrainer(AdversarialTrainer):
    """ALI (beta = 0) or ALI + MINE (beta > 0) on the settings' data; see the module docstring.

    ``data`` defaults to :func:`load_ali_data`; pass a trained digit ``classifier``
    (:func:`dim.generative.digits.train_digit_classifier`) to measure reconstruction accuracy on
    labelled images (one classifier for every run that is compared).
    """

    kind = "ali"

    def __init__(
        self,
        settings: ALISettings,
        out_dir: str | Path | None = None,
        device: torch.device | str = "cpu",
        data: ALIData | None = None,
        classifier: TrainedClassifier | None = None,
    ) -> None:
        settings.validate()
        super().__init__(settings, out_dir, torch.device(device))
        s, latent = settings, settings.latent
        data = load_ali_data(s) if data is None else data
        self.dataset = data.train.to(self.device)
        self.held_out = data.held_out[: s.eval_samples].to(self.device)
        self.held_out_labels = None if data.held_out_labels is None else data.held_out_labels[: s.eval_samples]
        self.classifier: TrainedClassifier | None = None
        if classifier is not None:
            self.use_classifier(classifier)
        if s.images:
            channels = self.dataset.shape[1]
            E = build_encoder("dim32", in_channels=channels, code_dim=latent, width=s.width)
            G, D = ConvGenerator(latent, channels, s.width), JointConvDiscriminator(channels, latent, s.width)
            statistics = [ConvStatistics(channels, latent, s.width) for _ in range(2)]
        else:
            self.target = make_target(s.data)
            E = build_encoder("mlp", in_dim=2, hidden=s.hidden, code_dim=latent)
            G, D = MLPGenerator(latent, 2, s.hidden), JointMLPDiscriminator(2, latent, s.hidden)
            statistics = [VectorStatistics(2, latent, s.hidden) for _ in range(2)]
        self.E, self.G, self.D = E.to(self.device), G.to(self.device), D.to(self.device)
        if s.statistics == "shared":  # one network T, each path its own MINE moving average
            statistics = [statistics[0], statistics[0]]
        self.mi = {path: MutualInformation(T, "mine", mine_alpha=s.mine_alpha, marginal="shuffle").to(self.device)
                   for path, T in zip(("encoder", "decoder"), statistics) if s.mi_paths in (path, "both")}  # fmt: skip
        # the statistics networks that ascend their own path's bound (shared: T fits the encoder's pairs only)
        self.fitted_paths = ("encoder",) if s.statistics == "shared" else tuple(self.mi)
        self.modules = {"encoder": self.E, "generator": self.G, "discriminator": self.D,
                        **{f"statistics_{path}": mi for path, mi in self.mi.items()}}  # fmt: skip
        adam = dict(lr=s.lr, betas=(0.5, 0.999))
        trained = {"encoder", "generator", "discriminator", *(f"statistics_{path}" for path in self.fitted_paths)}
        self.optimizers = {k: torch.optim.Adam(m.parameters(), **adam) for k, m in self.modules.items() if k in trained}

    def use_classifier(self, classifier: TrainedClassifier) -> None:
        """Judge reconstruction accuracy with this trained digit classifier from now on."""
        classifier.model.to(self.device).eval()
        self.classifier = classifier

    # ----------------------------------------------------------------- data
    def prior(self, n: int, generator: torch.Generator) -> Tensor:
        """z ~ N(0, I), (n, latent) on the device."""
        return torch.randn(n, self.settings.latent, generator=generator).to(self.device)

    def generator_input(self, n: int, generator: torch.Generator) -> Tensor:
        return self.prior(n, generator)

    def real_batch(self) -> Tensor:
        return self.dataset[self.batch_rows().to(self.device)]

    def encode(self, x: Tensor) -> Tensor:
        """The code E(x).code, (N, latent)."""
        return self.E(x).code

    def mi_terms(
        self, x: Tensor, code: Tensor, x_tilde: Tensor, z: Tensor, update_average: bool = True
    ) -> dict[str, Any]:
        """MINE estimates of I(x; E(x)) on (x, code) and I(G(z); z) on (x_tilde, z), per path kept."""
        pairs = {"encoder": (x, code), "decoder": (x_tilde, z)}
        return {path: mi(*pairs[path], update_average=update_average) for path, mi in self.mi.items()}

    # ----------------------------------------------------------------- step
    def train_step(self) -> dict[str, float]:
        s = self.settings
        x = self.real_batch()
        z = self.prior(s.batch_size, self.generator)
        code, x_tilde = self.encode(x), self.G(z)
        # 1. discriminator: encoder pairs are "real", decoder pairs "fake"
        d_loss = F.softplus(-self.D(x, code.detach())).mean() + F.softplus(self.D(x_tilde.detach(), z)).mean()
        descend(self.optimizers["discriminator"], d_loss)
        # 2. statistics networks: ascend the MINE bounds on detached pairs
        estimates = self.mi_terms(x, code.detach(), x_tilde.detach(), z)
        for path in self.fitted_paths:
            descend(self.optimizers[f"statistics_{path}"], -estimates[path].objective)
        # 3. encoder and decoder: swapped labels (non-saturating) - beta * MI, clipped adaptively;
        #    the moving averages already took this batch in step 2
        adv_loss = F.softplus(self.D(x, code)).mean() + F.softplus(-self.D(x_tilde, z)).mean()
        mi_loss = None
        if s.beta > 0:
            terms = self.mi_terms(x, code, x_tilde, z, update_average=False)
            mi_loss = -sum(e.objective for e in terms.values())
        regularized_gradients(adv_loss, mi_loss, [*self.E.parameters(), *self.G.parameters()], s.beta, s.adaptive_clip)
        self.optimizers["encoder"].step()
        self.optimizers["generator"].step()
        return {"d_loss": d_loss.item(), "adv_loss": adv_loss.item(),
                **{f"mi_{path}_nats": e.mi_nats.item() for path, e in estimates.items()}}  # fmt: skip

    # ------------------------------------------------------------- evaluate
    def reconstruct(self, x: Tensor, batch_size: int = 500) -> Tensor:
        """G(E(x)) for x (N, ...) in eval mode, in batches."""
        return self.in_eval(lambda: torch.cat([self.G(self.encode(x[i : i + batch_size]))
                                               for i in range(0, len(x), batch_size)]))  # fmt: skip

    def mi_readings(self, n: int = 1000) -> dict[str, float]:
        """The statistics networks' DV readings (nats) on held-out pairs (x, E(x)) and fresh
        (G(z), z): lower bounds up to sampling noise, and only as good as T."""
        generator = torch.Generator().manual_seed(self.settings.seed + 2)
        x = self.held_out[:n]
        z = self.prior(len(x), generator)

        def read() -> dict[str, float]:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.settings.seed + 3)
                terms = self.mi_terms(x, self.encode(x), self.G(z), z)
            return {f"mi_{path}_nats": e.mi_nats.item() for path, e in terms.items()}

        return self.in_eval(read)

    def evaluate(self) -> dict[str, Any]:
        x = self.held_out
        x_rec = self.reconstruct(x)
        samples = self.sample(self.settings.eval_samples)
        metrics: dict[str, Any] = {"recon_error": float((x - x_rec).flatten(1).norm(dim=1).mean())}
        if self.settings.images:
            metrics["ms_ssim"] = float(ms_ssim(x_rec.clamp(0, 1), x).mean())
            if self.classifier is not None and self.held_out_labels is not None:
                model, labels = self.classifier.model, self.held_out_labels.to(self.device)
                metrics["recon_accuracy"] = float((model.predict(x_rec) == labels).float().mean())
                metrics["classifier_accuracy"] = self.classifier.test_accuracy  # on the original held-out images
                classes = model.predict(samples).cpu()
                coverage = mode_coverage(classes, torch.ones_like(classes, dtype=torch.bool), 10)
                metrics.update(sample_classes=coverage.modes, sample_reverse_kl=coverage.reverse_kl)
        else:
            modes_x, _ = self.target.assign(x.cpu())
            modes_rec, _ = self.target.assign(x_rec.cpu())
            metrics["recon_mode_match"] = float((modes_x == modes_rec).float().mean())
            metrics["recon_modes"] = self.target.coverage(x_rec.cpu()).modes
            sample_coverage = self.target.coverage(samples.cpu())
            metrics.update(sample_modes=sample_coverage.modes, sample_high_quality=sample_coverage.high_quality,
                           sample_reverse_kl=sample_coverage.reverse_kl)  # fmt: skip
        return {**metrics, **self.mi_readings()}
