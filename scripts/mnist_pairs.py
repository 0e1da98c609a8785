"""The MINE notes' MNIST image-pair experiment on the embedded digits (offline).

    python scripts/mnist_pairs.py [--classes 4,5,8,9] [--pairs 8000] [--estimator smile]

A is a digit of one of the chosen classes, B another digit of the same class: the true
I(A; B) is H(class) = log2(#classes) bits. Prints the held-out estimate against the truth.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dim.cli import one_line_errors  # noqa: E402
from dim.mi import estimate_mi  # noqa: E402
from dim.report import mi_table  # noqa: E402
from dim.tasks import mnist_image_pairs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", default="4,5,8,9", help="comma-separated digit classes")
    parser.add_argument("--pairs", type=int, default=8000)
    parser.add_argument("--estimator", default="smile")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    classes = tuple(int(c) for c in args.classes.split(","))
    a, b, true_nats = mnist_image_pairs(classes, args.pairs, seed=args.seed)
    result = estimate_mi(
        a, b, estimator=args.estimator, steps=args.steps, batch_size=128, lr=1e-3, hidden=128,
        embedding_dim=32, eval_every=100, patience=5, readout_batch_size=1024, seed=args.seed, progress=True,
    )  # fmt: skip
    print(mi_table([result]))
    print(f"true I(A;B) = H(class) = {true_nats / math.log(2):.3f} bits; estimate {result.mi_bits:.3f} bits "
          f"(95% CI {result.ci_bits[0]:.3f} to {result.ci_bits[1]:.3f})")  # fmt: skip


if __name__ == "__main__":
    with one_line_errors("mnist_pairs"):
        main()
