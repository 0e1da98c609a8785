"""Can ``seeds=r`` train its r critics as one batched model faster than r separate fits?

    python scripts/bench/bench_batched_seeds.py [--replicas 3] [--steps 300] [--dims 5,25] [--repeats 3]
    python scripts/bench/bench_batched_seeds.py --estimates [--replicas 3] [--repeats 3]

For the default critic of ``estimate_mi`` (separable, two 128-unit hidden layers, 64-wide
embeddings, InfoNCE, Adam, batch 256) on one intra-op thread, the milliseconds per training step of

* one critic (what one seed costs),
* r critics one after another (what ``seeds=r`` does),
* r critics stacked with ``torch.func`` (``stack_module_state`` + ``vmap`` over
  ``functional_call``: one forward and one backward for all replicas, one Adam over the stacked
  weights),
* r critics as grouped matrix products (the weights of each layer stacked into (r, in, out)
  tensors and applied with ``torch.baddbmm``: the cheapest batched form a hand-written module has),

median over ``repeats`` timings of ``steps`` steps each. Writes results/bench_batched_seeds.{json,md}.

With ``--estimates``, whole estimates instead: ``estimate_mi`` with its defaults at 10,000 rows
on a 5-D and a 25-D task of ``dim.tasks.DISTRIBUTION_TASKS``, r seeds (the r runs of ``seeds=r``)

* one after another (what ``seeds=r`` does),
* side by side in two threads of this process (torch releases the GIL inside its operations),
* side by side in two spawned processes (``dim.jobs.parallel_map``; their start-up counted),

against one seed, median of ``repeats`` timings each, with the largest difference of a run's
reading from the same run one after another. Writes results/bench_seeds_side_by_side.{json,md}.
Run it with nothing else running.
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from dim import bounds
from dim.critics import make_critic
from dim.report import markdown_table, write_results

ROOT = Path(__file__).resolve().parents[2]
BATCH = 256


def _batches(dim: int, steps: int, replicas: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, replicas, BATCH, dim, generator=g)
    return x, x + 0.5 * torch.randn(steps, replicas, BATCH, dim, generator=g)


def _critic(dim: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return make_critic(torch.randn(4, dim), torch.randn(4, dim), "separable", hidden=128, embedding_dim=64)


def time_separate(dim: int, steps: int, replicas: int) -> float:
    xs, ys = _batches(dim, steps, replicas)
    start = time.perf_counter()
    for r in range(replicas):
        critic = _critic(dim, r)
        optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)
        for t in range(steps):
            loss = -bounds.infonce_bound(critic(xs[t, r], ys[t, r]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return (time.perf_counter() - start) / steps * 1e3


def stacked_objective(critics: list[nn.Module]):
    """(objective, params, buffers): ``objective(params, buffers, x, y)`` maps x, y (r, B, d) to the
    r critics' InfoNCE values (r,) in one vmapped call over their stacked weights ``params``."""
    params, buffers = stack_module_state(critics)
    params = {k: v.detach().requires_grad_() for k, v in params.items()}
    base = copy.deepcopy(critics[0]).to("meta")

    def one(p, b, x, y):
        return bounds.infonce_bound(functional_call(base, (p, b), (x, y)))

    return vmap(one), params, buffers


def time_vmap(dim: int, steps: int, replicas: int) -> float:
    xs, ys = _batches(dim, steps, replicas)
    batched, params, buffers = stacked_objective([_critic(dim, r) for r in range(replicas)])
    optimizer = torch.optim.Adam(params.values(), lr=1e-3)
    start = time.perf_counter()
    for t in range(steps):
        loss = -batched(params, buffers, xs[t], ys[t]).sum()  # replicas are independent: sum of losses
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps * 1e3


