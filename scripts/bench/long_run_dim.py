"""Long-run numerical check of Deep InfoMax training (not in CI): every estimator, many steps.

    python scripts/bench/long_run_dim.py [--steps 20000] [--estimators jsd,dv,mine,infonce,nwj] [--width 16] [--units 64] [--device cuda]

Trains local + global DIM with prior matching (alpha = beta = 1, gamma = 0.1) on the embedded
digits for ``--steps`` steps per estimator with a small dim32 encoder (``--width 16``: channels
16-32-64, fc 256; ``--width 64`` is the paper's network) and 64-unit critics (``--units``).
On a CPU, one thread per process is as fast per step as two: run estimators in parallel processes,
e.g. ``OMP_NUM_THREADS=1 python scripts/bench/long_run_dim.py --estimators jsd,dv,mine &`` and the rest. The trainer checks every loss
term, MI reading, discriminator and probe value for NaN/inf at every step and stops with an
error if one appears; this script then checks that every weight is finite and prints, per estimator,
the final MI readings (nats), the online probe's test accuracy and the time.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

import torch

from dim.checkpoint import load_checkpoint
from dim.config import compose
from dim.infomax import train

STEPS_PER_EPOCH = 4000 // 64  # the embedded digits' training part at batch 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--estimators", default="jsd,dv,mine,infonce,nwj")
    parser.add_argument("--width", type=int, default=16, help="dim32 channel width (64: the paper's encoder)")
    parser.add_argument("--units", type=int, default=64, help="critic width (objective.units; default config: 256)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--progress", action="store_true", help="show the trainer's progress bar")
    args = parser.parse_args()
    epochs = math.ceil(args.steps / STEPS_PER_EPOCH)
    failures = 0
    for estimator in args.estimators.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            overrides = [f"estimator={estimator}", "objective.alpha=1.0", "objective.beta=1.0", "objective.gamma=0.1",
                         f"trainer.epochs={epochs}", f"encoder.width={args.width}",
                         f"objective.units={args.units}", f"out_dir={tmp}/run",
                         f"trainer.progress={str(args.progress).lower()}",
                         "trainer.checkpoint_every=100000", "trainer.log_every=100"]  # fmt: skip
            if args.device:
                overrides.append(f"device={args.device}")
            start = time.perf_counter()
            try:
                summary = train(compose("train", overrides))
            except Exception as error:  # a non-finite value stops the trainer with a DimError
                failures += 1
                print(f"{estimator}: FAILED: {error}", flush=True)
                continue
            state = load_checkpoint(Path(tmp) / "run" / "checkpoint.pt")
            finite = all(torch.isfinite(t).all() for part in ("model", "discriminator")
                         for t in state[part].values() if t.is_floating_point())  # fmt: skip
            failures += not finite
            readings = {k.split("/")[1]: round(v, 3) for k, v in summary.items() if k.startswith("mi_nats/")}
            print(f"{estimator}: {summary['steps']} steps, weights finite: {finite}, last MI readings (nats) {readings}, "
                  f"probe test accuracy {summary['probe_test_accuracy']:.3f}, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
