"""Where one training step of ``estimate_mi``'s default critic goes, and what each of its fast forms saves.

    python scripts/bench/bench_critic_step.py [--dims 5,25] [--steps 300] [--repeats 5]

On one intra-op thread (``estimate_mi``'s default on the CPU), the default critic (separable,
two 128-unit ELU layers per side, 64-wide embeddings, InfoNCE, Adam, batch 256) trained on
correlated Gaussians, median over ``repeats`` timings:

* the parts, forward and backward on the shapes of that step: ELU on (256, 128) (``nn.ELU``
  against :class:`dim.critics.ELU`), logsumexp over the rows of a trained critic's (256, 256)
  scores (``torch.logsumexp`` against :func:`dim.bounds.logsumexp`);
* the whole step in milliseconds with torch's forms (``nn.ELU``, ``torch.logsumexp``, Adam
  updating parameter by parameter) and with ``dim``'s (its ELU, its logsumexp,
  :func:`dim.runtime.adam`), each change added in turn.

Writes results/bench_critic_step.{json,md}.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from dim import bounds
from dim.critics import ELU, make_critic
from dim.report import markdown_table, write_results
from dim.runtime import adam

ROOT = Path(__file__).resolve().parents[2]
BATCH = 256


def median_us(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """Median over ``repeats`` of the mean microseconds per call of ``fn`` over ``calls`` calls."""
    for _ in range(20):
        fn()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        timings.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(timings)


def forward_backward(fn: Callable[[torch.Tensor], torch.Tensor], values: torch.Tensor) -> Callable[[], None]:
    values = values.detach().requires_grad_()
    return lambda: fn(values).sum().backward()


def torch_infonce(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE with ``torch.logsumexp``: the same formula as :func:`dim.bounds.infonce_bound`."""
    return (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean() + math.log(scores.shape[1])


def trained_critic(dim: int, steps: int, elu: type[nn.Module] = ELU) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The default critic with activation ``elu``, trained ``steps`` steps on one batch of
    correlated Gaussians (x, y), so that its scores have a trained critic's spread."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, dim, generator=generator)
    y = x + 0.5 * torch.randn(BATCH, dim, generator=generator)
    torch.manual_seed(0)
    critic = make_critic(x, y, "separable", hidden=128, embedding_dim=64)
    for module in critic.modules():  # swap the activation in place: same weights, other ELU form
        for name, child in module.named_children():
            if isinstance(child, (nn.ELU, ELU)):
                setattr(module, name, elu())
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)
    for _ in range(steps):
        loss = -bounds.infonce_bound(critic(x, y))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return critic, x, y


def step_ms(dim: int, variant: dict, steps: int, repeats: int) -> float:
    """Milliseconds per training step of the default critic in ``variant``'s forms."""
    critic, x, y = trained_critic(dim, 200, ELU if variant["elu"] else nn.ELU)
    bound = bounds.infonce_bound if variant["logsumexp"] else torch_infonce
    optimizer = (adam(critic.parameters(), torch.device("cpu"), lr=1e-3) if variant["adam"]
                 else torch.optim.Adam(critic.parameters(), lr=1e-3))  # fmt: skip

    def step() -> None:
        loss = -bound(critic(x, y))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return median_us(step, steps, repeats) / 1e3


VARIANTS = {
    "torch's forms (nn.ELU, torch.logsumexp, Adam)": {"elu": False, "logsumexp": False, "adam": False},
    "+ dim's ELU": {"elu": True, "logsumexp": False, "adam": False},
    "+ dim's logsumexp": {"elu": True, "logsumexp": True, "adam": False},
    "+ fused Adam (dim's forms: the default)": {"elu": True, "logsumexp": True, "adam": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", default="5,25")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_critic_step"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    dims = [int(d) for d in args.dims.split(",")]

    critic, x, y = trained_critic(dims[0], 500)
    with torch.no_grad():
        scores = critic(x, y)
    hidden = torch.randn(BATCH, 128, generator=torch.Generator().manual_seed(1))
    parts = {
        "ELU, (256, 128)": (median_us(forward_backward(nn.ELU(), hidden), 1000, args.repeats),
                            median_us(forward_backward(ELU(), hidden), 1000, args.repeats)),
        "logsumexp over rows, trained (256, 256) scores": (
            median_us(forward_backward(lambda s: torch.logsumexp(s, 1), scores), 300, args.repeats),
            median_us(forward_backward(lambda s: bounds.logsumexp(s, 1), scores), 300, args.repeats)),
    }  # fmt: skip
    steps = {name: [step_ms(dim, variant, args.steps, args.repeats) for dim in dims] for name, variant in VARIANTS.items()}
    for name, ms in steps.items():
        print(name, [f"{v:.2f}" for v in ms], flush=True)

    first = next(iter(steps.values()))
    table = "\n\n".join([
        markdown_table(["part (forward and backward)", "torch (us)", "dim (us)", "torch / dim"],
                       [[name, f"{a:.0f}", f"{b:.0f}", f"{a / b:.1f}x"] for name, (a, b) in parts.items()]),
        markdown_table(["training step", *(f"{d}-D (ms)" for d in dims), *(f"{d}-D speed-up" for d in dims)],
                       [[name, *(f"{v:.2f}" for v in ms), *(f"{f / v:.2f}x" for f, v in zip(first, ms))]
                        for name, ms in steps.items()]),
    ])  # fmt: skip
    options = [("dims", args.dims), ("steps", args.steps), ("repeats", args.repeats)]
    out = Path(args.out).resolve()
    if args.out != parser.get_default("out"):
        options.append(("out", out.relative_to(ROOT) if out.is_relative_to(ROOT) else args.out))
    command = "python scripts/bench/bench_critic_step.py " + " ".join(f"--{k} {v}" for k, v in options)
    scores_range = [float(scores.min()), float(scores.max())]
    cpu = torch.backends.cpu.get_cpu_capability()
    write_results(args.out, {"command": command, "threads": 1, "batch": BATCH, "torch": torch.__version__,
                             "cpu": cpu, "trained_scores_range": scores_range,
                             "parts_us": parts, "step_ms": steps, "dims": dims},
                  f"`{command}` (one thread, medians of {args.repeats} timings; torch {torch.__version__}, "
                  f"{cpu} kernels)\n\n{table}")  # fmt: skip
    print(table)


if __name__ == "__main__":
    main()
