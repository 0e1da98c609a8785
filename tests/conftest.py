import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(2)


@pytest.fixture
def single_thread():
    """One torch thread, for tests of tiny tensors: on a busy 2-core machine two threads mostly
    wait on each other (measured: 80 steps of a small MLP take 0.5 s on one thread, 31 s on two)."""
    torch.set_num_threads(1)
