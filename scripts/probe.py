"""Evaluate a representation: linear / MLP probes, k-NN (faiss), MI checks, with baselines.

    python scripts/probe.py encoder=outputs/train/encoder.pt [data=digits] [layers=[conv,fc,code]]
                            [protocols=[linear,mlp,knn]] [out=probe.json] [report_dir=probe_report]
    python scripts/probe.py encoder=random      # or encoder=pixels: a baseline alone

Prints one table; writes probe.json and report_dir/report.md with PNG plots. Bad input (missing
or non-encoder file, unknown layer, NaN features, label mismatch): one line, exit 2, no report.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dim.cli import compose, one_line_errors  # noqa: E402
from eval.run import probe_overrides, run_probe, table, write_report  # noqa: E402


def main(argv: list[str]) -> dict:
    cfg = compose("probe", probe_overrides(argv))
    payload = run_probe(cfg)
    print(table(payload["rows"]))
    for name, checks in payload["mi_checks"].items():
        for check, value in checks.items():
            print(f"{name} {check}: {value['mi_nats']:.3f} nats ({value['mi_bits']:.3f} bits)")
    write_report(payload, Path(cfg.out), Path(cfg.report_dir), cfg.run_dir)
    print(f"wrote {cfg.out} and {Path(cfg.report_dir) / 'report.md'}")
    return payload


if __name__ == "__main__":
    with one_line_errors("probe"):
        main(sys.argv[1:])
