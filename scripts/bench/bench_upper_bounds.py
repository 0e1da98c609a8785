"""Upper bounds beside lower bounds on the Gaussian staircase (Poole et al. 2019; Cheng et al. 2020).

    python scripts/bench/bench_upper_bounds.py [--steps-per-stage 1000] [--seeds 0,1] [--jobs 1]

d = 20 Gaussians, y = rho x + sqrt(1 - rho^2) eps, true MI 2, 4, 6, 8, 10 nats in successive
stages, fresh batches of 64 pairs every step. Estimators:

* with the known conditional p(y|x) = N(rho x, (1 - rho^2) I) (nothing trained; dim/upper_bounds.py):
  CLUB, leave-one-out (upper), InfoNCE with the likelihood (lower), VIB rate E KL(p(y|x) || N(0, I))
  (upper; here N(0, I) *is* the marginal of y, so it is exact up to sampling noise);
* vCLUB: CLUB with a q(y|x) learned online (dim/variational.py; Adam, lr 5e-4, one step a batch);
* dim's lower bounds dv, nwj, infonce, smile, trained online as in scripts/repro/repro_staircase.py.

For every estimator, over the second half of each stage: bias (mean reading - truth), variance
of the readings, MSE = bias^2 + variance, as mean over ``--seeds``. Writes
results/upper_bounds_staircase.{json,md,png} (summaries only).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]

def _staircase():
    """scripts/repro/repro_staircase.py, whose staircase and statistics this benchmark shares."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("repro_staircase", ROOT / "scripts" / "repro" / "repro_staircase.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so that worker processes unpickle its functions
    spec.loader.exec_module(module)
    return module


_STAIRCASE = _staircase()
STAGES, stage_stats, run_lower_bound = _STAIRCASE.STAGES, _STAIRCASE.stage_stats, _STAIRCASE.run

from dim import upper_bounds as ub
from dim.jobs import parallel_map
from dim.report import markdown_table, save_figure, write_results
from dim.tasks import gaussian_rho_for_mi
from dim.variational import VariationalCLUB

KNOWN_CONDITIONAL = ("club", "leave_one_out", "infonce_likelihood", "vib_rate")
LOWER_BOUNDS = ("dv", "nwj", "infonce", "smile")
IS_BOUND = {"club": "upper", "leave_one_out": "upper", "infonce_likelihood": "lower", "vib_rate": "upper",
            "vclub": "estimate (upper if q is good)", "dv": "lower", "nwj": "lower", "infonce": "lower",
            "smile": "estimate"}  # fmt: skip


def staircase_batches(steps_per_stage: int, batch: int, dim: int, seed: int):
    """Yield (x, y, rho) for every step of the staircase."""
    generator = torch.Generator().manual_seed(seed)
    for truth in STAGES:
        rho = gaussian_rho_for_mi(truth, dim)
        for _ in range(steps_per_stage):
            x = torch.randn(batch, dim, generator=generator)
            yield x, rho * x + math.sqrt(1 - rho * rho) * torch.randn(batch, dim, generator=generator), rho


def run_known_conditional(steps_per_stage: int, batch: int, dim: int, seed: int) -> dict[str, np.ndarray]:
    """Per-step readings of the bounds that use the true p(y|x)."""
    readings = {name: [] for name in KNOWN_CONDITIONAL}
    for x, y, rho in staircase_batches(steps_per_stage, batch, dim, seed):
        mean, log_var = rho * x, torch.full_like(x, math.log(1 - rho * rho))
        log_p = ub.gaussian_log_likelihoods(y, mean, log_var)
        readings["club"].append(ub.club_upper_bound(log_p).item())
        readings["leave_one_out"].append(ub.leave_one_out_upper_bound(log_p).item())
        readings["infonce_likelihood"].append(ub.infonce_likelihood_bound(log_p).item())
        readings["vib_rate"].append(ub.variational_marginal_upper_bound(mean, log_var).item())
    return {name: np.asarray(values) for name, values in readings.items()}


