"""Quality of Deep InfoMax representations on the embedded digits, over seeds.

    python scripts/repro_dim_quality.py [--seeds 0,1,2] [--epochs 10] [--objectives local,global]
                                        [--device cuda] [--out results/dim_quality]

For each seed and objective, trains the default run (``python scripts/train.py`` with
``objective=<objective> seed=<seed> trainer.epochs=<epochs>``: dim32 encoder, JSD head) and
reads its ``code`` with the same linear probe (``eval.linear.linear_probe``, fixed 4,000 / 1,000
split). Baselines under the identical probe: the same architecture at random initialisation
(seeded like the run) and the raw pixels. Prints mean and standard deviation over the seeds and
writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from dim.checkpoint import load_encoder  # noqa: E402
from dim.cli import compose  # noqa: E402
from dim.data import embedded_digits_split  # noqa: E402
from dim.encoders import encoder_from_spec  # noqa: E402
from dim.report import markdown_table, write_results  # noqa: E402
from dim.training import train  # noqa: E402
from eval.features import extract_features  # noqa: E402
from eval.linear import linear_probe  # noqa: E402


def probe(model, layer: str, data, seed: int) -> float:
    train_x, test_x = (extract_features(model, part.samples, layer, fingerprint="digits", progress=False)
                       for part in (data.train, data.test))  # fmt: skip
    return linear_probe(train_x, data.train.labels.numpy(), test_x, data.test.labels.numpy(), seed=seed)["top1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--objectives", default="local,global")
    parser.add_argument("--layers", default="code", help="encoder outputs to probe, e.g. code,fc,conv")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default=str(ROOT / "results" / "dim_quality"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    layers = args.layers.split(",")
    data = embedded_digits_split()
    scores: dict[str, list[float]] = {}
    seconds: dict[str, list[float]] = {}
    for seed in seeds:
        for objective in args.objectives.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                overrides = [f"objective={objective}", f"seed={seed}", f"trainer.epochs={args.epochs}",
                             f"out_dir={tmp}/run", "trainer.progress=false"]  # fmt: skip
                if args.device:
                    overrides.append(f"device={args.device}")
                start = time.perf_counter()
                summary = train(compose("train", overrides))
                seconds.setdefault(objective, []).append(time.perf_counter() - start)
                encoder = load_encoder(Path(tmp) / "run" / "encoder.pt")
            for layer in layers:
                value = probe(encoder, layer, data, seed)
                scores.setdefault(f"DIM({objective[0].upper()}) {layer}", []).append(value)
                print(f"seed {seed} {objective} {layer}: linear top-1 {value:.4f} "
                      f"(online probe {summary['probe_test_accuracy']:.4f})", flush=True)  # fmt: skip
        torch.manual_seed(seed)
        random = encoder_from_spec({"name": "dim32", "in_channels": 1, "code_dim": 64}).eval()
        for layer in layers:
            scores.setdefault(f"random init {layer}", []).append(probe(random, layer, data, seed))
        scores.setdefault("raw pixels", []).append(probe("pixels", "code", data, seed))
        print(f"seed {seed} baselines: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in scores.items()
                                                     if k.startswith(("random", "raw"))), flush=True)  # fmt: skip

    def spread(values: list[float]) -> float:
        return statistics.stdev(values) if len(values) > 1 else 0.0

    rows = [[name, statistics.mean(v), spread(v), " ".join(f"{x:.4f}" for x in v)] for name, v in scores.items()]
    table = markdown_table(["representation", "linear top-1 (mean)", "std", "per seed"], rows)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(table)
    header = (f"Embedded digits, fixed 4,000 / 1,000 split, {args.epochs} epochs per run, seeds {args.seeds}, "
              f"device {device}; command: `python scripts/repro_dim_quality.py --seeds {args.seeds} "
              f"--epochs {args.epochs}`\n\n")  # fmt: skip
    write_results(args.out, {"seeds": seeds, "epochs": args.epochs, "device": device, "scores": scores,
                             "train_seconds": seconds}, header + table)  # fmt: skip

if __name__ == "__main__":
    main()
