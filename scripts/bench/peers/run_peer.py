"""Run one peer MI estimator on a saved dataset, inside that peer's own venv.

    PEER_PYTHON scripts/bench/peers/run_peer.py PEER DATA.npz OUT.json SEED [EPOCHS]

PEER: torch-mist-smile / torch-mist-mine (its estimate_mi with defaults, SMILE or MINE, trained
on the first 80% of rows with its own 10% validation part, read out on the last 20%), or
bmi-mine / bmi-infonce / bmi-nwj / bmi-dv (the Beyond-Normal benchmark's neural estimators with their defaults, which hold out
half of the rows themselves), minde / mmg (diffusion-mi 0.1.0's MINDE and MMG: fitted on the first
80% of rows, the last 10% of those as their validation part, read out on the last 20%; EPOCHS
their training length, default their own 1,000; MMG's inputs standardised with the fitted rows'
statistics, as its authors ask, MINDE rescales itself), or latentmi (latentmi 0.1.3's
``lmi.estimate`` with its defaults, the mean of its pointwise values over the rows it did
not train on). Imports only numpy and the peer, never `dim`. Writes
{"mi": nats, "seconds": wall time} to OUT.json.
"""

import json
import sys
import time

import numpy as np


def torch_mist(estimator, x, y, seed):
    import torch
    from torch_mist import estimate_mi

    torch.manual_seed(seed)
    cut = int(0.8 * len(x))
    train = {"x": torch.from_numpy(x[:cut]), "y": torch.from_numpy(y[:cut])}
    test = {"x": torch.from_numpy(x[cut:]), "y": torch.from_numpy(y[cut:])}
    result = estimate_mi(train, estimator=estimator, test_data=test, verbose=False)
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


def diffusion(name, x, y, seed, epochs):
    import torch
    from dmi.estimators import MINDEEstimator, MMGEstimator

    torch.manual_seed(seed)
    cut = int(0.8 * len(x))
    fit = int(0.9 * cut)
    if name == "mmg":
        mean_x, std_x = x[:cut].mean(0), x[:cut].std(0) + 1e-8
        mean_y, std_y = y[:cut].mean(0), y[:cut].std(0) + 1e-8
        x, y = (x - mean_x) / std_x, (y - mean_y) / std_y
    x, y = x.astype(np.float32), y.astype(np.float32)
    kind = MINDEEstimator if name == "minde" else MMGEstimator
    estimator = kind(x_shape=x.shape[1:], y_shape=y.shape[1:], max_epochs=epochs, seed=seed)
    estimator.fit(x[:fit], y[:fit], x[fit:cut], y[fit:cut])
    return float(estimator.estimate(x[cut:], y[cut:]))


def latentmi(x, y, seed):
    import torch
    from latentmi import lmi

    torch.manual_seed(seed)
    np.random.seed(seed)
    pointwise, _, _ = lmi.estimate(x.astype(np.float32), y.astype(np.float32), quiet=True)
    return float(np.nanmean(pointwise))


def main(peer, data_path, out_path, seed, epochs="1000"):
    data = np.load(data_path)
    x, y, seed = data["x"], data["y"], int(seed)
    start = time.perf_counter()
    if peer.startswith("torch-mist-"):
        mi = torch_mist(peer.removeprefix("torch-mist-"), x, y, seed)
    elif peer in ("minde", "mmg"):
        mi = diffusion(peer, x, y, seed, int(epochs))
    elif peer == "latentmi":
        mi = latentmi(x, y, seed)
    elif peer.startswith("bmi-"):
        mi = bmi(peer.removeprefix("bmi-"), x, y, seed)
    else:
        raise SystemExit(f"unknown peer {peer!r}")
    with open(out_path, "w") as handle:
        json.dump({"mi": mi, "seconds": time.perf_counter() - start}, handle)


if __name__ == "__main__":
    main(*sys.argv[1:])
