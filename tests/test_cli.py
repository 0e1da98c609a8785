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
