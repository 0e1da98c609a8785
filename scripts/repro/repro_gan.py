"""GAN vs GAN + MINE under identical settings (MINE paper Sec. 5.1): mode coverage over seeds.

    python scripts/repro/repro_gan.py                       # 25-Gaussians grid and spiral, 10 seeds each
    python scripts/repro/repro_gan.py --jobs 2              # two runs at a time (one thread each)
    python scripts/repro/repro_gan.py --datasets stacked --seeds 0 --set steps=1500   # reduced Stacked MNIST
    python scripts/repro/repro_gan.py --set +gan=full                      # the full-size 2-D set-up

Each run is ``scripts/train_gan.py``'s configuration (configs/train_gan.yaml; Stacked MNIST:
+gan=stacked_mnist) with beta = 0 (vanilla) or ``--beta`` (GAN + MINE), the same seed, so
the two models share networks, optimizers, data and random draws. Metrics on ``eval_samples``
samples (2,500 for 2-D, 26,000 for Stacked MNIST): modes captured, high-quality share, reverse KL.
Writes results/gan_modes.{md,json} and results/gan_samples.png (2-D samples of the first seed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from dim.jobs import parallel_map
from dim.report import markdown_table, save_figure, write_results

# published figures on the 2-D grid (PacGAN Table 1 and VEEGAN; their set-ups and budgets, not ours)
PUBLISHED = [
    ("grid", "GAN (PacGAN, 10 trials)", "17.3 +- 0.8", "94.8 +- 0.7", "0.70 +- 0.07"),
    ("grid", "ALI (PacGAN)", "24.1 +- 0.4", "95.7 +- 0.6", "0.14 +- 0.03"),
    ("grid", "PacGAN4", "24.8 +- 0.2", "93.6 +- 0.6", "0.04 +- 0.01"),
    ("grid", "VEEGAN (its paper, 5 runs)", "24.6", "40", "-"),
    ("stacked", "DCGAN, D 1/4 of G (PacGAN Table 3)", "78.5 +- 17.6", "-", "5.21"),
    ("stacked", "PacDCGAN4, D 1/4 of G (PacGAN Table 3)", "667 +- 29", "-", "1.81"),
]


def run_one(dataset: str, beta: float, seed: int, overrides: tuple[str, ...], keep_samples: bool) -> dict:
    """One training run; returns its final metrics (and, with ``keep_samples``, its samples for the figure)."""
    from dim.config import compose
    from dim.generative.gan import build_gan

    preset = ["+gan=stacked_mnist"] if dataset == "stacked" else [f"dataset={dataset}"]
    cfg = compose("train_gan", [*preset, *overrides, f"beta={beta}", f"seed={seed}", "progress=false", "out_dir=null"])
    trainer, classifier_accuracy = build_gan(cfg)
    result = trainer.fit()
    out = {"dataset": dataset, "beta": beta, "seed": seed, "seconds": result["seconds"], **result["final"],
           "classifier_accuracy": classifier_accuracy, "settings": result["settings"]}  # fmt: skip
    if keep_samples:
        out["samples"] = trainer.sample(trainer.settings.eval_samples).tolist()
    return out


def mean_std(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    values = np.asarray(values, dtype=float) * scale
    spread = values.std(ddof=1) if len(values) > 1 else float("nan")
    return f"{values.mean():.{digits}f} +- {spread:.{digits}f}"


def summarize(runs: list[dict], datasets: list[str], betas: list[float]) -> tuple[str, list[dict]]:
    rows, summary = [], []
    for dataset in datasets:
        for beta in betas:
            chosen = [r for r in runs if r["dataset"] == dataset and r["beta"] == beta]
            if not chosen:
                continue
            name = "GAN (beta 0)" if beta == 0 else f"GAN + MINE (beta {beta:g})"
            modes = [r["modes"] for r in chosen]
            row = {"dataset": dataset, "model": name, "seeds": len(chosen), "num_modes": chosen[0]["num_modes"],
                   "modes": mean_std(modes, digits=1), "high_quality_percent": mean_std([r["high_quality"] for r in chosen], 100, 1),
                   "reverse_kl": mean_std([r["reverse_kl"] for r in chosen], digits=3),
                   "mi_nats": mean_std([r["mi_nats"] for r in chosen]),
                   "seconds": float(np.median([r["seconds"] for r in chosen])), "per_seed_modes": modes}  # fmt: skip
            summary.append(row)
            rows.append([dataset, name, len(chosen), f"{row['modes']} / {row['num_modes']}", row["high_quality_percent"],
                         row["reverse_kl"], row["mi_nats"], f"{row['seconds']:.0f}"])  # fmt: skip
    for dataset, name, modes, hq, kl in PUBLISHED:
        if dataset in datasets:
            rows.append([dataset, f"published: {name}", "-", modes, hq, kl, "-", "-"])
    header = ["data", "model", "seeds", "modes captured", "high quality %", "reverse KL (nats)",
              "I(G; c) reading (nats)", "median s / run"]  # fmt: skip
    return markdown_table(header, rows), summary


def verdicts(summary: list[dict], runs: list[dict]) -> list[str]:
    """Per dataset: does GAN + MINE capture more modes by more than the sum of the two stds, at no
    worse high-quality share?"""
    lines = []
    for dataset in sorted({r["dataset"] for r in runs}):
        vanilla = [r for r in runs if r["dataset"] == dataset and r["beta"] == 0]
        for beta in sorted({r["beta"] for r in runs if r["beta"] > 0}):
            mine = [r for r in runs if r["dataset"] == dataset and r["beta"] == beta]
            if not vanilla or not mine or len(vanilla) < 2 or len(mine) < 2:
                continue
            m0, m1 = np.array([r["modes"] for r in vanilla], float), np.array([r["modes"] for r in mine], float)
            h0, h1 = np.array([r["high_quality"] for r in vanilla]), np.array([r["high_quality"] for r in mine])
            gap, spread = m1.mean() - m0.mean(), m0.std(ddof=1) + m1.std(ddof=1)
            lines.append(f"{dataset}, beta {beta:g}: modes {m1.mean():.1f} vs {m0.mean():.1f} (gap {gap:+.1f}, sum of "
                         f"stds {spread:.1f}: {'met' if gap > spread else 'missed'}); high quality "
                         f"{100 * h1.mean():.1f}% vs {100 * h0.mean():.1f}% "
                         f"({'no worse' if h1.mean() >= h0.mean() else 'worse'})")  # fmt: skip
    return lines


def figure(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from dim.generative.plots import scatter_samples
    from dim.generative.toy import make_target

    shown = [r for r in runs if "samples" in r]
    datasets = sorted({r["dataset"] for r in shown})
    betas = sorted({r["beta"] for r in shown})
    if not shown:
        return
    fig, axes = plt.subplots(len(datasets), len(betas), figsize=(3.2 * len(betas), 3.2 * len(datasets)), squeeze=False)
    for i, dataset in enumerate(datasets):
        for j, beta in enumerate(betas):
            run = next((r for r in shown if r["dataset"] == dataset and r["beta"] == beta), None)
            if run is not None:
                name = "GAN" if beta == 0 else f"GAN + MINE (beta {beta:g})"
                title = f"{dataset}: {name}\n{run['modes']}/{run['num_modes']} modes, {100 * run['high_quality']:.0f}% HQ"
                scatter_samples(axes[i, j], torch.tensor(run["samples"]), make_target(dataset), title)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="grid,spiral", help="comma list of grid, ring, spiral, stacked")
    parser.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--beta", type=float, default=1.0, help="GAN + MINE's beta (the vanilla GAN has 0)")
    parser.add_argument("--set", action="append", default=[], help="a train_gan override for every run, e.g. steps=3000")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes, one thread each)")
    parser.add_argument("--out", default=str(ROOT / "results" / "gan_modes"), help="results path without suffix")
    args = parser.parse_args(argv)
    datasets, seeds = args.datasets.split(","), [int(s) for s in args.seeds.split(",")]
    betas = [0.0, args.beta]
    items = [(d, b, s, tuple(args.set), d != "stacked" and s == seeds[0]) for d in datasets for s in seeds for b in betas]
    runs = parallel_map(run_one, items, jobs=args.jobs)
    for run in runs:
        print(f"{run['dataset']:8s} beta {run['beta']:g} seed {run['seed']}: {run['modes']}/{run['num_modes']} modes, "
              f"HQ {100 * run['high_quality']:.1f}%, KL {run['reverse_kl']:.3f}, I {run['mi_nats']:.2f}, "
              f"{run['seconds']:.0f} s", flush=True)  # fmt: skip
    table, summary = summarize(runs, datasets, betas)
    lines = verdicts(summary, runs)
    accuracy = next((r["classifier_accuracy"] for r in runs if r["classifier_accuracy"] is not None), None)
    notes = [f"digit classifier test accuracy: {100 * accuracy:.1f}%"] if accuracy is not None else []
    command = "python scripts/repro/repro_gan.py " + " ".join(argv if argv is not None else sys.argv[1:])
    markdown = f"`{command.strip()}`\n\n{table}\n\n" + "\n".join(f"- {line}" for line in lines + notes)
    print(markdown)
    payload = {"command": command.strip(), "summary": summary, "verdicts": lines, "notes": notes,
               "runs": [{k: v for k, v in r.items() if k != "samples"} for r in runs]}  # fmt: skip
    write_results(args.out, payload, markdown)
    if any(d != "stacked" for d in datasets):
        figure(runs, Path(args.out).with_name(Path(args.out).name.replace("modes", "samples") + ".png"))


if __name__ == "__main__":
    main()
