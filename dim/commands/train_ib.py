"""Train Information Bottleneck classifiers: CE + beta * I(X; Z) (configs/train_ib.yaml).

Also installed as the console command ``dim-train-ib`` (same arguments).

    python scripts/train_ib.py regularizer=mine noise=additive beta=1e-3 seeds=5
    python scripts/train_ib.py regularizer=vib beta=[1e-4,1e-3,1e-2] out_dir=outputs/vib

Prints one row per (beta, seed) and the mean +- std of the test error per beta. With out_dir:
result.json, and for a p(z|x) with a density the last run's encoder.pt and test_inputs.npy, so
that ``python scripts/estimate_mi.py x=DIR/test_inputs.npy stochastic_encoder=DIR/encoder.pt``
bounds its I(X; Z). Bad input: one line on stderr, exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from dim.bottleneck import IBRun, IBSettings, train_ib
from dim.cli import command
from dim.data import load_data
from dim.errors import ConfigError
from dim.io import write_json_atomic
from dim.report import markdown_table
from dim.stochastic import save_stochastic_encoder


def settings_from(cfg, beta: float, seed: int) -> IBSettings:
    t, r, m = cfg.training, cfg.regularizers, cfg.mine
    return IBSettings(
        regularizer=cfg.regularizer, beta=float(beta), noise=cfg.noise, sigma=cfg.sigma, hidden=t.hidden,
        code_dim=t.code_dim, epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, lr_decay=t.lr_decay,
        dropout=r.dropout, label_smoothing=r.label_smoothing, confidence_penalty=r.confidence_penalty,
        critic_hidden=m.critic_hidden, critic_embedding=m.critic_embedding, critic_lr=m.critic_lr,
        mine_alpha=m.alpha, adaptive_clip=m.adaptive_clip, test_samples=t.test_samples,
        record_every=t.record_every, record_rows=t.record_rows, seed=seed, threads=cfg.get("threads"),
    )  # fmt: skip


def flat_data(cfg):
    """(x_train, y_train, x_test, y_test): images fit to (channels, size, size), flattened."""
    split = load_data(cfg.data, (cfg.data.channels, cfg.image_size, cfg.image_size), cfg.seed)
    if split.num_classes is None:
        raise ConfigError(f"data {cfg.data.name} has no labels; the bottleneck trains a classifier")
    return (split.train.samples.flatten(1), split.train.labels, split.test.samples.flatten(1), split.test.labels)


def run(cfg: DictConfig) -> list[IBRun]:
    """The command on a composed config."""
    betas = list(cfg.beta) if not isinstance(cfg.beta, (int, float)) else [cfg.beta]
    for beta in betas:
        settings_from(cfg, beta, cfg.seed).validate()  # refuse bad settings before loading data
    x_train, y_train, x_test, y_test = flat_data(cfg)

    def show(record: dict) -> None:
        if cfg.progress:
            print("  " + ", ".join(f"{k} {v:.3g}" for k, v in record.items()), file=sys.stderr, flush=True)

    runs, rows, model = [], [], None
    for beta in betas:
        for seed in range(cfg.seed, cfg.seed + cfg.seeds):
            run, model = train_ib(x_train, y_train, x_test, y_test, settings_from(cfg, beta, seed), progress=show)
            runs.append(run)
            last = run.history[-1]
            rows.append([cfg.regularizer, f"{beta:g}", seed, f"{run.test_error:.2f}",
                         _fmt(last.get("i_xz_lower")), _fmt(last.get("i_xz_upper")), _fmt(last.get("i_xz_mine")),
                         _fmt(last.get("i_zy_lower")), f"{run.seconds:.0f}"])  # fmt: skip
    print(markdown_table(["regularizer", "beta", "seed", "test error %", "I(X;Z) >= (nats)", "I(X;Z) <=",
                          "MINE I(X;Z) (estimate)", "I(Z;Y) >=", "seconds"], rows))  # fmt: skip
    for beta in betas:
        errors = [r.test_error for r in runs if r.settings["beta"] == float(beta)]
        spread = np.std(errors, ddof=1) if len(errors) > 1 else 0.0
        print(f"beta {beta:g}: test error {np.mean(errors):.2f} +- {spread:.2f} % over {len(errors)} seed(s)")
    if cfg.out_dir:
        out = Path(cfg.out_dir)
        write_json_atomic(out / "result.json", {"runs": [r.to_dict() for r in runs]})
        encoder = model.encoder
        if getattr(encoder, "has_density", False):
            save_stochastic_encoder(encoder, out / "encoder.pt")
            np.save(out / "test_inputs.npy", x_test.numpy())
        print(f"wrote {out}")
    return runs


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.2f}"


main = command("train_ib", "train_ib", run)

if __name__ == "__main__":
    main()