class GroupedMLP(nn.Module):
    """r independent MLPs (in -> 128 -> 128 -> 64, ELU), each layer one baddbmm over (r, in, out) weights."""

    def __init__(self, replicas: int, sizes: list[int]) -> None:
        super().__init__()
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(replicas, a, b) / math.sqrt(a)) for a, b in zip(sizes, sizes[1:]))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(replicas, 1, b)) for b in sizes[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (r, B, in) -> (r, B, out)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < len(self.weights) - 1:
                x = nn.functional.elu(x)
        return x


def time_grouped(dim: int, steps: int, replicas: int) -> float:
    xs, ys = _batches(dim, steps, replicas)
    torch.manual_seed(0)
    f, g = GroupedMLP(replicas, [dim, 128, 128, 64]), GroupedMLP(replicas, [dim, 128, 128, 64])
    optimizer = torch.optim.Adam([*f.parameters(), *g.parameters()], lr=1e-3)
    start = time.perf_counter()
    for t in range(steps):
        scores = f(xs[t]) @ g(ys[t]).transpose(1, 2) / 8.0  # (r, B, B)
        loss = -sum(bounds.infonce_bound(s) for s in scores)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps * 1e3


ESTIMATE_TASKS = ("multinormal-dense-5x5", "multinormal-dense-25x25")


def one_estimate(x, y, seed: int) -> float:
    """The run of ``seeds=r`` with this seed: ``estimate_mi``'s defaults, one thread."""
    from dim import estimate_mi

    return estimate_mi(x, y, seed=seed).mi_nats


def time_estimates(replicas: int, repeats: int, out: str) -> None:
    """Whole estimates of ``replicas`` seeds: one after another, in threads, in processes."""
    from concurrent.futures import ThreadPoolExecutor

    from dim.jobs import parallel_map
    from dim.tasks import DISTRIBUTION_TASKS

    rows = []
    for name in ESTIMATE_TASKS:
        x, y = DISTRIBUTION_TASKS[name].sample(10_000, seed=0)
        seeds = list(range(replicas))

        def in_threads() -> list[float]:
            with ThreadPoolExecutor(2, initializer=torch.set_num_threads, initargs=(1,)) as pool:
                return list(pool.map(lambda seed: one_estimate(x, y, seed), seeds))

        ways = {"one_seed": lambda: [one_estimate(x, y, 0)],
                "one_after_another": lambda: [one_estimate(x, y, seed) for seed in seeds],
                "two_threads": in_threads,
                "two_processes": lambda: parallel_map(one_estimate, [(x, y, seed) for seed in seeds], jobs=2)}
        one_estimate(x[:2_000], y[:2_000], 0)  # warm-up
        row = {"task": name}
        for way, fn in ways.items():
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                readings = fn()
                times.append(time.perf_counter() - start)
            row[f"{way}_s"] = statistics.median(times)
            row[f"{way}_mi_nats"] = readings
        serial = row["one_after_another_mi_nats"]
        for way in ("two_threads", "two_processes"):
            row[f"{way}_max_difference_nats"] = max(abs(a - b) for a, b in zip(row[f"{way}_mi_nats"], serial))
        rows.append(row)
        print(row, flush=True)
    r = replicas
    table = markdown_table(
        ["task", "1 seed (s)", f"{r} one after another", f"{r} in 2 threads", f"{r} in 2 processes",
         "best / 1 seed", "one after another / 1 seed", "largest change of a reading (nats)"],
        [[row["task"], f"{row['one_seed_s']:.2f}", f"{row['one_after_another_s']:.2f}", f"{row['two_threads_s']:.2f}",
          f"{row['two_processes_s']:.2f}",
          f"{min(row['two_threads_s'], row['two_processes_s']) / row['one_seed_s']:.2f}x",
          f"{row['one_after_another_s'] / row['one_seed_s']:.2f}x",
          f"{max(row['two_threads_max_difference_nats'], row['two_processes_max_difference_nats']):.4f}"]
         for row in rows],
    )  # fmt: skip
    write_results(out, {"rows": 10_000, "replicas": replicas, "repeats": repeats, "tasks": rows}, table)
    print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--dims", default="5,25")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--estimates", action="store_true", help="time whole estimates: seeds in threads, processes")
    parser.add_argument("--out", default=None, help="results path without suffix")
    args = parser.parse_args()
    if args.estimates:
        time_estimates(args.replicas, args.repeats, args.out or str(ROOT / "results" / "bench_seeds_side_by_side"))
        return
    args.out = args.out or str(ROOT / "results" / "bench_batched_seeds")
    torch.set_num_threads(1)
    rows = []
    for dim in (int(d) for d in args.dims.split(",")):
        def median(fn, replicas: int) -> float:
            fn(dim, 20, replicas)  # warm-up
            return statistics.median(fn(dim, args.steps, replicas) for _ in range(args.repeats))

        one = median(time_separate, 1)
        separate = median(time_separate, args.replicas)
        stacked = median(time_vmap, args.replicas)
        grouped = median(time_grouped, args.replicas)
        rows.append({"dim": dim, "replicas": args.replicas, "one_ms": one, "separate_ms": separate,
                     "vmap_ms": stacked, "grouped_ms": grouped})  # fmt: skip
        print(rows[-1], flush=True)
    r = args.replicas
    table = markdown_table(
        ["task", "1 critic (ms/step)", f"{r} one after another", f"{r} stacked (vmap)", f"{r} grouped (baddbmm)",
         f"best batched / {r} separate", f"best batched / 1 critic"],
        [[f"{row['dim']}-D", f"{row['one_ms']:.2f}", f"{row['separate_ms']:.2f}", f"{row['vmap_ms']:.2f}",
          f"{row['grouped_ms']:.2f}", f"{min(row['vmap_ms'], row['grouped_ms']) / row['separate_ms']:.2f}x",
          f"{min(row['vmap_ms'], row['grouped_ms']) / row['one_ms']:.2f}x"] for row in rows],
    )  # fmt: skip
    write_results(args.out, {"batch": BATCH, "steps": args.steps, "repeats": args.repeats, "threads": 1, "rows": rows},
                  table)  # fmt: skip
    print(table)


if __name__ == "__main__":
    main()
