"""What a pretrained encoder buys downstream: few labels, and data it never saw.

    python scripts/repro/repro_downstream.py [--seeds 0,1,2] [--sizes 10,100,1000] [--steps 300]
                                             [--extra trainer.epochs=15 ...] [--out results/downstream]

For each seed, trains the default run of ``scripts/train.py`` (plus ``--extra`` overrides) on the
embedded digits, then

* few labels (``eval.few_labels``): with 10, 100 and 1,000 labelled training digits (balanced,
  one random draw per seed), the linear probe on pixels and on the frozen code, fine-tuning, and
  the same architecture trained from scratch, all read on the 1,000 test digits;
* transfer: the linear probe and the k-NN (k = 20) of ``eval.quality.read_layers`` on
  scikit-learn's 8x8 digits (``data=small_digits``: another source, resized to the same
  layout) for the trained code, the same encoder at random initialisation, and raw pixels,
  beside the same readings on the embedded digits it was trained on.

Every cell is mean ± std over the seeds (for few labels: over seed = encoder and label draw).
Writes ``<out>.json``, ``<out>.md`` and ``<out>_few_labels.png``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from dim.data import embedded_digits_split, small_digits_split
from dim.encoders import encoder_from_spec
from dim.report import markdown_table, write_results
from eval.few_labels import FewLabelSettings, few_label_evaluation, few_label_table, plot_few_labels
from eval.quality import read_layers, train_encoder

ROOT = Path(__file__).resolve().parents[2]


def one_seed(seed: int, settings: FewLabelSettings, extra: tuple[str, ...]) -> dict:
    encoder, summary, seconds = train_encoder(seed, [], extra=extra)
    digits, small = embedded_digits_split(), small_digits_split()
    torch.manual_seed(seed)
    random = encoder_from_spec(dict(encoder.spec)).eval()
    transfer = {}
    for name, data in (("digits", digits), ("small_digits", small)):
        transfer[name] = {"trained": read_layers(encoder, data, ["code"], seed)["code"],
                          "random": read_layers(random, data, ["code"], seed)["code"],
                          "pixels": read_layers("pixels", data, ["pixels"], seed)["pixels"]}  # fmt: skip
    rows = few_label_evaluation(encoder, digits, settings, seed=seed, progress=True)
    for row in rows:
        row["draw"] = seed
    print(f"seed {seed}: trained in {seconds:.0f} s; transfer {transfer['small_digits']}", flush=True)
    return {"seed": seed, "train_seconds": seconds, "online": summary["probe_test_accuracy"], "transfer": transfer,
            "few_labels": rows}  # fmt: skip


def _cell(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"


def transfer_table(runs: list[dict]) -> str:
    rows = []
    for source, label in (("trained", "trained on the embedded digits"), ("random", "same encoder, random init"),
                          ("pixels", "raw pixels")):  # fmt: skip
        cells = [_cell([r["transfer"][data][source][probe] for r in runs])
                 for data in ("digits", "small_digits") for probe in ("linear", "knn")]  # fmt: skip
        rows.append([label, *cells])
    return markdown_table(["representation", "embedded digits linear", "embedded digits k-NN",
                           "sklearn 8x8 digits linear", "sklearn 8x8 digits k-NN"], rows)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--extra", nargs="*", default=[], help="overrides of the training run")
    parser.add_argument("--out", default=str(ROOT / "results" / "downstream"))
    args = parser.parse_args()
    settings = FewLabelSettings(sizes=tuple(int(n) for n in args.sizes.split(",")), draws=1, steps=args.steps)
    start = time.perf_counter()
    runs = [one_seed(int(seed), settings, tuple(args.extra)) for seed in args.seeds.split(",")]
    wall = time.perf_counter() - start
    few = [row for run in runs for row in run["few_labels"]]
    command = " ".join(["python scripts/repro/repro_downstream.py", *sys.argv[1:]])
    report = (f"`{command}` ({wall / 60:.0f} min on this machine; seeds {args.seeds})\n\n"
              f"## Few labels: test top-1 on the 1,000 embedded test digits\n\n{few_label_table(few)}\n\n"
              f"## Transfer: probes of the code on data it never saw\n\n{transfer_table(runs)}\n")  # fmt: skip
    print(report)
    plot_few_labels(few, Path(args.out + "_few_labels.png"))
    write_results(args.out, {"command": command, "seconds": wall, "settings": vars(args), "runs": runs}, report)


if __name__ == "__main__":
    main()
