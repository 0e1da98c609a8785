"""Run one peer MI estimator on a saved dataset, inside that peer's own venv.

    PEER_PYTHON scripts/bench/peers/run_peer.py PEER DATA.npz OUT.json SEED

PEER: torch-mist (its estimate_mi with defaults: SMILE, trained on the first 80% of rows with
its own 10% validation part, read out on the last 20%), or bmi-mine / bmi-infonce / bmi-nwj /
bmi-dv (the Beyond-Normal benchmark's neural estimators with their defaults, which hold out
half of the rows themselves). Imports only numpy and the peer, never `dim`. Writes
{"mi": nats, "seconds": wall time} to OUT.json.
"""

import json
import sys
import time

import numpy as np


def torch_mist(x, y, seed):
    import torch
    from torch_mist import estimate_mi

    torch.manual_seed(seed)
    cut = int(0.8 * len(x))
    train = {"x": torch.from_numpy(x[:cut]), "y": torch.from_numpy(y[:cut])}
    test = {"x": torch.from_numpy(x[cut:]), "y": torch.from_numpy(y[cut:])}
    result = estimate_mi(train, test_data=test, verbose=False)
    return float(result[0] if isinstance(result, tuple) else result)  # (mi, train_log) when it logs


def bmi(name, x, y, seed):
    import bmi

    estimators = {
        "mine": bmi.estimators.MINEEstimator,
        "infonce": bmi.estimators.InfoNCEEstimator,
        "nwj": bmi.estimators.NWJEstimator,
        "dv": bmi.estimators.DonskerVaradhanEstimator,
    }
    estimator = estimators[name](seed=seed, verbose=False)
    return float(estimator.estimate(x.astype(np.float32), y.astype(np.float32)))


def main(peer, data_path, out_path, seed):
    data = np.load(data_path)
    x, y, seed = data["x"], data["y"], int(seed)
    start = time.perf_counter()
    if peer == "torch-mist":
        mi = torch_mist(x, y, seed)
    elif peer.startswith("bmi-"):
        mi = bmi(peer[4:], x, y, seed)
    else:
        raise SystemExit(f"unknown peer {peer!r}")
    with open(out_path, "w") as handle:
        json.dump({"mi": mi, "seconds": time.perf_counter() - start}, handle)


if __name__ == "__main__":
    main(*sys.argv[1:])
