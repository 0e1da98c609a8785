"""Repeated work: items mapped over worker processes, and the median time of a call.

For benchmarks and reproductions, which run many small, independent fits: several processes of
a few threads each use the cores better than one process with many threads.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

__all__ = ["median_ms", "parallel_map"]


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` calls, after ``warmup``
    untimed calls (benchmark scripts quote medians measured in one run, never single times)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def _with_threads(fn: Callable, threads: int, item):
    import torch

    torch.set_num_threads(threads)
    return fn(*item)


def parallel_map(fn: Callable, items: Sequence[tuple], jobs: int = 1) -> list:
    """[fn(*item) for item in items], in ``jobs`` spawned processes of cpu_count // jobs threads
    each when jobs > 1 (small networks scale better over processes than over threads).
    ``fn`` must be importable (a module-level function). Results keep the order of ``items``."""
    if jobs <= 1:
        return [fn(*item) for item in items]
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(partial(_with_threads, fn, threads), items))
