"""Wall time alone and beside other work: the thread policy against torch's default.

    python scripts/bench/bench_load.py [--repeats 3] [--timeout 180] [--workloads ...] [--conditions ...]
        [--behaviours policy,torch] [--merge] [--out results/bench_load]

Workloads (each run in a fresh process, timed inside it):
  estimate-5d / estimate-25d: ``estimate_mi`` with its defaults on 10,000 rows of Gaussians
    (1 nat in 5 + 5 dimensions; 2 nats in 25 + 25), seed 0;
  dim-epoch: one epoch of the default ``scripts/train.py`` run (its config, ``trainer.epochs=1``);
  probe: the default ``scripts/probe.py`` run (every layer, protocol, baseline and MI check) on
    an encoder of the default architecture (random weights: the probes cost the same).
Behaviours: "policy" is the default (``threads`` unset: one thread for estimate_mi's critic, the
cores other processes leave free for training and probes, :class:`dim.runtime.CoreShare`);
"torch default" passes ``threads=torch.get_num_threads()`` as the process starts (every core, fixed:
what the library did before it had a thread policy).
Conditions (``--conditions``): alone; busy-core, beside one busy core (a process spinning in a
loop); estimate, beside another ``estimate_mi`` (the 5-D one with torch's default threads,
restarted in a loop).
Prints and writes the median and the spread of ``--repeats`` runs per cell, and each cell's ratio
to the same behaviour alone. A run past ``--timeout`` seconds is stopped and counts as the
timeout (the table marks it with ">"). Run it alone on the machine: its own figures are the
point.
"""

from __future__ import annotations

import argparse
import json
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
TRAINING = """
import sys, tempfile, time, torch
from dim.config import compose
from dim.infomax import train
behaviour = sys.argv[1]
threads = "null" if behaviour == "policy" else torch.get_num_threads()
with tempfile.TemporaryDirectory() as folder:
    cfg = compose("train", [f"out_dir={folder}/run", "trainer.epochs=1", "trainer.progress=false", f"threads={threads}"])
    started = time.perf_counter()
    summary = train(cfg)
    print(time.perf_counter() - started, summary["probe_test_accuracy"])
"""
PROBE = """
import sys, tempfile, time, torch
from dim.checkpoint import save_encoder
from dim.config import compose
from dim.encoders import encoder_from_spec
from eval.run import probe_overrides, run_probe
behaviour = sys.argv[1]
threads = "null" if behaviour == "policy" else torch.get_num_threads()
with tempfile.TemporaryDirectory() as folder:
    torch.manual_seed(0)
    spec = dict(compose("probe", ["encoder_path=random"]).random_spec)
    save_encoder(encoder_from_spec(spec), f"{folder}/run/encoder.pt")
    cfg = compose("probe", probe_overrides([f"encoder={folder}/run/encoder.pt", "progress=false",
                                            "feature_cache=false", f"threads={threads}"]))
    started = time.perf_counter()
    payload = run_probe(cfg)
    print(time.perf_counter() - started, payload["rows"][0]["value"])
"""
SPIN = "while True:\n    pass\n"
COMPETING = """
import subprocess, sys
while True:
    subprocess.run([sys.executable, "-c", sys.argv[1], "5", "1.0", "torch default"], capture_output=True)
"""
# name -> (program, its arguments before the behaviour)
WORKLOADS = {"estimate-5d": (WORKLOAD, ("5", "1.0")), "estimate-25d": (WORKLOAD, ("25", "2.0")),
             "dim-epoch": (TRAINING, ()), "probe": (PROBE, ())}
# --behaviours and --conditions names -> their labels in the table
BEHAVIOURS = {"policy": "policy", "torch": "torch default"}
CONDITIONS = {"alone": "alone", "busy-core": "beside a busy core", "estimate": "beside another estimate_mi"}


