"""Train ALI (beta=0) or ALI + MINE (beta>0) (configs/train_ali.yaml, dim/generative/ali.py).

Also installed as the console command ``dim-train-ali`` (same arguments).

    python scripts/train_ali.py dataset=digits beta=1.0 out_dir=outputs/ali_mine
    python scripts/train_ali.py dataset=grid beta=0 out_dir=outputs/ali_grid
    python scripts/train_ali.py out_dir=outputs/ali_mine steps=20000 resume=true

Writes out_dir/{checkpoint.pt, encoder.pt, metrics.json, tensorboard/}; ``encoder.pt`` is a dim
encoder: ``python scripts/probe.py encoder=OUT/encoder.pt`` evaluates it (images only). Bad input
(unknown dataset, beta < 0, an out_dir holding a checkpoint without resume=true, a checkpoint of
another kind or with other settings): one line on stderr, exit code 2, nothing written.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from dim.checkpoint import check_out_dir, save_encoder
from dim.cli import command
from dim.generative.ali import ALISettings, ALITrainer, load_ali_data
from dim.generative.digits import train_digit_classifier
from dim.runtime import resolve_device

SETTING_KEYS = [name for name in ALISettings.__dataclass_fields__ if name != "data"]  # data: cfg.dataset


def settings_from(cfg) -> ALISettings:
    """ALISettings from the config (its ``dataset`` is the settings' ``data``; ``data=`` on the
    command line would name the DIM configs' data group), validated."""
    settings = ALISettings(data=cfg.dataset, **{key: cfg[key] for key in SETTING_KEYS})
    settings.validate()
    return settings


def run(cfg: DictConfig) -> dict:
    """The command on a composed config."""
    settings = settings_from(cfg)
    out_dir = Path(cfg.out_dir)
    checkpoint = out_dir / "checkpoint.pt"
    check_out_dir(out_dir, cfg.resume)  # before any work
    data = load_ali_data(settings)
    trainer = ALITrainer(settings, out_dir, resolve_device(cfg.device), data=data)
    resumed = trainer.resume()  # refuses a checkpoint of another kind or with other settings
    if settings.images and data.train_labels is not None and data.held_out_labels is not None:
        with torch.random.fork_rng(devices=[]):  # training stays as without it (scripts/repro/repro_ali.py's runs)
            trainer.use_classifier(train_digit_classifier(data.train, data.train_labels, data.held_out,
                                                          data.held_out_labels, epochs=cfg.classifier_epochs, seed=0))  # fmt: skip
    result = trainer.fit()
    save_encoder(trainer.E, out_dir / "encoder.pt")
    final = result["final"]
    print(("resumed and trained" if resumed else "trained") + f" to step {result['steps']} "
          f"({'ALI + MINE, beta ' + format(settings.beta, 'g') if settings.beta else 'ALI'}, data {settings.data})")  # fmt: skip
    print("  " + ", ".join(f"{k} {v:.4g}" for k, v in final.items() if isinstance(v, (int, float)) and k != "step"))
    print(f"checkpoint:  {checkpoint}\nencoder:     {out_dir / 'encoder.pt'}"
          + (f"  (python scripts/probe.py encoder={out_dir / 'encoder.pt'})" if settings.images else "")
          + f"\nmetrics:     {out_dir / 'metrics.json'}\ntensorboard: tensorboard --logdir {out_dir / 'tensorboard'}")  # fmt: skip
    return result


main = command("train_ali", "train_ali", run)

if __name__ == "__main__":
    main()
