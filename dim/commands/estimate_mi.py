"""Estimate I(X; Y) from two paired arrays on disk.

Also installed as the console command ``dim-estimate-mi`` (same arguments).

    python scripts/estimate_mi.py x=X.npy y=Y.npy [estimator=smile] [out=outputs/result.json]
    python scripts/estimate_mi.py x=X.npy stochastic_encoder=ENCODER.pt [bounds.block_size=1024]

With ``stochastic_encoder`` (a p(z|x) saved by ``dim.stochastic.save_stochastic_encoder``), it
reports lower and upper bounds on I(X; Z), Z ~ p(z|X), instead (``dim.estimate_mi_bounds``).

Prints a table (nats, bits, 95% interval, train vs held-out, ceiling, time) and writes the
JSON result to ``out``. Bad input: one line on stderr, exit code 2, nothing written.
"""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from dim import EstimatorSettings, MIResult, estimate_mi
from dim.cli import command
from dim.errors import ConfigError
from dim.io import load_array, write_json_atomic
from dim.report import bounds_table, mi_table
from dim.sandwich import MIBounds, estimate_mi_bounds
from dim.stochastic import load_stochastic_encoder


def run(cfg: DictConfig) -> MIResult | MIBounds:
    """The command on a composed config."""
    if cfg.stochastic_encoder is not None:
        return bounds_main(cfg)
    if cfg.y is None:
        raise ConfigError("missing required setting(s): y; pass them as key=value "
                          "(or stochastic_encoder=FILE.pt for bounds on I(X; Z))")  # fmt: skip
    x, y = load_array(str(cfg.x), "x"), load_array(str(cfg.y), "y")
    result = estimate_mi(
        x, y, EstimatorSettings.from_config(cfg), estimator=cfg.estimator.name, readout=cfg.estimator.readout,
        critic=cfg.critic, x_kind=cfg.x_kind, y_kind=cfg.y_kind, folds=cfg.folds, seeds=cfg.seeds, seed=cfg.seed,
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


main = command("estimate_mi", "estimate_mi", run)

if __name__ == "__main__":
    main()
