"""Estimate I(X; Y) from two paired arrays on disk.

    python scripts/estimate_mi.py x=X.npy y=Y.npy [estimator=smile] [out=result.json]

Prints a table (nats, bits, 95% interval, train vs held-out, ceiling, time) and writes the
JSON result to ``out``. Bad input: one line on stderr, exit code 2, nothing written.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dim.cli import compose, one_line_errors  # noqa: E402
from dim.io import load_array, write_json_atomic  # noqa: E402
from dim.mi import MIResult, estimate_mi  # noqa: E402
from dim.report import mi_table  # noqa: E402


def main(argv: list[str]) -> MIResult:
    cfg = compose("estimate_mi", argv)
    x, y = load_array(str(cfg.x), "x"), load_array(str(cfg.y), "y")
    t = cfg.training
    result = estimate_mi(
        x, y,
        estimator=cfg.estimator.name, readout=cfg.estimator.readout, clip=cfg.estimator.clip,
        mine_alpha=cfg.estimator.get("mine_alpha", 0.01), critic=cfg.critic,
        x_kind=cfg.x_kind, y_kind=cfg.y_kind, transform=cfg.transform, batch_size=t.batch_size, steps=t.steps, lr=t.lr,
        lr_schedule=t.lr_schedule,
        weight_decay=t.weight_decay, hidden=t.hidden, embedding_dim=t.embedding_dim,
        eval_every=t.eval_every, patience=t.patience, split=tuple(t.split),
        readout_batch_size=t.readout_batch_size, bootstrap=t.bootstrap, calibrate=t.calibrate,
        folds=cfg.folds, seeds=cfg.seeds, seed=cfg.seed, device=cfg.device, amp=cfg.amp,
        progress=cfg.progress,
    )  # fmt: skip
    print(mi_table([result]))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if cfg.out:
        written = write_json_atomic(cfg.out, {"config": {k: v for k, v in _plain(cfg).items()}, **result.to_dict()})
        print(f"wrote {written}")
    return result


def _plain(cfg):
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)


if __name__ == "__main__":
    with one_line_errors("estimate_mi"):
        main(sys.argv[1:])
