"""Estimate I(X; Y) from two paired arrays on disk.

    python scripts/estimate_mi.py x=X.npy y=Y.npy [estimator=smile] [out=result.json]
    python scripts/estimate_mi.py x=X.npy stochastic_encoder=ENCODER.pt [bounds.block_size=1024]

With ``stochastic_encoder`` (a p(z|x) saved by ``dim.stochastic.save_stochastic_encoder``), it
reports lower and upper bounds on I(X; Z), Z ~ p(z|X), instead (``dim.estimate_mi_bounds``).

Prints a table (nats, bits, 95% interval, train vs held-out, ceiling, time) and writes the
JSON result to ``out``. Bad input: one line on stderr, exit code 2, nothing written.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dim.cli import compose, one_line_errors  # noqa: E402
from dim.errors import ConfigError  # noqa: E402
from dim.io import load_array, write_json_atomic  # noqa: E402
from dim import MIResult, estimate_mi  # noqa: E402
from dim.report import bounds_table, mi_table  # noqa: E402
from dim.sandwich import MIBounds, estimate_mi_bounds  # noqa: E402
from dim.stochastic import load_stochastic_encoder  # noqa: E402


def main(argv: list[str]) -> MIResult | MIBounds:
    cfg = compose("estimate_mi", argv)
    if cfg.stochastic_encoder is not None:
        return bounds_main(cfg)
    if cfg.y is None:
        raise ConfigError("missing required setting(s): y; pass them as key=value "
                          "(or stochastic_encoder=FILE.pt for bounds on I(X; Z))")  # fmt: skip
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


def bounds_main(cfg) -> MIBounds:
    """The sandwich on I(X; Z) for a saved stochastic encoder."""
    if cfg.y is not None:
        raise ConfigError("give y (estimate I(X; Y)) or stochastic_encoder (bound I(X; Z)), not both")
    encoder = load_stochastic_encoder(str(cfg.stochastic_encoder))
    x = load_array(str(cfg.x), "x")
    result = estimate_mi_bounds(encoder, x, block_size=cfg.bounds.block_size, samples=cfg.bounds.samples,
                                bootstrap=cfg.training.bootstrap, seed=cfg.seed)  # fmt: skip
    print(bounds_table(result))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if cfg.out:
        print(f"wrote {write_json_atomic(cfg.out, {'config': _plain(cfg), **result.to_dict()})}")
    return result


def _plain(cfg):
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)


if __name__ == "__main__":
    with one_line_errors("estimate_mi"):
        main(sys.argv[1:])
