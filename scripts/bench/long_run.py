"""Long-run numerical check (not in CI): every estimator, 10,000 steps at lr 1e-3, no NaN/inf.

    python scripts/bench/long_run.py [--steps 10000] [--lr 1e-3] [--mi 10]

Each estimator trains a separable critic online on fresh batches of 64 Gaussian pairs in
d = 20 at a high true MI (10 nats by default, where exp-based bounds are most fragile).
Stops with a one-line error at the first non-finite objective, reading or weight; otherwise
prints the last 1,000 steps' mean reading and its range per estimator. CI runs a short
version of the same loop with injected extreme scores (tests/test_long_run.py).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]

from dim.cli import one_line_errors
from dim.critics import make_critic
from dim.loss import MutualInformation, train_online
from dim.objectives import ESTIMATORS
from dim.tasks import gaussian_rho_for_mi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--mi", type=float, default=10.0, help="true MI in nats")
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    rho = gaussian_rho_for_mi(args.mi, args.dim)

    def sample(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(args.batch, args.dim)
        return x, rho * x + math.sqrt(1 - rho * rho) * torch.randn(args.batch, args.dim)

    for estimator in ESTIMATORS:
        torch.manual_seed(0)
        probe = torch.randn(args.batch, args.dim)
        mi = MutualInformation(make_critic(probe, probe, "separable"), estimator)
        start = time.perf_counter()
        readings = train_online(mi, sample, args.steps, lr=args.lr)
        tail = readings[-1000:]
        print(f"{estimator:8s} {args.steps} steps, all finite; last 1000: mean {tail.mean():.3f} nats "
              f"(min {tail.min():.3f}, max {tail.max():.3f}), true {args.mi:g}, {time.perf_counter() - start:.0f} s",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    with one_line_errors("long_run"):
        main()
