"""Benchmark: dim's estimate_mi against KSG, torch-mist and bmi on identical Gaussian data.

    python scripts/bench/bench_gaussian.py [--seeds 5] [--n 10000] [--dim 20]
        [--mist-python /tmp/venv-mist/bin/python] [--bmi-python /tmp/venv-bmi/bin/python]

Tasks: X, Y in R^d with componentwise correlation rho, true I = 2 and 4 nats, and independent
X, Y (I = 0). Every method sees the same arrays (seed s draws the data of repetition s).
Prints, per task and method, the median estimate over seeds (dim: 5; KSG and peers: the
first --peer-seeds of them, as they take minutes a run), its error against the truth,
and the median wall time; writes everything to results/bench_gaussian.json.

Peers live outside this project's dependencies, each in its own venv (see README):
    python3 -m venv /tmp/venv-mist && /tmp/venv-mist/bin/pip install torch==2.14.1 "numpy<2" "pandas<3" torch-mist==0.2.17
    python3 -m venv /tmp/venv-bmi && /tmp/venv-bmi/bin/pip install jax==0.4.30 jaxlib==0.4.30 benchmark-mi==0.1.3
A peer whose python is not given is skipped. KSG is ours (dim/ksg.py, scipy KD-tree).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from dim import estimate_mi
from dim.io import write_json_atomic
from dim.ksg import ksg_mi
from dim.tasks import gaussian_rho_for_mi, sample_correlated_gaussians

PEER_RUNNER = Path(__file__).resolve().parent / "peers" / "run_peer.py"


def run_dim(x, y, seed):
    start = time.perf_counter()
    r = estimate_mi(x, y, seed=seed)
    return {"mi": r.mi_nats, "ci": list(r.ci_nats), "seconds": time.perf_counter() - start}


def run_ksg(x, y, seed):
    start = time.perf_counter()
    return {"mi": ksg_mi(x, y, k=3), "seconds": time.perf_counter() - start}


def run_peer(python: str, peer: str, x, y, seed, *extra: str):
    """``peers/run_peer.py`` in the peer's venv on (x, y); extra: the runner's further arguments
    (the diffusion peers' epochs). One intra-op thread, as ``estimate_mi`` uses by default."""
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data.npz", Path(tmp) / "out.json"
        np.savez(data, x=x, y=y)
        subprocess.run([python, str(PEER_RUNNER), peer, str(data), str(out), str(seed), *extra], check=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
                       stdout=subprocess.DEVNULL)  # fmt: skip
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--truths", default="2,4,0", help="true MI values in nats (0 = independent)")
    parser.add_argument("--peer-seeds", type=int, default=2,
                        help="KSG and the peers are slow at d=20 (minutes a run): run them on the first K seeds")
    parser.add_argument("--mist-python", default=None, help="python of a venv with torch-mist 0.2.17")
    parser.add_argument("--bmi-python", default=None, help="python of a venv with benchmark-mi 0.1.3")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_gaussian.json"))
    args = parser.parse_args()

    methods = {"dim (defaults)": run_dim, "KSG (k=3)": run_ksg}
    if args.mist_python:
        methods["torch-mist 0.2.17 (smile)"] = lambda x, y, s: run_peer(args.mist_python, "torch-mist-smile", x, y, s)
    if args.bmi_python:
        for name in ("mine", "infonce", "nwj", "dv"):
            methods[f"bmi 0.1.3 ({name})"] = (
                lambda x, y, s, name=name: run_peer(args.bmi_python, f"bmi-{name}", x, y, s)
            )
    records = []
    for truth in (float(t) for t in args.truths.split(",")):
        rho = gaussian_rho_for_mi(truth, args.dim)
        for seed in range(args.seeds):
            x, y = sample_correlated_gaussians(args.n, args.dim, rho, seed=seed)
            for method, run in methods.items():
                if not method.startswith("dim") and seed >= args.peer_seeds:
                    continue
                result = run(x, y, seed)
                records.append({"truth": truth, "seed": seed, "method": method, **result})
                print(f"I={truth:g} seed={seed} {method}: {result['mi']:.3f} nats ({result['seconds']:.1f} s)",
                      file=sys.stderr, flush=True)

    print(f"\nd={args.dim}, n={args.n}, {args.seeds} seeds; median over seeds (error vs. truth), median seconds\n")
    print("| true MI (nats) | method | median estimate | error | seeds | median time (s) |")
    print("|---|---|---|---|---|---|")
    for truth in sorted({r["truth"] for r in records}, reverse=True):
        for method in methods:
            rows = [r for r in records if r["truth"] == truth and r["method"] == method]
            median = float(np.median([r["mi"] for r in rows]))
            error = f"{100 * (median - truth) / truth:+.1f}%" if truth > 0 else f"{median:+.3f} nats"
            seconds = float(np.median([r["seconds"] for r in rows]))
            print(f"| {truth:g} | {method} | {median:.3f} | {error} | {len(rows)} | {seconds:.1f} |")
    dim_zero = [r for r in records if r["truth"] == 0 and r["method"].startswith("dim")]
    if dim_zero:
        covered = sum(r["ci"][0] <= 0 <= r["ci"][1] for r in dim_zero)
        print(f"\nindependent: dim's 95% interval contains 0 in {covered} of {len(dim_zero)} seeds")
    write_json_atomic(args.out, {"n": args.n, "dim": args.dim, "records": records})


if __name__ == "__main__":
    main()
