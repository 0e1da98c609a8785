"""Fine-tuning and the few-label evaluation, on images whose class is known by construction."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dim.checkpoint import save_encoder
from dim.data import DataSplit, TensorImages
from dim.encoders import build_encoder
from dim.errors import DataError
from eval.few_labels import METHODS, FewLabelSettings, balanced_draw, few_label_evaluation, few_label_table
from eval.finetune import finetune

ROOT = Path(__file__).resolve().parents[1]


def _bars(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 1, 32, 32) noise images with a bright bar in the class's quarter: four classes any
    small convolutional network separates."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    images = 0.3 * torch.rand(n, 1, 32, 32, generator=g)
    for i, c in enumerate(labels.tolist()):
        images[i, 0, 8 * c : 8 * c + 8, :] += 0.7
    return images, labels


def test_balanced_draw_takes_the_same_count_from_every_class():
    labels = np.repeat(np.arange(10), 50)
    picked = balanced_draw(labels, 100, seed=3)
    assert len(set(picked)) == 100 and np.bincount(labels[picked]).tolist() == [10] * 10
    assert np.array_equal(picked, balanced_draw(labels, 100, seed=3))
    assert not np.array_equal(picked, balanced_draw(labels, 100, seed=4))
    odd = balanced_draw(labels, 13, seed=0)  # 1 each, 3 classes get a second
    assert sorted(np.bincount(labels[odd]).tolist()) == [1] * 7 + [2] * 3
    with pytest.raises(DataError, match="cannot cover the 10 classes"):
        balanced_draw(labels, 5, seed=0)


def test_finetune_learns_the_classes_from_tensors_or_a_loader():
    train, test = _bars(64, 0), _bars(200, 1)
    torch.manual_seed(0)
    result = finetune(build_encoder("dim32", in_channels=1), train, test, epochs=15, batch_size=16, eval_every=5)
    assert result.accuracy == 1.0 and [h["epoch"] for h in result.history] == [5, 10, 15]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train), batch_size=16, shuffle=True)
    torch.manual_seed(0)
    assert finetune(build_encoder("dim32", in_channels=1), loader, test, epochs=15, classes=4).accuracy == 1.0
    with pytest.raises(DataError, match="pass classes="):
        finetune(build_encoder("dim32", in_channels=1), loader, test, epochs=1)


def test_finetune_with_encoder_lr_zero_trains_the_head_only():
    encoder = build_encoder("dim32", in_channels=1).eval()
    before = {k: v.clone() for k, v in encoder.state_dict().items() if v.is_floating_point()}
    # eval-mode BatchNorm statistics aside (they move in training mode), no weight may change
    result = finetune(encoder, _bars(32, 0), None, epochs=2, batch_size=16, encoder_lr=0.0)
    params = dict(result.encoder.named_parameters())
    assert all(torch.equal(params[k], before[k]) for k in params)
    assert result.accuracy is None and result.head.weight.shape == (4, encoder.code_dim)


def test_few_label_evaluation_runs_every_method_on_every_draw():
    (train_x, train_y), (test_x, test_y) = _bars(120, 0), _bars(80, 1)
    data = DataSplit(TensorImages(train_x, train_y), TensorImages(test_x, test_y), 4, "bars")
    torch.manual_seed(0)
    encoder = build_encoder("dim32", in_channels=1).eval()
    rows = few_label_evaluation(encoder, data, FewLabelSettings(sizes=(4, 40), draws=2, steps=30))
    assert len(rows) == 2 * 2 * len(METHODS)
    assert {(r["labels"], r["draw"], r["method"]) for r in rows} == {
        (n, d, m) for n in (4, 40) for d in (0, 1) for m in METHODS}
    best = {m: max(r["top1"] for r in rows if r["method"] == m and r["labels"] == 40) for m in METHODS}
    assert best["pixels linear"] == 1.0 and best["scratch"] >= 0.9  # the bars are easy with 10 labels each
    assert "± " in few_label_table(rows) and few_label_table(rows).count("\n") == 3


def test_probe_reports_few_labels_for_a_trained_encoder(tmp_path):
    from dim.tasks import embedded_digits

    images, labels = embedded_digits()
    np.savez(tmp_path / "d.npz", x=np.pad(images[:300], ((0, 0), (0, 0), (2, 2), (2, 2))), y=labels[:300])
    torch.manual_seed(0)
    save_encoder(build_encoder("dim32", in_channels=1), tmp_path / "run" / "encoder.pt")
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "probe.py"), f"encoder={tmp_path / 'run' / 'encoder.pt'}",
         "data=npz", f"data.root={tmp_path / 'd.npz'}", f"out_dir={tmp_path / 'report'}", "feature_cache=false",
         "progress=false", "baselines=false", "layers=[code]", "protocols=[linear]", "mi_checks=[]",
         "few_labels.sizes=[10]", "few_labels.draws=2", "few_labels.steps=5"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    payload = json.loads((tmp_path / "report" / "probe.json").read_text())
    assert len(payload["few_labels"]) == 2 * len(METHODS)
    assert "Few labels" in (tmp_path / "report" / "report.md").read_text()
    assert (tmp_path / "report" / "few_labels.png").stat().st_size > 1000
