"""Deep InfoMax pretraining.

Also installed as the console command ``dim-train`` (same arguments).

    python scripts/train.py [data=digits] [encoder=dim32] [estimator=jsd] [objective=local]
                            [+experiment=cifar10_local_jsd] [trainer.epochs=N] [out_dir=DIR] [resume=true]

With no arguments: local DIM with the JSD estimator on the embedded MNIST digits (offline). Writes
out_dir/{checkpoint.pt, encoder.pt, config.yaml, tensorboard/}; load the encoder with
``dim.load_encoder("DIR/encoder.pt")``. Bad input: one line on stderr, exit code 2.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from dim.cli import command
from dim.infomax import train


def is_main_process() -> bool:
    import torch.distributed as dist

    return not dist.is_initialized() or dist.get_rank() == 0


def pixel_comparison(encoder_path: Path, cfg: DictConfig) -> str:
    """One line: the trained code against raw pixels by the linear probe and the k-NN (k = 20)
    of :func:`eval.quality.read_layers` on the test split (the pixels' readings cached)."""
    from dim.checkpoint import load_encoder
    from dim.data import load_data
    from eval.quality import against_pixels

    encoder = load_encoder(encoder_path)
    data = load_data(cfg.data, encoder.input_shape, seed=cfg.seed)
    r = against_pixels(encoder, data, seed=cfg.seed, cache_dir=cfg.cache_dir)
    code, pixels = r["code"], r["pixels"]
    return (f"code vs raw pixels, test top-1: linear probe {code['linear']:.3f} vs {pixels['linear']:.3f} "
            f"({100 * (code['linear'] - pixels['linear']):+.1f} points), k-NN (k = 20) {code['knn']:.3f} vs "
            f"{pixels['knn']:.3f} ({100 * (code['knn'] - pixels['knn']):+.1f} points)")


def run(cfg: DictConfig) -> dict:
    """The command on a composed config."""
    summary = train(cfg)
    out = Path(summary["out_dir"])
    accuracy = summary.get("probe_test_accuracy")
    print(f"trained {summary['steps']} steps ({summary['epochs']} epochs)"
          + ("" if accuracy is None else f"; online linear probe on the code: {accuracy:.1%} test accuracy"))  # fmt: skip
    for key in sorted(k for k in summary if k.startswith("mi_nats/")):
        print(f"  last batch {key}: {summary[key]:.3f}")
    if accuracy is not None and cfg.pixel_baseline and is_main_process():
        print(pixel_comparison(out / "encoder.pt", cfg))
    print(f"checkpoint:  {out / 'checkpoint.pt'}\nencoder:     {out / 'encoder.pt'}  "
          f"(dim.load_encoder(\"{out / 'encoder.pt'}\"))\nconfig:      {out / 'config.yaml'}\n"
          f"tensorboard: tensorboard --logdir {out / 'tensorboard'}")  # fmt: skip
    return summary


main = command("train", "train", run)

if __name__ == "__main__":
    main()
