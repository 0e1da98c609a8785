"""Deep InfoMax benchmarks: step breakdown, shared-negative InfoNCE, memory, prior matching.

    python scripts/bench/bench_dim.py [--repeats 20] [--skip-prior]
    python scripts/bench/bench_dim.py --device cuda [--compile] [--batch 256]   # the GPU path (5)

1. Throughput of one local-DIM step (JSD estimator, default critic width, batch 64, 32x32 input,
   dim32 encoder) and its breakdown: encoder forward+backward, critics (embeddings + score
   matmul, forward+backward), bounds (scores -> bound, forward+backward), prior (generator
   term + discriminator update), optimizer step. Prints medians and the ratios
   step / encoder and bounds / step.
2. Local InfoNCE at N = 64 images, L = 64 locations, 256 units: dim's shared-negative form
   against the reference that materialises N x L x (1 + N L) (dim.infomax.local_infonce_reference),
   forward+backward medians, their ratio and the values; local JSD against the plain
   full-tensor masked form.
3. Peak resident memory of local-DIM steps at batch 256 (a fresh subprocess).
4. Prior matching: the sliced-Wasserstein distance between test codes and prior samples after
   the same short run on the embedded digits with gamma = 1 and gamma = 0.
Medians over --repeats runs, all measured in this one run, on this machine.

5. ``--device cuda`` (or ``--pipeline`` on any device): the training step of the view presets
   (``Trainer.train_step``: images resident on the device, two views made there, channels_last,
   bfloat16 autocast, ``--compile`` for torch.compile) on synthetic tensors (no dataset can be
   downloaded here) of the CIFAR-10 shape (3x32x32) and the digits' (1x32x32), batch
   ``--batch``: images per second, the share of the step outside the encoder, critics and
   bounds, the data path (step with the pipeline / step on views made beforehand), peak GPU
   memory, and the device's name; written to ``--out`` (default results/bench_dim_cuda.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[2]

from dim import bounds
from dim.encoders import build_encoder
from dim.infomax import (
    DeepInfoMax,
    PriorDiscriminator,
    infomax_bound,
    infomax_scores,
    local_infonce_reference,
    sample_prior,
)
from dim.jobs import median_ms


def step_breakdown(repeats: int, units: int) -> dict[str, float]:
    torch.manual_seed(0)
    images = torch.randn(64, 1, 32, 32)
    model = DeepInfoMax(build_encoder("dim32", in_channels=1), estimator="jsd", units=units)
    discriminator = PriorDiscriminator(64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-4)
    encoder = model.encoder

    def encoder_only():
        out = encoder(images)
        (out.local.square().mean() + out.code.square().mean()).backward()

    out = encoder(images)
    local, code = out.local.detach().requires_grad_(True), out.code.detach().requires_grad_(True)

    def critics():
        keys = model.local_embedding(local)
        scores = infomax_scores(model.code_embedding(code).unsqueeze(1), keys)
        scores.square().mean().backward()

    scores = infomax_scores(model.code_embedding(code).unsqueeze(1), model.local_embedding(local)).detach()
    scores.requires_grad_(True)

    def bound_only():
        (-infomax_bound(scores, "jsd")).backward()

    def prior():
        fake = torch.sigmoid(code)
        discriminator.generator_loss(fake).backward()
        d_loss, _ = discriminator.loss(sample_prior("uniform", 64, 64), fake.detach())
        d_optimizer.zero_grad()
        d_loss.backward()
        d_optimizer.step()

    def optimizer_step():
        optimizer.step()

    def full_step():
        terms = model(images)
        loss = -model.objective(terms) + 0.1 * discriminator.generator_loss(torch.sigmoid(terms["code"]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        d_loss, _ = discriminator.loss(sample_prior("uniform", 64, 64), torch.sigmoid(terms["code"]).detach())
        d_optimizer.zero_grad()
        d_loss.backward()
        d_optimizer.step()

    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    parts = {
        "encoder fwd+bwd": median_ms(encoder_only, repeats),
        "critics fwd+bwd": median_ms(critics, repeats),
        "bounds fwd+bwd": median_ms(bound_only, repeats),
        "prior (gen + disc step)": median_ms(prior, repeats),
        "optimizer step": median_ms(optimizer_step, repeats),
        "whole local-DIM step": median_ms(full_step, repeats),
    }
    return parts


def infonce_comparison(repeats: int, n: int = 64, locations: int = 64, units: int = 256) -> dict[str, float]:
    torch.manual_seed(0)
    queries = torch.randn(n, 1, units, requires_grad=True)
    keys = torch.randn(n, units, locations, requires_grad=True)

    def shared():
        infomax_bound(infomax_scores(queries, keys), "infonce").backward()

    def reference():
        local_infonce_reference(infomax_scores(queries, keys)).backward()

    def jsd_dim():
        infomax_bound(infomax_scores(queries, keys), "jsd").backward()

    def jsd_plain():  # the full-tensor masked form: mask (N, 1, N, L) over all scores
        scores = infomax_scores(queries, keys)
        mask = torch.eye(n).reshape(n, 1, n, 1).expand_as(scores)
        e_pos = (-F.softplus(-scores) * mask).sum() / mask.sum()
        e_neg = (F.softplus(scores) * (1 - mask)).sum() / (1 - mask).sum()
        (e_pos - e_neg).backward()

    with torch.no_grad():
        scores = infomax_scores(queries, keys)
        values = (infomax_bound(scores, "infonce").item(), local_infonce_reference(scores).item())
        positive, negative = bounds.query_split(scores)
        jsd_values = (infomax_bound(scores, "jsd").item(),
                      bounds.jsd_objective(positive=positive, negative=negative).item())  # fmt: skip
    return {
        "infonce shared (ms)": median_ms(shared, repeats),
        "infonce reference (ms)": median_ms(reference, max(3, repeats // 4)),
        "infonce value shared": values[0],
        "infonce value reference": values[1],
        "jsd dim (ms)": median_ms(jsd_dim, repeats),
        "jsd plain masked (ms)": median_ms(jsd_plain, repeats),
        "jsd values": jsd_values,
    }


MEMORY_CHILD = """
import resource, sys, torch
sys.path.insert(0, {root!r})
from dim.encoders import build_encoder
from dim.infomax import DeepInfoMax
torch.manual_seed(0)
model = DeepInfoMax(build_encoder("dim32", in_channels=3), estimator="jsd", units=256)
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
for _ in range(3):
    terms = model(torch.randn(256, 3, 32, 32))
    opt.zero_grad(); (-model.objective(terms)).backward(); opt.step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024)
