"""The thread policy: estimate_mi fits its critic on the threads it is told (one on the CPU by
default), and the caller's own torch setting is restored afterwards, also after an error."""

import os
import subprocess
import sys
import time
from pathlib import Path

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


def test_core_share_keeps_the_threads_at_the_cores_others_leave_free(monkeypatch):
    """A hand-made clock and busy count: the others keep 1.0 core busy, then none."""
    from dim import runtime

    cpus = [0, 1, 2, 3]
    clock = {"wall": 0.0, "busy": 0.0, "own": 0.0}
    monkeypatch.setattr(runtime, "_our_cpus", lambda: cpus)
    monkeypatch.setattr(runtime, "_busy_seconds", lambda _: clock["busy"])
    monkeypatch.setattr(runtime, "_own_seconds", lambda: clock["own"])
    monkeypatch.setattr(runtime.time, "perf_counter", lambda: clock["wall"])
    torch.set_num_threads(4)
    with thread_limit(None):
        share = runtime.CoreShare(interval=2.0, first_look=0)
        assert share.threads == torch.get_num_threads() == 4

        def elapse(seconds, ours, others):  # cores busy with our work and with others' work
            clock["wall"] += seconds
            clock["own"] += ours * seconds
            clock["busy"] += (ours + others) * seconds

        elapse(1.0, ours=4, others=1)
        assert share.update() == 4  # before the interval: not re-read
        elapse(1.5, ours=3, others=1)
        assert share.update() == 3 == torch.get_num_threads()  # one core taken elsewhere
        elapse(2.0, ours=3, others=2.6)
        assert share.update() == 1  # 4 - 2.6 rounds to 1
        elapse(2.0, ours=1, others=0)
        assert share.update() == 4
    assert torch.get_num_threads() == 4


def test_core_share_takes_its_first_look_before_any_work(monkeypatch):
    """One core of four kept busy elsewhere when the share is made: three threads from the start."""
    from dim import runtime

    monkeypatch.setattr(runtime, "_our_cpus", lambda: [0, 1, 2, 3])
    monkeypatch.setattr(runtime, "busy_cores_elsewhere", lambda cpus, window: 1.0)
    torch.set_num_threads(4)
    with thread_limit(None):
        assert runtime.CoreShare().threads == torch.get_num_threads() == 3
    monkeypatch.setattr(runtime, "busy_cores_elsewhere", lambda cpus, window: None)  # no /proc/stat
    with thread_limit(None):
        assert runtime.CoreShare().threads == 4
    assert torch.get_num_threads() == 4


def test_the_probes_loops_follow_the_share(monkeypatch):
    """Every long loop of the probes (features, linear and MLP fits, neighbour search, fine-tuning)
    re-reads the share of the enclosing block; outside one, or with fixed threads, nothing is read."""
    from dim import runtime
    from dim.encoders import build_encoder
    from eval.features import extract_features
    from eval.finetune import finetune
    from eval.knn import knn_predict
    from eval.linear import linear_probe, mlp_probe

    calls = []
    monkeypatch.setattr(runtime.CoreShare, "update", lambda self: calls.append(self) or self.threads)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((60, 4)).astype(np.float32), np.arange(60) % 3
    encoder = build_encoder("mlp", in_dim=4, hidden=8, code_dim=2)
    images, labels = torch.from_numpy(x), torch.from_numpy(y)
    loops = {
        "features": lambda: extract_features(encoder, images, "code", fingerprint="t"),
        "linear": lambda: linear_probe(x, y, x, y, seed=0),
        "mlp": lambda: mlp_probe(x, y, x, y, seed=0),
        "knn": lambda: knn_predict(x, y, x, k=3, backend="torch"),
        "fine-tune": lambda: finetune(encoder, (images, labels), (images, labels), epochs=1, batch_size=20, classes=3),
    }
    for name, loop in loops.items():
        calls.clear()
        with runtime.shared_cores(torch.device("cpu")) as share:
            loop()
        assert calls and all(c is share for c in calls), name
        calls.clear()
        loop()  # outside a block
        with runtime.shared_cores(torch.device("cpu"), threads=1) as share:
            assert share is None
            loop()
        assert not calls, name


