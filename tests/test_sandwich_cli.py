"""scripts/estimate_mi.py stochastic_encoder=...: the sandwich for a saved p(z|x); bad input exits 2."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dim.encoders import build_encoder
from dim.stochastic import StochasticEncoder, save_stochastic_encoder

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "estimate_mi.py"


def run(*args: str) -> subprocess.CompletedProcess:
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture
def saved(tmp_path):
    save_stochastic_encoder(StochasticEncoder(build_encoder("mlp", in_dim=6, hidden=16, code_dim=3), "additive",
                                              sigma=0.3), tmp_path / "enc.pt")  # fmt: skip
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((600, 6)).astype(np.float32))
    np.save(tmp_path / "x_wide.npy", np.zeros((600, 7), np.float32))
    return tmp_path


def test_sandwich_run_writes_json(saved):
    out = saved / "bounds.json"
    done = run(f"x={saved}/x.npy", f"stochastic_encoder={saved}/enc.pt", "bounds.block_size=256",
               "training.bootstrap=20", f"out={out}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "<= I(X; Z) <=" in done.stdout
    result = json.loads(out.read_text())
    assert 0 < result["lower_nats"] <= result["upper_nats"] and result["block_size"] == 256
    assert result["upper_bits"] == pytest.approx(result["upper_nats"] / np.log(2))


@pytest.mark.parametrize("args, message", [
    (["x={d}/x_wide.npy", "stochastic_encoder={d}/enc.pt"], "but the encoder takes (6,)"),
    (["x={d}/x.npy", "y={d}/x.npy", "stochastic_encoder={d}/enc.pt"], "not both"),
    (["x={d}/x.npy"], "missing required setting(s): y"),
    (["x={d}/x.npy", "stochastic_encoder={d}/x.npy"], "not a PyTorch checkpoint"),
])  # fmt: skip
def test_bad_input_exits_2_with_one_line(saved, args, message):
    done = run(*[a.format(d=saved) for a in args], f"out={saved}/never.json")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr
    assert not (saved / "never.json").exists()


def test_the_sandwich_accepts_any_model_with_sample_and_log_prob():
    """A conditional model that is not a StochasticEncoder: z = x W + sigma eps. Its sandwich
    brackets the closed-form I(X; Z) = 1/2 log det(I + W^T W / sigma^2) for Gaussian x, and
    matches the StochasticEncoder path's density bounds on the same model."""
    import math

    import torch

    from dim import estimate_mi_bounds

    class LinearGaussian:
        def __init__(self, weight, sigma):
            self.weight, self.sigma = weight, sigma

        def sample(self, x):
            mean = x @ self.weight
            return mean + self.sigma * torch.randn_like(mean)

        def log_prob(self, z, x):
            d = z.shape[1]
            return (-0.5 * ((z - x @ self.weight) / self.sigma).pow(2).sum(1) - d * math.log(self.sigma)
                    - 0.5 * d * math.log(2 * math.pi))  # fmt: skip

    weight = torch.tensor([[1.0, 0.0], [0.5, 1.0]])
    sigma = 1.0
    truth = 0.5 * float(torch.logdet(torch.eye(2) + weight.T @ weight / sigma**2))
    x = torch.randn(4096, 2, generator=torch.Generator().manual_seed(0))
    result = estimate_mi_bounds(LinearGaussian(weight, sigma), x, block_size=512, bootstrap=100)
    assert set(result.bounds) == {"infonce_likelihood", "leave_one_out", "club"}
    assert result.lower_ci_nats[0] <= truth <= result.upper_ci_nats[1]
    assert result.lower_nats == pytest.approx(truth, abs=0.1) and result.upper_nats == pytest.approx(truth, abs=0.1)


def test_a_model_without_a_density_is_refused_in_one_line():
    import torch

    from dim import estimate_mi_bounds
    from dim.errors import DimError

    with pytest.raises(DimError, match="is deterministic.*sample\\(x\\) and log_prob\\(z, x\\)"):
        estimate_mi_bounds(torch.nn.Linear(2, 2), torch.randn(64, 2))
