"""Re-run the commands behind the documented figures and compare each figure with the text.

    python scripts/verify_readme.py [--only setup,probe,quality] [--out-dir DIR] [--dry-run]

The documents are README.md and every docs/*.md. Not run in CI: on 2 CPU cores the set-up
training takes about 2 minutes, the probe about 2.5 and the quality table about 6 (six
trainings, two at a time).

Markers. A document ties each checked figure to its command with an invisible HTML comment
written right after the number, with no space, so that the visible text does not change::

    the online probe read 85.3%<!-- verify: setup.online probe ±0.02 -->)
    | 0.967 ± 0.001<!-- verify: quality.DIM(L) conv --> |

``GROUP.NAME`` names the figure: GROUP is the command that measures it (``setup``, ``probe``,
``quality``) and NAME what that command's output calls it (see "Measured values"). The
documented value is the number right before the marker, as a reader sees it ("85.3%" reads as
0.853, "0.967 ± 0.001" as mean 0.967 and std 0.001 over seeds): a figure and its marker move
together, from README to a page of docs/ and back, and a marker with no number before it is an
error. One figure may be marked in several places (README's headline and its page); each is
checked.

Spread. A figure stated as mean ± std over seeds passes when the measured mean is within
max(2 std, 0.005) of the documented mean. A single-run figure passes when the measured value is
within the marker's ±T, a fraction like the values (85.3% with ±0.02: 83.3% to 87.3%); a
marker's ±T also overrides the rule for a mean ± std figure. The markers' tolerances for the
single-run figures are judgements from the seed-to-seed spread of the quality table: ±0.01 for
a trained layer's linear probe, ±0.005 for random init and pixels (the same seed gives the same
baseline), ±0.02 for the online probe (a linear layer trained alongside the encoder).

Measured values:
  setup    ``scripts/train.py``: NAME "online probe", the test accuracy in the line it prints
           ("online linear probe on the code: 85.3% test accuracy"; training writes no summary file).
  probe    ``scripts/probe.py``: NAME "ENCODER LAYER" (encoder trained / random / pixels, the
           pixels' layer is "input"), the ``probe.json`` row with protocol linear, metric top1.
  quality  ``scripts/repro/repro_dim_quality.py``: NAME as in the first column of
           results/dim_quality.md ("DIM(L) conv", "random init code", "raw pixels"), the mean of
           that entry's per-seed values in ``scores`` of its JSON.

The commands run as the documents write them, with the same Python and the repository root as
the current folder; only their outputs are redirected into ``--out-dir`` (default
outputs/verify_readme/<date-time>/, which must be new or empty): ``out_dir=`` for training and
the probe (the probe's ``encoder=`` and ``run_dir=`` then point at that training run, and its
feature cache, ``cache_dir=``, starts empty there), ``--out`` for the quality table. The
documents and results/ are never written. The probe reads the set-up run's encoder, so
``--only probe`` runs the set-up training too and reports its figure. Figures depend on the
thread count, printed first. Each command's output is kept in ``<out-dir>/<group>.log``, the
comparison in ``<out-dir>/verify_readme.md``.

Exit code: 0 when every figure is inside its spread; 1 when one is outside, missing or its
command failed; 2 on bad input (a malformed marker, an unknown group, an --out-dir in use).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent

from dim.errors import DimError
from dim.report import markdown_table

README = ROOT / "README.md"
DOCS = ROOT / "docs"  # every docs/*.md is read too
MIN_SPREAD = 0.005  # the narrowest spread a mean ± std figure is given, whatever its std

# The commands as the documents write them (after "python "), by group, in the order they run.
COMMANDS = {
    "setup": "scripts/train.py",
    "probe": "scripts/probe.py encoder=outputs/train/encoder.pt run_dir=outputs/train progress=false",
    "quality": "scripts/repro/repro_dim_quality.py --seeds 0,1,2 --epochs 10 --layers code,fc,conv --jobs 2",
}
NEEDS = {"probe": "setup"}  # the probe reads the set-up run's encoder

_NUMBER = r"(\d+(?:\.\d+)?)"
_PLUS_MINUS = r"(?:±|\+-)"
_MARKER = re.compile(r"<!--\s*verify:(.*?)-->")
_MARKER_BODY = re.compile(rf"\s*(\w+)\.(.+?)(?:\s+{_PLUS_MINUS}\s*{_NUMBER})?\s*")
_FIGURE_BEFORE = re.compile(rf"(?<![\d.]){_NUMBER}(%?)(?:\s*±\s*{_NUMBER})?\**\s*\Z")


@dataclass(frozen=True)
class Figure:
    """One checked figure of a document: ``value`` (a percentage as a fraction), its std over
    seeds when the document states one, the marker's tolerance when it gives one; ``source``
    and ``line`` say where it is written."""

    group: str
    name: str
    value: float
    std: float | None
    tolerance: float | None
    text: str  # as the document writes it: "85.3%", "0.967 ± 0.001"
    line: int
    source: str = "README.md"

    @property
    def key(self) -> str:
        return f"{self.group}.{self.name}"

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def spread(self) -> float:
        """How far the measured value may lie from the documented one: the marker's ±T, else
        max(2 std, 0.005)."""
        return self.tolerance if self.tolerance is not None else max(2 * self.std, MIN_SPREAD)


def parse_figures(text: str, source: str = "README.md") -> list[Figure]:
    """Every ``<!-- verify: GROUP.NAME [±T] -->`` marker of ``text`` with the figure before it."""
    figures = []
    for marker in _MARKER.finditer(text):
        line = text.count("\n", 0, marker.start()) + 1
        where = f"{source}:{line}: marker {marker[0]!r}"
        body = _MARKER_BODY.fullmatch(marker[1])
        if body is None:
            raise DimError(f"{where} is malformed; write <!-- verify: GROUP.NAME --> or "
                           "<!-- verify: GROUP.NAME ±T -->")
        group, name, tolerance = body[1], body[2], body[3]
        if group not in COMMANDS:
            raise DimError(f"{where} names group {group!r}; the groups are {', '.join(COMMANDS)}")
        line_before = text[text.rfind("\n", 0, marker.start()) + 1 : marker.start()]
        figure = _FIGURE_BEFORE.search(line_before)
        if figure is None:
            raise DimError(f"{where} follows no number; write it right after its figure, e.g. 0.927{marker[0]}")
        scale = 0.01 if figure[2] else 1.0  # a percentage
        std = None if figure[3] is None else float(figure[3]) * scale
        if std is None and tolerance is None:
            raise DimError(f"{where} states no spread; write the figure as mean ± std, or give the marker ±T")
        figures.append(Figure(group, name, value=float(figure[1]) * scale, std=std,
                              tolerance=None if tolerance is None else float(tolerance),
                              text=figure[0].strip(" *"), line=line, source=source))  # fmt: skip
    return figures


def documents() -> list[Path]:
    """The documents whose markers are checked: README.md, then docs/*.md by name."""
    return [README, *sorted(DOCS.glob("*.md"))]


def document_figures() -> list[Figure]:
    """Every marked figure of every document, in document order."""
    figures = []
    for path in documents():
        source = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        figures += parse_figures(path.read_text(), source)
    return figures


def verdict(figure: Figure, measured: float | None) -> str:
    """The verdict on a measured value: "OK" when it lies within the figure's spread of the
    documented value, "OUTSIDE" when not, "MISSING" when nothing was measured."""
    if measured is None:
        return "MISSING"
    return "OK" if abs(measured - figure.value) <= figure.spread + 1e-9 else "OUTSIDE"


def commands(out_dir: Path) -> dict[str, list[str]]:
    """The arguments each group runs: the documented ones, with the outputs redirected into ``out_dir``."""
    train_dir = out_dir / "train"
    probe = [argument.replace("outputs/train", str(train_dir)) for argument in COMMANDS["probe"].split()]
    return {
        "setup": [*COMMANDS["setup"].split(), f"out_dir={train_dir}"],
        "probe": [*probe, f"out_dir={out_dir / 'probe'}", f"cache_dir={out_dir / 'feature_cache'}"],
        "quality": [*COMMANDS["quality"].split(), "--out", str(out_dir / "dim_quality")],
    }


def measure_setup(out_dir: Path, stdout: str) -> dict[str, list[float]]:
    found = re.search(r"online linear probe on the code: ([\d.]+)% test accuracy", stdout)
    return {"online probe": [float(found[1]) / 100]} if found else {}


def measure_probe(out_dir: Path, stdout: str) -> dict[str, list[float]]:
    rows = json.loads((out_dir / "probe" / "probe.json").read_text())["rows"]
    linear = [r for r in rows if (r["protocol"], r["metric"]) == ("linear", "top1")]
    return {f"{r['encoder']} {r['layer']}": [r["value"]] for r in linear}


def measure_quality(out_dir: Path, stdout: str) -> dict[str, list[float]]:
    return json.loads((out_dir / "dim_quality.json").read_text())["scores"]


# Each group's figures by NAME, as lists of values (one per run or seed), from its outputs.
MEASURES: dict[str, Callable[[Path, str], dict[str, list[float]]]] = {
    "setup": measure_setup, "probe": measure_probe, "quality": measure_quality,
}  # fmt: skip


def run_command(arguments: list[str], log: Path) -> str:
    """Run ``python ARGUMENTS`` from the repository root, echoing and logging its stdout; returns it."""
    print(f"\n$ python {' '.join(arguments)}", flush=True)
    with log.open("w") as handle, subprocess.Popen([sys.executable, *arguments], cwd=ROOT, stdout=subprocess.PIPE,
                                                   text=True) as process:  # fmt: skip
        for line in process.stdout:
            print(line, end="", flush=True)
            handle.write(line)
    if process.returncode != 0:
        raise RuntimeError(f"exited with code {process.returncode}; its output is in {log}")
    return log.read_text()


def describe(values: list[float] | None) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} ({len(values)} seeds)"


def compare(figures: list[Figure], measured: dict[str, list[float]]) -> list[list[str]]:
    """A row per figure: where it is written, its key, the documented text, the measured value(s),
    the allowed spread, the verdict."""
    rows = []
    for figure in figures:
        values = measured.get(figure.key)
        mean = statistics.mean(values) if values else None
        rows.append([figure.where, figure.key, figure.text, describe(values), f"±{figure.spread:.3f}",
                     verdict(figure, mean)])  # fmt: skip
    return rows


def thread_line() -> str:
    import torch

    return (f"threads: torch.get_num_threads() {torch.get_num_threads()}, os.cpu_count() {os.cpu_count()}, "
            f"OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(COMMANDS), help="groups to check, e.g. setup,probe")
    parser.add_argument("--out-dir", type=Path, default=None, help="where the re-runs write (new or empty)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the commands and the documented figures; run nothing")  # fmt: skip
    args = parser.parse_args(argv)
    chosen = args.only.split(",")
    unknown = [group for group in chosen if group not in COMMANDS]
    if unknown:
        parser.error(f"--only: unknown group {unknown[0]!r}; choose among {', '.join(COMMANDS)}")
    groups = [group for group in COMMANDS if group in chosen or any(NEEDS.get(c) == group for c in chosen)]
    try:
        figures = sorted((figure for figure in document_figures() if figure.group in groups),
                         key=lambda figure: groups.index(figure.group))  # in the order they are measured
    except DimError as error:
        parser.error(str(error))
    out_dir = (args.out_dir or ROOT / "outputs" / "verify_readme" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    if out_dir.is_relative_to(ROOT / "results"):
        parser.error(f"--out-dir {out_dir} is under results/, which holds the documented results; choose another")
    if out_dir.exists() and any(out_dir.iterdir()):
        parser.error(f"--out-dir {out_dir} is not empty; choose a new folder (each check trains afresh)")
    arguments = commands(out_dir)

    print(f"{len(figures)} figures of {', '.join(sorted({f.source for f in figures}))} to check, "
          f"groups {', '.join(groups)}, outputs in {out_dir}")  # fmt: skip
    for group in groups:
        print(f"  {group}: documented `python {COMMANDS[group]}`\n  {' ' * len(group)}  runs  `python "
              f"{' '.join(arguments[group])}`")  # fmt: skip
    if args.dry_run:
        print(markdown_table(["figure", "documented", "allowed spread", "where"],
                             [[f.key, f.text, f"±{f.spread:.3f}", f.where] for f in figures]))  # fmt: skip
        return 0

    threads = thread_line()
    print(threads, flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    measured: dict[str, list[float]] = {}
    failures: dict[str, str] = {}
    for group in groups:
        if NEEDS.get(group) in failures:
            failures[group] = f"not run: it needs {NEEDS[group]}, which failed"
            continue
        try:
            stdout = run_command(arguments[group], out_dir / f"{group}.log")
            measured.update({f"{group}.{name}": values for name, values in MEASURES[group](out_dir, stdout).items()})
        except (RuntimeError, OSError, KeyError, ValueError) as error:  # a failed run, or outputs not where expected
            failures[group] = f"`python {' '.join(arguments[group])}` failed: {error}"
    rows = compare(figures, measured)
    table = markdown_table(["where", "figure", "documented", "measured", "allowed spread", "verdict"], rows)
    report = "\n".join([f"Documented figures re-measured on {time.strftime('%Y-%m-%d %H:%M')}; {threads}", "", table,
                        "", *(f"{group}: {failure}" for group, failure in failures.items())])  # fmt: skip
    print("\n" + report)
    (out_dir / "verify_readme.md").write_text(report + "\n")
    bad = sum(row[-1] != "OK" for row in rows)
    print(f"{bad} of {len(rows)} figures outside their spread or missing" if bad or failures
          else f"all {len(rows)} figures inside their spread")  # fmt: skip
    return 1 if bad or failures else 0

if __name__ == "__main__":
    sys.exit(main())