@pytest.mark.skipif(not Path("/proc/stat").exists() or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux's /proc/stat and two CPUs")  # fmt: skip
def test_a_busy_core_is_seen():
    """A process spinning on one core reads as at least most of a busy core elsewhere (more when
    other work runs beside the tests, never more than the CPUs)."""
    from dim.runtime import busy_cores_elsewhere

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert 0.6 < busy_cores_elsewhere(window=0.5) <= len(os.sched_getaffinity(0)) + 0.1
    finally:
        spinner.kill()
        spinner.wait()


@pytest.mark.parametrize("threads, expected", [(1, {1}), (None, {2})])
def test_deep_infomax_trains_on_the_threads_asked_for_and_restores_the_callers(tmp_path, monkeypatch, threads,
                                                                               expected):  # fmt: skip
    from dim import runtime
    from dim.config import compose
    from dim.infomax import Trainer, train

    monkeypatch.setattr(runtime, "_busy_seconds", lambda _: None)  # no reading: the share stays at the limit
    seen = set()
    original = Trainer.train_step

    def counting(self, images, labels):
        seen.add(torch.get_num_threads())
        return original(self, images, labels)

    monkeypatch.setattr(Trainer, "train_step", counting)
    from dim.tasks import embedded_digits

    images, labels = embedded_digits()
    x = np.pad(images[::50], ((0, 0), (0, 0), (2, 2), (2, 2)))  # 100 digits: 3 steps of 32
    np.savez(tmp_path / "d.npz", x=x, y=labels[::50])
    torch.set_num_threads(2)
    train(compose("train", [f"out_dir={tmp_path}/run", "trainer.epochs=1", "trainer.progress=false",
                            "trainer.batch_size=32", "data=npz", f"data.root={tmp_path / 'd.npz'}",
                            "encoder.width=8", "objective.units=16", f"threads={threads or 'null'}"]))  # fmt: skip
    assert seen == expected and torch.get_num_threads() == 2


def test_adam_takes_the_same_steps_as_torchs_adam():
    from dim.runtime import adam

    torch.manual_seed(0)
    reference = torch.nn.Linear(5, 3)
    ours = torch.nn.Linear(5, 3)
    ours.load_state_dict(reference.state_dict())
    optimizers = [torch.optim.Adam(reference.parameters(), lr=1e-2, weight_decay=1e-3),
                  adam(ours.parameters(), torch.device("cpu"), lr=1e-2, weight_decay=1e-3)]  # fmt: skip
    x = torch.randn(16, 5)
    for _ in range(20):
        for model, optimizer in zip((reference, ours), optimizers):
            optimizer.zero_grad()
            model(x).square().mean().backward()
            optimizer.step()
    for a, b in zip(reference.parameters(), ours.parameters()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_weight_average_is_the_bias_corrected_moving_average():
    """After t updates the average is sum_k d^(t-k) (1 - d) w(k) / (1 - d^t), computed by hand;
    the initial weights take no part, and an integer buffer is copied, not averaged."""
    from dim.runtime import WeightAverage

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    decay = 0.9
    averaged = WeightAverage(model, decay)
    seen = []
    for _ in range(7):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter))
        model(torch.randn(5, 3))  # moves the BatchNorm's running statistics and its count
        seen.append(model[0].weight.detach().clone())
        averaged.update()
    t = len(seen)
    expected = sum(decay ** (t - k) * (1 - decay) * w for k, w in enumerate(seen, 1)) / (1 - decay**t)
    torch.testing.assert_close(averaged.module[0].weight.detach(), expected)
    assert int(averaged.module[1].num_batches_tracked) == 7