"""


def peak_memory_gib() -> float:
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD.format(root=str(ROOT))], capture_output=True, text=True,
                         check=True)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def prior_effect(epochs: int) -> dict[str, float]:
    import tempfile

    from dim.config import compose
    from dim.infomax import train

    distances = {}
    for gamma in (0.0, 1.0):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = compose("train", [f"objective.gamma={gamma}", f"trainer.epochs={epochs}", f"out_dir={tmp}/run",
                                    "trainer.progress=false"])  # fmt: skip
            distances[gamma] = train(cfg)["prior_sliced_wasserstein"]
    return {"SW gamma=0": distances[0.0], "SW gamma=1": distances[1.0],
            "reduction": 1 - distances[1.0] / distances[0.0]}  # fmt: skip


def _timer(device: torch.device):
    """median_ms of a function, synchronising the device after each call."""

    def timed(fn, repeats: int) -> float:
        def call():
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        return median_ms(call, repeats, warmup=3)

    return timed


def pipeline_benchmark(device: str, preset: str, channels: int, batch: int, repeats: int,
                       compile: bool = False, rows: int | None = None) -> dict[str, float | str | None]:  # fmt: skip
    """The GPU path of ``preset`` (a configs/experiment name) on synthetic images (C, 32, 32) in
    [0, 1] with random labels, ``rows`` of them (default 8 batches), as the trainer runs it."""
    import tempfile

    import numpy as np
    from omegaconf import OmegaConf

    from dim.config import compose
    from dim.infomax import Trainer

    rows = rows or 8 * batch
    generator = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.npz"
        np.savez(path, x=generator.random((rows, channels, 32, 32), dtype=np.float32),
                 y=generator.integers(0, 10, rows))  # fmt: skip
        cfg = compose("train", [f"+experiment={preset}", f"device={device}", f"trainer.batch_size={batch}",
                                f"trainer.compile={compile}", f"out_dir={tmp}/run", "trainer.progress=false"])
        # the preset's views and model, on the synthetic arrays instead of its dataset
        OmegaConf.update(cfg, "data.name", "npz")
        OmegaConf.update(cfg, "data.root", str(path), force_add=True)
        OmegaConf.update(cfg, "data.channels", channels)
        trainer = Trainer(cfg)
    dev = trainer.device
    timed = _timer(dev)
    samples, labels = trainer.train_samples, trainer.train_labels
    order = torch.Generator().manual_seed(0)

    def pipeline():
        chosen = torch.randperm(len(samples), generator=order)[:batch].to(samples.device)
        trainer.train_step(samples[chosen], labels[chosen])

    view_a, view_b = trainer.make_views(samples[:batch])
    fixed_labels = labels[:batch]

    def preloaded():
        trainer.step_on_views(view_a, view_b, fixed_labels)

    both = view_a if view_b is None else torch.cat([view_a, view_b])

    def encoder_only():
        with torch.autocast(dev.type, dtype=trainer.amp_dtype, enabled=trainer.use_amp):
            out = trainer.encoder(both)
        (out.local.float().square().mean() + out.code.float().square().mean()).backward()

    def model_only():  # encoder + critics + bounds, forward and backward
        with torch.autocast(dev.type, dtype=trainer.amp_dtype, enabled=trainer.use_amp):
            terms = trainer.forward_model(view_a, view_b)
        (-trainer.model.objective(terms)).backward()

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    step_pipeline, step_preloaded = timed(pipeline, repeats), timed(preloaded, repeats)
    encoder_ms, model_ms = timed(encoder_only, repeats), timed(model_only, repeats)
    return {
        "preset": preset, "shape": f"{channels}x32x32", "batch": batch, "compile": compile,
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "amp": str(trainer.amp_dtype).replace("torch.", "") if trainer.use_amp else "float32",
        "channels_last": trainer.channels_last, "data_on_device": samples.device.type == dev.type,
        "step_pipeline_ms": step_pipeline, "step_preloaded_ms": step_preloaded,
        "encoder_ms": encoder_ms, "encoder_critics_bounds_ms": model_ms,
        "images_per_second": batch / step_pipeline * 1000,
        "data_path_ratio": step_pipeline / step_preloaded,
        "share_outside_encoder_critics": 1 - model_ms / step_pipeline,
        "peak_gpu_memory_gib": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None,
    }  # fmt: skip


PIPELINE_PRESETS = [("cifar10_views_local", 3), ("cifar10_views_amdim", 3), ("cifar10_contrastive", 3),
                    ("digits_views_local", 1), ("digits_views_amdim", 1), ("digits_contrastive", 1)]


def run_pipeline(device: str, batch: int, repeats: int, compile: bool, out: str) -> None:
    report = []
    for preset, channels in PIPELINE_PRESETS:
        r = pipeline_benchmark(device, preset, channels, batch, repeats, compile)
        report.append(r)
        memory = "" if r["peak_gpu_memory_gib"] is None else f", peak {r['peak_gpu_memory_gib']:.2f} GiB"
        print(f"{preset} {r['shape']} batch {batch} on {r['device_name']} ({r['amp']}, channels_last "
              f"{r['channels_last']}, compile {compile}): {r['images_per_second']:.0f} images/s; step "
              f"{r['step_pipeline_ms']:.1f} ms with the pipeline vs {r['step_preloaded_ms']:.1f} ms on ready views "
              f"= {r['data_path_ratio']:.2f}x (target <= 1.1x); outside encoder+critics+bounds "
              f"{r['share_outside_encoder_critics']:.0%}{memory}", flush=True)  # fmt: skip
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"repeats": repeats, "results": report}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--units", type=int, default=256, help="critic width (the default config's)")
    parser.add_argument("--prior-epochs", type=int, default=5)
    parser.add_argument("--skip-prior", action="store_true")
    parser.add_argument("--out", default=None, help="default results/bench_dim.json (cuda: bench_dim_cuda.json)")
    parser.add_argument("--device", default="cpu", help="cpu: parts 1-4; cuda: the GPU path (part 5)")
    parser.add_argument("--pipeline", action="store_true", help="part 5 on --device (e.g. a CPU smoke run)")
    parser.add_argument("--batch", type=int, default=256, help="part 5's batch")
    parser.add_argument("--compile", action="store_true", help="part 5 with trainer.compile=true")
    args = parser.parse_args()
    if args.device != "cpu" or args.pipeline:
        name = "bench_dim_cuda.json" if args.device.startswith("cuda") else f"bench_dim_pipeline_{args.device}.json"
        run_pipeline(args.device, args.batch, args.repeats, args.compile, args.out or str(ROOT / "results" / name))
        return
    args.out = args.out or str(ROOT / "results" / "bench_dim.json")
    torch.set_num_threads(torch.get_num_threads())
    report = {"threads": torch.get_num_threads()}

    parts = step_breakdown(args.repeats, args.units)
    report["step_ms"] = parts
    step, encoder_ms = parts["whole local-DIM step"], parts["encoder fwd+bwd"]
    print(f"local-DIM step, batch 64, 32x32, dim32, JSD, {args.units} units ({report['threads']} threads), medians:")
    for name, ms in parts.items():
        print(f"  {name:26s} {ms:8.1f} ms")
    print(f"  throughput: {64 / step * 1000:.0f} images/s")
    print(f"  step / encoder fwd+bwd = {step / encoder_ms:.2f}x; bounds / step = {parts['bounds fwd+bwd'] / step:.1%}")

    nce = infonce_comparison(args.repeats)
    report["local_infonce"] = nce
    print("local InfoNCE, N=64, L=64, 256 units, forward+backward medians:")
    print(f"  shared negatives {nce['infonce shared (ms)']:.1f} ms vs reference {nce['infonce reference (ms)']:.1f} ms"
          f" -> {nce['infonce reference (ms)'] / nce['infonce shared (ms)']:.0f}x faster;"
          f" values {nce['infonce value shared']:.6f} vs {nce['infonce value reference']:.6f}")
    print(f"  local JSD: dim {nce['jsd dim (ms)']:.1f} ms vs plain masked {nce['jsd plain masked (ms)']:.1f} ms")

    report["peak_rss_gib_batch256"] = peak_memory_gib()
    print(f"peak resident memory, local DIM at batch 256 (32x32x3, dim32, 256 units): "
          f"{report['peak_rss_gib_batch256']:.2f} GiB")
    if not args.skip_prior:
        report["prior"] = prior_effect(args.prior_epochs)
        p = report["prior"]
        print(f"prior matching on the embedded digits ({args.prior_epochs} epochs): sliced-Wasserstein "
              f"{p['SW gamma=0']:.4f} (gamma=0) -> {p['SW gamma=1']:.4f} (gamma=1), {p['reduction']:.0%} lower")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
