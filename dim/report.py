"""Plain-text tables of results."""

from __future__ import annotations

from typing import Sequence

from dim.mi import MIResult

__all__ = ["mi_table"]


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
