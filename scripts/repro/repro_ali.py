"""MINE Sec. 5.2 (Fig. 6, Table 2), reduced: ALI against two ALI + MINE models on the 25 Gaussians and the digits.

    python scripts/repro/repro_ali.py --jobs 2             # reduced budget, 37 minutes on 2 CPU cores
    python scripts/repro/repro_ali.py --full               # the paper's network sizes (DCGAN width 64, 400 units), long
    python scripts/repro/repro_ali.py --eval-split validation --beta 0.5   # tuning, on held-out training images

For each dataset, ALI (beta = 0), ALI + MINE (a statistics network per path, as the paper) and
ALI + MINE with one statistics network shared by both paths (``statistics=shared``, our variant)
train with identical settings, networks, batches and latents, once per seed
(dim/generative/ali.py); betas: --beta, default 1 and 1 on the grid, 1 and 3 on the digits,
chosen on validation pilots. Reconstructions
x_rec = G(E(x)) of held-out data are scored by the Euclidean error ||x - x_rec||_2 (digits: in
the [0, 1] pixel scale), the reconstruction accuracy (a digit classifier, trained once on the
training digits, labels x_rec as x's label) and MS-SSIM (torchmetrics, 3 scales at 32 px); on the
grid by the error, the share of x_rec in the mode of x, and the modes of samples G(z). Prints and
writes results/ali.{md,json} (mean +- std over seeds, beside the paper's MNIST rows, which are on
full MNIST with the paper's budget and error scale), results/ali_grid.png (Fig. 6: samples and
reconstructions) and results/ali_digits.png (test digits and their reconstructions).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from dim.jobs import parallel_map
from dim.report import markdown_table, save_figure, write_results

# the paper's Table 2, MNIST: euclidean reconstruction error, reconstruction accuracy %, MS-SSIM
PAPER_MNIST = {"ALI": ("14.24", "45.95", "0.97"), "ALICE": ("5.20", "98.17", "0.98"), "ALI + MINE": ("9.73", "96.10", "0.99")}
# the models compared, with their settings beside the shared ones: ALI (beta 0), ALI + MINE as the
# paper (a statistics network per path) and our variant with one statistics network for both paths
MODELS = {"ALI": {}, "ALI + MINE": {"statistics": "separate"}, "ALI + MINE, shared T": {"statistics": "shared"}}
# reduced budget (one CPU thread per run; the digits' steps, lr and betas chosen on pilot runs read on the
# validation split; the grid's not tuned) and the paper's sizes (--full); "betas": each MINE model's beta
REDUCED = {"grid": {"steps": 3000, "hidden": 128, "lr": 1e-4, "betas": {"ALI + MINE": 1.0, "ALI + MINE, shared T": 1.0}},
           "digits": {"steps": 4000, "width": 8, "lr": 5e-4, "betas": {"ALI + MINE": 1.0, "ALI + MINE, shared T": 3.0}}}
FULL = {"grid": {"steps": 30_000, "hidden": 400, "lr": 1e-4, "betas": {"ALI + MINE": 1.0, "ALI + MINE, shared T": 1.0}},
        "digits": {"steps": 50_000, "width": 64, "lr": 1e-4, "betas": {"ALI + MINE": 1.0, "ALI + MINE, shared T": 1.0}}}
DIGITS_SHOWN = 12


def run(data: str, model: str, seed: int, sizes: dict, eval_split: str, classifier) -> dict:
    """One training run; its final metrics and, for the figures, its held-out data, reconstructions
    and samples (2-D: all; digits: the first DIGITS_SHOWN test images)."""
    import torch

    from dim.generative.ali import ALISettings, ALITrainer

    values = {**{k: v for k, v in sizes.items() if k != "betas"}, **MODELS[model], "beta": sizes["betas"].get(model, 0.0)}
    settings = ALISettings(data=data, seed=seed, eval_split=eval_split, progress=False, **values)
    trainer = ALITrainer(settings, classifier=classifier)
    start = time.perf_counter()
    result = trainer.fit()
    shown = trainer.held_out if data == "grid" else trainer.held_out[:DIGITS_SHOWN]
    with torch.no_grad():
        figure = {"x": shown.cpu().numpy(), "x_rec": trainer.reconstruct(shown).cpu().numpy(),
                  "samples": trainer.sample(settings.eval_samples if data == "grid" else DIGITS_SHOWN).cpu().numpy()}  # fmt: skip
    return {"final": result["final"], "seconds": time.perf_counter() - start, "figure": figure}


def digit_classifier(eval_split: str, epochs: int):
    """The judge of reconstruction accuracy: trained once (seed 0) on the training digits."""
    from dim.generative.ali import ALISettings, load_ali_data
    from dim.generative.digits import train_digit_classifier

    data = load_ali_data(ALISettings(data="digits", eval_split=eval_split))
    return train_digit_classifier(data.train, data.train_labels, data.held_out, data.held_out_labels, epochs=epochs)


def mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarise(runs: list[dict], keys: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """{metric: (mean, std over seeds)} of the runs' final metrics."""
    return {key: mean_std([r["final"][key] for r in runs]) for key in keys if key in runs[0]["final"]}