def run_vclub(steps_per_stage: int, batch: int, dim: int, seed: int) -> np.ndarray:
    """Per-step vCLUB readings, q(y|x) trained online (one Adam step per batch, before reading)."""
    torch.manual_seed(seed)
    vclub = VariationalCLUB(dim, dim, hidden=256)
    optimizer = torch.optim.Adam(vclub.parameters(), lr=5e-4)
    readings = []
    for x, y, _ in staircase_batches(steps_per_stage, batch, dim, seed + 1000):
        loss = vclub.learning_loss(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            readings.append(vclub(x, y).item())
    return np.asarray(readings)


def run_one(estimator: str, steps_per_stage: int, batch: int, dim: int, seed: int) -> dict[str, np.ndarray]:
    """{estimator name: per-step readings} for one job."""
    torch.set_num_threads(1)
    if estimator == "known_conditional":
        return run_known_conditional(steps_per_stage, batch, dim, seed)
    if estimator == "vclub":
        return {"vclub": run_vclub(steps_per_stage, batch, dim, seed)}
    return {estimator: run_lower_bound(estimator, steps_per_stage, batch, dim, seed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps-per-stage", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--lower-bounds", default=",".join(LOWER_BOUNDS))
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, in separate processes")
    parser.add_argument("--out", default=str(ROOT / "results"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    n, seeds = args.steps_per_stage, [int(s) for s in args.seeds.split(",")]
    jobs = ["known_conditional", "vclub", *[e for e in args.lower_bounds.split(",") if e]]
    items = [(job, n, args.batch, args.dim, seed) for job in jobs for seed in seeds]
    readings: dict[str, dict[int, np.ndarray]] = {}
    for (job, *_, seed), result in zip(items, parallel_map(run_one, items, args.jobs)):
        for name, values in result.items():
            readings.setdefault(name, {})[seed] = values

    rows, summary = [], []
    for name, per_seed in readings.items():
        stats = np.array([[stage_stats(per_seed[s], i, n, truth) for i, truth in enumerate(STAGES)] for s in seeds])
        for i, truth in enumerate(STAGES):
            bias, variance = stats[:, i, 0], stats[:, i, 1]
            mse = bias**2 + variance
            rows.append([name, IS_BOUND[name], truth, f"{bias.mean():+.2f}", f"{variance.mean():.3f}",
                         f"{mse.mean():.2f}"])  # fmt: skip
            summary.append({"estimator": name, "kind": IS_BOUND[name], "truth": truth,
                            "bias": float(bias.mean()), "variance": float(variance.mean()), "mse": float(mse.mean()),
                            "bias_per_seed": bias.tolist()})  # fmt: skip
        print(f"{name}: " + ", ".join(f"I={t:g}: bias {b:+.2f}" for t, b in zip(STAGES, stats[:, :, 0].mean(0))),
              flush=True)  # fmt: skip

    header = ["estimator", "kind", "true MI", f"bias (mean of {len(seeds)} seeds)", "variance", "MSE"]
    table = markdown_table(header, rows)
    print(table)
    out = Path(args.out)
    command = "python scripts/bench/bench_upper_bounds.py " + " ".join(sys.argv[1:])
    write_results(out / "upper_bounds_staircase", {"stages": STAGES, "steps_per_stage": n, "batch": args.batch,
                                                    "dim": args.dim, "seeds": seeds, "command": command,
                                                    "summary": summary}, table)  # fmt: skip
    plot(readings, seeds[0], n, args, out / "upper_bounds_staircase.png")


def plot(readings: dict[str, dict[int, np.ndarray]], seed: int, n: int, args, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(readings)
    cols = 3
    figure, axes = plt.subplots(math.ceil(len(names) / cols), cols, figsize=(11, 2.6 * math.ceil(len(names) / cols)),
                                sharex=True, sharey=True)  # fmt: skip
    truth = np.repeat(STAGES, n)
    for ax, name in zip(axes.flat, names):
        values = readings[name][seed]
        steps = np.arange(len(values))
        ax.plot(steps, values, color="tab:blue", alpha=0.25, linewidth=0.5)
        ax.plot(steps, np.convolve(values, np.ones(50) / 50, mode="same"), color="tab:blue")
        ax.plot(steps, truth, "k-", linewidth=1)
        ax.set_title(f"{name} ({IS_BOUND[name]})", fontsize=9)
        ax.set_ylim(-1, 20)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    figure.suptitle(f"Gaussian staircase, d={args.dim}, batch {args.batch}, {n} steps a stage (seed {seed}); "
                    "black: true MI (nats)", fontsize=10)  # fmt: skip
    save_figure(figure, path)


if __name__ == "__main__":
    main()
