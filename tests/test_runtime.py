"""The thread policy: estimate_mi fits its critic on the threads it is told (one on the CPU by
default), and the caller's own torch setting is restored afterwards, also after an error."""

import numpy as np
import pytest
import torch

from dim import estimate_mi
from dim.runtime import critic_threads, thread_limit


class CountingCritic(torch.nn.Module):
    """A separable critic (that fails on demand); the tests count threads through its class."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.f, self.g, self.fail = torch.nn.Linear(2, 8), torch.nn.Linear(2, 8), fail

    def forward(self, x, y):
        if self.fail:
            raise RuntimeError("critic failed")
        return self.f(x) @ self.g(y).T


def pairs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2))
    return x, x + rng.standard_normal((400, 2))


FAST = dict(steps=20, eval_every=10, bootstrap=10, readout_batch_size=64, device="cpu")


@pytest.mark.parametrize("requested, expected", [(None, 1), (2, 2), (1, 1)])
def test_the_critic_trains_on_the_threads_asked_for_and_the_callers_setting_is_restored(requested, expected):
    critic = CountingCritic()
    torch.set_num_threads(3)
    x, y = pairs()
    # estimate_mi trains a copy of the critic: count through the class, which the copy shares
    seen = set()
    original = CountingCritic.forward

    def counting(self, a, b):
        seen.add(torch.get_num_threads())
        return original(self, a, b)

    CountingCritic.forward = counting
    try:
        estimate_mi(x, y, critic=critic, estimator="dv", threads=requested, **FAST)
    finally:
        CountingCritic.forward = original
    assert seen == {expected}
    assert torch.get_num_threads() == 3


def test_the_callers_setting_is_restored_after_an_error():
    torch.set_num_threads(2)
    x, y = pairs()
    with pytest.raises(RuntimeError, match="critic failed"):
        estimate_mi(x, y, critic=CountingCritic(fail=True), estimator="dv", threads=1, **FAST)
    assert torch.get_num_threads() == 2


def test_the_policy_and_the_limit():
    assert critic_threads(torch.device("cpu")) == 1
    assert critic_threads(torch.device("cpu"), 4) == 4
    assert critic_threads(torch.device("cuda")) is None
    torch.set_num_threads(2)
    with thread_limit(None):
        assert torch.get_num_threads() == 2
    with thread_limit(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="threads must be at least 1"):
        with thread_limit(0):
            pass


def test_a_bad_threads_setting_is_one_line():
    from dim.errors import ConfigError

    x, y = pairs()
    with pytest.raises(ConfigError, match="threads must be a positive integer"):
        estimate_mi(x, y, threads=0, **FAST)
