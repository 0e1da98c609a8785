"""Where the scripts write: default folders under outputs/, no silent overwrite, file modes,
a bounded feature cache, and nothing left in the system temp directory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dim.errors import ConfigError


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_atomic_writes_get_the_mode_the_umask_gives(tmp_path, umask_022):
    from dim.io import atomic_directory, write_text_atomic

    written = write_text_atomic(tmp_path / "a.txt", "x")
    with atomic_directory(tmp_path / "folder") as folder:
        (folder / "b.txt").write_text("y")
    assert oct(written.stat().st_mode & 0o777) == oct(0o644)
    assert oct((tmp_path / "folder").stat().st_mode & 0o777) == oct(0o755)


def test_atomic_directory_replaces_a_folder_whole_and_only_when_asked(tmp_path):
    from dim.io import atomic_directory

    target = tmp_path / "report"
    target.mkdir()
    (target / "stale.png").write_text("from an earlier run")
    with pytest.raises(ConfigError, match="already exists; pass overwrite=true"), atomic_directory(target):
        pass
    with pytest.raises(RuntimeError), atomic_directory(target, overwrite=True) as folder:
        (folder / "new.md").write_text("half a report")
        raise RuntimeError("the run failed")
    assert [p.name for p in target.iterdir()] == ["stale.png"]
    with atomic_directory(target, overwrite=True) as folder:
        (folder / "new.md").write_text("a report")
    assert [p.name for p in target.iterdir()] == ["new.md"] and sorted(os.listdir(tmp_path)) == ["report"]


def test_feature_cache_evicts_the_least_recently_used_beyond_its_bound(tmp_path):
    import torch

    from eval.features import extract_features

    samples = torch.rand(100, 1, 8, 8)  # pixels: 100 x 64 float32 = 25,728 bytes as .npy
    paths = []
    for i in range(4):
        extract_features("pixels", samples + i, "code", fingerprint=f"part{i}", cache_dir=tmp_path,
                         cache_max_bytes=60_000)  # fmt: skip
        paths.append(max(tmp_path.glob("*.npy"), key=os.path.getmtime))
        os.utime(paths[-1], (i, i))  # distinct, increasing use times
    again = extract_features("pixels", samples + 2, "code", fingerprint="part2", cache_dir=tmp_path)
    assert np.array_equal(again, (samples + 2).flatten(1).numpy())
    assert sorted(tmp_path.glob("*.npy")) == sorted(paths[2:])


def test_probe_writes_its_own_folder_under_outputs_and_refuses_to_overwrite(run_script, tmp_path, digits_npz):
    fast = ["data=npz", f"data.root={digits_npz}", "layers=[code]", "protocols=[linear]", "mi_checks=[]",
            "progress=false"]  # fmt: skip
    first = run_script("probe", "encoder=random", *fast, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    report = tmp_path / "outputs" / "probe" / "random"
    assert {"probe.json", "report.md", "accuracy.png", "pca_random.png"} == {p.name for p in report.iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.npz", "outputs"]
    assert any((tmp_path / "outputs" / ".feature_cache").glob("*.npy"))

    (report / "stale.png").write_text("from an earlier run")
    again = run_script("probe", "encoder=random", *fast, cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "overwrite=true" in again.stderr
    assert (report / "stale.png").exists()

    replaced = run_script("probe", "encoder=random", *fast, "overwrite=true", "feature_cache=false", cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert not (report / "stale.png").exists() and json.loads((report / "probe.json").read_text())["rows"]


def test_export_features_writes_under_outputs_and_refuses_to_overwrite(tmp_path, digits_npz, monkeypatch):
    from dim.config import compose
    from eval.run import export_features, probe_overrides

    monkeypatch.chdir(tmp_path)
    argv = ["encoder=random", "data=npz", f"data.root={digits_npz}", "progress=false", "feature_cache=false"]
    result = export_features(compose("export", probe_overrides(argv)))
    assert result["path"] == "outputs/features/random.npz" and Path(result["path"]).is_file()
    with pytest.raises(ConfigError, match="already exists; pass overwrite=true"):
        export_features(compose("export", probe_overrides(argv)))
    export_features(compose("export", probe_overrides([*argv, "overwrite=true"])))


def test_training_leaves_nothing_in_the_temp_directory(run_script, tmp_path, digits_npz):
    temp, cache = tmp_path / "tmp", tmp_path / "cache"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
    env |= {"TMPDIR": str(temp), "XDG_CACHE_HOME": str(cache), "OMP_NUM_THREADS": "1"}
    done = run_script("train", "data=npz", f"data.root={digits_npz}", "trainer.epochs=1", "trainer.batch_size=64",
                      "trainer.progress=false", "objective.units=32", f"out_dir={tmp_path / 'run'}",
                      f"cache_dir={tmp_path / 'features'}", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not list(temp.iterdir()) and (cache / "torch" / "inductor").is_dir()


def test_a_plain_estimate_from_python_leaves_nothing_in_the_temp_directory(tmp_path):
    """Importing dim points torch's compiler cache to ~/.cache (or a folder the user set), so a
    library call creates no empty torchinductor_<user> folder in the system temp directory."""
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
    env.update(TMPDIR=str(temp), OMP_NUM_THREADS="1", XDG_CACHE_HOME=str(tmp_path / "cache"))
    code = ("import numpy as np\nfrom dim import estimate_mi\nx = np.random.default_rng(0).standard_normal((300, 2))\n"
            "estimate_mi(x, x + np.random.default_rng(1).standard_normal((300, 2)), steps=20, eval_every=10)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert list(temp.iterdir()) == []