def competitor(condition: str) -> subprocess.Popen | None:
    if condition == "alone":
        return None
    code = [sys.executable, "-c", SPIN] if condition == CONDITIONS["busy-core"] else [sys.executable, "-c", COMPETING,
                                                                                   WORKLOAD]  # fmt: skip
    process = subprocess.Popen(code, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(2.0)  # let it take its core
    return process


def one_run(workload: str, behaviour: str, timeout: float) -> tuple[float, bool, float | None]:
    """(seconds, finished, reading): the estimate's own wall time, or the timeout."""
    try:
        program, arguments = WORKLOADS[workload]
        done = subprocess.run([sys.executable, "-c", program, *arguments, behaviour], capture_output=True, text=True,
                              timeout=timeout, check=True, cwd=ROOT)  # fmt: skip
    except subprocess.TimeoutExpired:
        return timeout, False, None
    seconds, reading = done.stdout.split()[-2:]
    return float(seconds), True, float(reading)


def choose(parser: argparse.ArgumentParser, flag: str, value: str, allowed) -> list[str]:
    """The comma-separated names of ``value``, each checked against ``allowed``."""
    names = value.split(",")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        parser.error(f"unknown {flag} value {unknown[0]!r}; choose among {', '.join(allowed)}")
    return names


def earlier_cells(path: Path, replaced: set[tuple[str, str, str]]) -> list[dict]:
    """The cells of an earlier ``path`` (each with the command and timeout that made it) that this
    run does not measure again."""
    if not path.exists():
        return []
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if (c["workload"], c["condition"], c["behaviour"]) not in replaced]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help=f"among {', '.join(CONDITIONS)}")
    parser.add_argument("--behaviours", default=",".join(BEHAVIOURS), help="policy, torch (torch's default threads)")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_load"))
    parser.add_argument("--merge", action="store_true",
                        help="keep <out>.json's cells that this run does not measure (with the commands that made them)")
    args = parser.parse_args()
    workloads = choose(parser, "--workloads", args.workloads, WORKLOADS)
    conditions = [CONDITIONS[c] for c in choose(parser, "--conditions", args.conditions, CONDITIONS)]
    behaviours = [BEHAVIOURS[b] for b in choose(parser, "--behaviours", args.behaviours, BEHAVIOURS)]
    command = ("python scripts/bench/bench_load.py " + " ".join(sys.argv[1:])).strip()
    measured = {(w, c, b) for w in workloads for c in conditions for b in behaviours}
    cells = earlier_cells(Path(args.out).with_suffix(".json"), measured) if args.merge else []
    for workload in workloads:
        for condition in conditions:
            process = competitor(condition)
            try:
                for behaviour in behaviours:
                    runs = [one_run(workload, behaviour, args.timeout) for _ in range(args.repeats)]
                    seconds = [s for s, _, _ in runs]
                    cells.append({"workload": workload, "condition": condition, "behaviour": behaviour,
                                  "seconds": seconds, "finished": [f for _, f, _ in runs],
                                  "readings": [r for _, _, r in runs], "median": statistics.median(seconds),
                                  "command": command, "timeout": args.timeout})  # fmt: skip
                    print(f"{workload} | {condition} | {behaviour}: median {cells[-1]['median']:.1f} s "
                          f"({', '.join(f'{s:.1f}' for s in seconds)})", flush=True)  # fmt: skip
            finally:
                if process is not None:  # the competitor and the estimate it may be running
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
    order = {name: i for i, name in enumerate([*WORKLOADS, *CONDITIONS.values(), *BEHAVIOURS.values()])}
    cells.sort(key=lambda c: (order[c["workload"]], order[c["condition"]], order[c["behaviour"]]))
    alone = {(c["workload"], c["behaviour"]): c for c in cells if c["condition"] == "alone"}
    commands = list(dict.fromkeys(c["command"] for c in cells))
    rows = []
    for c in cells:
        marker = ">" if not all(c["finished"]) else ""
        spread = f"{min(c['seconds']):.1f}-{max(c['seconds']):.1f}"
        base = alone.get((c["workload"], c["behaviour"]))
        ratio = f"{marker}{c['median'] / base['median']:.2f}x" if base else ""
        rows.append([c["workload"], c["condition"], c["behaviour"], f"{marker}{c['median']:.1f}", spread, ratio,
                     str(commands.index(c["command"]) + 1)])  # fmt: skip
    table = markdown_table(["workload", "condition", "threads", "median s", "range s", "vs alone", "command"], rows)
    print(table)
    made_by = "\n".join(f"{i}. `{c}`" for i, c in enumerate(commands, 1))
    write_results(args.out, {"repeats": args.repeats, "cells": cells},
                  f"# Alone and beside other work\n\nA run past a command's `--timeout` counts as the timeout "
                  f"(marked >).\n\n{made_by}\n\n{table}\n")  # fmt: skip


if __name__ == "__main__":
    main()
