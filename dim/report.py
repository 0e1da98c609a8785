"""Plain-text tables of results."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Sequence

from dim.mi import MIResult

__all__ = ["mi_table", "markdown_table", "save_figure", "median_ms"]


def mi_table(results: Sequence[MIResult], labels: Sequence[str] | None = None) -> str:
    """One row per result: estimate in nats and bits, 95% interval, train vs held-out, ceiling, time."""
    header = ["", "estimator", "nats", "bits", "95% CI (nats)", "train", "held-out", "ceiling", "seconds"]
    rows = [header]
    for i, r in enumerate(results):
        rows.append([
            labels[i] if labels else "",
            f"{r.estimator}->{r.readout}",
            f"{r.mi_nats:.3f}",
            f"{r.mi_bits:.3f}",
            f"[{r.ci_nats[0]:.3f}, {r.ci_nats[1]:.3f}]",
            f"{r.train_mi_nats:.3f}",
            f"{r.mi_nats:.3f}",
            "-" if r.ceiling_nats is None else f"{r.ceiling_nats:.3f}",
            f"{r.seconds:.1f}",
        ])  # fmt: skip
    if not labels:
        rows = [row[1:] for row in rows]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; floats are shown with three decimals."""

    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def save_figure(figure, path: str | Path) -> Path:
    """Save a matplotlib figure to PNG atomically (temp file, then rename) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    figure.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(figure)
    os.replace(tmp, path)
    return path


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
