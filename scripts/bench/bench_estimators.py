"""Bias, spread and interval coverage of every estimator of ``estimate_mi`` on d = 20 Gaussians.

    python scripts/bench/bench_estimators.py [--truths 2,4,8] [--seeds 0,1,2,3,4] [--n 10000] [--jobs 2]

For each estimator (its default readout; "auto" reports InfoNCE or MINE, and the table names
which) and each true MI, ``--seeds`` independent samples of
n pairs (componentwise correlation set by the truth), each estimated with ``estimate_mi``'s
defaults and that seed. Per cell: mean +- std of the reported value, bias, RMSE, and the
coverage of the 95% interval: for a lower bound, the share of runs whose lower limit is at
most the truth; for SMILE (an estimate, not a bound), the share whose interval contains the
truth, and the same for the DV lower bound read beside it. Writes results/bench_estimators.{json,md}.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from dim import estimate_mi
from dim.jobs import parallel_map
from dim.objectives import ESTIMATORS
from dim.report import markdown_table, write_results
from dim.tasks import gaussian_rho_for_mi, sample_correlated_gaussians


def one_run(estimator: str, truth: float, seed: int, n: int, dim: int) -> dict:
    x, y = sample_correlated_gaussians(n, dim, gaussian_rho_for_mi(truth, dim), seed=seed)
    r = estimate_mi(x, y, estimator=estimator, seed=seed)
    return {"estimator": estimator, "reported": r.estimator, "truth": truth, "seed": seed, "mi": r.mi_nats,
            "ci": list(r.ci_nats),
            "is_lower_bound": r.is_lower_bound, "raw": r.raw_mi_nats, "floored": r.floored,
            "lower_bound": r.lower_bound_nats, "lower_bound_ci": r.lower_bound_ci_nats, "seconds": r.seconds}  # fmt: skip


def summarise(runs: list[dict]) -> dict:
    """Mean, std, bias, RMSE and interval coverage of the runs of one (estimator, truth) cell."""
    truth = runs[0]["truth"]
    values = np.array([r["mi"] for r in runs])
    cell = {"mean": float(values.mean()), "std": float(values.std(ddof=1)), "bias": float(values.mean() - truth),
            "rmse": float(np.sqrt(np.mean((values - truth) ** 2))),
            "seconds": float(np.median([r["seconds"] for r in runs]))}  # fmt: skip
    if runs[0]["is_lower_bound"]:
        cell["coverage"] = float(np.mean([r["ci"][0] <= truth for r in runs]))
    else:
        cell["coverage"] = float(np.mean([r["ci"][0] <= truth <= r["ci"][1] for r in runs]))
        bound = np.array([r["lower_bound"] for r in runs])
        cell["bound_mean"], cell["bound_std"] = float(bound.mean()), float(bound.std(ddof=1))
        cell["bound_coverage"] = float(np.mean([r["lower_bound_ci"][0] <= truth for r in runs]))
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--truths", default="2,4,8")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--estimators", default=",".join(ESTIMATORS))
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2, help="estimates run at once, in separate processes")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_estimators"))
    args = parser.parse_args()
    truths = [float(t) for t in args.truths.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    estimators = args.estimators.split(",")

    items = [(e, t, s, args.n, args.dim) for e in estimators for t in truths for s in seeds]
    runs = parallel_map(one_run, items, args.jobs)
    rows, cells = [], []
    for estimator in estimators:
        for truth in truths:
            cell_runs = [r for r in runs if r["estimator"] == estimator and r["truth"] == truth]
            cell = summarise(cell_runs)
            cells.append({"estimator": estimator, "truth": truth, **cell})
            kind = "bound" if "bound_mean" not in cell else "estimate"
            bound = f"{cell['bound_mean']:.3f} +- {cell['bound_std']:.3f}" if kind == "estimate" else ""
            reported = sorted({r["reported"] for r in cell_runs})
            name = estimator if reported == [estimator] else f"{estimator} (reported: {', '.join(reported)})"
            rows.append([name, kind, truth, f"{cell['mean']:.3f} +- {cell['std']:.3f}",
                         f"{cell['bias']:+.3f}", f"{cell['rmse']:.3f}", f"{cell['coverage']:.0%}", bound,
                         f"{cell.get('bound_coverage', float('nan')):.0%}" if kind == "estimate" else "",
                         f"{cell['seconds']:.1f}"])  # fmt: skip
    table = markdown_table(["estimator", "kind", "true MI", "mean +- std", "bias", "RMSE",
                            "coverage", "DV lower bound beside it", "its coverage", "median s"], rows)  # fmt: skip
    print(table)
    write_results(args.out, {"n": args.n, "dim": args.dim, "seeds": seeds, "cells": cells, "runs": runs}, table)


if __name__ == "__main__":
    main()
