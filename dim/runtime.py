"""Where and how computations run: the device, mixed precision, the process group, and the
files torch would leave behind. The ground floor of ``dim``: it imports nothing else of it."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["autocast", "critic_threads", "gather_across_ranks", "init_distributed", "interactive",
           "keep_torch_cache_out_of_tmp", "resolve_device", "thread_limit"]


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device``, or CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def autocast(device: torch.device, enabled: bool):
    """bf16/fp16 autocast for critic forwards on CUDA; the bounds always run in float32."""
    if not enabled or device.type != "cuda":
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def keep_torch_cache_out_of_tmp() -> None:
    """Default ``TORCHINDUCTOR_CACHE_DIR`` to ``$XDG_CACHE_HOME/torch/inductor`` (``~/.cache``).

    Importing ``torch._dynamo`` (which every ``torch.optim`` optimizer does) creates torch's
    compiler cache folder, by default ``torchinductor_<user>`` in the system temp directory,
    where it would be left behind empty. A value the user set is kept.
    """
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(cache_home) / "torch" / "inductor"))


def init_distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when launched by torchrun (WORLD_SIZE > 1):
    NCCL on CUDA, gloo on CPU."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


class _GatherWithGradient(torch.autograd.Function):
    """all_gather along dim 0 whose backward sums every rank's gradient for the local slice
    (all_reduce of the contiguous gradient, then this rank's rows)."""

    @staticmethod
    def forward(ctx, values: Tensor) -> Tensor:
        import torch.distributed as dist

        ctx.rank, ctx.rows = dist.get_rank(), values.shape[0]
        parts = [torch.empty_like(values) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, values.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        import torch.distributed as dist

        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def gather_across_ranks(values: Tensor) -> Tensor:
    """Concatenate ``values`` (B, ...) from every rank along dim 0, keeping gradients, so
    that in-batch negatives span the whole world and the effective batch is B x world size.
    Identity without a process group. Every rank must pass the same B."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    return _GatherWithGradient.apply(values)


def interactive(progress: bool) -> bool:
    """Whether to draw a progress bar: asked for, and stderr is a terminal (into a log file a bar
    writes a carriage return per update, kilobytes of them, and shows nothing)."""
    return bool(progress) and sys.stderr.isatty()


@contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to ``threads`` inside the block (None: left as it is), and
    the caller's own setting restored when the block ends, also on an error."""
    saved = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != saved:
            torch.set_num_threads(saved)


def critic_threads(device: torch.device, requested: int | None = None) -> int | None:
    """Intra-op threads for fitting a small critic: ``requested`` when given; on the CPU one
    thread; on CUDA None (the host's setting is left alone).

    A critic of a few 128-unit layers at batches of 256 rows is thousands of tiny operations a
    second. Split over several threads, each operation waits for the slowest of them, and on a
    machine where another process holds a core that thread is often descheduled: the fit then
    takes many times longer, while one thread runs at its own pace whatever else runs
    (``scripts/bench/bench_load.py`` measures both).
    """
    if requested is not None:
        return requested
    return 1 if device.type == "cpu" else None
