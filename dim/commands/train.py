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


def run(cfg: DictConfig) -> dict:
    """The command on a composed config."""
    summary = train(cfg)
    out = Path(summary["out_dir"])
    accuracy = summary.get("probe_test_accuracy")
    print(f"trained {summary['steps']} steps ({summary['epochs']} epochs)"
          + ("" if accuracy is None else f"; online linear probe on the code: {accuracy:.1%} test accuracy"))  # fmt: skip
    for key in sorted(k for k in summary if k.startswith("mi_nats/")):
        print(f"  last batch {key}: {summary[key]:.3f}")
    print(f"checkpoint:  {out / 'checkpoint.pt'}\nencoder:     {out / 'encoder.pt'}  "
          f"(dim.load_encoder(\"{out / 'encoder.pt'}\"))\nconfig:      {out / 'config.yaml'}\n"
          f"tensorboard: tensorboard --logdir {out / 'tensorboard'}")  # fmt: skip
    return summary


main = command("train", "train", run)

if __name__ == "__main__":
    main()
