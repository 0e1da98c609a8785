"""Behaviour fingerprints: reshaping the library must not change a single bit of what it computes.

Each case runs a short, seeded, one-thread computation through the public API and reduces it to
exact numbers: ``estimate_mi`` on three fixed tasks (every value and interval of the result),
a few steps of Deep InfoMax training, of GAN + MINE, of ALI + MINE and of the Information
Bottleneck with a MINE penalty (a SHA-256 of every weight, and the metrics they report). The
expected values in ``tests/fingerprints.json`` were recorded at a fixed commit with

    python tests/test_fingerprints.py --record

and are compared for equality, not closeness: a refactor that moves code keeps them identical.
Re-record only for a change that is meant to alter the numbers, and say so in its commit.

Bit-exact sums hold on one kind of machine only: another CPU (AVX2 against AVX-512, or one with
AMX against one without) or another torch release adds the same floats in another order. The
file records the machine it was made on; elsewhere the numbers are compared to 1e-3 relative (1e-5 absolute) and the weight digests,
which no tolerance can compare, are left out.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

FINGERPRINTS = Path(__file__).with_name("fingerprints.json")
# result fields that measure time, not behaviour
TIMED = ("seconds", "timings")


def weights_digest(modules: dict[str, torch.nn.Module] | torch.nn.Module) -> str:
    """SHA-256 over every tensor of the state dicts, keys sorted."""
    if isinstance(modules, torch.nn.Module):
        modules = {"model": modules}
    digest = hashlib.sha256()
    for name in sorted(modules):
        state = modules[name].state_dict()
        for key in sorted(state):
            digest.update(f"{name}.{key}".encode())
            digest.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """JSON-ready: floats as floats, tuples as lists, timing fields dropped."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in TIMED}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return value


def _estimate(task: str) -> dict[str, Any]:
    from dim import estimate_mi
    from dim.tasks import gaussian_rho_for_mi, sample_correlated_gaussians

    fast = dict(steps=300, eval_every=50, patience=4, bootstrap=50, readout_batch_size=256, hidden=32,
                embedding_dim=16)  # fmt: skip
    if task == "auto_gaussian":
        x, y = sample_correlated_gaussians(1500, 2, gaussian_rho_for_mi(1.0, 2), seed=1)
        result = estimate_mi(x, y, **fast)
    elif task == "smile_seeds":
        x, y = sample_correlated_gaussians(1200, 3, gaussian_rho_for_mi(0.5, 3), seed=2)
        result = estimate_mi(x, y, estimator="smile", seeds=2, transform="standardize", **fast)
    else:  # mine_folds: labels against vectors, k-fold, cosine schedule
        rng = np.random.default_rng(3)
        labels = rng.integers(0, 4, 1000)
        x = rng.standard_normal((1000, 3)) + labels[:, None]
        result = estimate_mi(x, labels, estimator="mine", folds=2, lr_schedule="cosine", critic="concat", **fast)
    return _plain(result.to_dict())


def _deep_infomax(tmp_path: Path) -> dict[str, Any]:
    from dim.config import compose
    from dim.tasks import embedded_digits
    from dim.infomax import Trainer

    images, labels = embedded_digits()
    x = np.pad(images[:96], ((0, 0), (0, 0), (2, 2), (2, 2)))
    np.savez(tmp_path / "tiny.npz", x=x, y=labels[:96], x_test=x[:32], y_test=labels[:32])
    out = {}
    for name, overrides in {"local_jsd": [], "global_infonce_prior": ["objective=global", "estimator=infonce"],
                            "mine": ["estimator=mine"]}.items():  # fmt: skip
        cfg = compose("train", ["data=npz", f"data.root={tmp_path / 'tiny.npz'}", f"out_dir={tmp_path / name}",
                                "trainer.batch_size=32", "trainer.progress=false", "objective.units=32",
                                *overrides])  # fmt: skip
        trainer = Trainer(cfg)
        scalars = [trainer.train_step(x, y) for x, y in ((trainer.data.train.samples[i:i + 32],
                   trainer.data.train.labels[i:i + 32]) for i in (0, 32, 64))]  # fmt: skip
        out[name] = {"weights": weights_digest(trainer.model), "scalars": _plain(scalars)}
    return out


def _gan() -> dict[str, Any]:
    from dim.generative import GANSettings, GANTrainer

    settings = GANSettings(dataset="grid", steps=15, batch_size=64, g_hidden=16, d_hidden=16, t_hidden=16,
                           code_dim=10, dataset_size=1000, eval_samples=300, checkpoint_every=100, log_every=5,
                           progress=False, beta=1.0)  # fmt: skip
    trainer = GANTrainer(settings)
    final = trainer.fit()["final"]
    return {"weights": weights_digest(trainer.modules), "final": _plain(final)}


