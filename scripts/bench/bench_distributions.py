"""Benchmark beyond Gaussians: ``estimate_mi`` on distributions with known MI, beside KSG and peers.

    python scripts/bench/bench_distributions.py [--tasks all] [--seeds 0,1,2] [--n 10000]
        [--methods smile:standardize,smile:rank,dv:rank] [--ksg] [--jobs 2]
        [--bmi-python /tmp/venv-bmi/bin/python] [--bmi-methods mine,infonce] [--mist-python ...]
        [--merge results/bench_distributions.json]
    python scripts/bench/bench_distributions.py --time --baseline COMMIT [--tasks ...] [--seeds ...]
    python scripts/bench/bench_distributions.py --report-only      # re-summarise the JSON's runs

Tasks: ``dim.tasks.DISTRIBUTION_TASKS`` (Student-t with 1, 2, 3, 5 degrees of freedom at 1 x 1
and 5 x 5, normal-CDF / half-cube / spiral warps, additive uniform noise, sparse and dense
multinormals at 5 x 5 and 25 x 25, a 5-nat case), n rows each, every method on the same
arrays (seed s draws the sample of repetition s). A dim method is ``estimator:transform``
with every other setting at its default, or ``estimator:transform:key=value:...`` with
``estimate_mi`` settings changed (``auto:rank:hidden=256:critic_layers=3``, ``auto:rank:folds=3``).
Per task and method: truth, mean +- std over seeds, relative error, interval coverage (a lower
bound: the lower 95% limit at most the truth; an estimate: the interval contains the truth), whether the interval pooled over the seeds (widened
by their spread, as ``estimate_mi(..., seeds=r)`` does) covers the truth, how often the value
was floored, and the median seconds; per dim method also where the time went (critic steps,
early-stopping evaluations, readout, bootstrap). Writes results/bench_distributions.{json,md,png}.

``--time --baseline COMMIT``: median seconds per estimate of the default ``estimate_mi`` of
this tree and of COMMIT (checked out into a temporary git worktree and run in a subprocess),
side by side on the same samples, one estimate at a time, with the ratio.

Peers, each in its own venv (see scripts/bench/bench_gaussian.py for bmi's install line; one
venv holds torch-mist, diffusion-mi and latentmi: ``pip install torch==2.14.1 torchvision==0.29.1``,
then ``pip install torch-mist==0.2.17 diffusion-mi==0.1.0 latentmi==0.1.3 "numpy<2" "pandas<3"
torch==2.14.1``), run on one thread, are skipped unless their python is given (``--methods ""``
runs peers alone); KSG (ours, k = 3) runs with ``--ksg``. ``--merge JSON[,JSON...]`` adds the
estimates of earlier runs (same n: seed s is the same arrays) that this run does not repeat, the
first file's first, so that a table can grow a column, or a column its seeds, without re-running
the others.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from bench_gaussian import run_ksg, run_peer

from dim.estimation import combine_intervals, estimate_mi
from dim.jobs import parallel_map
from dim.report import markdown_table, save_figure, write_results
from dim.tasks import DISTRIBUTION_TASKS


def method_options(method: str) -> dict:
    """``estimate_mi``'s keyword arguments for a method "estimator:transform[:key=value...]",
    e.g. "auto:rank:hidden=256:critic_layers=3" (values read as Python literals, else strings)."""
    estimator, transform, *extra = method.split(":")
    options = {"estimator": estimator, "transform": transform}
    for item in extra:
        key, _, value = item.partition("=")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return options


def run_dim(method: str, task: str, seed: int, n: int) -> dict:
    """One ``estimate_mi`` run of ``method`` (see :func:`method_options`) on one sample of ``task``."""
    x, y = DISTRIBUTION_TASKS[task].sample(n, seed=seed)
    r = estimate_mi(x, y, seed=seed, **method_options(method))
    print(f"{task} seed {seed} {method}: {r.mi_nats:.3f} nats in {r.seconds:.1f} s", flush=True)
    return {"task": task, "seed": seed, "method": f"dim {method}", "mi": r.mi_nats, "ci": list(r.ci_nats),
            "is_lower_bound": r.is_lower_bound, "floored": r.floored, "seconds": r.seconds,
            "timings": r.timings}  # fmt: skip


def run_other(name: str, run, task: str, seed: int, n: int) -> dict:
    x, y = DISTRIBUTION_TASKS[task].sample(n, seed=seed)
    return {"task": task, "seed": seed, "method": name, **run(x, y, seed)}


def summarise(task: str, method: str, runs: list[dict]) -> dict:
    """Mean +- std over seeds, error of the mean, median seconds; for dim methods the coverage of
    each run's interval (a lower bound: lower limit <= truth; an estimate: it contains the truth),
    floored runs, and ``pooled_covers``: whether the interval of the seeds pooled by
    :func:`dim.estimation.combine_intervals` (the rule of ``estimate_mi(..., seeds=r)``, which widens by the
    seed-to-seed spread) covers the truth in the same sense."""
    truth = DISTRIBUTION_TASKS[task].mi_nats
    values = np.array([r["mi"] for r in runs])
    cell = {"task": task, "method": method, "truth": truth, "seeds": len(runs), "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else None,
            "relative_error": float((values.mean() - truth) / truth),
            "seconds": float(np.median([r["seconds"] for r in runs]))}  # fmt: skip
    if "ci" in runs[0]:
        lower_bound = runs[0]["is_lower_bound"]

        def covers(interval) -> bool:
            return interval[0] <= truth if lower_bound else interval[0] <= truth <= interval[1]

        cell["coverage"] = float(np.mean([covers(r["ci"]) for r in runs]))
        cell["two_sided_coverage"] = float(np.mean([r["ci"][0] <= truth <= r["ci"][1] for r in runs]))
        cell["floored"] = int(sum(r["floored"] for r in runs))
        if len(runs) > 1:
            cell["pooled_covers"] = bool(covers(combine_intervals(values, [tuple(r["ci"]) for r in runs])))
    return cell


def accuracy(args) -> None:
    tasks = list(DISTRIBUTION_TASKS) if args.tasks == "all" else args.tasks.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = [m for m in args.methods.split(",") if m]  # --methods "": peers only
    runs = parallel_map(run_dim, [(m, t, s, args.n) for m in methods for t in tasks for s in seeds], args.jobs)
    others = {}
    if args.ksg:
        others["KSG (k=3)"] = run_ksg
    if args.bmi_python:
        for name in args.bmi_methods.split(","):
            others[f"bmi 0.1.3 ({name})"] = lambda x, y, s, name=name: run_peer(args.bmi_python, f"bmi-{name}", x, y, s)
    if args.mist_python:
        for name in args.mist_methods.split(","):
            peer = f"torch-mist-{name}"
            others[f"torch-mist 0.2.17 ({name})"] = lambda x, y, s, peer=peer: run_peer(args.mist_python, peer, x, y, s)
    if args.dmi_python:
        for name in args.dmi_methods.split(","):
            label = f"diffusion-mi 0.1.0 {name.upper()} ({args.dmi_epochs} epochs)"
            others[label] = lambda x, y, s, name=name: run_peer(args.dmi_python, name, x, y, s, str(args.dmi_epochs))
    if args.latentmi_python:
        others["latentmi 0.1.3"] = lambda x, y, s: run_peer(args.latentmi_python, "latentmi", x, y, s)
    runs += [run_other(name, run, t, s, args.n) for name, run in others.items() for t in tasks for s in seeds]
    names = [f"dim {m}" for m in methods] + list(others)
    earlier_names: list[str] = []
    for path in filter(None, (args.merge or "").split(",")):  # the first file's estimates and methods come first
        runs, new_names = merged_runs(path, runs, earlier_names + names, tasks, seeds, args.n)
        earlier_names += new_names
    names = earlier_names + names
    dim_runs = [r for r in runs if r["method"] in {f"dim {m}" for m in methods}]  # this invocation's runs
    where = {k: float(np.median([r["timings"][k] for r in dim_runs])) for k in (dim_runs or [{"timings": {}}])[0]["timings"]}
    report({"n": args.n, "seeds": seeds, "runs": runs, "time_split": where,
            "time_split_methods": [f"dim {m}" for m in methods]}, tasks, names, args.out)  # fmt: skip


def spread(cell: dict, seeds: int) -> str:
    """"mean +- std" over the cell's seeds, naming their number where it is not the run's."""
    text = f"{cell['mean']:.3f}" + (f" +- {cell['std']:.3f}" if cell["std"] is not None else "")
    if cell["seeds"] != seeds or seeds == 1:
        text += " (one seed)" if cell["seeds"] == 1 else f" ({cell['seeds']} seeds)"
    return text


def report(payload: dict, tasks: list[str], names: list[str], out: str) -> None:
    """Summarise ``payload["runs"]`` per task and method; write <out>.{json,md,png}."""
    runs = payload["runs"]
    groups = {(t, m): [r for r in runs if r["task"] == t and r["method"] == m] for t in tasks for m in names}
    cells = [summarise(t, m, group) for (t, m), group in groups.items() if group]
    rows = [[c["task"], c["method"], c["truth"], spread(c, len(payload["seeds"])),
             "NaN" if np.isnan(c["relative_error"]) else f"{c['relative_error']:+.1%}",
             f"{c['coverage']:.0%}" if "coverage" in c else "",
             {True: "yes", False: "no"}.get(c.get("pooled_covers"), ""), str(c.get("floored", "")),
             f"{c['seconds']:.1f}"] for c in cells]  # fmt: skip
    table = markdown_table(["task", "method", "true MI", "mean +- std", "error", "coverage", "seeds pooled cover",
                            "floored", "median s"], rows)  # fmt: skip
    where = payload["time_split"]
    of = ", ".join(payload.get("time_split_methods", [])) or "this run's dim methods"
    time_line = f"median seconds per dim estimate ({of}): " + ", ".join(f"{k} {v:.2f}" for k, v in where.items())
    text = "\n\n".join([table, time_line, closest_table(cells, tasks, names), coverage_lines(runs, cells, names)])
    print(text)
    write_results(out, {**payload, "cells": cells}, text)
    plot(cells, tasks, names, Path(out).with_suffix(".png"))


def closest_table(cells: list[dict], tasks: list[str], names: list[str]) -> str:
    """Per task, every method's error of the mean (% of the truth) and the closest method: the
    smallest |mean - truth|; a method within 0.01 nats of the closest ties with it. A method with
    a NaN reading on some seed (a diverged peer) prints "NaN" and is not a candidate."""
    rows, wins = [], dict.fromkeys(names, 0)
    for task in tasks:
        part = {c["method"]: c for c in cells if c["task"] == task}
        gaps = {m: abs(part[m]["mean"] - part[m]["truth"]) for m in names if m in part and np.isfinite(part[m]["mean"])}
        best = min(gaps.values())
        tied = [m for m in names if m in gaps and gaps[m] <= best + 0.01]
        for m in tied:
            wins[m] += 1
        rows.append([task, f"{part[tied[0]]['truth']:.3f}",
                     *((f"{100 * part[m]['relative_error']:+.1f}%" if m in gaps else "NaN") if m in part else ""
                       for m in names),
                     min(tied, key=gaps.get) + (f" (+{len(tied) - 1} within 0.01)" if len(tied) > 1 else "")])
    rows.append(["closest or within 0.01 nats of it", "", *(f"{wins[m]} / {len(tasks)}" for m in names), ""])
    return markdown_table(["task", "true MI", *names, "closest"], rows)


def coverage_lines(runs: list[dict], cells: list[dict], names: list[str]) -> str:
    """For each method with intervals, over all its runs: how often the lower limit is at most the
    truth, and how often the two-sided interval contains it."""
    truth = {c["task"]: c["truth"] for c in cells}
    lines = []
    for name in names:
        part = [r for r in runs if r["method"] == name and "ci" in r]
        if part:
            lower = sum(r["ci"][0] <= truth[r["task"]] for r in part)
            both = sum(r["ci"][0] <= truth[r["task"]] <= r["ci"][1] for r in part)
            lines.append(f"{name}: lower limit <= truth in {lower}/{len(part)} runs; "
                         f"interval contains the truth in {both}/{len(part)} ({both / len(part):.0%})")  # fmt: skip
    return "\n".join(lines)


def merged_runs(path: str, runs: list[dict], names: list[str], tasks: list[str], seeds: list[int],
                n: int) -> tuple[list[dict], list[str]]:
    """``runs`` with the estimates of an earlier run (same n, so seed s is the same arrays) added,
    on this run's tasks and seeds, and the methods new to ``names``. An estimate (task, method,
    seed) already in ``runs`` is kept, so one method's seeds can come from several runs; a method
    run on some tasks or seeds only (a peer meant for 25-D pairs) leaves the other cells empty or
    with fewer seeds."""
    earlier = json.loads(Path(path).read_text())
    if earlier["n"] != n:
        raise SystemExit(f"error: {path} was run with n={earlier['n']}; merge only a run with n={n} (the same arrays)")
    present = {(r["task"], r["method"], r["seed"]) for r in runs}
    kept = [r for r in earlier["runs"]
            if (r["task"], r["method"], r["seed"]) not in present and r["task"] in tasks and r["seed"] in seeds]  # fmt: skip
    return runs + kept, [m for m in dict.fromkeys(r["method"] for r in kept) if m not in names]


def plot(cells: list[dict], tasks: list[str], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(max(8, 0.12 * len(tasks) * len(names)), 5))
    width = 0.8 / len(names)
    low, high = -100, 60  # a diverged peer (thousands of %) would flatten every other bar
    for i, name in enumerate(names):
        part = [next((c for c in cells if c["task"] == t and c["method"] == name), None) for t in tasks]
        ax.bar(np.arange(len(tasks)) + i * width, [100 * c["relative_error"] if c else np.nan for c in part], width,
               yerr=[100 * (c["std"] or 0) / c["truth"] if c else 0 for c in part], capsize=2, label=name)  # fmt: skip
        for j, cell in enumerate(part):  # label the bars that leave the axis
            error = 100 * cell["relative_error"] if cell else 0.0
            if not low <= error <= high:
                ax.annotate(f"{error:+.0f}%", (j + i * width, low if error < low else high), fontsize=6,
                            rotation=90, ha="center", va="bottom" if error < low else "top")  # fmt: skip
    ax.set_ylim(low, high)
    ax.axhline(0, color="k", linewidth=0.8)
    for limit in (-10, 10):
        ax.axhline(limit, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=60, ha="right", fontsize=8)
    ax.set(ylabel="error of the mean (% of the truth)", title="estimates on distributions with known MI")
    ax.legend(fontsize=8)
    save_figure(figure, path)


BASELINE_RUNNER = """
import json, sys, numpy as np
sys.path.insert(0, sys.argv[1])
from dim import estimate_mi
data = np.load(sys.argv[2])
r = estimate_mi(data["x"], data["y"], seed=int(sys.argv[3]))
print(json.dumps({"mi": r.mi_nats, "seconds": r.seconds}))
"""


def timing(args) -> None:
    """Side by side: this tree's default estimate_mi and the baseline commit's, same samples."""
    tasks = list(DISTRIBUTION_TASKS) if args.tasks == "all" else args.tasks.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.baseline], check=True,
                       capture_output=True)  # fmt: skip
        try:
            records = []
            for task in tasks:
                for seed in seeds:
                    x, y = DISTRIBUTION_TASKS[task].sample(args.n, seed=seed)
                    np.savez(Path(tmp) / "data.npz", x=x, y=y)
                    done = subprocess.run([sys.executable, "-c", BASELINE_RUNNER, str(tree), str(Path(tmp) / "data.npz"),
                                           str(seed)], check=True, capture_output=True, text=True)  # fmt: skip
                    baseline = json.loads(done.stdout.strip().splitlines()[-1])
                    start = time.perf_counter()
                    ours = estimate_mi(x, y, seed=seed)
                    records.append({"task": task, "seed": seed, "baseline_seconds": baseline["seconds"],
                                    "baseline_mi": baseline["mi"], "seconds": time.perf_counter() - start,
                                    "mi": ours.mi_nats, "timings": ours.timings})  # fmt: skip
                    print(f"{task} seed {seed}: baseline {baseline['seconds']:.1f} s, this tree {records[-1]['seconds']:.1f} s",
                          flush=True)  # fmt: skip
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    base = float(np.median([r["baseline_seconds"] for r in records]))
    ours = float(np.median([r["seconds"] for r in records]))
    where = {k: float(np.median([r["timings"][k] for r in records])) for k in records[0]["timings"]}
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    edited = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--", "dim"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    tree = head.stdout.strip() + (" with uncommitted changes to dim/" if edited else "")
    summary = (f"median seconds per estimate over {len(records)} estimates: baseline {args.baseline} {base:.1f} s, "
               f"this tree ({tree}) {ours:.1f} s, ratio {base / ours:.2f}x\n"
               "this tree's median split: " + ", ".join(f"{k} {v:.2f} s" for k, v in where.items()))  # fmt: skip
    table = before_after(records, args.baseline)
    print(summary + "\n\n" + table)
    write_results(Path(args.out).with_name(Path(args.out).name + "_time"),
                  {"baseline": args.baseline, "records": records, "time_split": where},
                  f"`{' '.join(['python scripts/bench/bench_distributions.py', *sys.argv[1:]])}`\n\n{summary}\n\n{table}")  # fmt: skip


def before_after(records: list[dict], baseline: str) -> str:
    """Per task: the truth, the mean reading of the baseline and of this tree over the seeds
    (same samples), the change, whether each is within the target max(10%, 0.05 nats), and the
    median seconds of each."""
    rows = []
    for task in dict.fromkeys(r["task"] for r in records):
        mine = [r for r in records if r["task"] == task]
        truth = DISTRIBUTION_TASKS[task].mi_nats
        before, after = (float(np.mean([r[key] for r in mine])) for key in ("baseline_mi", "mi"))
        within = [("yes" if abs(v - truth) <= max(0.1 * truth, 0.05) else "no") for v in (before, after)]
        rows.append([task, f"{truth:.3f}", f"{before:.3f}", f"{after:.3f}", f"{after - before:+.3f}",
                     f"{within[0]} / {within[1]}",
                     f"{np.median([r['baseline_seconds'] for r in mine]):.1f}",
                     f"{np.median([r['seconds'] for r in mine]):.1f}"])  # fmt: skip
    return markdown_table(["task", "truth", f"{baseline} mean", "this tree mean", "change", "within target",
                           f"{baseline} s", "this tree s"], rows)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="all")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--methods", default="smile:standardize,smile:rank,dv:rank")
    parser.add_argument("--ksg", action="store_true")
    parser.add_argument("--bmi-python", default=None)
    parser.add_argument("--bmi-methods", default="mine,infonce", help="bmi estimators to run (mine, infonce, nwj, dv)")
    parser.add_argument("--mist-python", default=None, help="python of a venv with torch-mist 0.2.17")
    parser.add_argument("--mist-methods", default="smile,mine", help="torch-mist estimators to run (smile, mine)")
    parser.add_argument("--dmi-python", default=None, help="python of a venv with diffusion-mi 0.1.0 (MINDE, MMG)")
    parser.add_argument("--dmi-methods", default="minde,mmg")
    parser.add_argument("--dmi-epochs", type=int, default=1000, help="their training length (their default: 1000)")
    parser.add_argument("--latentmi-python", default=None, help="python of a venv with latentmi 0.1.3")
    parser.add_argument("--jobs", type=int, default=2, help="dim estimates run at once, in separate processes")
    parser.add_argument("--time", action="store_true", help="time this tree against --baseline instead")
    parser.add_argument("--baseline", default="fe24eb0", help="the commit to time against")
    parser.add_argument("--merge", default=None,
                        help="earlier runs' JSON files (comma-separated) whose other estimates join the table")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_distributions"))
    parser.add_argument("--report-only", action="store_true",
                        help="re-summarise <out>.json's runs into <out>.{json,md,png}, run nothing")  # fmt: skip
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads(Path(args.out).with_suffix(".json").read_text())
        runs = saved["runs"]
        report(saved, list(dict.fromkeys(r["task"] for r in runs)), list(dict.fromkeys(r["method"] for r in runs)),
               args.out)  # fmt: skip
    elif args.time:
        timing(args)
    else:
        accuracy(args)


if __name__ == "__main__":
    main()
