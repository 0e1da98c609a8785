"""Wall time alone and beside other work: estimate_mi's thread policy against torch's default.

    python scripts/bench/bench_load.py [--repeats 3] [--timeout 180] [--out results/bench_load]

Workloads (each run in a fresh process, timed inside it):
  estimate-5d / estimate-25d: ``estimate_mi`` with its defaults on 10,000 rows of Gaussians
    (1 nat in 5 + 5 dimensions; 2 nats in 25 + 25), seed 0.
Behaviours: "policy" is the default (``threads=None``: one thread on the CPU); "torch default"
passes ``threads=torch.get_num_threads()`` as the process starts (the cores: what estimate_mi did
before it had a thread policy).
Conditions: alone; beside one busy core (a process spinning in a loop); beside another
``estimate_mi`` (the same workload, with torch's default threads, restarted in a loop).
Prints and writes the median and the spread of ``--repeats`` runs per cell, and each cell's ratio
to the same behaviour alone. A run past ``--timeout`` seconds is stopped and counts as the
timeout (the table marks it with ">"). Run it alone on the machine: its own figures are the
point.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from dim.report import markdown_table, write_results

ROOT = Path(__file__).resolve().parents[2]

WORKLOAD = """
import sys, time, torch
from dim import estimate_mi
from dim.tasks import gaussian_rho_for_mi, sample_correlated_gaussians
dim, nats, behaviour = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
x, y = sample_correlated_gaussians(10_000, dim, gaussian_rho_for_mi(nats, dim), seed=0)
threads = None if behaviour == "policy" else torch.get_num_threads()
started = time.perf_counter()
result = estimate_mi(x, y, threads=threads)
print(time.perf_counter() - started, result.mi_nats)
"""
SPIN = "while True:\n    pass\n"
COMPETING = """
import subprocess, sys
while True:
    subprocess.run([sys.executable, "-c", sys.argv[1], "5", "1.0", "torch default"], capture_output=True)
"""
WORKLOADS = {"estimate-5d": ("5", "1.0"), "estimate-25d": ("25", "2.0")}
BEHAVIOURS = ("policy", "torch default")
CONDITIONS = ("alone", "beside a busy core", "beside another estimate_mi")


def competitor(condition: str) -> subprocess.Popen | None:
    if condition == "alone":
        return None
    code = [sys.executable, "-c", SPIN] if condition == "beside a busy core" else [sys.executable, "-c", COMPETING,
                                                                                   WORKLOAD]  # fmt: skip
    process = subprocess.Popen(code, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(2.0)  # let it take its core
    return process


def one_run(workload: str, behaviour: str, timeout: float) -> tuple[float, bool, float | None]:
    """(seconds, finished, reading): the estimate's own wall time, or the timeout."""
    try:
        done = subprocess.run([sys.executable, "-c", WORKLOAD, *WORKLOADS[workload], behaviour], capture_output=True,
                              text=True, timeout=timeout, check=True)  # fmt: skip
    except subprocess.TimeoutExpired:
        return timeout, False, None
    seconds, reading = done.stdout.split()
    return float(seconds), True, float(reading)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_load"))
    args = parser.parse_args()
    cells = []
    for workload in args.workloads.split(","):
        for condition in CONDITIONS:
            process = competitor(condition)
            try:
                for behaviour in BEHAVIOURS:
                    runs = [one_run(workload, behaviour, args.timeout) for _ in range(args.repeats)]
                    seconds = [s for s, _, _ in runs]
                    cells.append({"workload": workload, "condition": condition, "behaviour": behaviour,
                                  "seconds": seconds, "finished": [f for _, f, _ in runs],
                                  "readings": [r for _, _, r in runs],
                                  "median": statistics.median(seconds)})  # fmt: skip
                    print(f"{workload} | {condition} | {behaviour}: median {cells[-1]['median']:.1f} s "
                          f"({', '.join(f'{s:.1f}' for s in seconds)})", flush=True)  # fmt: skip
            finally:
                if process is not None:  # the competitor and the estimate it may be running
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
    alone = {(c["workload"], c["behaviour"]): c["median"] for c in cells if c["condition"] == "alone"}
    rows = []
    for c in cells:
        marker = ">" if not all(c["finished"]) else ""
        spread = f"{min(c['seconds']):.1f}-{max(c['seconds']):.1f}"
        ratio = c["median"] / alone[(c["workload"], c["behaviour"])]
        rows.append([c["workload"], c["condition"], c["behaviour"], f"{marker}{c['median']:.1f}", spread,
                     f"{marker}{ratio:.2f}x"])  # fmt: skip
    table = markdown_table(["workload", "condition", "threads", "median s", "range s", "vs alone"], rows)
    print(table)
    command = "python scripts/bench/bench_load.py " + " ".join(sys.argv[1:])
    write_results(args.out, {"command": command, "repeats": args.repeats, "timeout": args.timeout, "cells": cells},
                  f"# estimate_mi alone and beside other work\n\n`{command.strip()}`\n\n{table}\n")  # fmt: skip


if __name__ == "__main__":
    main()
