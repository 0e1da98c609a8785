"""The staircase of Poole et al. (2019): bias and variance of each bound as the true MI steps up.

    python scripts/repro/repro_staircase.py [--steps-per-stage 2000] [--seeds 0,1,2,3,4] [--jobs 2]

Gaussians in d = 20 whose componentwise correlation is set so that the true MI is 2, 4, 6, 8,
10 nats in successive stages; fresh batches of 64 pairs at every step (no held-out part: this
is the online, in-training reading). Each estimator trains its own separable critic with the
`MutualInformation` loss module (Adam, lr 5e-4) and reports every step's batch reading in
nats through its readout. Over the second half of each stage the script prints the bias
(mean reading - truth) and the variance of the readings, as mean +- std over ``--seeds``
(independent critics and batches), and writes one PNG per estimator (the first seed's run)
to results/staircase_<estimator>.png, plus results/staircase.{json,md} (summaries only).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]

from dim.critics import make_critic
from dim.jobs import parallel_map
from dim.loss import MutualInformation, train_online
from dim.report import markdown_table, save_figure, write_results
from dim.tasks import gaussian_rho_for_mi

STAGES = (2.0, 4.0, 6.0, 8.0, 10.0)


def run(estimator: str, steps_per_stage: int, batch: int, dim: int, seed: int) -> np.ndarray:
    """Per-step MI readings (nats) of one estimator across the staircase."""
    torch.manual_seed(seed)
    probe = torch.randn(batch, dim)
    mi = MutualInformation(make_critic(probe, probe, "separable", hidden=256, embedding_dim=64), estimator)
    rhos = [gaussian_rho_for_mi(truth, dim) for truth in STAGES]

    def sample(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rho = rhos[step // steps_per_stage]
        x = torch.randn(batch, dim)
        return x, rho * x + math.sqrt(1 - rho * rho) * torch.randn(batch, dim)

    return train_online(mi, sample, steps_per_stage * len(STAGES), lr=5e-4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps-per-stage", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--estimators", default="smile,mine,dv,nwj,jsd,infonce")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, in separate processes")
    parser.add_argument("--out", default=str(ROOT / "results"))
    args = parser.parse_args()
    out = Path(args.out)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, summary = [], []
    n = args.steps_per_stage
    truth_line = np.repeat(STAGES, n)
    seeds = [int(s) for s in args.seeds.split(",")]
    estimators = args.estimators.split(",")
    items = [(e, n, args.batch, args.dim, s) for e in estimators for s in seeds]
    all_readings = dict(zip([(e, s) for e, _, _, _, s in items], parallel_map(run, items, args.jobs)))
    for estimator in estimators:
        # per seed and stage, over the stage's second half: (bias, variance)
        stats = np.array([[stage_stats(all_readings[estimator, s], i, n, truth) for i, truth in enumerate(STAGES)]
                          for s in seeds])  # fmt: skip
        for i, truth in enumerate(STAGES):
            bias, variance = stats[:, i, 0], stats[:, i, 1]
            spread = (float(bias.std(ddof=1)), float(variance.std(ddof=1))) if len(seeds) > 1 else (0.0, 0.0)
            rows.append([estimator, truth, f"{bias.mean():+.2f} +- {spread[0]:.2f}",
                         f"{variance.mean():.3f} +- {spread[1]:.3f}"])  # fmt: skip
            summary.append({"estimator": estimator, "truth": truth, "bias_mean": float(bias.mean()),
                            "bias_std": spread[0], "variance_mean": float(variance.mean()),
                            "variance_std": spread[1], "bias_per_seed": bias.tolist()})  # fmt: skip
        readings = all_readings[estimator, seeds[0]]
        finite = all(bool(np.isfinite(all_readings[estimator, s]).all()) for s in seeds)
        print(f"{estimator}: " + ", ".join(f"I={t:g}: bias {b:+.2f}" for t, b in zip(STAGES, stats[:, :, 0].mean(0)))
              + ("" if finite else "  (NON-FINITE readings)"), flush=True)  # fmt: skip

        figure, ax = plt.subplots(figsize=(7, 3.5))
        steps = np.arange(len(readings))
        ax.plot(steps, readings, color="tab:blue", alpha=0.25, linewidth=0.6, label="batch reading")
        smooth = np.convolve(readings, np.ones(100) / 100, mode="same")
        ax.plot(steps, smooth, color="tab:blue", label="moving mean (100 steps)")
        ax.plot(steps, truth_line, "k-", label="true MI")
        if estimator == "infonce":
            ax.axhline(math.log(args.batch), color="tab:red", linestyle="--", label=f"log {args.batch}")
        ax.set(title=f"{estimator} (readout in nats), d={args.dim}, batch {args.batch}", xlabel="step",
               ylabel="nats", ylim=(-1, 14))  # fmt: skip
        ax.legend(loc="upper left", fontsize=8)
        save_figure(figure, out / f"staircase_{estimator}.png")

    table = markdown_table(["estimator", "true MI", f"bias, mean +- std over {len(seeds)} seeds",
                            "variance of the readings"], rows)  # fmt: skip
    print(table)
    write_results(out / "staircase", {"stages": STAGES, "steps_per_stage": n, "batch": args.batch, "seeds": seeds,
                                      "summary": summary}, table)  # fmt: skip


def stage_stats(readings: np.ndarray, stage: int, n: int, truth: float) -> tuple[float, float]:
    """(bias, variance) of the readings over the second half of ``stage`` (n steps a stage)."""
    tail = readings[stage * n + n // 2 : (stage + 1) * n]
    return float(tail.mean() - truth), float(tail.var())


if __name__ == "__main__":
    main()
