"""MINE paper, Fig. 2 (equitability): y = f(x) + sigma * eps, x ~ U(-1, 1), f in {x, x^3, sin x}.

    python scripts/repro/repro_equitability.py [--sigmas 0.05,0.1,0.2,0.5,1.0] [--n 10000] [--seeds 0,1,2,3,4]

An equitable estimator gives the same reading for the same noise, whatever f. Here each
estimate is set against *its own* true MI, h(Y) - h(sigma * eps), computed by 1-D numerical
integration (dim.tasks.additive_noise_mi). Every cell is run on ``--seeds`` independent
samples (mean +- std; the interval's coverage of the truth over seeds); ``--jobs`` runs at once.
Writes results/equitability.{json,md,png}.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from dim.jobs import parallel_map
from dim.report import default_and_ksg, markdown_table, save_figure, write_results
from dim.tasks import ADDITIVE_NOISE_FUNCTIONS, additive_noise_mi, sample_additive_noise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sigmas", default="0.05,0.1,0.2,0.5,1.0")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--jobs", type=int, default=2, help="estimates run at once, in separate processes")
    parser.add_argument("--out", default=str(ROOT / "results" / "equitability"))
    args = parser.parse_args()
    sigmas = [float(s) for s in args.sigmas.split(",")]

    seeds = [int(s) for s in args.seeds.split(",")]
    items = [(f, sigma, seed, args.n) for f in ADDITIVE_NOISE_FUNCTIONS for sigma in sigmas for seed in seeds]
    runs = parallel_map(one_cell, items, args.jobs)
    rows = []
    for function in ADDITIVE_NOISE_FUNCTIONS:
        for sigma in sigmas:
            part = [r for r in runs if r["f"] == function and r["sigma"] == sigma]
            truth = part[0]["true"]
            estimates, ksg = np.array([r["estimate"] for r in part]), np.array([r["ksg"] for r in part])
            rows.append({"f": function, "sigma": sigma, "true": truth, "estimate": float(estimates.mean()),
                         "dim_std": float(estimates.std(ddof=1)), "ksg": float(ksg.mean()),
                         "ksg_std": float(ksg.std(ddof=1)), "error": float(estimates.mean() - truth),
                         "covered": int(sum(r["ci"][0] <= truth <= r["ci"][1] for r in part)),
                         "lower_limit_below_truth": int(sum(r["ci"][0] <= truth for r in part)),
                         "seeds": len(part)})  # fmt: skip

    table = markdown_table(
        ["f", "sigma", "true (nats)", "dim (default estimator), mean +- std", "error of the mean", "CI contains truth", "lower limit <= truth",
         "KSG, mean +- std"],
        [[r["f"], r["sigma"], r["true"], f"{r['estimate']:.3f} +- {r['dim_std']:.3f}", f"{r['error']:+.3f}",
          f"{r['covered']} of {r['seeds']}", f"{r['lower_limit_below_truth']} of {r['seeds']}", f"{r['ksg']:.3f} +- {r['ksg_std']:.3f}"] for r in rows],
    )  # fmt: skip
    print(table)
    out = Path(args.out)
    write_results(out, {"n": args.n, "seeds": seeds, "rows": rows, "runs": runs}, table)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for function in ADDITIVE_NOISE_FUNCTIONS:
        part = [r for r in rows if r["f"] == function]
        line = axes[0].plot(sigmas, [r["estimate"] for r in part], "o-", label=f"dim, f={function}")[0]
        axes[0].plot(sigmas, [r["true"] for r in part], ":", color=line.get_color())
        axes[1].errorbar(sigmas, [r["error"] for r in part], yerr=[r["dim_std"] for r in part], fmt="o-",
                         capsize=3, label=f"f={function}")  # fmt: skip
    axes[0].set(xscale="log", xlabel="noise sigma", ylabel="nats", title="estimate (dotted: its true MI)")
    axes[1].axhline(0, color="k", linewidth=0.8)
    axes[1].set(xscale="log", xlabel="noise sigma", ylabel="estimate - truth (nats)", title="error against own truth (bars: std over seeds)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    save_figure(figure, out.with_suffix(".png"))


def one_cell(function: str, sigma: float, seed: int, n: int) -> dict:
    """dim's default estimate and KSG on one sample of y = f(x) + sigma eps."""
    x, y = sample_additive_noise(n, function, sigma, seed=seed)
    return {"f": function, "sigma": sigma, "seed": seed, "true": additive_noise_mi(function, sigma),
            **default_and_ksg(x, y, seed=seed)}  # fmt: skip


if __name__ == "__main__":
    main()
