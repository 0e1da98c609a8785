"""The quality report's parts (eval/quality.py, eval/supervised.py) and the GPU-path benchmark's
code path, run on the CPU with tiny sizes."""

import importlib.util
from pathlib import Path

import pytest
import torch

from dim.data import embedded_digits_split
from dim.encoders import build_encoder
from dim.views import ViewAugment
from eval.quality import LABELS, OBJECTIVES, plot_histories, read_layers, summary_rows
from eval.supervised import train_supervised

pytestmark = pytest.mark.usefixtures("single_thread")
ROOT = Path(__file__).resolve().parent.parent


def test_supervised_reference_learns_the_digits():
    """Three epochs on 1,024 digits (width-8 encoder, on views): the head beats chance by far
    on 500 test digits, and by more than after the first epoch (measured 0.11 / 0.49 / 0.87;
    the first is low while BatchNorm's running statistics are still far from the data's)."""
    data = embedded_digits_split()
    order = torch.randperm(4000, generator=torch.Generator().manual_seed(0))[:1024]
    encoder, history = train_supervised(
        build_encoder("dim32", in_channels=1, width=8), (data.train.samples[order], data.train.labels[order]),
        (data.test.samples[:500], data.test.labels[:500]), epochs=3, augment=ViewAugment(flip=0.0), seed=0,
    )  # fmt: skip
    assert [h["epoch"] for h in history] == [1, 2, 3] and not encoder.training
    assert history[-1]["test_accuracy"] > 0.7 and history[-1]["test_accuracy"] > history[0]["test_accuracy"]


def test_summary_rows_give_mean_and_std_per_layer_and_reader(tmp_path):
    readings = {
        "contrastive": [{"code": {"linear": 0.9, "knn": 0.8}}, {"code": {"linear": 0.92, "knn": 0.84}}],
        "pixels": [{"pixels": {"linear": 0.919, "knn": 0.95}}, {"pixels": {"linear": 0.919, "knn": 0.95}}],
    }
    rows = summary_rows(readings, ["code", "fc"])
    assert rows[0] == [LABELS["contrastive"], "0.910 ± 0.014", "0.820 ± 0.028", "", ""]
    assert rows[1] == ["raw pixels", "0.919 ± 0.000", "0.950 ± 0.000", "", ""]
    png = plot_histories({"contrastive": [[0.5, 0.7], [0.6, 0.8]]}, tmp_path / "h.png", "title")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert {"local_noviews", "views_local", "views_global", "views_amdim", "contrastive"} <= set(OBJECTIVES)


def test_gpu_path_benchmark_runs_on_cpu():
    """scripts/bench/bench_dim.py part 5 (the GPU path) on the CPU with tiny sizes: every figure it
    records is there and sane (a GPU run measures the same code)."""
    spec = importlib.util.spec_from_file_location("bench_dim", ROOT / "scripts" / "bench" / "bench_dim.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.pipeline_benchmark("cpu", "digits_views_amdim", 1, batch=8, repeats=3, rows=16)
    assert result["device_name"] == "cpu" and result["amp"] == "float32" and result["peak_gpu_memory_gib"] is None
    assert result["step_pipeline_ms"] > 0 and result["step_preloaded_ms"] > 0 and result["images_per_second"] > 0
    assert result["encoder_critics_bounds_ms"] > result["encoder_ms"] > 0


def test_the_training_command_ends_with_the_code_against_pixels(run_script, tmp_path, digits_npz):
    """The last line compares the code with raw pixels by the same probes; the pixels' readings
    are measured once (cached per data) and equal read_layers' on the pixels."""
    import json

    from dim.config import compose
    from dim.data import load_data

    args = ["data=npz", f"data.root={digits_npz}", "trainer.epochs=1", "trainer.batch_size=64", "encoder.width=8",
            "trainer.progress=false", "objective.units=32", f"cache_dir={tmp_path / 'cache'}"]  # fmt: skip
    done = run_script("train", *args, f"out_dir={tmp_path / 'run'}")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-5]
    assert line.startswith("code vs raw pixels, test top-1: linear probe") and "k-NN (k = 20)" in line
    (cached,) = (tmp_path / "cache").glob("pixels_*.json")
    data = load_data(compose("train", args).data, (1, 32, 32))
    expected = read_layers("pixels", data, ["pixels"], seed=0)["pixels"]
    assert json.loads(cached.read_text()) == pytest.approx(expected)
    assert f"vs {expected['linear']:.3f}" in line and f"vs {expected['knn']:.3f}" in line
