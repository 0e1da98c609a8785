"""DDP equivalence on CPU (gloo, 2 processes): 2 ranks x batch B == one process at batch 2B."""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from dim.encoders import build_encoder
from dim.infomax import DeepInfoMax

B = 8


def _model():
    torch.manual_seed(0)  # BatchNorm-free encoder: per-sample computations do not depend on the batch
    return DeepInfoMax(build_encoder("dim32", in_channels=1, batch_norm=False), estimator="jsd", units=32, alpha=0.5)


def _data():
    return torch.randn(2 * B, 1, 32, 32, generator=torch.Generator().manual_seed(1))


def _loss_and_grads(model, images):
    loss = -model.objective(model(images))
    loss.backward()
    return loss.detach(), [p.grad.detach().clone() for p in model.parameters()]


def _worker(rank, port, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    model = _model()
    loss, grads = _loss_and_grads(model, _data()[rank * B : (rank + 1) * B])
    for g in grads:  # what DDP does: average gradients over ranks
        dist.all_reduce(g)
        g /= 2
    queue.put((rank, loss.numpy().copy(), [g.numpy().copy() for g in grads]))
    dist.barrier()
    dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_equal_one_process_at_double_batch():
    context = mp.get_context("spawn")
    queue = context.Queue()
    port = _free_port()
    processes = [context.Process(target=_worker, args=(r, port, queue)) for r in range(2)]
    for p in processes:
        p.start()
    results = sorted([queue.get(timeout=120) for _ in range(2)], key=lambda r: r[0])
    for p in processes:
        p.join(timeout=60)
    single_loss, single_grads = _loss_and_grads(_model(), _data())
    for _, loss, grads in results:
        assert torch.allclose(torch.from_numpy(loss), single_loss, atol=1e-5)
        for g, s in zip(grads, single_grads):
            assert torch.allclose(torch.from_numpy(g), s, atol=1e-5, rtol=1e-4)


def test_torchrun_trains_two_cpu_ranks_end_to_end(tmp_path):
    """scripts/train.py under torchrun (gloo): each rank takes its share of every batch, rank 0
    writes the checkpoint and the encoder once; torchrun's logs go to the test's own folder
    (by default it leaves a torchelastic_* folder in the system temp directory)."""
    import subprocess
    import sys

    import numpy as np

    from dim.checkpoint import load_checkpoint, load_encoder

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.random((96, 1, 32, 32), dtype=np.float32), y=rng.integers(3, size=96))
    temp = tmp_path / "tmp"
    temp.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
         f"--log-dir={tmp_path / 'torchrun_logs'}", os.path.join(root, "scripts", "train.py"), "data=npz", f"data.root={tmp_path / 'd.npz'}",
         "trainer.epochs=1", "trainer.batch_size=8", "trainer.progress=false", "objective.units=32",
         f"out_dir={tmp_path / 'run'}", f"cache_dir={tmp_path / 'features'}"],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(temp)}, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert not list(temp.iterdir())
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["step"] == (96 - 96 // 5) // (8 * 2)  # one epoch of the training part, B = 8 per rank
    assert load_encoder(tmp_path / "run" / "encoder.pt").code_dim == 64
