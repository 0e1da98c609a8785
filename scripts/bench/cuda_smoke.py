"""Every part of the library once on a CUDA device: readings finite and near the known truth, timed.

    python scripts/bench/cuda_smoke.py            # writes $OUT/smoke.json (default: outputs/cuda_smoke.json)

Checks: estimate_mi's default on 10,000 rows of 5-D Gaussians (1 nat) and SMILE with two seeds on
a Student-t task; MutualInformation under bf16 autocast with every estimator; two epochs of the
default Deep InfoMax run and of the digits_views_amdim preset; GAN + MINE and ALI + MINE on the
grid. Prints one JSON line per check and ALL OK or SOME FAILED. Needs a GPU (CI has none).
"""

import json
import math
import os
import time

import torch

out_dir = os.environ.get("OUT", "outputs")
os.makedirs(out_dir, exist_ok=True)
results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
print(json.dumps(results), flush=True)


def check(name, fn):
    started = time.perf_counter()
    try:
        value = fn()
        ok = True
    except Exception as error:  # noqa: BLE001
        value, ok = f"{type(error).__name__}: {error}", False
    results[name] = {"ok": ok, "seconds": round(time.perf_counter() - started, 2), "value": value}
    print(json.dumps({name: results[name]}, default=str), flush=True)


from dim import estimate_mi  # noqa: E402
from dim.tasks import DISTRIBUTION_TASKS, gaussian_rho_for_mi, sample_correlated_gaussians  # noqa: E402


def gaussian_default():
    x, y = sample_correlated_gaussians(10_000, 5, gaussian_rho_for_mi(1.0, 5), seed=0)
    r = estimate_mi(x, y, device="cuda")
    assert abs(r.mi_nats - 1.0) < 0.15 and r.ci_nats[0] < r.ci_nats[1], r.mi_nats
    return {"truth": 1.0, "mi_nats": r.mi_nats, "ci": r.ci_nats, "estimator": r.estimator, "seconds": r.seconds,
            "steps": r.steps}


def student_smile_seeds():
    task = DISTRIBUTION_TASKS["student-t-dof1-1x1"] if "student-t-dof1-1x1" in DISTRIBUTION_TASKS else next(
        iter(DISTRIBUTION_TASKS.values()))
    x, y = task.sample(10_000, seed=0)
    r = estimate_mi(x, y, estimator="smile", seeds=2, device="cuda")
    assert math.isfinite(r.mi_nats) and r.lower_bound_nats is not None
    return {"truth": task.mi_nats, "mi_nats": r.mi_nats, "lower_bound": r.lower_bound_nats, "ci": r.ci_nats}


def dim_default_epoch(extra):
    def run():
        from dim.commands.train import main

        folder = os.path.join(out_dir, f"dim_{len(extra)}")
        started = time.perf_counter()
        main(["trainer.epochs=2", f"out_dir={folder}", "trainer.progress=false", *extra])
        seconds = time.perf_counter() - started

        return {"seconds_two_epochs_incl_setup": round(seconds, 1)}

    return run


def gan_and_ali():
    from dim.generative import GANSettings, GANTrainer
    from dim.generative.ali import ALISettings, ALITrainer
    from dim.runtime import resolve_device

    gan = GANTrainer(GANSettings(dataset="grid", beta=1.0, steps=500, progress=False), device=resolve_device(None))
    g = gan.fit()["final"]
    ali = ALITrainer(ALISettings(data="grid", steps=300, progress=False, hidden=64, dataset_size=5000,
                                 eval_samples=500), device=resolve_device(None))
    a = ali.fit()["final"]
    assert all(math.isfinite(v) for v in (g["mi_nats"], a["recon_error"]))
    return {"gan_modes": g["modes"], "gan_mi": g["mi_nats"], "ali_recon_error": a["recon_error"]}


def loss_module_amp():
    from dim import MutualInformation
    from dim.objectives import ESTIMATORS
    from dim.critics import make_critic

    x = torch.randn(512, 10, device="cuda")
    y = x + 0.3 * torch.randn_like(x)
    readings = {}
    for name in ESTIMATORS:
        mi = MutualInformation(make_critic(x, y, "separable"), name).cuda()
        optimizer = torch.optim.Adam(mi.parameters(), lr=1e-3)
        for _ in range(200):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                estimate = mi(x, y)
            optimizer.zero_grad()
            (-estimate.objective).backward()
            optimizer.step()
        readings[name] = float(estimate.mi_nats)
        assert math.isfinite(readings[name])
    return readings


check("estimate_mi_gaussian_5d_default", gaussian_default)
check("estimate_mi_student_smile_2seeds", student_smile_seeds)
check("loss_module_bf16_all_estimators", loss_module_amp)
check("dim_default_2_epochs", dim_default_epoch([]))
check("dim_views_amdim_2_epochs", dim_default_epoch(["+experiment=digits_views_amdim"]))
check("gan_ali_grid", gan_and_ali)
with open(os.path.join(out_dir, "cuda_smoke.json" if out_dir == "outputs" else "smoke.json"), "w") as f:
    json.dump(results, f, indent=1, default=str)
print("ALL OK" if all(v.get("ok", True) for v in results.values() if isinstance(v, dict)) else "SOME FAILED")
