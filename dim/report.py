"""Plain-text tables of results."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dim.bounds import NATS_PER_BIT
from dim.estimation import MIResult
from dim.estimation.result import estimate_note, estimator_label, floored_note
from dim.sandwich import MIBounds

__all__ = ["bounds_table", "default_and_ksg", "markdown_table", "mi_table", "plural", "save_figure", "write_results"]


def plural(n: int, word: str) -> str:
    """"1 row", "2 rows"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _interval(interval) -> str:
    return f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def mi_table(results: Sequence[MIResult], labels: Sequence[str] | None = None) -> str:
    """One row per result, then one note line per result that needs one.

    Columns: estimate in nats and bits, whether it is a lower bound ("bound") or an estimate
    that can exceed the truth ("estimate"), its 95% interval, the uncalibrated held-out
    reading with its interval ("raw"), the training-rows reading, the ceiling and the time.
    Notes: a floored estimate's upper limit, and the true lower bound read beside SMILE.
    """
    header = ["", "estimator", "nats", "bits", "kind", "95% CI (nats)", "raw nats", "raw 95% CI", "train",
              "ceiling", "seconds"]  # fmt: skip
    rows, notes = [header], []
    for i, r in enumerate(results):
        label = labels[i] if labels else ""
        rows.append([
            label,
            estimator_label(r),
            f"{r.mi_nats:.3f}",
            f"{r.mi_bits:.3f}",
            "bound" if r.is_lower_bound else "estimate",
            _interval(r.ci_nats),
            f"{r.raw_mi_nats:.3f}",
            _interval(r.raw_ci_nats),
            f"{r.train_mi_nats:.3f}",
            "-" if r.ceiling_nats is None else f"{r.ceiling_nats:.3f}",
            f"{r.seconds:.1f}",
        ])  # fmt: skip
        prefix = f"{label}: " if label else ""
        if r.floored:
            notes.append(f"{prefix}floored at 0: {floored_note(r)}")
        if not r.is_lower_bound:
            notes.append(f"{prefix}{r.mi_nats:.3f} nats: {estimate_note(r)}")
    if not labels:
        rows = [row[1:] for row in rows]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + notes)


def bounds_table(result: MIBounds) -> str:
    """The sandwich of :func:`dim.sandwich.estimate_mi_bounds`: one row per bound (kind, nats,
    bits, 95% interval), then the chosen lower and upper bounds and any warnings."""
    rows = [["bound", "kind", "nats", "bits", "95% CI (nats)"]]
    for name, bound in result.bounds.items():
        rows.append([name, bound["kind"], f"{bound['nats']:.3f}", f"{bound['nats'] / NATS_PER_BIT:.3f}",
                     _interval(bound["ci_nats"])])  # fmt: skip
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(
        f"{result.lower_nats:.3f} <= I(X; Z) <= {result.upper_nats:.3f} nats "
        f"({result.lower_bits:.3f} to {result.upper_bits:.3f} bits; {result.lower_bound} and {result.upper_bound}, "
        f"K = {result.block_size}, {plural(result.rows, 'row')}, {result.seconds:.1f} s)"
    )
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

    from dim.io import atomic_path

    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return Path(path)


def write_results(out: str | Path, payload: dict, markdown: str) -> None:
    """``<out>.json`` (the payload) and ``<out>.md`` (a Markdown table), each written atomically."""
    from dim.io import write_json_atomic, write_text_atomic

    out = Path(out)
    write_json_atomic(out.with_suffix(".json"), payload)
    write_text_atomic(out.with_suffix(".md"), markdown.rstrip("\n") + "\n")


def default_and_ksg(x, y, seed: int = 0, k: int = 3) -> dict:
    """dim's estimate with ``estimate_mi``'s defaults and KSG on the same pairs:
    {"estimate", "ci", "ksg", "seconds"} (nats; seconds: dim's)."""
    from dim.estimation import estimate_mi
    from dim.ksg import ksg_mi

    result = estimate_mi(x, y, seed=seed)
    return {"estimate": result.mi_nats, "ci": list(result.ci_nats), "ksg": ksg_mi(x, y, k=k),
            "seconds": result.seconds}  # fmt: skip
