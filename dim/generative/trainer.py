"""The training loop shared by the adversarial models (GAN, ALI): steps, tensorboard scalars,
a progress bar, periodic evaluation, and atomic checkpoints that resume exactly.

A subclass owns its networks and optimizers (``self.modules``, ``self.optimizers``), its
generator network ``self.G`` and training set ``self.dataset``, draws its batches from
``self.generator`` (a seeded ``torch.Generator``, saved in the checkpoint with torch's global
RNG) through :meth:`batch_rows`, and implements ``generator_input()``, ``train_step()`` and
``evaluate()``; :meth:`sample` and :meth:`in_eval` serve every model's evaluation. The checkpoint
(``checkpoint.pt``, loadable with ``weights_only=True``) holds the state dicts, the optimizer
states, both RNG states, the step and the settings; ``resume`` refuses a checkpoint of another
kind (a DIM or ALI checkpoint given to the GAN) or with other settings (only ``steps`` may grow).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from dim.checkpoint import check_out_dir, load_checkpoint, save_atomic, setting_differences
from dim.errors import ConfigError, DimError
from dim.io import write_json_atomic
from dim.runtime import follow_cores, interactive, shared_cores

__all__ = ["AdversarialTrainer", "LoopSettings", "check_settings"]

# settings a resumed run may change
RESUMABLE = ("steps", "eval_every", "checkpoint_every", "log_every", "progress", "threads")


@dataclass
class LoopSettings:
    """The training loop's settings, shared by every adversarial model's settings (which add theirs)."""

    eval_every: int = 0             # steps between evaluations (0: at the end only)
    checkpoint_every: int = 1000
    log_every: int = 50
    progress: bool = True
    seed: int = 0
    threads: int | None = None      # CPU threads; None: the cores other processes leave free (dim.runtime.CoreShare)


def check_settings(settings: Any, choices: dict[str, tuple[str, ...]]) -> None:
    """Refuse bad settings with one line: a name outside its ``choices``, beta < 0, or a
    non-positive count."""
    for name, allowed in choices.items():
        value = getattr(settings, name)
        if value not in allowed:
            raise ConfigError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
    if settings.beta < 0:
        raise ConfigError(f"beta must be >= 0 (the weight of the MI term), got {settings.beta}")
    for f in fields(settings):
        value = getattr(settings, f.name)
        if f.name in ("steps", "batch_size", "eval_samples") and (not isinstance(value, int) or value <= 0):
            raise ConfigError(f"{f.name} must be a positive integer, got {value!r}")


class AdversarialTrainer(ABC):
    """Loop, logging and checkpoints around a model's ``train_step`` and ``evaluate``."""

    kind = "adversarial"  # checkpoint format: f"dim-{kind}-checkpoint-1"
    sample_batch_size = 500  # generator inputs drawn per batch in sample() (their order fixes the samples)

    def __init__(self, settings: Any, out_dir: str | Path | None, device: torch.device) -> None:
        self.settings, self.device = settings, device
        self.out_dir = Path(out_dir) if out_dir else None
        torch.manual_seed(settings.seed)
        self.generator = torch.Generator().manual_seed(settings.seed)  # data batches and latents
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.step = 0
        self.history: list[dict[str, Any]] = []

    @property
    def format(self) -> str:
        return f"dim-{self.kind}-checkpoint-1"

    @abstractmethod
    def generator_input(self, n: int, generator: torch.Generator) -> Tensor:
        """n inputs of ``self.G`` (noise and codes), (n, ...) on the device, drawn with ``generator``."""

    @abstractmethod
    def train_step(self) -> dict[str, float]:
        """One update of every network; returns scalars for the log."""

    @abstractmethod
    def evaluate(self) -> dict[str, Any]:
        """The model's metrics at this step (modes, reconstructions, ...)."""

    # ------------------------------------------------------------ sampling
    def batch_rows(self) -> Tensor:
        """Row indices of one training batch of ``self.dataset``, drawn with the run's generator."""
        return torch.randint(len(self.dataset), (self.settings.batch_size,), generator=self.generator)

    @torch.no_grad()
    def in_eval(self, function):
        """``function()`` with every network in eval mode and no gradients; modes restored after."""
        modes = {key: module.training for key, module in self.modules.items()}
        for module in self.modules.values():
            module.eval()
        try:
            return function()
        finally:
            for key, module in self.modules.items():
                module.train(modes[key])

    def sample(self, n: int, seed: int | None = None) -> Tensor:
        """n samples G(input) in eval mode, the inputs drawn with a generator of their own (``seed``;
        default the run's seed + 1), so that evaluation never moves the training RNG."""
        generator = torch.Generator().manual_seed(self.settings.seed + 1 if seed is None else seed)
        size = self.sample_batch_size
        return self.in_eval(lambda: torch.cat([self.G(self.generator_input(min(size, n - i), generator))
                                               for i in range(0, n, size)]))  # fmt: skip

    # ----------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "step": self.step,
            "settings": asdict(self.settings),
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "rng": {"torch": torch.get_rng_state(), "data": self.generator.get_state()},
            "history": self.history,
        }

    def load_state(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        if state.get("format") != self.format:
            raise DimError(f"{source} is a {str(state.get('format'))!r} checkpoint; scripts/train_{self.kind}.py "
                           f"resumes only its own ({self.format}): pass another out_dir")  # fmt: skip
        # a setting added after the checkpoint was written reads as its default
        defaults = {f.name: f.default for f in fields(self.settings)}
        saved = {**defaults, **state["settings"]}
        differences = setting_differences(saved, asdict(self.settings), RESUMABLE)
        if differences:
            raise DimError(f"resume=true, but the settings differ from the checkpoint's: {'; '.join(differences)}; "
                           "use the checkpoint's settings (only steps may change) or another out_dir")  # fmt: skip
        for key, module in self.modules.items():
            module.load_state_dict(state["modules"][key])
        for key, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
        torch.set_rng_state(state["rng"]["torch"])
        self.generator.set_state(state["rng"]["data"])
        self.step, self.history = state["step"], list(state["history"])

    def save(self) -> None:
        if self.out_dir is not None:
            save_atomic(self.state(), self.out_dir / "checkpoint.pt")

    def start(self, resume: bool) -> None:
        """Begin a run in ``out_dir``: with ``resume``, continue its checkpoint (which must exist);
        without, refuse an ``out_dir`` that already holds one (one-line errors, nothing written)."""
        check_out_dir(self.out_dir, resume)
        if resume:
            self.resume()

    def resume(self) -> bool:
        """Load ``out_dir/checkpoint.pt`` when it exists; True when a run was resumed."""
        path = None if self.out_dir is None else self.out_dir / "checkpoint.pt"
        if path is None or not path.exists():
            return False
        self.load_state(load_checkpoint(path), source=repr(str(path)))
        return True

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict[str, Any]:
        """Train to ``settings.steps``; evaluate every ``eval_every`` steps and at the end.
        Writes tensorboard/, checkpoint.pt and metrics.json under out_dir (when given)."""
        from tqdm.auto import tqdm

        s = self.settings
        writer = None
        if self.out_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(self.out_dir / "tensorboard"))
        bar = tqdm(total=s.steps, initial=self.step, disable=not interactive(s.progress), desc=self.kind, dynamic_ncols=True)
        start = time.perf_counter()
        try:
            with shared_cores(self.device, s.threads):
                self._loop(writer, bar)
            if not self.history or self.history[-1]["step"] != self.step:
                self._record(writer)
            self.save()
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        result = {"kind": self.kind, "steps": self.step, "seconds": time.perf_counter() - start,
                  "settings": asdict(s), "final": self.history[-1], "history": self.history}  # fmt: skip
        if self.out_dir is not None:
            write_json_atomic(self.out_dir / "metrics.json", result)
        return result

    def _loop(self, writer, bar) -> None:
        """Steps to ``settings.steps``, with logging, evaluations and checkpoints on the way."""
        s = self.settings
        for module in self.modules.values():
            module.train()
        while self.step < s.steps:
            scalars = self.train_step()
            follow_cores()
            self.step += 1
            bar.update(1)
            if writer is not None and self.step % s.log_every == 0:
                for key, value in scalars.items():
                    writer.add_scalar(f"train/{key}", value, self.step)
            if self.step % s.log_every == 0:
                bar.set_postfix({k: f"{v:.3f}" for k, v in scalars.items()})
            if s.eval_every and self.step % s.eval_every == 0 and self.step < s.steps:
                self._record(writer)
            if self.out_dir is not None and self.step % s.checkpoint_every == 0:
                self.save()

    def _record(self, writer) -> None:
        with torch.random.fork_rng(devices=[]):  # evaluation never moves the training RNG
            metrics = {"step": self.step, **self.in_eval(self.evaluate)}
        self.history.append(metrics)
        if writer is not None:
            for key, value in metrics.items():
                if isinstance(value, (int, float)) and key != "step":
                    writer.add_scalar(f"eval/{key}", value, self.step)
