"""Where the default estimate loses MI: the data, or the critic it learns?

    python scripts/bench/bench_critic_gap.py [--tasks student-t-dof1-5x5,...] [--seeds 0,1,2] [--n 10000]
        [--held-out 2000] [--jobs 2]

For the distribution tasks whose true critic log p(x, y) / (p(x) p(y)) has a closed form (the
Student-t family: :func:`dim.tasks.student_t_log_ratio`; additive uniform noise:
:func:`dim.tasks.additive_uniform_log_ratio`), each seed draws the benchmark's sample of n rows
and reads, on ``--held-out`` rows of it (the last ones; the rows are i.i.d.), the DV and InfoNCE
bounds of the *true* critic in one block (each positive against every other row, as
``estimate_mi`` reads its held-out part), beside ``estimate_mi``'s default estimate on the whole
sample. The true critic's reading is what the held-out rows allow; the gap between it and the
default's is the part the learned critic misses. Writes results/bench_critic_gap.{json,md}.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]

from dim import estimate_mi
from dim.bounds import diagonal_split
from dim.jobs import parallel_map
from dim.objectives import readout_value
from dim.report import markdown_table, write_results
from dim.tasks import DISTRIBUTION_TASKS, additive_uniform_log_ratio, student_t_log_ratio

DEFAULT_TASKS = "student-t-dof1-5x5,student-t-dof2-5x5,student-t-dof3-5x5,additive-uniform-eps0.1,additive-uniform-eps0.75"


def true_critic(task: str):
    """The closed-form log-ratio of ``task`` as a function of (x (..., dx), y (..., dy))."""
    if match := re.fullmatch(r"student-t-dof(\d+)-\dx\d", task):
        return lambda x, y: student_t_log_ratio(x, y, float(match.group(1)))
    if match := re.fullmatch(r"additive-uniform-eps([\d.]+)", task):
        return lambda x, y: additive_uniform_log_ratio(x, y, float(match.group(1)))
    raise SystemExit(f"error: no closed-form critic for task {task!r}; use a Student-t or additive-uniform task")


def one_run(task: str, seed: int, n: int, held_out: int) -> dict:
    x, y = DISTRIBUTION_TASKS[task].sample(n, seed=seed)
    xh, yh = x[-held_out:], y[-held_out:]
    scores = torch.as_tensor(true_critic(task)(xh[:, None, :], yh[None, :, :]), dtype=torch.float64)
    positive, negative = diagonal_split(scores)
    estimate = estimate_mi(x, y, seed=seed)
    row = {"task": task, "seed": seed, "truth": DISTRIBUTION_TASKS[task].mi_nats,
           "true_critic_dv": readout_value("dv", positive, negative).item(),
           "true_critic_infonce": readout_value("infonce", positive, negative).item(),
           "default": estimate.mi_nats, "default_estimator": estimate.estimator}  # fmt: skip
    print(f"{task} seed {seed}: true critic DV {row['true_critic_dv']:.3f}, InfoNCE {row['true_critic_infonce']:.3f}; "
          f"default ({estimate.estimator}) {estimate.mi_nats:.3f}; truth {row['truth']:.3f}", flush=True)  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=DEFAULT_TASKS)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--held-out", type=int, default=2_000, help="rows read by the true critic (one block)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_critic_gap"))
    args = parser.parse_args()
    tasks, seeds = args.tasks.split(","), [int(s) for s in args.seeds.split(",")]
    for task in tasks:
        true_critic(task)  # refuse an unknown task before any work
    runs = parallel_map(one_run, [(t, s, args.n, args.held_out) for t in tasks for s in seeds], args.jobs)
    rows = []
    for task in tasks:
        mine = [r for r in runs if r["task"] == task]

        def cell(key: str) -> str:
            values = np.array([r[key] for r in mine])
            if len(values) == 1:  # one seed: no spread to show
                return f"{values[0]:.3f}"
            return f"{values.mean():.3f} +- {values.std(ddof=1):.3f}"

        rows.append([task, mine[0]["truth"], cell("true_critic_dv"), cell("true_critic_infonce"),
                     f"{cell('default')} ({mine[0]['default_estimator']})"])  # fmt: skip
    table = markdown_table(["task", "true MI", "true critic, DV", "true critic, InfoNCE", "default estimate"], rows)
    print(table)
    write_results(args.out, {"n": args.n, "held_out": args.held_out, "seeds": seeds, "runs": runs}, table)


if __name__ == "__main__":
    main()
