"""Where and how computations run: the device, mixed precision, the process group, and the
files torch would leave behind. The ground floor of ``dim``: it imports nothing else of it."""

from __future__ import annotations

import copy
import os
import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["CoreShare", "WeightAverage", "adam", "autocast", "busy_cores_elsewhere", "critic_threads", "follow_cores",
           "gather_across_ranks", "init_distributed", "interactive", "keep_torch_cache_out_of_tmp", "resolve_device",
           "shared_cores", "thread_limit"]


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


def adam(params, device: torch.device, **options) -> torch.optim.Adam:
    """``torch.optim.Adam(params, **options)``, fused (one kernel for every parameter's update)
    where this torch supports it on ``device`` (``scripts/bench/bench_critic_step.py`` times a
    critic step with and without it). Falls back to the per-parameter update elsewhere (fused
    CPU Adam needs torch 2.4)."""
    params = list(params)
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.Adam(params, fused=True, **options)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.Adam(params, **options)


class WeightAverage:
    """A copy of ``model`` (``.module``) whose weights and buffers :meth:`update` keeps at the
    bias-corrected exponential moving average of ``model``'s over the updates so far:

        w_avg(t) = sum_k d^(t-k) (1 - d) w(k) / (1 - d^t),    t = 1, 2, ...

    a weighted mean of the last ~1 / (1 - d) updates in which the initial weights take no part,
    so it is meaningful from the first update (Adam's correction of its moment averages). In
    recursive form, update t mixes in w(t) with weight (1 - d) / (1 - d^t); the first copies it.
    Integer buffers (a BatchNorm's count) are copied. The same average as
    ``torch.optim.swa_utils.AveragedModel`` with a bias-corrected EMA, in one fused ``lerp`` an
    update: AveragedModel's per-call bookkeeping costs about 0.4 ms an update on the default
    critic, a tenth of its training step."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(model)
        self.decay = decay
        self.updates = 0
        self._kept, self._now, self._copied = [], [], []  # averaged float tensors; copied integer ones
        for kept, now in zip(self.module.state_dict(keep_vars=True).values(), model.state_dict(keep_vars=True).values()):
            if kept.is_floating_point():
                self._kept.append(kept.detach())
                self._now.append(now.detach())
            else:
                self._copied.append((kept.detach(), now.detach()))

    @torch.no_grad()
    def update(self) -> None:
        """Mix the model's current weights into the average."""
        self.updates += 1
        if self._kept:
            torch._foreach_lerp_(self._kept, self._now, (1.0 - self.decay) / (1.0 - self.decay**self.updates))
        for kept, now in self._copied:
            kept.copy_(now)


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


def _our_cpus() -> list[int]:
    """The CPUs this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def _busy_seconds(cpus: list[int]) -> float | None:
    """Seconds the given CPUs spent busy since boot, all processes together (``/proc/stat``:
    everything but idle and iowait); None where the file does not exist (not Linux)."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    wanted, busy = {f"cpu{c}" for c in cpus}, 0
    for line in lines:
        name, *fields = line.split()
        if name in wanted:
            user, nice, system, idle, iowait, *rest = (int(v) for v in fields)
            busy += user + nice + system + sum(rest[:3])  # irq, softirq, steal
    return busy / os.sysconf("SC_CLK_TCK")


def busy_cores_elsewhere(cpus: list[int] | None = None, window: float = 0.25) -> float | None:
    """How many of our CPUs other processes keep busy, over ``window`` seconds (this process's
    own CPU time subtracted); None where ``/proc/stat`` is missing."""
    cpus = cpus or _our_cpus()
    busy, own, wall = _busy_seconds(cpus), _own_seconds(), time.perf_counter()
    if busy is None:
        return None
    time.sleep(window)
    return max(0.0, (_busy_seconds(cpus) - busy - (_own_seconds() - own)) / (time.perf_counter() - wall))


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


class CoreShare:
    """torch's intra-op threads kept at the cores other processes leave free, between 1 and ``limit``.

    Convolutions and large matrix products run faster on every core of an idle machine (one
    epoch of the default Deep InfoMax run: 7.4 s on 2 threads, 11.7 s on 1), but when another
    process holds a core, each parallel operation waits for its descheduled thread (22.6 s on 2
    threads beside one busy core, against 11.8 s on 1; ``scripts/bench/bench_load.py``). So the
    share is read from the CPUs' busy time: over ``first_look`` seconds as it is made, then at
    most every ``interval`` seconds (:meth:`update`, called once a step: it costs two small file
    reads), and the threads follow: all of them alone, one fewer per core that others keep busy.
    Where ``/proc/stat`` does not exist (not Linux) the threads stay at ``limit``. Use inside
    :func:`thread_limit`, which restores the caller's setting.
    """

    def __init__(self, limit: int | None = None, interval: float = 2.0, first_look: float = 0.25) -> None:
        self.cpus = _our_cpus()
        self.limit = min(limit or torch.get_num_threads(), len(self.cpus))
        self.interval = interval
        # the first share is read over ``first_look`` seconds, before any work starts: a first
        # step on every core beside a busy one can take minutes
        elsewhere = busy_cores_elsewhere(self.cpus, first_look) if first_look > 0 else None
        self.threads = self.limit if elsewhere is None else self._fit(elsewhere)
        self._mark = (_busy_seconds(self.cpus), _own_seconds(), time.perf_counter())
        torch.set_num_threads(self.threads)

    def _fit(self, elsewhere: float) -> int:
        """Threads for ``elsewhere`` cores kept busy by others: the rest, between 1 and ``limit``."""
        return max(1, min(self.limit, round(len(self.cpus) - elsewhere)))

    def update(self) -> int:
        """Re-read the share when ``interval`` has passed; returns the threads in use."""
        busy, own, wall = self._mark
        now = time.perf_counter()
        if busy is None or now - wall < self.interval:
            return self.threads
        busy_now, own_now = _busy_seconds(self.cpus), _own_seconds()
        elsewhere = max(0.0, (busy_now - busy - (own_now - own)) / (now - wall))
        self._mark = (busy_now, own_now, now)
        threads = self._fit(elsewhere)
        if threads != self.threads:
            self.threads = threads
            torch.set_num_threads(threads)
        return threads


# the CoreShare of the innermost shared_cores block, for loops that do not hold it (follow_cores)
_ACTIVE_SHARE: ContextVar[CoreShare | None] = ContextVar("active_core_share", default=None)


def follow_cores() -> None:
    """Re-read the share of the enclosing :func:`shared_cores` block, if any (a no-op outside one,
    or under a fixed ``threads``). Long loops call it once a step: it reads a clock and, every
    ``interval`` seconds, two small files."""
    share = _ACTIVE_SHARE.get()
    if share is not None:
        share.update()


@contextmanager
def shared_cores(device: torch.device, threads: int | None = None) -> Iterator[CoreShare | None]:
    """The thread policy of the trainers and probes: ``threads`` fixed when given; on the CPU a
    :class:`CoreShare` (call its ``update``, or :func:`follow_cores` where the share is out of
    reach, once a step); on CUDA nothing changes (None). The caller's thread setting is restored
    when the block ends."""
    with thread_limit(threads):
        share = CoreShare() if threads is None and device.type == "cpu" else None
        token = _ACTIVE_SHARE.set(share)
        try:
            yield share
        finally:
            _ACTIVE_SHARE.reset(token)