def _ali() -> dict[str, Any]:
    from dim.generative.ali import ALISettings, ALITrainer

    out = {}
    for statistics in ("separate", "shared"):
        settings = ALISettings(data="grid", hidden=16, lr=1e-3, dataset_size=1000, eval_samples=300, progress=False,
                               checkpoint_every=100, log_every=5, steps=15, beta=1.0,
                               statistics=statistics)  # fmt: skip
        trainer = ALITrainer(settings)
        final = trainer.fit()["final"]
        out[statistics] = {"weights": weights_digest(trainer.modules), "final": _plain(final)}
    return out


def _bottleneck() -> dict[str, Any]:
    from dim.bottleneck import IBSettings, train_ib

    generator = torch.Generator().manual_seed(5)
    x = torch.randn(400, 20, generator=generator)
    y = (x @ torch.randn(20, 4, generator=torch.Generator().manual_seed(9))).argmax(1)
    out = {}
    for regularizer, noise in (("mine", "gaussian"), ("vib", "gaussian"), ("club", "additive")):
        settings = IBSettings(regularizer=regularizer, noise=noise, beta=0.01, hidden=32, code_dim=4, epochs=2,
                              batch_size=50, lr=1e-3, critic_hidden=16, critic_embedding=8, critic_lr=1e-3,
                              test_samples=2, record_rows=100)  # fmt: skip
        run, model = train_ib(x[:300], y[:300], x[300:], y[300:], settings)
        out[f"{regularizer}_{noise}"] = {"weights": weights_digest(model), "history": _plain(run.history)}
    return out


CASES: dict[str, Callable[[Path], Any]] = {
    "estimate_mi.auto_gaussian": lambda tmp: _estimate("auto_gaussian"),
    "estimate_mi.smile_seeds": lambda tmp: _estimate("smile_seeds"),
    "estimate_mi.mine_folds": lambda tmp: _estimate("mine_folds"),
    "deep_infomax": _deep_infomax,
    "gan": lambda tmp: _gan(),
    "ali": lambda tmp: _ali(),
    "bottleneck": lambda tmp: _bottleneck(),
}


def compute(name: str, tmp_path: Path) -> Any:
    """The fingerprint of one case, on one thread (the thread count changes float sums)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        return json.loads(json.dumps(CASES[name](tmp_path)))
    finally:
        torch.set_num_threads(threads)


def machine() -> dict[str, str]:
    """What decides the order of float sums: torch's release and the CPU's vector instructions
    (the level torch dispatches to, and every vector extension the CPU reports: oneDNN picks its
    kernels by them, AMX among them)."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        flags = ""
    vector = sorted(f for f in flags.split() if f.startswith(("sse", "avx", "amx", "fma", "f16c")))
    return {"torch": torch.__version__.split("+")[0], "cpu": torch.backends.cpu.get_cpu_capability(),
            "vector_extensions": hashlib.sha256(" ".join(vector).encode()).hexdigest()[:16]}


def close(actual: Any, expected: Any) -> bool:
    """Equal structure; numbers within 1e-3 relative or 1e-5 absolute; digests (strings of 64 hex
    digits) not compared."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and actual.keys() == expected.keys() and all(
            close(actual[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(close, actual, expected))
    if isinstance(expected, float) or isinstance(actual, float):
        return actual == pytest.approx(expected, rel=1e-3, abs=1e-5)
    if isinstance(expected, str) and len(expected) == 64:
        return isinstance(actual, str)
    return actual == expected


@pytest.mark.parametrize("name", list(CASES))
def test_fingerprint_is_unchanged(name, tmp_path):
    recorded = json.loads(FINGERPRINTS.read_text())
    expected, actual = recorded[name], compute(name, tmp_path)
    if recorded["_machine"] == machine():
        assert actual == expected
    else:
        assert close(actual, expected), f"{name} differs beyond float reordering from {FINGERPRINTS.name}"


def test_close_ignores_reordering_but_not_changes():
    """The cross-machine comparison: a last-digit difference passes, a real change does not."""
    a = {"mi": [0.5, 1.25], "weights": "0" * 64, "steps": 3}
    assert close({"mi": [0.5000001, 1.25], "weights": "1" * 64, "steps": 3}, a)
    assert not close({"mi": [0.51, 1.25], "weights": "0" * 64, "steps": 3}, a)
    assert not close({"mi": [0.5, 1.25], "weights": "0" * 64, "steps": 4}, a)


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        raise SystemExit("usage: python tests/test_fingerprints.py --record")
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory() as folder:
        recorded = {"_machine": machine()}
        for name in CASES:
            (Path(folder) / name).mkdir()
            recorded[name] = compute(name, Path(folder) / name)
    FINGERPRINTS.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    print(f"wrote {FINGERPRINTS} ({len(recorded)} cases)")
