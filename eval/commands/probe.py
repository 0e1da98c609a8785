"""Evaluate a representation: linear / MLP probes, k-NN (faiss), MI checks, with baselines.

Also installed as the console command ``dim-probe`` (same arguments).

    python scripts/probe.py encoder=outputs/train/encoder.pt [data=digits] [layers=[conv,fc,code]]
                            [protocols=[linear,mlp,knn]] [out_dir=DIR] [overwrite=true]
                            [few_labels.sizes=[10,100,1000]]   # + label efficiency
    python scripts/probe.py encoder=random      # or encoder=pixels: a baseline alone

Prints one table; writes out_dir/{probe.json, report.md, PNG plots}, by default
outputs/probe/<encoder name> (outputs/train/encoder.pt -> outputs/probe/train), and refuses an
existing out_dir unless overwrite=true, which replaces it whole. Extracted features are cached
in outputs/.feature_cache (feature_cache=false: off). Bad input (missing or non-encoder file,
unknown layer, NaN features, label mismatch): one line, exit 2, no report.
"""

from __future__ import annotations

from omegaconf import DictConfig

from dim.cli import command
from dim.io import refuse_overwrite
from eval.few_labels import few_label_table
from eval.mi_checks import CHECK_NAMES
from eval.run import probe_out_dir, probe_overrides, run_probe, table, write_report


def run(cfg: DictConfig) -> dict:
    """The command on a composed config."""
    out_dir = probe_out_dir(cfg)
    refuse_overwrite(out_dir, cfg.overwrite, "out_dir")  # before the minutes of work, not after
    payload = run_probe(cfg)
    print(table(payload["rows"]))
    if payload["few_labels"]:
        print(few_label_table(payload["few_labels"]))
    for name, checks in payload["mi_checks"].items():
        for check, value in checks.items():
            print(f"{name} {CHECK_NAMES.get(check, check)}: {value['mi_nats']:.3f} nats ({value['mi_bits']:.3f} bits)")
    write_report(payload, out_dir, cfg.run_dir, cfg.overwrite)
    print(f"wrote {out_dir / 'probe.json'} and {out_dir / 'report.md'}")
    return payload


main = command("probe", "probe", run, rewrite=probe_overrides)

if __name__ == "__main__":
    main()
