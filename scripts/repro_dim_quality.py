"""Quality of Deep InfoMax representations on the embedded digits, over seeds.

    python scripts/repro_dim_quality.py [--seeds 0,1,2] [--epochs 10] [--objectives local,global]
                                        [--layers code,fc,conv] [--jobs 2] [--device cuda]
                                        [--out results/dim_quality]

For each seed and objective, trains the default run (``python scripts/train.py`` with
``objective=<objective> seed=<seed> trainer.epochs=<epochs>``: dim32 encoder, JSD head) and
reads its ``--layers`` outputs (default ``code``) with the same linear probe
(``eval.linear.linear_probe``, fixed 4,000 / 1,000 split). Baselines under the identical
probe: the same architecture at random initialisation (seeded like the run) and the raw
pixels. Prints mean and standard deviation over the seeds and writes ``<out>.json`` and
``<out>.md``.

``--jobs J`` trains J runs at once in separate processes, each with (CPU cores / J) threads:
on a small CPU, J single-threaded runs finish sooner than J runs one after another.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
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


def train_and_probe(seed: int, objective: str, epochs: int, layers: list[str], device: str | None,
                    threads: int | None) -> tuple[dict[str, float], float, float]:
    """Train the default run with ``objective`` and ``seed``; the linear top-1 of each layer, the
    online probe's accuracy and the training seconds."""
    if threads:
        torch.set_num_threads(threads)
    data = embedded_digits_split()
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"objective={objective}", f"seed={seed}", f"trainer.epochs={epochs}",
                     f"out_dir={tmp}/run", "trainer.progress=false"]  # fmt: skip
        if device:
            overrides.append(f"device={device}")
        start = time.perf_counter()
        summary = train(compose("train", overrides))
        seconds = time.perf_counter() - start
        encoder = load_encoder(Path(tmp) / "run" / "encoder.pt")
    return {layer: probe(encoder, layer, data, seed) for layer in layers}, summary["probe_test_accuracy"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--objectives", default="local,global")
    parser.add_argument("--layers", default="code", help="encoder outputs to probe, e.g. code,fc,conv")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once, in separate processes")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default=str(ROOT / "results" / "dim_quality"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    layers = args.layers.split(",")
    data = embedded_digits_split()
    scores: dict[str, list[float]] = {}
    seconds: dict[str, list[float]] = {}
    runs = [(seed, objective) for seed in seeds for objective in args.objectives.split(",")]
    results = {}

    def finished(run: tuple[int, str], result: tuple[dict[str, float], float, float]) -> None:
        results[run] = result
        for layer, value in result[0].items():
            print(f"seed {run[0]} {run[1]} {layer}: linear top-1 {value:.4f} (online probe {result[1]:.4f})",
                  flush=True)  # fmt: skip

    if args.jobs == 1:
        for run in runs:
            finished(run, train_and_probe(*run, args.epochs, layers, args.device, None))
    else:
        threads = max(1, (os.cpu_count() or 1) // args.jobs)
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(train_and_probe, *run, args.epochs, layers, args.device, threads): run
                       for run in runs}  # fmt: skip
            for future in as_completed(futures):
                finished(futures[future], future.result())
    for seed, objective in runs:  # in run order, whatever order they finished in
        values, _, elapsed = results[seed, objective]
        seconds.setdefault(objective, []).append(elapsed)
        for layer, value in values.items():
            scores.setdefault(f"DIM({objective[0].upper()}) {layer}", []).append(value)
    for seed in seeds:
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
              f"--epochs {args.epochs} --layers {args.layers} --jobs {args.jobs} "
              f"--out {os.path.relpath(args.out, ROOT)}`\n\n")  # fmt: skip
    write_results(args.out, {"seeds": seeds, "epochs": args.epochs, "device": device, "scores": scores,
                             "train_seconds": seconds}, header + table)  # fmt: skip

if __name__ == "__main__":
    main()
