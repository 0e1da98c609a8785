import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# folders that torch leaves in the temp directory: torchrun's logs, torch's compiler cache
TORCH_TEMP_PREFIXES = ("torchelastic_", "torchinductor_")


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(2)


@pytest.fixture
def single_thread():
    """One torch thread, for tests of tiny tensors: on a busy 2-core machine two threads mostly
    wait on each other (measured: 80 steps of a small MLP take 0.5 s on one thread, 31 s on two)."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _temp_dir_stays_clean(tmp_path_factory):
    """Give the session's subprocesses a temp directory of their own (TMPDIR) and torch's
    compiler cache a folder of its own; at the end, fail if any process left torch's
    folders in that temp directory (what they would otherwise leave in the system's), or wrote
    into the repository's outputs/ folder."""
    temp = tmp_path_factory.mktemp("tmpdir")
    outputs = ROOT / "outputs"
    before = set(outputs.rglob("*")) if outputs.exists() else set()
    saved = {key: os.environ.get(key) for key in ("TMPDIR", "TORCHINDUCTOR_CACHE_DIR")}
    os.environ["TMPDIR"] = str(temp)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(tmp_path_factory.mktemp("torchinductor"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    left = sorted(path.name for path in temp.iterdir() if path.name.startswith(TORCH_TEMP_PREFIXES))
    assert not left, f"the tests left {left} in the temp directory"
    written = sorted(str(p.relative_to(ROOT)) for p in (set(outputs.rglob("*")) if outputs.exists() else set()) - before)
    assert not written, f"the tests wrote into the repository: {written[:5]}"


@pytest.fixture
def run_script():
    """``run_script("probe", "encoder=random", cwd=DIR)``: scripts/probe.py in a subprocess."""

    def run(name: str, *args, cwd=None, env=None) -> subprocess.CompletedProcess:
        command = [sys.executable, str(ROOT / "scripts" / f"{name}.py"), *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False)

    return run


@pytest.fixture
def digits_npz(tmp_path):
    """A small labelled ``data=npz`` file of embedded digits: 192 train and 64 test images, 32x32."""
    from dim.tasks import embedded_digits

    images, labels = embedded_digits()
    x, y = np.pad(images[:256], ((0, 0), (0, 0), (2, 2), (2, 2))), labels[:256]
    path = tmp_path / "digits.npz"
    np.savez(path, x=x[:192], y=y[:192], x_test=x[192:], y_test=y[192:])
    return path


@pytest.fixture
def set_up_folder(tmp_path, monkeypatch):
    """For the snippets of README.md and docs/: the current folder as after the set-up command: ``outputs/train/encoder.pt`` of the default
    architecture (untrained here: the blocks only load and use it)."""
    from dim.checkpoint import save_encoder
    from dim.encoders import build_encoder

    save_encoder(build_encoder("dim32", in_channels=1), tmp_path / "outputs" / "train" / "encoder.pt")
    monkeypatch.chdir(tmp_path)
