"""Quality of Deep InfoMax representations on the embedded digits, over seeds.

    python scripts/repro/repro_dim_quality.py [--seeds 0,1,2] [--epochs 10] [--objectives local,global]
                                        [--layers code,fc,conv] [--supervised] [--jobs 2] [--device cuda]
                                        [--extra encoder.width=32 ...] [--figure results/x.png]
                                        [--out results/dim_quality]

For each seed and objective (``local``, ``global``: the default run with that objective;
``local_noviews``, ``views_local``, ``views_global``, ``views_amdim``, ``contrastive``: the
digits presets ``configs/experiment/digits_*``, see ``eval.quality.OBJECTIVES``), trains for
``--epochs`` and reads its ``--layers`` with the linear probe (``eval.linear.linear_probe``)
and the weighted k-NN (k = 20, cosine), on the fixed 4,000 / 1,000 split. Beside them: the
same encoder at random initialisation (seeded like the run), the raw pixels and, with
``--supervised``, the same encoder trained with labels on the digits' views. ``--extra``
overrides go to every run and to the baselines' encoder (e.g. ``encoder.width=32``).
Prints and writes mean ± std over the seeds (``<out>.json``, ``<out>.md``) and, with
``--figure``, a PNG of the online probe's test accuracy against epochs.

``--jobs J`` runs J units at once in separate processes (``dim.jobs.parallel_map``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

import torch

from dim.jobs import parallel_map
from dim.report import markdown_table, write_results
from eval.quality import LABELS, plot_histories, run_item, summary_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--objectives", default="local,global")
    parser.add_argument("--layers", default="code", help="encoder outputs to probe, e.g. code,fc,conv")
    parser.add_argument("--supervised", action="store_true", help="add the encoder trained with labels")
    parser.add_argument("--no-baselines", action="store_true", help="skip random init and raw pixels")
    parser.add_argument("--extra", nargs="*", default=[], help="config overrides for every run, e.g. encoder.width=32")
    parser.add_argument("--jobs", type=int, default=1, help="units run at once, in separate processes")
    parser.add_argument("--device", default=None)
    parser.add_argument("--figure", default=None, help="PNG of online-probe accuracy against epochs")
    parser.add_argument("--out", default=str(ROOT / "results" / "dim_quality"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    layers, objectives, extra = args.layers.split(","), args.objectives.split(","), tuple(args.extra)
    units = [("train", seed, objective) for seed in seeds for objective in objectives]
    units += [("supervised", seed, "") for seed in seeds] if args.supervised else []
    units += [] if args.no_baselines else [("baselines", seed, "") for seed in seeds]
    start = time.perf_counter()
    results = parallel_map(run_item, [(*u, args.epochs, layers, args.device, extra) for u in units], args.jobs)
    wall = time.perf_counter() - start

    readings: dict[str, list] = {}
    histories: dict[str, list] = {}
    seconds: dict[str, list] = {}
    for (kind, seed, objective), result in zip(units, results):
        if kind == "baselines":
            for name, values in result.items():
                readings.setdefault(name, []).append(values)
            continue
        name = objective or kind
        readings.setdefault(name, []).append(result["readings"])
        histories.setdefault(name, []).append(result["history"])
        seconds.setdefault(name, []).append(result["seconds"])
        print(f"seed {seed} {LABELS[name]}: " + ", ".join(f"{layer} linear {r['linear']:.4f} k-NN {r['knn']:.4f}"
              for layer, r in result["readings"].items()) + f" ({result['seconds']:.0f} s)", flush=True)  # fmt: skip
    # the flat keys the earlier versions wrote (scripts/verify_readme.py reads "scores")
    scores, knn = {}, {}
    for name, per_seed in readings.items():
        for layer in per_seed[0]:
            key = LABELS[name] if name == "pixels" else f"{LABELS[name]} {layer}"
            scores[key] = [r[layer]["linear"] for r in per_seed]
            knn[key] = [r[layer]["knn"] for r in per_seed]
    header = ["representation"] + [f"{layer} {reader}" for layer in layers for reader in ("linear", "k-NN")]
    table = markdown_table(header, summary_rows(readings, layers))
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    command = (f"python scripts/repro/repro_dim_quality.py --seeds {args.seeds} --epochs {args.epochs} "
               f"--objectives {args.objectives} --layers {args.layers}" + (" --supervised" if args.supervised else "")
               + (" --no-baselines" if args.no_baselines else "") + (f" --extra {' '.join(extra)}" if extra else "")
               + f" --jobs {args.jobs}" + (f" --figure {os.path.relpath(args.figure, ROOT)}" if args.figure else "")
               + f" --out {os.path.relpath(args.out, ROOT)}")  # fmt: skip
    threads = os.environ.get("OMP_NUM_THREADS", str(torch.get_num_threads()))
    note = (f"Embedded digits, fixed 4,000 / 1,000 split, {args.epochs} epochs per run, seeds {args.seeds}, "
            f"device {device}, OMP_NUM_THREADS={threads}, {wall:.0f} s wall in all; mean ± std over seeds of the "
            f"linear probe and the k-NN (k = 20) top-1; command: `{command}`\n\n")  # fmt: skip
    print(table)
    write_results(args.out, {"seeds": seeds, "epochs": args.epochs, "device": device, "command": command,
                             "wall_seconds": wall, "scores": scores, "knn_scores": knn, "histories": histories,
                             "train_seconds": seconds}, note + table)  # fmt: skip
    if args.figure:
        plot_histories(histories, args.figure, f"embedded digits, {args.epochs} epochs, seeds {args.seeds}: {command}")


if __name__ == "__main__":
    main()
