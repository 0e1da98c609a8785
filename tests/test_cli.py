"""scripts/estimate_mi.py: a good run writes JSON; bad input exits 2 with one line and writes nothing."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dim.tasks import sample_correlated_gaussians

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "estimate_mi.py"
FAST = ["training.steps=100", "training.eval_every=50", "training.bootstrap=20", "training.hidden=32", "progress=false"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def pairs(tmp_path):
    x, y = sample_correlated_gaussians(400, 2, 0.8, seed=0)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    np.savetxt(tmp_path / "y.csv", y, delimiter=",", header="a,b", comments="")
    return tmp_path


def test_good_run_writes_json(pairs):
    out = pairs / "results" / "r.json"
    done = run(f"x={pairs}/xy.npz:x", f"y={pairs}/y.csv", f"out={out}", "estimator=mine", *FAST)
    assert done.returncode == 0, done.stderr
    assert "nats" in done.stdout and "bits" in done.stdout
    result = json.loads(out.read_text())
    assert result["estimator"] == "mine" and result["mi_bits"] > 0 and len(result["ci_nats"]) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["x=missing.npy", "y={d}/y.npy"], "no such file"),
        (["x={d}/x.npy", "y={d}/short.npy"], "paired row by row"),
        (["x={d}/nan.npy", "y={d}/y.npy"], "NaN"),
        (["x={d}/tiny.npy", "y={d}/tiny.npy"], "at least"),
        (["x={d}/x.npy", "y={d}/y.npy", "estimator=ksg"], "estimator"),
        (["x={d}/x.npy", "y={d}/y.npy", "no_such_key=1"], "no_such_key"),
        (["x={d}/x.npy", "y={d}/y.npy", "training.nope=1"], "nope"),
        (["x={d}/x.npy"], "y"),
        (["x={d}/x.npy", "y={d}/xy.npz"], "name one"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(pairs, args, message):
    np.save(pairs / "short.npy", np.zeros((399, 2)))
    bad = np.zeros((400, 2))
    bad[3, 1] = np.nan
    np.save(pairs / "nan.npy", bad)
    np.save(pairs / "tiny.npy", np.zeros((20, 2)))
    np.savez(pairs / "xy.npz", a=np.zeros((400, 2)), b=np.zeros((400, 2)))
    out = pairs / "outdir" / "r.json"
    done = run(*[a.format(d=pairs) for a in args], f"out={out}", *FAST)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [l for l in done.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (pairs / "outdir").exists()


# ---------------------------------------------------------------- config keys and group options
REQUIRED = {"train": [], "probe": ["encoder_path=random"], "estimate_mi": ["x=X.npy", "y=Y.npy"],
            "export": ["encoder_path=random"]}  # fmt: skip


@pytest.mark.parametrize("plus", ["", "+"])
@pytest.mark.parametrize("config, typo, nearest", [
    ("train", "trainer.epoch=3", "trainer.epochs"),
    ("probe", "knn_kk=[10]", "knn_k"),
    ("estimate_mi", "stepz=10", "training.steps"),
    ("export", "layer=[code]", "layers"),
])  # fmt: skip
def test_unknown_key_is_refused_with_or_without_plus_naming_the_nearest(config, typo, nearest, plus):
    from dim.config import compose
    from dim.errors import ConfigError

    key = typo.split("=")[0]
    with pytest.raises(ConfigError, match=f"unknown key '{key}'; did you mean '{nearest}'") as error:
        compose(config, [*REQUIRED[config], plus + typo])
    assert "\n" not in str(error.value) and "+" not in str(error.value)


@pytest.mark.parametrize("script, args", [
    ("train", []), ("probe", ["encoder=random"]), ("estimate_mi", ["x=X.npy", "y=Y.npy"]),
    ("export_features", ["encoder=random"]),
])  # fmt: skip
def test_every_script_refuses_an_appended_unknown_key(run_script, tmp_path, script, args):
    done = run_script(script, *args, "+stepz=10", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown key 'stepz'" in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("override, choices", [("data=foo", "cifar10, cifar100, digits"),
                                               ("estimator=foo", "dv, mine, nwj, jsd, infonce, smile")])  # fmt: skip
def test_unknown_group_option_lists_the_choices_on_one_line(override, choices):
    from dim.config import compose
    from dim.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        compose("train", [override])
    message = str(error.value)
    assert choices in message and "\n" not in message and "search path" not in message, message


def test_appending_a_preset_still_works():
    from dim.config import compose

    assert compose("train", ["+experiment=cifar10_local_jsd"]).data.name == "cifar10"


# ---------------------------------------------------------------- checkpoints named by the user
def _damage(path, how):
    from dim.checkpoint import save_encoder
    from dim.encoders import build_encoder

    if how == "truncated":
        save_encoder(build_encoder("dim32", in_channels=1), path)
        path.write_bytes(path.read_bytes()[:5000])
    elif how == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(3000))
    elif how == "not dim":
        import torch

        torch.save({"weights": torch.zeros(3)}, path)
    return path


@pytest.mark.parametrize("how, message", [
    ("truncated", "is damaged: truncated, the end of its zip archive is missing"),
    ("random bytes", "is not a PyTorch checkpoint: not a zip archive"),
    ("not dim", "is a PyTorch file but not a dim checkpoint"),
])  # fmt: skip
def test_damaged_checkpoint_gets_its_real_reason(tmp_path, how, message):
    from dim.checkpoint import load_encoder
    from dim.errors import DimError

    with pytest.raises(DimError, match=message) as error:
        load_encoder(_damage(tmp_path / "encoder.pt", how))
    assert "\n" not in str(error.value) and "weights_only" not in str(error.value)


@pytest.mark.parametrize("encoder, message", [
    ("/nonexistent.pt", "'/nonexistent.pt' not found: no such file"),
    ("run", "'run' is a directory; pass a checkpoint file in it: run/encoder.pt"),
    ("run/encoder.pt", "'run/encoder.pt' is damaged: truncated"),
])  # fmt: skip
def test_probe_says_what_is_wrong_with_the_encoder_passed(run_script, tmp_path, encoder, message):
    (tmp_path / "run").mkdir()
    _damage(tmp_path / "run" / "encoder.pt", "truncated")
    done = run_script("probe", f"encoder={encoder}", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert "resume" not in done.stderr and not (tmp_path / "outputs").exists()


# ---------------------------------------------------------------- training: resume and downloads
def _train_cfg(tmp_path, digits_npz, *overrides):
    from dim.config import compose

    return compose("train", ["data=npz", f"data.root={digits_npz}", f"out_dir={tmp_path / 'run'}",
                             "trainer.batch_size=32", "trainer.progress=false", "objective.units=32", *overrides])  # fmt: skip


def test_resume_with_a_changed_setting_names_the_keys_and_both_values(tmp_path, digits_npz):
    from dim.errors import DimError
    from dim.infomax import Trainer, train

    Trainer(_train_cfg(tmp_path, digits_npz)).save()
    changed = _train_cfg(tmp_path, digits_npz, "resume=true", "trainer.lr=0.01", "seed=3", "trainer.epochs=20")
    with pytest.raises(DimError) as error:
        train(changed)
    message = str(error.value)
    assert "seed: 0 (checkpoint) vs 3 (now)" in message and "trainer.lr: 0.001 (checkpoint) vs 0.01 (now)" in message
    assert "epochs" not in message.split("only trainer.epochs")[0] and "\n" not in message


def test_resume_without_a_checkpoint_says_so(tmp_path, digits_npz):
    from dim.errors import DimError
    from dim.infomax import train

    with pytest.raises(DimError, match="checkpoint.pt was not found; check out_dir, or drop resume=true"):
        train(_train_cfg(tmp_path, digits_npz, "resume=true"))


@pytest.mark.parametrize("existed", [False, True])
def test_failed_download_is_one_line_exit_2_and_leaves_nothing(tmp_path, monkeypatch, capsys, existed):
    import urllib.error

    import torchvision

    from dim.cli import compose, one_line_errors
    from dim.infomax import train

    class Offline:  # what torchvision does without a network: create root, start the file, fail
        def __init__(self, root, train=True, download=False):
            Path(root).mkdir(parents=True, exist_ok=True)
            (Path(root) / "cifar-10-python.tar.gz").write_bytes(b"partial")
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", Offline)
    monkeypatch.chdir(tmp_path)
    if existed:
        (tmp_path / "data" / "cifar10").mkdir(parents=True)
        (tmp_path / "data" / "cifar10" / "mine.txt").write_text("kept")
    cfg = compose("train", ["data=cifar10", "data.download=true", "trainer.progress=false"])
    with pytest.raises(SystemExit) as exit, one_line_errors("train"):
        train(cfg)
    stderr = capsys.readouterr().err
    assert exit.value.code == 2 and stderr.count("\n") == 1, stderr
    assert "downloading cifar10 into 'data/cifar10' failed (" in stderr and "name resolution" in stderr
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert left == (["data", "data/cifar10", "data/cifar10/mine.txt"] if existed else []), left


# ---- the commands behave like Hydra apps ---------------------------------------------------

COMMANDS = ["train", "probe", "estimate_mi", "export_features", "train_gan", "train_ali", "train_ib"]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_answers_help_with_its_groups_and_keys(name):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), "--help"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{name} is powered by Hydra" in done.stdout and "== Configuration groups ==" in done.stdout
    assert "== Config ==" in done.stdout and "seed" in done.stdout


def test_cfg_job_prints_the_composed_config_and_runs_nothing(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), "--cfg", "job", "seed=3",
                           "estimator=infonce"], capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "seed: 3" in done.stdout and "name: infonce" in done.stdout
    assert list(tmp_path.iterdir()) == []  # no outputs/, no .hydra/, no log


def test_a_multirun_sweep_runs_one_job_per_value(pairs):
    outs = [pairs / f"r{seed}.json" for seed in (0, 1)]
    done = subprocess.run([sys.executable, str(SCRIPT), "-m", f"x={pairs}/x.npy", f"y={pairs}/y.npy", "seed=0,1",
                           f"out={pairs}/r${{seed}}.json", *FAST], capture_output=True, text=True, timeout=300,
                          cwd=pairs)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [json.loads(out.read_text())["config"]["seed"] for out in outs] == [0, 1]
    assert sorted(p.name for p in (pairs / "outputs" / "multirun").iterdir()) == ["0", "1", "multirun.yaml"]


@pytest.mark.parametrize("args, message", [
    (["seed=0,1"], "seed=0,1 is a sweep: add -m"),
    (["-m", "sede=0,1"], "unknown key 'sede'; did you mean 'seed'?"),
])  # fmt: skip
def test_bad_sweeps_are_one_line_errors(pairs, args, message):
    done = run(f"x={pairs}/x.npy", f"y={pairs}/y.npy", *args, *FAST)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_every_estimator_setting_is_read_from_the_config():
    """EstimatorSettings.from_config reads every field, so no option of estimate_mi is out of the
    command line's reach: each set to a non-default value in the config arrives in the settings."""
    from dataclasses import fields

    from dim import EstimatorSettings
    from dim.config import compose
    from dim.estimation.settings import CONFIG_SECTIONS

    changed = {"batch_size": 64, "steps": 7, "lr": 0.5, "lr_schedule": "cosine", "weight_decay": 0.1, "hidden": 9,
               "embedding_dim": 5, "critic_layers": 3, "fourier_features": 4, "radial_feature": False, "radius_column": False, "ema": 0.5, "eval_every": 3, "patience": 2, "min_delta": 0.01, "split": [0.5, 0.3, 0.2],
               "transform": "asinh", "readout_batch_size": 100, "bootstrap": 11, "clip": 2.0, "mine_alpha": 0.2,
               "calibrate": False, "amp": False, "device": "cpu", "progress": False, "threads": 1}  # fmt: skip
    assert set(changed) == {f.name for f in fields(EstimatorSettings)}
    overrides = [f"{CONFIG_SECTIONS.get(k, 'training') + '.' if CONFIG_SECTIONS.get(k, 'training') else ''}{k}="
                 f"{str(v).replace(' ', '')}" for k, v in changed.items()]  # fmt: skip
    settings = EstimatorSettings.from_config(compose("estimate_mi", ["x=X.npy", *overrides]))
    assert settings == EstimatorSettings(**{**changed, "split": tuple(changed["split"])})
    with pytest.raises(Exception, match="unknown estimate_mi setting 'stepz'; did you mean 'steps'"):
        EstimatorSettings().updated(stepz=3)


def test_the_config_defaults_are_estimate_mis_defaults():
    """configs/estimate_mi.yaml and EstimatorSettings state the same defaults: a command with no
    settings estimates as estimate_mi(x, y) does (progress aside: the command shows a bar)."""
    from dataclasses import replace

    from dim import EstimatorSettings
    from dim.cli import compose

    from_config = EstimatorSettings.from_config(compose("estimate_mi", ["x=X.npy"]))
    assert replace(from_config, progress=False) == EstimatorSettings()
