"""Deep InfoMax pretraining.

    python scripts/train.py [data=digits] [encoder=dim32] [estimator=jsd] [objective=local]
                            [+experiment=cifar10_local_jsd] [trainer.epochs=N] [out_dir=DIR] [resume=true]

With no arguments: local DIM with the JSD head on the embedded MNIST digits (offline). Writes
out_dir/{checkpoint.pt, encoder.pt, config.yaml, tensorboard/}; load the encoder with
``dim.load_encoder("DIR/encoder.pt")``. Bad input: one line on stderr, exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dim.cli import compose, one_line_errors  # noqa: E402
from dim.training import train  # noqa: E402


def main(argv: list[str]) -> dict:
    cfg = compose("train", argv)
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


if __name__ == "__main__":
    with one_line_errors("train"):
        main(sys.argv[1:])
