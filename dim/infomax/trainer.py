"""Deep InfoMax pretraining: one training step and a resumable training loop.

The model (:class:`dim.infomax.model.DeepInfoMax`) holds the encoder and the critics; its
``forward`` returns each loss term. ``Trainer`` moves the data, steps the optimizers and writes
the checkpoints: it runs the alternating updates (encoder + critics, prior discriminator, online
linear probe), logs to tensorboard, and checkpoints atomically so that ``resume=true``
continues to the same weights as an uninterrupted run (on CPU).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torch.nn import functional as F

from dim.checkpoint import check_out_dir, load_checkpoint, save_atomic, save_encoder, setting_differences
from dim.data import DataSplit, load_data
from dim.encoders import build_encoder
from dim.errors import ConfigError, DimError
from dim.infomax.model import DeepInfoMax
from dim.infomax.prior import PriorDiscriminator, prior_space, sample_prior, sliced_wasserstein
from dim.io import write_text_atomic
from dim.runtime import CoreShare, init_distributed, interactive, resolve_device, shared_cores
from dim.views import ViewAugment

__all__ = ["LR_SCHEDULES", "Trainer", "scheduled_lr", "train"]


# keys that may differ between a checkpoint's config and a resumed run's
RESUMABLE_DIFFERENCES = ("resume", "out_dir", "device", "trainer.epochs", "trainer.progress", "trainer.compile",
                         "trainer.data_on_device", "threads", "pixel_baseline", "cache_dir")


LR_SCHEDULES = ("constant", "cosine")


def scheduled_lr(base_lr: float, step: int, total_steps: int, schedule: str = "constant") -> float:
    """The learning rate of update ``step`` (0-based) of ``total_steps``.

    "constant": base_lr. "cosine": base_lr * (1 + cos(pi * step / total_steps)) / 2, from base_lr
    at the first update down to 0 at the last (SGDR without restarts, Loshchilov & Hutter 2017;
    the schedule of SimCLR and most view-based pretraining). A pure function of the step, so a
    resumed run continues the same curve; steps past the horizon stay at 0.
    """
    if schedule not in LR_SCHEDULES:
        raise ConfigError(f"unknown trainer.lr_schedule {schedule!r}; choose one of {', '.join(LR_SCHEDULES)}")
    if schedule == "constant":
        return base_lr
    progress = min(step, total_steps) / max(total_steps, 1)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


class Trainer:
    """Builds everything from a composed config (``configs/train.yaml``) and trains."""

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.rank, self.world = init_distributed()
        self.device = resolve_device(cfg.device)
        if self.world > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        self.out_dir = Path(cfg.out_dir)
        torch.manual_seed(cfg.seed)
        enc = dict(cfg.encoder)
        name = enc.pop("name")
        if name != "mlp":
            enc.setdefault("in_channels", cfg.data.channels)
        self.encoder = build_encoder(name, **enc)
        self.data: DataSplit = load_data(cfg.data, self.encoder.input_shape, seed=cfg.seed)
        if len(self.data.train) < cfg.trainer.batch_size:
            raise DimError(f"the training set has {len(self.data.train)} samples, fewer than one batch "
                           f"({cfg.trainer.batch_size}); lower trainer.batch_size")  # fmt: skip
        obj = cfg.objective
        self.model = DeepInfoMax(
            self.encoder, estimator=cfg.estimator.name, units=obj.units, alpha=obj.alpha, beta=obj.beta,
            local_local=obj.local_local, locations=obj.locations, score_clip=obj.score_clip,
            mine_alpha=cfg.estimator.mine_alpha, smile_clip=cfg.estimator.clip,
            global_target=obj.get("global_target", "map"), temperature=obj.get("temperature"),
        ).to(self.device)  # fmt: skip
        if obj.views not in (1, 2):
            raise ConfigError(f"objective.views must be 1 or 2, got {obj.views}")
        if obj.views == 1 and obj.alpha and obj.get("global_target", "map") == "code":
            raise ConfigError("objective.global_target=code scores one view's code against another's; "
                              "set objective.views=2")  # fmt: skip
        self.augment = ViewAugment.from_config(cfg.data.get("views"))
        # GPU path: images stored on the device (moved once), channels_last, optional torch.compile
        self.channels_last = _channels_last(cfg.trainer.get("channels_last"), self.device, self.encoder.input_shape)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.train_samples, self.train_labels = self._resident(cfg.trainer.get("data_on_device"))
        self.model.generator.manual_seed(cfg.seed)
        self.discriminator = PriorDiscriminator(self.encoder.code_dim).to(self.device) if obj.gamma else None
        classes = self.data.num_classes
        self.probe = nn.Linear(self.encoder.code_dim, classes).to(self.device) if classes else None
        lr = cfg.trainer.lr
        self.optimizers = {"model": torch.optim.Adam(self.model.parameters(), lr=lr, betas=tuple(cfg.trainer.betas))}
        if self.discriminator is not None:
            self.optimizers["discriminator"] = torch.optim.Adam(self.discriminator.parameters(), lr=lr,
                                                                betas=tuple(cfg.trainer.betas))  # fmt: skip
        if self.probe is not None:
            self.optimizers["probe"] = torch.optim.Adam(self.probe.parameters(), lr=cfg.probe.lr)
        self.lr_schedule = cfg.trainer.get("lr_schedule", "constant")
        scheduled_lr(lr, 0, 1, self.lr_schedule)  # reject an unknown schedule before any work
        # each rank takes its own B rows of a B x world batch; the schedule's horizon is every update
        self.steps_per_epoch = len(self.data.train) // (cfg.trainer.batch_size * self.world)
        self.total_steps = self.steps_per_epoch * cfg.trainer.epochs
        self.use_amp = bool(cfg.amp) and self.device.type == "cuda"
        # bfloat16 where the GPU has it (float32's range: no loss scaling); else float16 + GradScaler
        self.amp_dtype = torch.bfloat16 if self.use_amp and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.data_generator = torch.Generator().manual_seed(cfg.seed)  # augmentation and prior samples
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.cores: CoreShare | None = None  # the CPU thread policy, set by train(); None: threads left alone
        self.history: list[dict[str, Any]] = []  # after each epoch this process finished (epochs done so far): online probe
        # under torchrun: gradients averaged by DDP; negatives gathered in DeepInfoMax.forward
        self.forward_model = self._wrap(self.model)
        if cfg.trainer.get("compile", False):
            self.forward_model = torch.compile(self.forward_model)
        self.forward_discriminator = self._wrap(self.discriminator)
        self.forward_probe = self._wrap(self.probe)

    def _resident(self, setting: bool | None) -> tuple[Tensor, Tensor]:
        """The training images and labels, on the device when ``setting`` is true, or when it is
        None (auto) on CUDA if they take under a quarter of the free GPU memory (else on the CPU,
        each batch copied to the device in the step)."""
        samples, labels = self.data.train.samples, self.data.train.labels
        if self.device.type == "cpu" or setting is False:
            return samples, labels
        if setting is None and self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            if samples.numel() * samples.element_size() > free // 4:
                return samples, labels
        samples = samples.to(self.device)
        if self.channels_last:
            samples = samples.contiguous(memory_format=torch.channels_last)
        return samples, labels.to(self.device)

    def _wrap(self, module: nn.Module | None) -> nn.Module | None:
        if module is None or self.world == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    # ----------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        return {
            "format": "dim-checkpoint-1",
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "encoder_spec": self.encoder.spec,
            "model": self.model.state_dict(),
            "discriminator": None if self.discriminator is None else self.discriminator.state_dict(),
            "probe": None if self.probe is None else self.probe.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "scaler": self.scaler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "data": self.data_generator.get_state(),
                "model": self.model.generator.get_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
            "config": OmegaConf.to_yaml(self.cfg),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        saved = OmegaConf.to_container(OmegaConf.create(state["config"]), resolve=True)
        differences = setting_differences(saved, OmegaConf.to_container(self.cfg, resolve=True), RESUMABLE_DIFFERENCES)
        if differences:
            raise DimError(f"resume=true, but the config differs from the checkpoint's in {self.out_dir}: "
                           f"{'; '.join(differences)}; use the checkpoint's settings (only trainer.epochs may "
                           "change) or another out_dir")  # fmt: skip
        self.model.load_state_dict(state["model"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
        if self.probe is not None:
            self.probe.load_state_dict(state["probe"])
        for key, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        self.data_generator.set_state(state["rng"]["data"])
        self.model.generator.set_state(state["rng"]["model"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]

    def save(self) -> None:
        if self.rank != 0:
            return
        save_atomic(self.state(), self.out_dir / "checkpoint.pt")
        save_encoder(self.encoder, self.out_dir / "encoder.pt")

    # ------------------------------------------------------------------ step
    def make_views(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """(view A, view B or None) of a batch, on the device: two augmented views when
        objective.views = 2, else one (augmented when data.augment), as batched tensor ops."""
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if self.cfg.objective.views == 2:
            return self.augment(images, self.data_generator), self.augment(images, self.data_generator)
        return (self.augment(images, self.data_generator) if self.cfg.data.augment else images), None

    def train_step(self, images: Tensor, labels: Tensor) -> dict[str, float]:
        """One update on a batch (any device): views, then :meth:`step_on_views`."""
        return self.step_on_views(*self.make_views(images), labels)

    def step_on_views(self, view_a: Tensor, view_b: Tensor | None, labels: Tensor) -> dict[str, float]:
        """One update of the model (and discriminator, probe) on views already made."""
        cfg = self.cfg.objective
        self.model.train()
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            terms = self.forward_model(view_a, view_b)
        objective = self.model.objective(terms)
        loss = -objective + cfg.score_penalty * terms["score_penalty"]
        scalars: dict[str, Tensor] = {}  # detached; one device sync for all of them at the end
        code = terms["code"].float()
        if self.discriminator is not None:
            prior_codes = prior_space(code, cfg.prior)
            generator_loss = self.discriminator.generator_loss(prior_codes, forward=self.forward_discriminator)
            loss = loss + cfg.gamma * generator_loss
            scalars["loss/prior_generator"] = generator_loss.detach()
        lr = scheduled_lr(self.cfg.trainer.lr, self.step, self.total_steps, self.lr_schedule)
        for optimizer in (self.optimizers[k] for k in ("model", "discriminator") if k in self.optimizers):
            for group in optimizer.param_groups:  # the online probe keeps its own constant rate
                group["lr"] = lr
        optimizer = self.optimizers["model"]
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()
        scalars["loss/total"] = loss.detach()
        for name in ("global", "local", "local_local"):
            if name in terms:
                scalars[f"objective/{name}"] = terms[name].detach()
                scalars[f"mi_nats/{name}"] = terms[f"{name}_nats"].detach()

        if self.discriminator is not None:  # the adversary's own update, on detached codes
            real = sample_prior(cfg.prior, code.shape[0], code.shape[1], generator=self.data_generator).to(self.device)
            d_loss, accuracy = self.discriminator.loss(real, prior_space(code.detach(), cfg.prior),
                                                       cfg.gradient_penalty, forward=self.forward_discriminator)
            d_optimizer = self.optimizers["discriminator"]
            d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            d_optimizer.step()
            scalars["discriminator/loss"], scalars["discriminator/accuracy"] = d_loss.detach(), accuracy.detach()

        labels = labels.to(self.device, non_blocking=True)
        if self.probe is not None:  # online linear probe on the detached code, rows with labels (no sync)
            labelled = labels >= 0
            logits = self.forward_probe(code.detach()[labelled])
            target = labels[labelled]
            count = labelled.sum().clamp(min=1)
            probe_loss = F.cross_entropy(logits, target, reduction="sum") / count
            self.optimizers["probe"].zero_grad(set_to_none=True)
            probe_loss.backward()
            self.optimizers["probe"].step()
            scalars["probe/train_accuracy"] = (logits.argmax(1) == target).float().sum() / count
        values = dict(zip(scalars, torch.stack([v.float() for v in scalars.values()]).tolist()))
        values["lr"] = lr
        for key, value in values.items():
            if not math.isfinite(value):
                raise DimError(f"non-finite {key} at step {self.step}; lower trainer.lr or use estimator=jsd")
        return values

    @torch.no_grad()
    def probe_accuracy(self) -> float | None:
        """The online probe's top-1 accuracy on the test split (None without labels)."""
        if self.probe is None:
            return None
        self.model.eval()
        test = self.data.test
        correct = 0
        for start in range(0, len(test), 256):
            images = test.samples[start : start + 256].to(self.device)
            labels = test.labels[start : start + 256].to(self.device)
            predictions = self.probe(self.encoder(images).code.float()).argmax(1)
            correct += int((predictions == labels).sum())
        return correct / len(test)

    @torch.no_grad()
    def prior_distance(self, samples: int = 1000) -> float:
        """Sliced-Wasserstein distance between test codes (in the prior's space) and as many
        prior samples: a check of prior matching that does not use the discriminator."""

        self.model.eval()
        images = self.data.test.samples[:samples].to(self.device)
        codes = torch.cat([self.encoder(images[i : i + 256]).code.float() for i in range(0, len(images), 256)])
        prior = sample_prior(self.cfg.objective.prior, len(codes), codes.shape[1],
                             generator=torch.Generator().manual_seed(12345))  # fmt: skip
        return sliced_wasserstein(prior_space(codes, self.cfg.objective.prior).cpu(), prior)

    # ------------------------------------------------------------------ loop
    def _epoch_order(self, epoch: int) -> Tensor:
        generator = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.data.train), generator=generator)

    def fit(self) -> dict[str, Any]:
        from torch.utils.tensorboard import SummaryWriter
        from tqdm.auto import tqdm

        t = self.cfg.trainer
        per_epoch, total = self.steps_per_epoch, self.total_steps
        writer = SummaryWriter(str(self.out_dir / "tensorboard")) if self.rank == 0 else None
        bar = tqdm(total=total, initial=self.step, disable=not interactive(t.progress) or self.rank != 0, desc="dim",
                   dynamic_ncols=True)  # fmt: skip
        last_scalars: dict[str, float] = {}
        window_start, window_images = time.perf_counter(), 0
        try:
            while self.epoch < t.epochs:
                order = self._epoch_order(self.epoch)
                while self.batch_in_epoch < per_epoch:
                    first = (self.batch_in_epoch * self.world + self.rank) * t.batch_size
                    rows = order[first : first + t.batch_size].to(self.train_samples.device, non_blocking=True)
                    scalars = self.train_step(self.train_samples[rows], self.train_labels[rows])
                    if self.cores is not None:
                        scalars["throughput/threads"] = self.cores.update()
                    self.step += 1
                    self.batch_in_epoch += 1
                    window_images += len(rows)
                    last_scalars = scalars
                    if self.step % t.log_every == 0 and writer is not None:
                        elapsed = time.perf_counter() - window_start
                        scalars["throughput/images_per_second"] = window_images / max(elapsed, 1e-9)
                        window_start, window_images = time.perf_counter(), 0
                        for key, value in scalars.items():
                            writer.add_scalar(key, value, self.step)
                        bar.set_postfix({k.split("/")[-1]: f"{v:.3f}" for k, v in scalars.items()
                                         if k.startswith(("mi_nats", "probe"))})  # fmt: skip
                    if self.step % t.checkpoint_every == 0:
                        self.save()
                    bar.update(1)
                self.epoch += 1
                self.batch_in_epoch = 0
                accuracy = self.probe_accuracy()
                self.history.append({"epoch": self.epoch, "step": self.step, "probe_test_accuracy": accuracy})
                if accuracy is not None and writer is not None:
                    writer.add_scalar("probe/test_accuracy", accuracy, self.step)
            self.save()
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        return {"steps": self.step, "epochs": self.epoch, "probe_test_accuracy": self.probe_accuracy(),
                "history": self.history,
                "prior_sliced_wasserstein": self.prior_distance(), **last_scalars}  # fmt: skip


def _channels_last(setting: bool | None, device: torch.device, input_shape: tuple[int, ...]) -> bool:
    """Whether to store images and conv weights channels_last: ``setting`` when given, else
    (None, auto) on CUDA for image encoders only (on CPU the default layout is kept)."""
    if len(input_shape) != 3:
        return False
    return device.type == "cuda" if setting is None else bool(setting)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train (or resume) the run described by ``cfg``; returns the final scalars."""
    out_dir = Path(cfg.out_dir)
    checkpoint = out_dir / "checkpoint.pt"
    check_out_dir(out_dir, cfg.resume)
    if cfg.resume:
        state = load_checkpoint(checkpoint)  # one-line error when damaged
    with shared_cores(resolve_device(cfg.device), cfg.get("threads")) as cores:
        trainer = Trainer(cfg)
        trainer.cores = cores
        if cfg.resume:
            trainer.load_state(state)
        if trainer.rank == 0:
            write_text_atomic(out_dir / "config.yaml", OmegaConf.to_yaml(cfg))
        summary = trainer.fit()
    summary["out_dir"] = str(out_dir)
    return summary