def verdict(ali: dict, mine: dict, key: str, higher_is_better: bool, name: str = "ALI + MINE") -> str:
    """Whether ``name`` beats ALI on ``key`` by more than the seed spread (the larger std; the sum of
    the two stds is printed beside it)."""
    gain = (mine[key][0] - ali[key][0]) * (1 if higher_is_better else -1)
    spread, total = max(ali[key][1], mine[key][1]), ali[key][1] + mine[key][1]
    return (f"{key}: {name} {'better' if gain > 0 else 'worse'} by {abs(gain):.3f}, seed spread {spread:.3f} "
            f"(sum of stds {total:.3f}): " + ("target met" if gain > spread else f"target missed by {spread - gain:.3f}"))


def fmt(summary: dict, key: str, scale: float = 1.0, digits: int = 3) -> str:
    if key not in summary:
        return "-"
    mean, std = summary[key]
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def plot_grid(runs: dict, path: Path, command: str) -> None:
    """Fig. 6 of the paper: for ALI and ALI + MINE (first seed), samples G(z) over the data, and
    each held-out x joined to its reconstruction G(E(x))."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(runs), 2, figsize=(9, 4.5 * len(runs)), squeeze=False)
    for row, name in enumerate(runs):
        shown = runs[name]["figure"]
        x, x_rec, samples = shown["x"][:500], shown["x_rec"][:500], shown["samples"]
        axes[row, 0].scatter(x[:, 0], x[:, 1], s=3, c="tab:gray", label="data")
        axes[row, 0].scatter(samples[:, 0], samples[:, 1], s=3, c="tab:blue", alpha=0.5, label="samples G(z)")
        axes[row, 0].set_title(f"{name}: samples")
        axes[row, 1].plot(np.stack([x[:, 0], x_rec[:, 0]]), np.stack([x[:, 1], x_rec[:, 1]]), c="tab:red", lw=0.3, alpha=0.5)
        axes[row, 1].scatter(x[:, 0], x[:, 1], s=3, c="tab:gray", label="x (held out)")
        axes[row, 1].scatter(x_rec[:, 0], x_rec[:, 1], s=3, c="tab:red", label="G(E(x))")
        axes[row, 1].set_title(f"{name}: reconstructions (lines join x to G(E(x)))")
        for axis in axes[row]:
            axis.set(xlim=(-6, 6), ylim=(-6, 6), aspect="equal")
            axis.legend(fontsize=7, loc="upper right")
    figure.suptitle(command, fontsize=8)
    save_figure(figure, path)


def plot_digits(runs: dict, path: Path, command: str) -> None:
    """Rows: test digits, each model's reconstructions, then each model's samples (first seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("test digits x", runs["ALI"]["figure"]["x"]),
            *((f"{name}: G(E(x))", shown["figure"]["x_rec"]) for name, shown in runs.items()),
            *((f"{name}: samples", shown["figure"]["samples"]) for name, shown in runs.items())]
    figure, axes = plt.subplots(len(rows), DIGITS_SHOWN, figsize=(DIGITS_SHOWN * 0.9, len(rows) * 1.05))
    for r, (label, images) in enumerate(rows):
        for c in range(DIGITS_SHOWN):
            axes[r, c].imshow(images[c, 0], cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    figure.suptitle(command, fontsize=8)
    save_figure(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="grid,digits")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--beta", type=float, help="weight of the MI terms in both MINE models (default: grid 1 and 1, "
                                                   "digits 1 (separate) and 3 (shared T))")  # fmt: skip
    parser.add_argument("--full", action="store_true", help="the paper's network sizes and a long budget")
    parser.add_argument("--lr", type=float, help="override the learning rate (default: grid 1e-4, digits 5e-4)")
    parser.add_argument("--grid-steps", type=int, help="override the grid's steps")
    parser.add_argument("--digits-steps", type=int, help="override the digits' steps")
    parser.add_argument("--eval-split", default="test", choices=("test", "validation"))
    parser.add_argument("--classifier-epochs", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, in processes (one thread each at 2 cores)")
    parser.add_argument("--out", default=str(ROOT / "results"))
    args = parser.parse_args()
    sizes = {data: dict(values) for data, values in (FULL if args.full else REDUCED).items()}
    for data, steps in (("grid", args.grid_steps), ("digits", args.digits_steps)):
        overrides = {"steps": steps, "lr": args.lr, "betas": None if args.beta is None else
                     {name: args.beta for name in sizes[data]["betas"]}}  # fmt: skip
        sizes[data].update({key: value for key, value in overrides.items() if value is not None})
    datasets, seeds = args.data.split(","), [int(s) for s in args.seeds.split(",")]
    models = tuple(MODELS)
    classifier = digit_classifier(args.eval_split, args.classifier_epochs) if "digits" in datasets else None
    items = [(data, name, seed, sizes[data], args.eval_split, classifier if data == "digits" else None)
             for data in datasets for name in models for seed in seeds]  # fmt: skip
    results = parallel_map(run, items, args.jobs)
    runs = {item[:3]: result for item, result in zip(items, results)}

    command = "python scripts/repro/repro_ali.py " + " ".join(sys.argv[1:])
    keys = ("recon_error", "recon_accuracy", "ms_ssim", "recon_mode_match", "sample_modes", "sample_reverse_kl",
            "mi_encoder_nats", "mi_decoder_nats")  # fmt: skip
    summary = {data: {name: summarise([runs[data, name, s] for s in seeds], keys) for name in models} for data in datasets}
    tables, verdicts = [], []

    def betas(data: str) -> list[tuple[str, float]]:
        return [(name, sizes[data]["betas"].get(name, 0.0)) for name in models]

    if "digits" in datasets:
        rows = [[f"{name} (ours, beta {beta:g})", fmt(summary["digits"][name], "recon_error", digits=2),
                 fmt(summary["digits"][name], "recon_accuracy", 100, 1), fmt(summary["digits"][name], "ms_ssim"),
                 fmt(summary["digits"][name], "mi_encoder_nats", digits=2)] for name, beta in betas("digits")]  # fmt: skip
        rows += [[f"{name} (paper, full MNIST, its error scale)", *PAPER_MNIST[name], "-"] for name in PAPER_MNIST]
        tables.append(markdown_table([f"digits ({args.eval_split}, {len(seeds)} seeds, mean ± std)",
                                      "recon error ‖x − G(E(x))‖₂", "recon accuracy %", "MS-SSIM",
                                      "MINE I(x; E(x)) nats"], rows))  # fmt: skip
        ali = summary["digits"]["ALI"]
        verdicts += [f"digits {verdict(ali, summary['digits'][name], key, higher, name)}" for name in models[1:]
                     for key, higher in (("recon_error", False), ("recon_accuracy", True), ("ms_ssim", True))]  # fmt: skip
    if "grid" in datasets:
        rows = [[f"{name} (ours, beta {beta:g})", fmt(summary["grid"][name], "recon_error"),
                 fmt(summary["grid"][name], "recon_mode_match", 100, 1), fmt(summary["grid"][name], "sample_modes", digits=1),
                 fmt(summary["grid"][name], "sample_reverse_kl"), fmt(summary["grid"][name], "mi_encoder_nats", digits=2)]
                for name, beta in betas("grid")]  # fmt: skip
        tables.append(markdown_table([f"25 Gaussians ({len(seeds)} seeds, mean ± std)", "recon error ‖x − G(E(x))‖₂",
                                      "x_rec in the mode of x %", "modes of samples (of 25)", "samples' reverse KL",
                                      "MINE I(x; E(x)) nats"], rows))  # fmt: skip
        ali = summary["grid"]["ALI"]
        verdicts += [f"grid {verdict(ali, summary['grid'][name], key, higher, name)}" for name in models[1:]
                     for key, higher in (("recon_error", False), ("recon_mode_match", True))]  # fmt: skip
    markdown = "\n\n".join(tables) + "\n\n" + "\n".join(f"- {line}" for line in verdicts)
    if classifier is not None:
        markdown += f"\n- digit classifier (the judge of reconstruction accuracy): {classifier.test_accuracy:.1%} on the {args.eval_split} digits"
    print(markdown)
    out = Path(args.out)
    payload = {"command": command, "sizes": sizes, "seeds": seeds, "eval_split": args.eval_split,
               "classifier_accuracy": None if classifier is None else classifier.test_accuracy,
               "summary": {d: {n: {k: list(v) for k, v in s.items()} for n, s in by.items()} for d, by in summary.items()},
               "runs": [{"data": d, "model": n, "seed": s, "seconds": r["seconds"], "final": r["final"]}
                        for (d, n, s), r in runs.items()], "paper_mnist": PAPER_MNIST, "verdicts": verdicts}  # fmt: skip
    write_results(out / "ali", payload, markdown)
    if "grid" in datasets:
        plot_grid({name: runs["grid", name, seeds[0]] for name in models}, out / "ali_grid.png", command)
    if "digits" in datasets:
        plot_digits({name: runs["digits", name, seeds[0]] for name in models}, out / "ali_digits.png", command)
    print(f"wrote {out / 'ali.md'}, {out / 'ali.json'} and the figures")


if __name__ == "__main__":
    main()
