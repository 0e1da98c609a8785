import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(2)


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
